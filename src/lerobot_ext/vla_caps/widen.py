"""``--widen_pretrained``: zero-extend a pretrained VLA's state/action projections to wider data.

A VLA pads state and action to ``max_state_dim``/``max_action_dim`` and its weights fix those
sizes at three places: the projection the padded state goes through, the one the noisy action
goes in through, and the one the velocity comes out of. Widening them with zeros - new input
columns of the two input projections, new output rows (and bias) of the output projection -
keeps every pretrained dim exactly as it was:

* a new state or action-in dim is multiplied by a zero column, so it changes nothing until
  training moves that column away from zero;
* a new output dim's velocity is zero, so the flow (Euler) integration leaves that dim at its
  starting noise and the pretrained dims see the same inputs at every step.

So on inputs whose new dims are zero (noise included) the widened model's first dims equal the
pretrained model's, and the new dims train from zero (their gradients are not zero: the state
columns see the data, the output rows the loss of the new action dims).

PI05 puts the state in its prompt as text tokens (one per dim) rather than through a projection,
except with head's ``use_proprioceptive_memory``: there the state's projection widens like the
others; without it new state dims add prompt tokens, so only PI05's action is widened exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lerobot_ext import STATE_KEY, ConfigError, UpstreamChangedError, installed_lerobot


@dataclass(frozen=True)
class Projections:
    """Where one VLA's state/action widths live in its weights: attributes of ``policy.model``."""

    #: The policy's class and its ``model``'s class (dotted paths, checked by ``lerobot-ext doctor``).
    policy_class: str
    model_class: str
    #: ``nn.Linear`` modules whose input is the padded state / the padded noisy action.
    state_in: tuple[str, ...] = ()
    action_in: tuple[str, ...] = ()
    #: ``nn.Linear`` modules whose output is the padded action (the flow's velocity).
    action_out: tuple[str, ...] = ()
    #: Of the above, those a version or a config may lack (or set to ``None``).
    optional: frozenset[str] = frozenset()
    #: What widening leaves inexact for this policy (said in the log line).
    note: str = ""

    def names(self) -> Iterator[str]:
        yield from (*self.state_in, *self.action_in, *self.action_out)


_SMOLVLA = "lerobot.policies.smolvla.modeling_smolvla"
_PI0 = "lerobot.policies.pi0.modeling_pi0"
_PI05 = "lerobot.policies.pi05.modeling_pi05"

#: The VLAs ``--widen_pretrained`` knows, by ``policy.type``; the same in lerobot 0.6.1 and 0.6.2.
PROJECTIONS: dict[str, Projections] = {
    "smolvla": Projections(
        f"{_SMOLVLA}.SmolVLAPolicy",
        f"{_SMOLVLA}.VLAFlowMatching",
        state_in=("state_proj",),
        action_in=("action_in_proj",),
        action_out=("action_out_proj",),
    ),
    "pi0": Projections(
        f"{_PI0}.PI0Policy",
        f"{_PI0}.PI0Pytorch",
        state_in=("state_proj",),
        action_in=("action_in_proj",),
        action_out=("action_out_proj",),
    ),
    "pi05": Projections(
        f"{_PI05}.PI05Policy",
        f"{_PI05}.PI05Pytorch",
        # lerobot 0.6.2's proprioceptive memory only (use_proprioceptive_memory=true).
        state_in=("proprio_history_proj",),
        action_in=("action_in_proj",),
        action_out=("action_out_proj",),
        optional=frozenset({"proprio_history_proj"}),
        note="PI05's state goes into its prompt as tokens, so new state dims add prompt tokens",
    ),
}


def widenable(policy_type: str) -> bool:
    return policy_type in PROJECTIONS


@torch.no_grad()
def widen_inputs(linear: nn.Linear, width: int) -> None:
    """Give ``linear`` ``width`` inputs; the new input columns are zero (new inputs change nothing)."""
    old = linear.weight
    if width < linear.in_features:
        raise ValueError(f"cannot narrow a Linear's inputs from {linear.in_features} to {width}")
    weight = old.new_zeros(old.shape[0], width)
    weight[:, : linear.in_features] = old
    linear.weight = nn.Parameter(weight, requires_grad=old.requires_grad)
    linear.in_features = width


