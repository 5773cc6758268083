"""How the ``robot_adapters`` plugin chooses an adapter for a dataset: ``--robot_adapter`` or the
adapter that claims the dataset most strongly."""

from __future__ import annotations

from collections.abc import Mapping

from lerobot_ext import AdapterChoice, ConfigError, DatasetDescription, RobotAdapter


def select_adapter(
    adapters: Mapping[str, RobotAdapter], dataset: DatasetDescription, requested: str | None
) -> AdapterChoice | None:
    """``requested`` if given, else the adapter that claims the dataset most strongly."""
    if requested:
        if requested not in adapters:
            raise ConfigError(
                f"--robot_adapter={requested} is not a registered robot adapter; registered: "
                f"{', '.join(sorted(adapters)) or 'none'} (see `lerobot-train-ext --plugins`)"
            )
        return AdapterChoice(adapters[requested], "chosen with --robot_adapter")
    scored = [(adapter.match_score(dataset), name) for name, adapter in adapters.items()]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return None
    adapter = adapters[max(scored)[1]]
    if dataset.robot_type in adapter.robot_types:
        return AdapterChoice(adapter, f"chosen for robot_type {dataset.robot_type!r}")
    return AdapterChoice(adapter, "chosen by its match on the dataset")
