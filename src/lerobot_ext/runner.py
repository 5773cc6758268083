"""Running upstream's commands with the seams in place: ``lerobot-train``'s training function for
``lerobot-train-ext``, ``lerobot-eval``'s main for ``lerobot-eval-ext``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence

from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.context import RunContext
from lerobot_ext.dispatch import Hooks
from lerobot_ext.errors import TrainingStopped
from lerobot_ext.evaluation import EvaluationRun
from lerobot_ext.seams import EVAL_SEAMS, applied_seams, seams_applied
from lerobot_ext.training import TrainingRun, configured


@contextlib.contextmanager
def command_line(argv: Sequence[str]) -> Iterator[None]:
    """``sys.argv`` is the command line of the config the run trains while upstream runs: its
    ``validate()`` reads ``--config_path`` and ``--policy.path`` back from it."""
    saved = sys.argv
    sys.argv = [saved[0] if saved else "lerobot-train-ext", *argv]
    try:
        yield
    finally:
        sys.argv = saved


def run_training(cfg: ExtTrainPipelineConfig, context: RunContext, hooks: Hooks) -> TrainingRun:
    """Run upstream's training loop for ``cfg`` with the seams and the hooks, in ``context``."""
    from lerobot.scripts import lerobot_train

    cfg = configured(hooks, cfg, context)
    run = TrainingRun(cfg, context, hooks)
    with applied_seams(run), command_line(context.parsed_argv):
        try:
            lerobot_train.train.__wrapped__(cfg)
        except TrainingStopped as stop:
            run.stopped(stop)
        except BaseException as exc:
            run.failed(exc)
            raise
    # The end_training seam fires on_train_end while the process group is alive; this covers
    # runs that never reached it (e.g. a remote HF job submission returns early).
    run.train_ended()
    return run


def run_evaluation(context: RunContext, hooks: Hooks) -> None:
    """Run upstream's ``lerobot-eval`` main with the eval seams in place."""
    from lerobot.scripts import lerobot_eval

    with seams_applied(EVAL_SEAMS, EvaluationRun(context, hooks)):  # type: ignore[arg-type]
        lerobot_eval.main()
