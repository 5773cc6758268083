"""The built-in ``transforms`` plugin's transforms: each turns the run's flags and a dataset into a
:class:`~lerobot_ext.dataset_changes.DatasetChange` (or ``None`` when its flag is unset)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from lerobot_ext import DatasetChange, DatasetDescription, ExtTrainPipelineConfig, RobotAdapter, StoredDataset


@dataclass
class TransformContext:
    """What a transform sees: the config, the dataset as the previous transforms left it, the adapter,
    and every dataset of the run as stored (several with ``--dataset.mix``)."""

    cfg: ExtTrainPipelineConfig
    dataset: DatasetDescription
    adapter: RobotAdapter | None
    run_datasets: list[StoredDataset] = field(default_factory=list)


class DataTransform(ABC):
    """One transform of the ``transforms`` plugin."""

    #: Name shown in logs.
    name: str = ""

    @abstractmethod
    def apply(self, context: TransformContext) -> DatasetChange | None:
        """Return the transformed features/stats and steps, or None when the run does not ask for it.

        Raise :class:`lerobot_ext.errors.ConfigError` (or a subclass) for a request the dataset
        cannot satisfy; the message should name the bad value and the fix.
        """
