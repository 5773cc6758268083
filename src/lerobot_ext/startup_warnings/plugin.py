"""Built-in plugin ``startup_warnings``: once, in the main process, before the first step.

``datasets_ready`` keeps the dataset's metadata, ``policy_made`` checks the policy's config and
cameras, ``processors_made`` the task text against the tokenizer the preprocessor uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext import get_logger, hookimpl
from lerobot_ext.startup_warnings import checks, upstream_names

log = get_logger("startup_warnings")


class StartupWarnings:
    def __init__(self) -> None:
        self.meta: Any = None

    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    @hookimpl
    def datasets_ready(self, dataset: Any, rank: int) -> None:
        self.meta = dataset.meta if rank == 0 else None

    @hookimpl
    def policy_made(self, cfg: Any, policy: Any, rank: int) -> None:
        if rank != 0:
            return
        warnings = [checks.frozen_random_vlm(cfg.policy), checks.unnormalised_env_state(policy.config)]
        if self.meta is not None:
            depth_keys = getattr(self.meta, "depth_keys", [])
            warnings.append(checks.depth_into_rgb(depth_keys, policy.config.image_features, cfg.policy.type))
        for warning in warnings:
            if warning:
                log.warning("%s", warning)

    @hookimpl
    def processors_made(self, cfg: Any, preprocessor: Any, rank: int) -> None:
        if rank != 0 or self.meta is None:
            return
        step = next(
            (s for s in getattr(preprocessor, "steps", []) if getattr(s, "input_tokenizer", None)), None
        )
        if step is None:
            return
        tokenizer = step.input_tokenizer
        episode_tasks = [list(tasks or []) for tasks in self.meta.episodes["tasks"]]
        for warning in checks.task_text(
            episode_tasks,
            lambda text: len(tokenizer(text, add_special_tokens=True)["input_ids"]),
            int(step.max_length),
            cfg.policy.type,
        ):
            log.warning("%s", warning)


plugin = StartupWarnings()
