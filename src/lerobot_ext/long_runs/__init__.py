"""Built-in plugin ``long_runs``: runs on rented GPUs that survive preemption and resume with the
same command - SIGTERM/SIGUSR1 save a checkpoint and stop, ``--auto_resume``,
``--keep_last_checkpoints``, and the first hour's errors as one line each."""
