"""What a robot adapter is: the type ``register_robot_adapters`` takes and ``select_robot_adapter``
returns, and the layout a dataset has under an adapter (public for plugins).

The adapters themselves (RoboCasa, Fourier GR2, modality.json) and how one is chosen for a dataset
are the ``robot_adapters`` plugin's (``lerobot_ext/adapters/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lerobot_ext.layout import ACTION_KEY, STATE_KEY, DatasetDescription, Group, VectorLayout, vector_layout

# How strongly an adapter claims a dataset (``RobotAdapter.match_score``); the highest score wins.
MATCH_ROBOT_TYPE = 100
MATCH_GENERIC = 10


class RobotAdapter:
    """Subclass this and register an instance through the ``register_robot_adapters`` hook.

    Override what your robot needs; the defaults know nothing.
    """

    #: Unique name, used by ``--robot_adapter=<name>``.
    name: str = ""
    #: One line for ``lerobot-ext inspect`` and ``--plugins``.
    description: str = ""
    #: ``robot_type`` values (meta/info.json) this adapter is chosen for automatically.
    robot_types: tuple[str, ...] = ()

    def match_score(self, dataset: DatasetDescription) -> int:
        """0 if this adapter does not know the dataset; higher wins among adapters."""
        return MATCH_ROBOT_TYPE if dataset.robot_type in self.robot_types else 0

    def aliases(self) -> Mapping[str, tuple[str, ...]]:
        """Other spellings of group names, ``{group_name: (alias, ...)}``."""
        return {}

    def state_groups(self, dataset: DatasetDescription) -> list[Group] | None:
        """The named groups of ``observation.state`` for this dataset, or None if unknown."""
        return None

    def action_groups(self, dataset: DatasetDescription) -> list[Group] | None:
        """The named groups of ``action`` for this dataset, or None if unknown."""
        return None

    def groups_from_data(self, dataset: DatasetDescription, key: str) -> bool:
        """True when this adapter's table for ``key`` was read off the data (e.g. its stats).

        Such a table outranks ``meta/modality.json`` where the two disagree; a table that only
        follows the robot type and width does not. Say in ``notes`` what you found.
        """
        return False

    def notes(self, dataset: DatasetDescription) -> list[str]:
        """Findings worth telling the user (e.g. which action order the data has)."""
        return []


def layout_of(dataset: DatasetDescription, key: str, adapter: RobotAdapter | None) -> VectorLayout | None:
    """The layout of ``key`` (state or action) from the dataset's own names and the adapter."""
    if adapter is None:
        return vector_layout(dataset, key)
    table = (
        adapter.state_groups(dataset)
        if key == STATE_KEY
        else adapter.action_groups(dataset)
        if key == ACTION_KEY
        else None
    )
    return vector_layout(
        dataset, key, table, adapter.name, adapter.aliases(), adapter.groups_from_data(dataset, key)
    )


@dataclass(frozen=True)
class AdapterChoice:
    """What ``select_robot_adapter`` returns: the adapter for a dataset, and why it was chosen."""

    adapter: RobotAdapter
    reason: str
