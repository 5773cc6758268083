"""Seam: ``lerobot.scripts.lerobot_train.make_policy``.

Runs the ``checkpoint_loading`` hooks when the policy is built from a saved folder (``--policy.path``,
``--resume``), then the ``configure_policy`` hooks (e.g. raising a VLA's ``max_state_dim`` to the dataset's
state width) once the transformed dataset metadata is known, just before the policy is built,
and the ``policy_made`` hooks once it is.

Supported lerobot versions: 0.6.1, 0.6.2 (``make_policy(cfg=..., ds_meta=...)`` on both).
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
    def make_policy(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(*args, **kwargs).arguments
        ds_meta = arguments.get("ds_meta")
        run.checkpoint_loading(arguments["cfg"])
        if ds_meta is not None:
            run.configure_policy(arguments["cfg"], ds_meta)
        policy = original(*args, **kwargs)
        run.policy_made(policy)
        return policy

    return make_policy


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "make_policy",
    make_wrapper,
    parameters=("cfg", "ds_meta"),
    why="configure_policy hooks (e.g. a VLA's max_state_dim) before the policy is built, policy_made after",
)
