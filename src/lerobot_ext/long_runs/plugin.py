"""Built-in plugin ``long_runs``: what a days-long run on a rented GPU needs.

* SIGTERM / SIGUSR1, to the process or its whole process group: finish the step, checkpoint
  it, stop, exit 0 (``request_stop``; under torchrun the ranks agree on the step); DataLoader
  workers never act on them;
* ``--auto_resume=true``: the same command continues from ``<output_dir>/checkpoints/last``;
  a resumed run continues exactly (its random state is put back after the data iterator exists);
* ``--keep_last_checkpoints=N``: older step checkpoints removed once a newer one is complete;
* a NaN or infinite loss or gradient stops the run at that step, before anything of it is saved
  (``checkpoints/last`` stays on the last finite checkpoint), and a checkpoint whose weights are
  not finite is never committed;
* ``--optimizer.lr`` in a continued run is the rate it trains with (upstream's resume would keep
  the checkpoint's);
* the first hour's errors as one line: an existing ``--output_dir``, a ``--dataset.root`` that
  holds no complete dataset, a disk without room for one checkpoint, ``--resume`` without what it
  needs, a policy extra that is not installed, and what the run reads from the Hub but cannot get
  (``--policy.path``, ``--policy.pretrained_path``, a VLM, a processor's tokenizer: offline and not
  cached, or gated without a token) - see ``hub_needs``;
* ``lerobot-ext doctor``: a line per installed VLA policy type, its extras and its Hub needs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, RunContext, get_logger, hookimpl, is_true
from lerobot_ext.long_runs import finite_guard, first_hour, hub_needs, upstream_names
from lerobot_ext.long_runs.auto_resume import last_checkpoint_config, resumed_config
from lerobot_ext.long_runs.data_order import continue_sampler_epoch, restore_rng_after_first_batch
from lerobot_ext.long_runs.learning_rate import apply_new_lr
from lerobot_ext.long_runs.retention import prune
from lerobot_ext.long_runs.signals import StopOnSignal

log = get_logger("long_runs")
stopper = StopOnSignal()
# What before_first_batch leaves in run.stash for first_batch_ready: this process's resume needs
# its random state put back.
RESTORE_RNG = "long_runs.restore_rng"
# The policy, kept by policy_made for the finite checks.
POLICY = "long_runs.policy"


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        "auto_resume",
        bool,
        False,
        help="re-running the same command continues the run in --output_dir from checkpoints/last "
        "(or starts it when the folder does not exist)",
    )
    register(
        "keep_last_checkpoints",
        int | None,
        None,
        help="keep only the newest N step checkpoints; older ones are removed once a newer one is complete",
    )


@hookimpl(tryfirst=True)  # first: the other plugins check the config this returns
def configure(cfg: Any, run: RunContext) -> Any:
    if cfg.keep_last_checkpoints is not None and cfg.keep_last_checkpoints < 1:
        raise ConfigError(
            f"--keep_last_checkpoints={cfg.keep_last_checkpoints} would keep no checkpoint; use N >= 1 "
            "(or leave it unset to keep them all)"
        )
    first_hour.check_resume_flags(run.flags)
    # The command's --auto_resume, not one a --resume's saved config brings back.
    if cfg.auto_resume and not cfg.resume:
        resumed = resumed_config(cfg, run)
        if resumed is not None:
            first_hour.check_dataset_root(resumed)
            # The command's flags were checked against the saved run's: its config says it all.
            check_policy_needs(resumed, {}, run)
            return resumed
    first_hour.check_dataset_root(cfg)
    first_hour.check_output_dir(cfg)
    check_policy_needs(cfg, run.flags, run)
    return None


def check_policy_needs(cfg: Any, flags: dict[str, str], run: RunContext) -> None:
    """What the policy imports and reads from the Hub (``--policy.path`` and
    ``--policy.pretrained_path`` included), before the dataset or the model is built."""
    hub_needs.check_run_needs(cfg.policy, flags, first_hour.resumed_checkpoint(cfg, run.parsed_argv), run)


@hookimpl(optionalhook=True)  # optional: a lerobot-ext without the doctor_report hook never calls it
def doctor_report() -> dict[str, Any]:
    """``lerobot-ext doctor``: a line per installed VLA policy type - its extras, its Hub needs."""
    return hub_needs.doctor_section()


@hookimpl
def policy_made(cfg: Any, policy: Any, rank: int, run: RunContext) -> None:
    first_hour.check_disk_room(cfg, policy, rank)
    run.stash[POLICY] = policy


@hookimpl
def optimizer_ready(cfg: Any, optimizer: Any, lr_scheduler: Any, rank: int) -> None:
    """A continued run trains with its config's ``optimizer.lr``, not the checkpoint's."""
    if not cfg.resume or cfg.optimizer is None:
        return
    old = apply_new_lr(optimizer, lr_scheduler, float(cfg.optimizer.lr))
    if old is not None and rank == 0:
        log.info(
            "--optimizer.lr=%g: the continued run trains at this rate (the checkpoint's was %g; the "
            "schedule goes on from its step)",
            cfg.optimizer.lr,
            old,
        )


@hookimpl
def on_step_end(cfg: Any, step: int, metrics: dict[str, float], run: RunContext) -> None:
    finite_guard.check_step(step, metrics, run.stash.get(POLICY), cfg.output_dir)


@hookimpl
def checkpoint_writing(cfg: Any, step: int, run: RunContext) -> None:
    policy = run.stash.get(POLICY)
    if policy is not None:
        finite_guard.check_weights_before_saving(step, policy, cfg.output_dir)


@hookimpl
def on_train_start() -> None:
    stopper.install()


@hookimpl
def before_first_batch(cfg: Any, dataloader: Any, run: RunContext) -> None:
    """On a resume, continue in the checkpoint's epoch (see ``data_order``)."""
    run.stash[RESTORE_RNG] = False
    if cfg.resume and cfg.checkpoint_path is not None:
        continue_sampler_epoch(dataloader)
        run.stash[RESTORE_RNG] = restore_rng_after_first_batch(dataloader)


