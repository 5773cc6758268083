"""Changes plugins make to what the policy sees, as values.

:class:`DatasetChange` (what :func:`~lerobot_ext.hookspecs.transform_dataset` returns),
:class:`AppliedChanges` (every plugin's change, passed to ``check_checkpoint`` and
``wrap_dataset``), :class:`SavedCheckpoint` / :class:`SavedStep` (a checkpoint's saved
processor steps) and :func:`step_signature`. How a run applies them is
:mod:`lerobot_ext.training` and :mod:`lerobot_ext.pipeline_steps`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot_ext.layout import DatasetDescription
from lerobot_ext.robot_adapter import RobotAdapter

PREPROCESSOR_FILE = "policy_preprocessor.json"
POSTPROCESSOR_FILE = "policy_postprocessor.json"


@dataclass
class DatasetChange:
    """What one plugin changes (returned by ``transform_dataset``).

    ``features`` and ``stats`` replace the dataset's (the policy and the normaliser are built
    from them). ``preprocessor_steps`` run first in the preprocessor, on the dataset's raw
    values; ``postprocessor_steps`` run last in the postprocessor, on unnormalised actions.
    Steps must be importable by class path and rebuildable from ``get_config()``: lerobot's
    loader imports them that way in a process that never imported lerobot-ext.
    """

    features: dict[str, dict[str, Any]]
    stats: dict[str, dict[str, Any]]
    preprocessor_steps: list[Any] = field(default_factory=list)
    postprocessor_steps: list[Any] = field(default_factory=list)
    summary: str = ""


@dataclass
class AppliedChanges:
    """Every plugin's change in hook order, and the dataset as the last one left it."""

    original: DatasetDescription
    dataset: DatasetDescription
    adapter: RobotAdapter | None = None
    changes: list[tuple[str, DatasetChange]] = field(default_factory=list)
    #: Why the adapter was chosen (the ``AdapterChoice``'s reason).
    adapter_reason: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def preprocessor_steps(self) -> list[Any]:
        return [step for _, change in self.changes for step in change.preprocessor_steps]

    @property
    def postprocessor_steps(self) -> list[Any]:
        return [step for _, change in self.changes for step in change.postprocessor_steps]

    @property
    def steps(self) -> list[Any]:
        return [*self.preprocessor_steps, *self.postprocessor_steps]

    @property
    def summaries(self) -> list[str]:
        return [change.summary for _, change in self.changes if change.summary]

    @property
    def plugin_summaries(self) -> list[tuple[str, str]]:
        """``(plugin, summary)`` of each change that has a summary, in the order applied."""
        return [(plugin, change.summary) for plugin, change in self.changes if change.summary]

    def metadata_view(self, meta: Any) -> Any:
        """A shallow copy of upstream's dataset metadata carrying the changed features/stats."""
        view = copy.copy(meta)
        view.info = dataclasses.replace(meta.info, features=copy.deepcopy(self.dataset.features))
        view.stats = self.dataset.stats
        return view


def step_signature(step: Any) -> str:
    """``ClassName(key=value, ...)`` of a processor step, from its ``get_config()``."""
    config = ", ".join(f"{key}={value}" for key, value in step.get_config().items())
    return f"{type(step).__name__}({config})"


@dataclass(frozen=True)
class SavedStep:
    """One step of a saved pipeline: its class path (or registry name) and saved config."""

    class_path: str
    config: dict[str, Any]

    @property
    def class_name(self) -> str:
        return self.class_path.rpartition(".")[2]

    def signature(self) -> str:
        return f"{self.class_name}({', '.join(f'{k}={v}' for k, v in self.config.items())})"


@dataclass
class SavedCheckpoint:
    """What a local checkpoint folder (``.../pretrained_model``) says about itself."""

    path: Path
    config: dict[str, Any]
    preprocessor: list[SavedStep] | None
    postprocessor: list[SavedStep] | None

    @property
    def has_processors(self) -> bool:
        return self.preprocessor is not None and self.postprocessor is not None

    @property
    def steps(self) -> list[SavedStep]:
        return [*(self.preprocessor or []), *(self.postprocessor or [])]

    def steps_of(self, class_paths: Iterable[str]) -> list[SavedStep]:
        wanted = set(class_paths)
        return [step for step in self.steps if step.class_path in wanted]

    @classmethod
    def read(cls, path: str | Path | None) -> SavedCheckpoint | None:
        """The checkpoint at ``path``, or ``None`` when it is not a local folder (a Hub id)."""
        if path is None or not Path(path).is_dir():
            return None
        root = Path(path)
        config_file = root / "config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        return cls(
            root, config, _read_steps(root / PREPROCESSOR_FILE), _read_steps(root / POSTPROCESSOR_FILE)
        )


def _read_steps(path: Path) -> list[SavedStep] | None:
    if not path.is_file():
        return None
    entries = json.loads(path.read_text()).get("steps", [])
    return [
        SavedStep(entry.get("class") or entry.get("registry_name") or "?", dict(entry.get("config") or {}))
        for entry in entries
    ]


def class_path(cls: type) -> str:
    """How lerobot saves a step that is not in its registry: ``module.ClassName``."""
    return f"{cls.__module__}.{cls.__name__}"
