"""Built-in plugin ``long_runs``: what a days-long run on a rented GPU needs.

* SIGTERM / SIGUSR1: finish the step, checkpoint it, stop, exit 0 (``request_stop``; under
  torchrun the ranks agree on the step);
* ``--auto_resume=true``: the same command continues from ``<output_dir>/checkpoints/last``;
  a resumed run continues exactly (its random state is put back after the data iterator exists);
* ``--keep_last_checkpoints=N``: older step checkpoints removed once a newer one is complete;
* the first hour's errors as one line: an existing ``--output_dir``, a ``--dataset.root`` that
  holds no dataset, a disk without room for one checkpoint, ``HF_HUB_OFFLINE`` with a Hub
  ``--policy.path`` that is not cached.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext.errors import ConfigError
from lerobot_ext.long_runs import first_hour
from lerobot_ext.long_runs.auto_resume import resumed_config
from lerobot_ext.long_runs.retention import prune
from lerobot_ext.long_runs.signals import StopOnSignal
from lerobot_ext.plugins import hookimpl

stopper = StopOnSignal()


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        "auto_resume",
        bool,
        False,
        help="re-running the same command continues the run in --output_dir from checkpoints/last "
        "(or starts it when there is none)",
    )
    register(
        "keep_last_checkpoints",
        int | None,
        None,
        help="keep only the newest N step checkpoints; older ones are removed once a newer one is complete",
    )


@hookimpl(tryfirst=True)  # first: the other plugins check the config this returns
def configure(cfg: Any) -> Any:
    if cfg.keep_last_checkpoints is not None and cfg.keep_last_checkpoints < 1:
        raise ConfigError(
            f"--keep_last_checkpoints={cfg.keep_last_checkpoints} would keep no checkpoint; use N >= 1 "
            "(or leave it unset to keep them all)"
        )
    first_hour.check_offline_policy_path()
    if cfg.auto_resume and not cfg.resume:
        resumed = resumed_config(cfg, list(sys.argv[1:]))
        if resumed is not None:
            first_hour.check_dataset_root(resumed)
            return resumed
    first_hour.check_dataset_root(cfg)
    first_hour.check_output_dir(cfg)
    return None


@hookimpl
def policy_made(cfg: Any, policy: Any, rank: int) -> None:
    if rank == 0:
        first_hour.check_disk_room(cfg, policy)


@hookimpl
def on_train_start() -> None:
    stopper.install()


@hookimpl
def first_batch_ready(cfg: Any) -> None:
    """On a resume, put back the random state the checkpoint recorded.

    Upstream restores it before building the data iterator, and creating the iterator draws from
    torch's generator: without this, a resumed run's first step would differ from the one the
    uninterrupted run took.
    """
    if cfg.resume and cfg.checkpoint_path is not None:
        from lerobot.utils.constants import TRAINING_STATE_DIR
        from lerobot.utils.random_utils import load_rng_state

        load_rng_state(Path(cfg.checkpoint_path) / TRAINING_STATE_DIR)


@hookimpl
def request_stop() -> str | None:
    return stopper.reason


@hookimpl
def on_checkpoint_saved(cfg: Any, rank: int) -> None:
    if rank == 0 and cfg.keep_last_checkpoints:
        prune(Path(cfg.output_dir) / "checkpoints", cfg.keep_last_checkpoints)


@hookimpl
def on_train_end() -> None:
    stopper.uninstall()


@hookimpl
def on_exception() -> None:
    stopper.uninstall()
