"""Built-in plugin ``vla_caps``: raise a VLA's ``max_state_dim``/``max_action_dim`` to the data.

See :mod:`lerobot_ext.vla_caps.caps` for which policies pad to a cap and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext import get_logger, hookimpl
from lerobot_ext.vla_caps import upstream_names
from lerobot_ext.vla_caps.caps import raised_caps

log = get_logger("vla_caps")


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def configure_policy(policy_cfg: Any, dataset_meta: Any) -> dict[str, Any] | None:
    changes = raised_caps(policy_cfg, dataset_meta.features)
    for cap, width in changes.items():
        log.info(
            "%s pads to %s=%s but the dataset's vector is %s-D: raising the cap to %s",
            policy_cfg.type,
            cap,
            getattr(policy_cfg, cap),
            width,
            width,
        )
    return changes or None
