"""Changes plugins make to what the policy sees, and how the run applies them.

Public API for plugins: :class:`DatasetChange` (what :func:`~lerobot_ext.hookspecs.transform_dataset`
returns), :class:`AppliedChanges` (every plugin's change, passed to ``check_checkpoint`` and
``wrap_dataset``), :class:`SavedCheckpoint` / :class:`SavedStep` (a checkpoint's saved
processor steps) and :func:`step_signature`.

The run itself only dispatches: it chains the plugins' changes, gives upstream a metadata view
with the changed features and stats, and puts the plugins' processor steps into the pipelines.
It knows nothing about what any change means.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lerobot_ext.console import get_logger
from lerobot_ext.errors import ConfigError, PluginHookError
from lerobot_ext.layout import DatasetDescription
from lerobot_ext.plugins import call_each

if TYPE_CHECKING:
    from lerobot_ext.plugins import PluginHost
    from lerobot_ext.robot_adapter import AdapterChoice, RobotAdapter

log = get_logger("dataset")

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


# --------------------------------------------------------------------------- dispatch


def choose_adapter(host: PluginHost, cfg: Any, dataset: DatasetDescription) -> AdapterChoice | None:
    """Ask ``select_robot_adapter``; the first non-``None`` answer wins."""
    from lerobot_ext.robot_adapter import AdapterChoice

    adapters = host.registry.robot_adapters
    for plugin, result in call_each(
        host, "select_robot_adapter", cfg=cfg, dataset=dataset, adapters=adapters
    ):
        if result is None:
            continue
        if not isinstance(result, AdapterChoice):
            raise PluginHookError(
                f"plugin '{plugin}' returned {type(result).__name__} from select_robot_adapter; expected "
                "an AdapterChoice(adapter, reason) or None"
            )
        return result
    return None


def apply_changes(
    host: PluginHost, cfg: Any, dataset: DatasetDescription, adapter: RobotAdapter | None
) -> AppliedChanges:
    """Offer the dataset to each ``transform_dataset`` implementation in hook order; each sees the
    previous one's result."""
    from lerobot.processor import ProcessorStep

    applied = AppliedChanges(original=dataset, dataset=dataset, adapter=adapter)
    for impl in host.impls("transform_dataset"):
        plugin = impl.plugin_name
        change = host.call_impl(impl, cfg=cfg, dataset=applied.dataset, adapter=adapter)
        if change is None:
            continue
        if not isinstance(change, DatasetChange):
            raise PluginHookError(
                f"plugin '{plugin}' returned {type(change).__name__} from transform_dataset; expected a "
                "lerobot_ext.dataset_changes.DatasetChange or None"
            )
        for step in (*change.preprocessor_steps, *change.postprocessor_steps):
            if not isinstance(step, ProcessorStep):
                raise PluginHookError(
                    f"plugin '{plugin}' returned step {step!r} from transform_dataset, which is not a "
                    "lerobot.processor.ProcessorStep"
                )
        applied.dataset = dataclasses.replace(applied.dataset, features=change.features, stats=change.stats)
        applied.changes.append((plugin, change))
        if change.summary:
            log.info("%s: %s", plugin, change.summary)
    return applied


def check_checkpoint(host: PluginHost, cfg: Any, pretrained_path: Any, applied: AppliedChanges) -> None:
    """Let every plugin refuse a local checkpoint that does not fit the run's changes."""
    checkpoint = SavedCheckpoint.read(pretrained_path)
    if checkpoint is not None:
        call_each(host, "check_checkpoint", cfg=cfg, checkpoint=checkpoint, planned=applied)


def wrap_dataset(host: PluginHost, cfg: Any, dataset: Any, role: str, applied: AppliedChanges) -> Any:
    """Chain ``wrap_dataset`` through the plugins in hook order."""
    for impl in host.impls("wrap_dataset"):
        result = host.call_impl(impl, cfg=cfg, dataset=dataset, role=role, planned=applied)
        if result is not None:
            dataset = result
    return dataset


# --------------------------------------------------------------------------- pipelines


def _merge(pipeline: Any, steps: list[Any], at_start: bool, from_checkpoint: str | None) -> Any:
    """Add ``steps`` to ``pipeline``. A pipeline loaded from a checkpoint already has the steps
    the checkpoint was saved with: those are not added twice, and must have the same config."""
    if not steps:
        return pipeline
    new = steps
    if from_checkpoint is not None:
        loaded = {type(step): step for step in pipeline.steps}
        new = []
        for step in steps:
            saved = loaded.get(type(step))
            if saved is None:
                new.append(step)
            elif step_signature(saved) != step_signature(step):
                raise ConfigError(
                    f"the checkpoint at {from_checkpoint} has {step_signature(saved)}, but this run asks for "
                    f"{step_signature(step)}. Run with the flags the checkpoint was trained with (on "
                    "--resume they come from its train_config.json: do not override them)."
                )
    pipeline.steps = [*new, *pipeline.steps] if at_start else [*pipeline.steps, *new]
    return pipeline


def install_steps(
    preprocessor: Any, postprocessor: Any, applied: AppliedChanges | None, from_checkpoint: str | None
) -> tuple[Any, Any]:
    """The pipelines with the plugins' steps: first in the preprocessor, last in the postprocessor."""
    if applied is None:
        return preprocessor, postprocessor
    preprocessor = _merge(preprocessor, applied.preprocessor_steps, True, from_checkpoint)
    postprocessor = _merge(postprocessor, applied.postprocessor_steps, False, from_checkpoint)
    return preprocessor, postprocessor
