"""Built-in plugin ``vla_caps``: raise a VLA's ``max_state_dim``/``max_action_dim`` to the data.

See :mod:`lerobot_ext.vla_caps.caps` for which policies pad to a cap and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext import hookimpl
from lerobot_ext.vla_caps import upstream_names
from lerobot_ext.vla_caps.caps import raised_caps


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def configure_policy(policy_cfg: Any, dataset_meta: Any) -> dict[str, Any] | None:
    # The run logs each change it applies ("vla_caps: policy.max_state_dim 32 -> 45"), once.
    return raised_caps(policy_cfg, dataset_meta.features) or None