@torch.no_grad()
def widen_outputs(linear: nn.Linear, width: int) -> None:
    """Give ``linear`` ``width`` outputs; the new output rows and their bias are zero."""
    old = linear.weight
    if width < linear.out_features:
        raise ValueError(f"cannot narrow a Linear's outputs from {linear.out_features} to {width}")
    weight = old.new_zeros(width, old.shape[1])
    weight[: linear.out_features] = old
    linear.weight = nn.Parameter(weight, requires_grad=old.requires_grad)
    if linear.bias is not None:
        bias = linear.bias.new_zeros(width)
        bias[: linear.out_features] = linear.bias
        linear.bias = nn.Parameter(bias, requires_grad=linear.bias.requires_grad)
    linear.out_features = width


def _module(model: Any, name: str, projections: Projections, policy_type: str) -> nn.Linear | None:
    module = getattr(model, name, None)
    if module is None and name in projections.optional:
        return None
    if not isinstance(module, nn.Linear):
        raise UpstreamChangedError(
            f"--widen_pretrained: {projections.model_class}.{name} is "
            f"{type(module).__name__ if module is not None else 'missing'} in lerobot {installed_lerobot()}, "
            f"not the nn.Linear the {policy_type} widening relies on. Run `lerobot-ext doctor`."
        )
    return module


def widen_policy(policy: Any, max_state_dim: int | None, max_action_dim: int | None) -> str:
    """Zero-extend ``policy``'s projections to the given caps (``None``: leave that one) and set
    its config's caps to them, so that padding, saving and ``from_pretrained`` use the new widths.

    :return: one line saying what was widened.
    :raise ConfigError: for a policy type :data:`PROJECTIONS` does not know.
    """
    config = policy.config
    policy_type = config.type
    projections = PROJECTIONS.get(policy_type)
    if projections is None:
        raise ConfigError(
            f"--widen_pretrained knows {', '.join(sorted(PROJECTIONS))}, not the pretrained {policy_type}: "
            "drop dims with --state_filtered_keys / --action_keep_dims instead, or train from scratch"
        )
    model = policy.model
    parts: list[str] = []
    for cap, width, kinds in (
        ("max_state_dim", max_state_dim, ((projections.state_in, widen_inputs, "input columns"),)),
        (
            "max_action_dim",
            max_action_dim,
            (
                (projections.action_in, widen_inputs, "input columns"),
                (projections.action_out, widen_outputs, "output rows"),
            ),
        ),
    ):
        old = getattr(config, cap)
        if width is None or width <= old:
            continue
        changed = []
        for names, widen, what in kinds:
            for name in names:
                module = _module(model, name, projections, policy_type)
                if module is not None:
                    widen(module, width)
                    changed.append(f"{name} +{width - old} {what}")
        setattr(config, cap, width)
        if cap == "max_state_dim":
            _state_feature_width(config, width)
        parts.append(f"{cap} {old} -> {width} ({', '.join(changed) or 'no projection'})")
    if not parts:
        return (
            f"--widen_pretrained: the pretrained {policy_type}'s caps already fit the data; nothing widened"
        )
    widened_state = any(part.startswith("max_state_dim") for part in parts)
    note = f"; {projections.note}" if projections.note and widened_state else ""
    return (
        f"--widen_pretrained: widened the pretrained {policy_type}: {'; '.join(parts)}; the new weights are "
        f"zero, so the pretrained dims act as before and the new dims train from zero{note}"
    )


def _state_feature_width(config: Any, width: int) -> None:
    """A checkpoint's config keeps the state feature it was trained on (upstream keeps a pretrained
    config's input features): make it say the width the widened weights take."""
    feature = (getattr(config, "input_features", None) or {}).get(STATE_KEY)
    if feature is not None and tuple(feature.shape)[-1:] != (width,):
        config.input_features[STATE_KEY] = dataclasses.replace(feature, shape=(width,))
