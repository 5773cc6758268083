"""Data transforms: change what the policy sees, in training and in the saved checkpoint."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lerobot_ext.layout import DatasetDescription

if TYPE_CHECKING:
    from lerobot.processor import ProcessorStep

    from lerobot_ext.adapters.base import RobotAdapter
    from lerobot_ext.config import ExtTrainPipelineConfig


@dataclass
class TransformContext:
    """What a transform sees: the config, the dataset as the previous transforms left it, the adapter."""

    cfg: ExtTrainPipelineConfig
    dataset: DatasetDescription
    adapter: RobotAdapter | None


@dataclass
class TransformResult:
    """What a transform changes.

    ``features`` and ``stats`` replace the dataset's (the policy and the normaliser are built
    from them). ``preprocessor_steps`` run first in the preprocessor, on the dataset's raw
    values; ``postprocessor_steps`` run last in the postprocessor, on unnormalised actions.
    Steps must be importable by class path and rebuildable from ``get_config()``: lerobot's
    loader imports them that way in a process that never imported lerobot-ext.
    """

    features: dict[str, dict[str, Any]]
    stats: dict[str, dict[str, Any]]
    preprocessor_steps: list[ProcessorStep] = field(default_factory=list)
    postprocessor_steps: list[ProcessorStep] = field(default_factory=list)
    summary: str = ""


class DataTransform(ABC):
    """Subclass this and register an instance through the ``register_transforms`` hook."""

    #: Unique name, shown in logs and ``--plugins``.
    name: str = ""

    @abstractmethod
    def apply(self, context: TransformContext) -> TransformResult | None:
        """Return the transformed features/stats and steps, or None when the run does not ask for it.

        Raise :class:`lerobot_ext.errors.ConfigError` (or a subclass) for a request the dataset
        cannot satisfy; the message should name the bad value and the fix.
        """
