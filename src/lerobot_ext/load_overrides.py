"""What the ``checkpoint_loading`` hook answers: changes to what upstream reads from a saved folder.

Upstream builds a saved policy from its ``pretrained_model/`` folder in several places - a
training run that starts from one (``--policy.path``, ``--resume``), ``lerobot-eval``, and any
script that calls ``from_pretrained`` - and each reads the folder's ``config.json`` and processor
files as they are. What those files name outside the folder (a VLM's Hub id, a tokenizer's folder)
is looked up from the current directory or the Hub. A plugin that knows better (the
``self_contained`` plugin: the files a checkpoint carries, named relative to it) answers
``checkpoint_loading`` with a :class:`LoadOverrides`; lerobot-ext applies it wherever upstream
loads a checkpoint for it, and :func:`load_policy` does the same for scripts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lerobot_ext.errors import PluginConflictError, PluginHookError

log = logging.getLogger("lerobot_ext")

PREPROCESSOR_OVERRIDES = "preprocessor_overrides"
POSTPROCESSOR_OVERRIDES = "postprocessor_overrides"


@dataclass(frozen=True)
class LoadOverrides:
    """Changes to what upstream reads from a saved ``pretrained_model/`` folder.

    :param policy: ``{config field: value}`` set on the policy config before the policy is built.
    :param preprocessor: ``{step key: {constructor argument: value}}`` for the saved preprocessor's
        steps - upstream's ``preprocessor_overrides`` (a step's key is its ``registry_name``, or its
        class name for a step saved by import path).
    :param postprocessor: the same for the saved postprocessor.
    """

    policy: Mapping[str, Any] = field(default_factory=dict)
    preprocessor: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    postprocessor: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.policy or self.preprocessor or self.postprocessor)


def _merge(into: dict[str, tuple[str, Any]], key: str, value: Any, plugin: str, what: str) -> None:
    if key in into and into[key][1] != value:
        other, other_value = into[key]
        raise PluginConflictError(
            f"plugins '{other}' and '{plugin}' set {what}{key} to different values ({other_value!r} vs {value!r})"
        )
    into[key] = (plugin, value)


def merged(answers: list[tuple[str, LoadOverrides]]) -> LoadOverrides:
    """One :class:`LoadOverrides` from every plugin's answer; the same key set twice to different
    values is a :class:`PluginConflictError` naming both plugins."""
    policy: dict[str, tuple[str, Any]] = {}
    processors: dict[str, dict[str, dict[str, tuple[str, Any]]]] = {"preprocessor": {}, "postprocessor": {}}
    for plugin, answer in answers:
        for name, value in answer.policy.items():
            _merge(policy, name, value, plugin, "policy.")
        for role, steps in (("preprocessor", answer.preprocessor), ("postprocessor", answer.postprocessor)):
            for step, arguments in steps.items():
                for argument, value in arguments.items():
                    _merge(processors[role].setdefault(step, {}), argument, value, plugin, f"{role} {step}.")
    return LoadOverrides(
        policy={name: value for name, (_, value) in policy.items()},
        **{
            role: {step: {a: v for a, (_, v) in arguments.items()} for step, arguments in steps.items()}
            for role, steps in processors.items()
        },
    )


def apply_to_policy_config(policy_cfg: Any, overrides: LoadOverrides) -> None:
    """Set the overrides' policy fields on ``policy_cfg`` (in place), logging each change once."""
    for name, value in overrides.policy.items():
        if not hasattr(policy_cfg, name):
            raise PluginHookError(
                f"checkpoint_loading set policy.{name}, but {type(policy_cfg).__name__} has no such field"
            )
        old = getattr(policy_cfg, name)
        if old != value:
            setattr(policy_cfg, name, value)
            log.info("checkpoint: policy.%s %r -> %r", name, old, value)


def with_processor_overrides(kwargs: dict[str, Any], overrides: LoadOverrides) -> dict[str, Any]:
    """``make_pre_post_processors`` keyword arguments with the overrides' steps merged in (what the
    caller passed for a step argument wins: it asked for that value explicitly)."""
    result = dict(kwargs)
    for key, steps in (
        (PREPROCESSOR_OVERRIDES, overrides.preprocessor),
        (POSTPROCESSOR_OVERRIDES, overrides.postprocessor),
    ):
        if not steps:
            continue
        combined: dict[str, Any] = {step: dict(arguments) for step, arguments in steps.items()}
        for step, arguments in (result.get(key) or {}).items():
            combined[step] = {**combined.get(step, {}), **arguments}
        result[key] = combined
    return result
