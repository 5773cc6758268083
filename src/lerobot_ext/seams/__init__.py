"""The seams lerobot-ext applies to upstream lerobot during a ``lerobot-train-ext`` run.

One module per upstream name wrapped (or per role, where the name differs between lerobot
versions: a :class:`SeamTable`). Each seam states the tested lerobot versions it applies to and
raises :class:`lerobot_ext.errors.UpstreamChangedError`, naming the missing symbol, the installed
version and ``lerobot-ext doctor``, when upstream moved it. Upstream's code runs unmodified:
every wrapper calls the original with the arguments it received.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from lerobot_ext.training import TrainingRun

from . import (
    accelerator,
    cycle,
    episode_aware_sampler,
    eval_make_policy,
    eval_make_pre_post_processors,
    eval_policy_all,
    init_logging,
    make_policy,
    make_pre_post_processors,
    make_train_eval_datasets,
    resume_step,
    save_checkpoint,
    should_save_checkpoint,
    update_policy,
)
from .seam import MethodSeam, Seam, SeamTable, seams_applied

SEAMS: tuple[Seam | SeamTable, ...] = (
    init_logging.SEAM,
    make_train_eval_datasets.SEAM,
    make_policy.SEAM,
    make_pre_post_processors.SEAM,
    resume_step.SEAM,
    episode_aware_sampler.SEAM,
    cycle.SEAM,
    update_policy.SEAM,
    should_save_checkpoint.SEAM,
    save_checkpoint.SEAM,
    eval_policy_all.SEAM,
)
# lerobot-eval-ext wraps these in upstream's evaluation script instead.
EVAL_SEAMS: tuple[Seam | SeamTable, ...] = (eval_make_policy.SEAM, eval_make_pre_post_processors.SEAM)
METHOD_SEAMS: tuple[MethodSeam, ...] = (*accelerator.METHOD_SEAMS, update_policy.OPTIMIZER_STEP)


@contextlib.contextmanager
def applied_seams(run: TrainingRun) -> Iterator[None]:
    """Wrap every seam for the duration of ``run``; the originals are back afterwards."""
    for method_seam in METHOD_SEAMS:
        method_seam.resolve_class()
    with seams_applied(SEAMS, run):
        yield


__all__ = [
    "EVAL_SEAMS",
    "METHOD_SEAMS",
    "SEAMS",
    "MethodSeam",
    "Seam",
    "SeamTable",
    "applied_seams",
    "seams_applied",
]