@hookimpl
def first_batch_ready(cfg: Any, run: RunContext) -> None:
    """On a resume, put back the random state the checkpoint recorded, where making the data
    iterator drew from torch's generator and the uninterrupted run did not (see ``data_order``)."""
    if run.stash.get(RESTORE_RNG):
        from lerobot.utils.constants import TRAINING_STATE_DIR
        from lerobot.utils.random_utils import load_rng_state

        load_rng_state(Path(cfg.checkpoint_path) / TRAINING_STATE_DIR)


@hookimpl
def request_stop() -> str | None:
    return stopper.poll()


@hookimpl
def on_checkpoint_saved(cfg: Any, step: int, rank: int) -> None:
    if rank == 0 and cfg.keep_last_checkpoints:
        prune(Path(cfg.output_dir) / "checkpoints", cfg.keep_last_checkpoints, step)


@hookimpl
def on_train_end(cfg: Any, step: int, rank: int, run: RunContext) -> None:
    stopper.uninstall()
    # Stopped early with a checkpoint (a signal, or another plugin's request_stop): say how to go on.
    if rank != 0 or not 0 < step < cfg.steps or not cfg.output_dir:
        return
    last = last_checkpoint_config(Path(cfg.output_dir))
    if last is not None:
        flags = run.flags
        if is_true(flags.get("auto_resume")):
            how = "re-run the same command"
        elif is_true(flags.get("resume")):
            how = f"--resume=true --config_path={last}"
        else:
            how = "the same command and --auto_resume=true"
        log.warning("to continue this run to step %s: %s", cfg.steps, how)


@hookimpl
def on_exception() -> None:
    stopper.uninstall()
