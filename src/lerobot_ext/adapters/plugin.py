"""Built-in plugin ``robot_adapters``: RoboCasa, Fourier GR2 and generic modality.json adapters,
``--robot_adapter`` and the choice of an adapter for a dataset."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lerobot_ext import AdapterChoice, DatasetDescription, RobotAdapter, hookimpl
from lerobot_ext.adapters.gr2 import FourierGR2Adapter
from lerobot_ext.adapters.modality import ModalityJsonAdapter
from lerobot_ext.adapters.robocasa import RobocasaAdapter
from lerobot_ext.adapters.selection import select_adapter


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        "robot_adapter",
        str | None,
        None,
        help="robot adapter to use (default: chosen from the dataset's robot_type); see `lerobot-ext inspect`",
    )


@hookimpl
def register_robot_adapters(register: Callable[[RobotAdapter], None]) -> None:
    register(RobocasaAdapter())
    register(FourierGR2Adapter())
    register(ModalityJsonAdapter())


@hookimpl
def select_robot_adapter(
    cfg: Any, dataset: DatasetDescription, adapters: Mapping[str, RobotAdapter]
) -> AdapterChoice | None:
    return select_adapter(adapters, dataset, getattr(cfg, "robot_adapter", None))
