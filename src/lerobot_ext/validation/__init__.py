"""Built-in plugin ``validation``: which checkpoint to ship.

With upstream's ``--dataset.eval_split`` and ``--eval_steps``, the run also measures the error of
the actions the policy would execute on the held-out episodes (fixed noise and seed), keeps it
per checkpoint, and points ``checkpoints/best`` at the best one. ``lerobot-ext compare`` measures
the same on saved checkpoints, with each one's action-chunk latency against the control period.
"""
