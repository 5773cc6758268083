"""Seam: ``lerobot.scripts.lerobot_train.eval_policy_all`` - one in-training env evaluation.

Upstream evaluates the policy in its environments every ``--env_eval_freq`` steps, in the main
process, by calling the ``eval_policy_all`` it imported from ``lerobot_eval``. The seam enters the
contexts the ``around_evaluation`` hooks return (in hook order) around that call and exits them
after it, also when it fails - e.g. the EMA plugin evaluates the shadow weights in them on lerobot
0.6.1, as 0.6.2 does itself. Without an implementation it only calls the original.

Supported lerobot versions: 0.6.1, 0.6.2 (``eval_policy_all(envs=..., policy=...)`` on both).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.training import TrainingRun

from .seam import Seam


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def eval_policy_all(*args: Any, **kwargs: Any) -> Any:
        policy = signature.bind(*args, **kwargs).arguments["policy"]
        with run.evaluating(policy):
            return original(*args, **kwargs)

    return eval_policy_all


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "eval_policy_all",
    make_wrapper,
    parameters=("policy",),
    why="the around_evaluation hooks' contexts around each in-training env evaluation",
)
