"""Several datasets in one run, as values: where each came from, what the plugins' changes make
of it, and what they become together.

:class:`DatasetSource` is what :func:`~lerobot_ext.hookspecs.more_datasets` returns (a dataset
upstream loaded, besides the run's own); :class:`DatasetPart` is one source with its planned
changes, as :func:`~lerobot_ext.hookspecs.combine_datasets` gets them; :class:`CombinedDatasets`
is what it returns. How a run uses them is :mod:`lerobot_ext.training`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lerobot_ext.dataset_changes import AppliedChanges
from lerobot_ext.layout import DatasetDescription
from lerobot_ext.robot_adapter import RobotAdapter


@dataclass(frozen=True)
class StoredDataset:
    """One dataset of the run as stored, with the robot adapter chosen for it (what
    ``transform_dataset`` gets in ``run_datasets``)."""

    description: DatasetDescription
    adapter: RobotAdapter | None = None
    #: Why the adapter was chosen (the ``AdapterChoice``'s reason).
    adapter_reason: str = ""


@dataclass
class DatasetSource:
    """One dataset of the run, as upstream loads it.

    ``label`` is how messages name it (the folder or Hub id the user typed); ``index`` is its
    place among the run's datasets (0: ``--dataset.repo_id``/``--dataset.root``, the primary),
    set by the run. ``eval`` holds its ``--dataset.eval_split`` episodes, or is ``None``.
    """

    label: str
    train: Any
    eval: Any = None
    index: int = 0


@dataclass
class DatasetPart:
    """A source and what every plugin's change makes of it (planned from its own metadata)."""

    source: DatasetSource
    planned: AppliedChanges

    @property
    def label(self) -> str:
        return self.source.label


@dataclass
class CombinedDatasets:
    """What several parts become: one training dataset (its ``meta`` upstream's metadata for the
    whole), the held-out one or ``None``, and the changes the policy is built from - the
    primary's steps, with the features and statistics of all the data together."""

    train: Any
    eval: Any
    planned: AppliedChanges
