"""VLA policies pad state/action to ``max_state_dim``/``max_action_dim``; raise too-small caps.

SmolVLA, PI0, PI05 and PI0-FAST default to 32 for both. GR00T (lerobot 0.6.1, N1.7) defaults to
132 for both, and lerobot remaps the N1.5-era 64/32 to 132, so GR2's widths fit it as is. A 45-D
GR2 state silently breaks the 32-wide ones unless the user remembers ``--policy.max_state_dim=45``;
we raise the cap to the width the policy will actually see (after --state_filtered_keys /
--action_keep_dims).
"""

from __future__ import annotations

from typing import Any

from lerobot_ext import ACTION_KEY, STATE_KEY, ConfigError

CAPS = (("max_state_dim", STATE_KEY), ("max_action_dim", ACTION_KEY))


def raised_caps(policy_cfg: Any, features: dict[str, dict[str, Any]]) -> dict[str, int]:
    """``{cap_field: dataset_width}`` for each cap below the dataset's width.

    A pretrained checkpoint's projections are sized by its caps, so raising one would make its
    weights unloadable: that case is an error that says how to get under the cap instead.
    """
    changes: dict[str, int] = {}
    for cap, key in CAPS:
        current = getattr(policy_cfg, cap, None)
        feature = features.get(key)
        if not isinstance(current, int) or feature is None:
            continue
        width = int(feature["shape"][-1])
        if width <= current:
            continue
        if getattr(policy_cfg, "pretrained_path", None):
            flag = "--state_filtered_keys=[...]" if key == STATE_KEY else "--action_keep_dims=N"
            raise ConfigError(
                f"{key} is {width}-D but the pretrained {policy_cfg.type} at {policy_cfg.pretrained_path} "
                f"pads to {cap}={current}, and its weights fix that size. Drop dims with {flag} "
                f"(see `lerobot-ext inspect <dataset>`) to get to {current} or fewer, or train from scratch."
            )
        changes[cap] = width
    return changes
