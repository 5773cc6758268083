"""VLA policies pad state/action to ``max_state_dim``/``max_action_dim``; raise too-small caps.

SmolVLA, PI0, PI05 and PI0-FAST default to 32 for both. GR00T (lerobot 0.6.1, N1.7) defaults to
132 for both, and lerobot remaps the N1.5-era 64/32 to 132, so GR2's widths fit it as is. A 45-D
GR2 state silently breaks the 32-wide ones unless the user remembers ``--policy.max_state_dim=45``;
we raise the cap to the width the policy will actually see (after --state_filtered_keys /
--action_keep_dims).

A pretrained checkpoint's caps are fixed by its weights: there the run is refused with the flags
that make the data fit (:mod:`lerobot_ext.vla_caps.fit`), or widened on request
(:mod:`lerobot_ext.vla_caps.widen`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lerobot_ext import ACTION_KEY, STATE_KEY, ConfigError, DatasetDescription, RobotAdapter
from lerobot_ext.vla_caps.fit import action_advice, state_advice
from lerobot_ext.vla_caps.widen import widenable

CAPS = (("max_state_dim", STATE_KEY), ("max_action_dim", ACTION_KEY))
#: The flag that widens a pretrained VLA instead (registered by the plugin).
WIDEN_FLAG = "widen_pretrained"


@dataclass(frozen=True)
class NarrowCap:
    """A cap below the width of the data the policy will see."""

    cap: str
    key: str
    current: int
    width: int


def narrow_caps(policy_cfg: Any, features: dict[str, dict[str, Any]]) -> list[NarrowCap]:
    """The policy's caps that are below the dataset's widths (none for a policy without caps)."""
    out = []
    for cap, key in CAPS:
        current = getattr(policy_cfg, cap, None)
        feature = features.get(key)
        if not isinstance(current, int) or feature is None:
            continue
        width = int(feature["shape"][-1])
        if width > current:
            out.append(NarrowCap(cap, key, current, width))
    return out


def refusal(
    policy_cfg: Any,
    narrow: Sequence[NarrowCap],
    dataset: DatasetDescription,
    adapter: RobotAdapter | None = None,
    dropped_keys: Sequence[str] = (),
) -> str:
    """The one-line refusal of a pretrained VLA narrower than the data, naming the flags that fit.

    :param dataset: the dataset before the run's transforms (its groups and stats name the flags).
    :param dropped_keys: the run's ``--state_filtered_keys`` (kept in the suggested list).
    """
    said = []
    for i, n in enumerate(narrow):
        owner = f"the pretrained {policy_cfg.type} at {policy_cfg.pretrained_path}" if i == 0 else "it"
        said.append(f"{n.key} is {n.width}-D but {owner} pads to {n.cap}={n.current}")
    advice = [
        state_advice(dataset, adapter, n.current, dropped_keys)
        if n.key == STATE_KEY
        else action_advice(dataset, n.current)
        for n in narrow
    ]
    fits = " ".join(str(a) for a in advice)
    widen = (
        f"; or keep the pretrained weights and widen them to the data with --{WIDEN_FLAG}=true (the new "
        "dims start from zero and train)"
        if widenable(policy_cfg.type)
        else ""
    )
    return (
        f"{', and '.join(said)}: its weights fix {'that size' if len(narrow) == 1 else 'those sizes'}. "
        f"To fit the data to it: {fits}{widen}; or train from scratch. "
        "`lerobot-ext inspect <dataset>` shows the layout."
    )


def raised_caps(
    policy_cfg: Any,
    features: dict[str, dict[str, Any]],
    dataset: DatasetDescription | None = None,
    adapter: RobotAdapter | None = None,
    dropped_keys: Sequence[str] = (),
) -> dict[str, int]:
    """``{cap_field: dataset_width}`` for each cap below the dataset's width.

    A pretrained checkpoint's projections are sized by its caps, so raising one would make its
    weights unloadable: that case is a ``ConfigError`` naming the flags that get under the caps
    (from ``dataset``, the data before the transforms, and the robot ``adapter``; without them,
    from ``features``' per-dim names alone).
    """
    narrow = narrow_caps(policy_cfg, features)
    if narrow and getattr(policy_cfg, "pretrained_path", None):
        if dataset is None:
            dataset = DatasetDescription(robot_type=None, fps=None, features=features, stats={})
        raise ConfigError(refusal(policy_cfg, narrow, dataset, adapter, dropped_keys))
    return {n.cap: n.width for n in narrow}
