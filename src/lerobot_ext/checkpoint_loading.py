"""Loading a saved policy with the plugins' ``checkpoint_loading`` changes.

Where upstream loads a saved ``pretrained_model/`` folder in a lerobot-ext command (a training run
that starts from one, ``lerobot-eval-ext``), the seams ask the plugins once per folder
(:class:`FolderOverrides`) and apply the answer (:mod:`lerobot_ext.load_overrides`);
:func:`load_policy` does the same for scripts and ``lerobot-ext compare``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from lerobot_ext.context import RunContext
from lerobot_ext.dispatch import Hooks, hooks_of, load_plugins
from lerobot_ext.load_overrides import (
    PREPROCESSOR_OVERRIDES,
    LoadOverrides,
    apply_to_policy_config,
    merged,
    with_processor_overrides,
)


def collect_overrides(
    hooks: Hooks, policy_cfg: Any, pretrained_path: str | Path, context: RunContext
) -> LoadOverrides:
    """Every plugin's ``checkpoint_loading`` answer for loading ``pretrained_path``, merged."""
    answers = hooks.collect(
        "checkpoint_loading", policy_cfg=policy_cfg, pretrained_path=Path(pretrained_path), run=context
    )
    return merged(answers)


class FolderOverrides:
    """The ``checkpoint_loading`` answers of one command, asked once per folder it loads from
    (upstream loads the policy and its processors from the same folder at different moments)."""

    def __init__(self, hooks: Hooks, context: RunContext) -> None:
        self.hooks = hooks
        self.context = context
        self._answers: dict[str, LoadOverrides] = {}

    def __call__(self, policy_cfg: Any, pretrained_path: str | Path) -> LoadOverrides:
        key = str(pretrained_path)
        if key not in self._answers:
            self._answers[key] = collect_overrides(self.hooks, policy_cfg, key, self.context)
        return self._answers[key]


def with_folder_overrides(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any], overrides: FolderOverrides
) -> dict[str, Any]:
    """The keyword arguments of a ``make_pre_post_processors(*args, **kwargs)`` call (``signature``
    is upstream's), with the ``checkpoint_loading`` step overrides of the folder it loads from."""
    bound = signature.bind(*args, **kwargs).arguments
    pretrained_path = bound.get("pretrained_path")
    if not pretrained_path:
        return kwargs
    return with_processor_overrides(kwargs, overrides(bound["policy_cfg"], str(pretrained_path)))


def load_policy(
    folder: str | Path, device: str | None = None, hooks: Hooks | None = None
) -> tuple[Any, Any, Any]:
    """``(policy, preprocessor, postprocessor)`` of a saved ``pretrained_model/`` folder, in eval
    mode, with the installed plugins' ``checkpoint_loading`` changes - e.g. a self-contained VLA
    checkpoint's VLM files, found next to its weights from any working directory, offline.

    :param folder: a ``.../checkpoints/<step>/pretrained_model`` (or ``pretrained_model_ema``) folder.
    :param device: where to run the policy (default: the device it was saved with).
    :param hooks: the loaded plugins (default: discover the installed ones).
    """
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    hooks = hooks if hooks is not None else hooks_of(load_plugins())
    config = PreTrainedConfig.from_pretrained(folder)
    if device:
        config.device = device
    overrides = collect_overrides(hooks, config, folder, RunContext("load", hooks))
    apply_to_policy_config(config, overrides)
    policy = get_policy_class(config.type).from_pretrained(folder, config=config).eval()
    kwargs = {PREPROCESSOR_OVERRIDES: {"device_processor": {"device": str(config.device)}}}
    preprocessor, postprocessor = make_pre_post_processors(
        config, pretrained_path=str(folder), **with_processor_overrides(kwargs, overrides)
    )
    return policy, preprocessor, postprocessor
