"""Built-in plugin ``robot_adapters``: RoboCasa, Fourier GR2, generic modality.json; VLA caps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext.adapters.base import RobotAdapter
from lerobot_ext.adapters.gr2 import FourierGR2Adapter
from lerobot_ext.adapters.modality import ModalityJsonAdapter
from lerobot_ext.adapters.robocasa import RobocasaAdapter
from lerobot_ext.adapters.vla_caps import raised_caps
from lerobot_ext.console import get_logger
from lerobot_ext.plugins import hookimpl

log = get_logger("robot_adapters")


@hookimpl
def register_robot_adapters(register: Callable[[RobotAdapter], None]) -> None:
    register(RobocasaAdapter())
    register(FourierGR2Adapter())
    register(ModalityJsonAdapter())


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
