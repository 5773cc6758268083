"""The core's upstream names: every upstream name the core (not a plugin) relies on, each with a check.

The seams (``lerobot_ext.seams``) are only part of it: lerobot-ext also calls upstream's
undecorated training function, overrides ``TrainPipelineConfig._save_pretrained``, reads
``MetricsTracker`` internals, replaces a field of the dataset's ``DatasetInfo`` dataclass, reads
the checkpoint files upstream writes, filters one of lerobot's log messages, and so on. Each of
those is an :class:`~lerobot_ext.upstream.names.UpstreamName` here.

Each plugin - the built-in features too, each in its package's ``upstream_names.py`` - declares
the names it relies on itself, through the ``register_upstream_names`` hook, so ``lerobot-ext
doctor`` attributes them to it. ``tests/test_upstream_names.py`` checks every name on each tested
lerobot version, and checks that every upstream import in the code is on the list of the part of
the code that makes it.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import json
import sys
import tempfile
import types
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_ext.host import DIRECT, ENTRY_POINT_GROUP, PluginHost
from lerobot_ext.seams import EVAL_SEAMS, METHOD_SEAMS, SEAMS, eval_make_policy
from lerobot_ext.upstream.imports import imported_names
from lerobot_ext.upstream.names import CORE, UpstreamName
from lerobot_ext.video_backend import MARKER

# --------------------------------------------------------------------------- custom checks


def _train_is_undecorated() -> str | None:
    from lerobot.scripts import lerobot_train

    inner = getattr(lerobot_train.train, "__wrapped__", None)
    if not callable(inner):
        return "lerobot_train.train is no longer wrapped by parser.wrap() (no __wrapped__)"
    if list(inspect.signature(inner).parameters)[:1] != ["cfg"]:
        return "train.__wrapped__ no longer takes the config as its first argument 'cfg'"
    return None


def _metrics_tracker_internals() -> str | None:
    from lerobot.utils.logging_utils import AverageMeter, MetricsTracker

    tracker = MetricsTracker(2, 10, 1, {"loss": AverageMeter("loss", ":.3f")})
    tracker.loss = 0.5
    if not isinstance(getattr(tracker, "metrics", None), dict):
        return "MetricsTracker has no dict attribute 'metrics'"
    if getattr(tracker.metrics["loss"], "val", None) != 0.5:
        return "AverageMeter.val does not hold the last value set"
    return None


def _metrics_log_line() -> str | None:
    # tests/test_parity.py reads losses from upstream's log line "step:N ... loss:X".
    from lerobot.utils.logging_utils import AverageMeter, MetricsTracker

    tracker = MetricsTracker(2, 10, 1, {"loss": AverageMeter("loss", ":.3f")}, initial_step=7)
    tracker.loss = 0.25
    line = str(tracker)
    if "step:7" not in line or "loss:0.250" not in line:
        return f"the training log line no longer reads 'step:<n> ... loss:<x>' (got {line!r})"
    return None


def _dataset_info_is_a_dataclass() -> str | None:
    from lerobot.datasets.utils import DatasetInfo

    if not dataclasses.is_dataclass(DatasetInfo):
        return "DatasetInfo is no longer a dataclass (the transforms replace its 'features')"
    if "features" not in {f.name for f in dataclasses.fields(DatasetInfo)}:
        return "DatasetInfo has no field 'features'"
    return None


def _torchcodec_fallback_message() -> str | None:
    from lerobot.utils import import_utils

    if MARKER not in inspect.getsource(import_utils):
        return f"lerobot.utils.import_utils no longer logs {MARKER!r} (the message lerobot-ext shortens)"
    return None


def _train_config_fields() -> str | None:
    from lerobot.configs.train import TrainPipelineConfig

    wanted = {
        "dataset", "policy", "output_dir", "resume", "seed", "num_workers", "batch_size", "steps",
        "log_freq", "save_checkpoint", "save_freq", "job_name", "wandb", "prefetch_factor",
        "persistent_workers", "checkpoint_path",
    }  # fmt: skip
    missing = wanted - {f.name for f in dataclasses.fields(TrainPipelineConfig)}
    return f"TrainPipelineConfig has no field(s) {', '.join(sorted(missing))}" if missing else None


def _train_config_save_hook() -> str | None:
    """``save_pretrained`` writes train_config.json through ``_save_pretrained``, which
    ExtTrainPipelineConfig overrides to write the plugin-field record next to it."""
    from lerobot.configs.default import DatasetConfig
    from lerobot.configs.train import TRAIN_CONFIG_NAME, TrainPipelineConfig

    if TRAIN_CONFIG_NAME != "train_config.json":
        return f"lerobot.configs.train.TRAIN_CONFIG_NAME is {TRAIN_CONFIG_NAME!r}, not 'train_config.json'"
    calls: list[Path] = []

    @dataclass
    class Probe(TrainPipelineConfig):
        def _save_pretrained(self, save_directory: Path) -> None:
            calls.append(Path(save_directory))
            super()._save_pretrained(save_directory)

    with tempfile.TemporaryDirectory() as folder:
        Probe(dataset=DatasetConfig(repo_id="local/probe")).save_pretrained(folder)
        written = sorted(p.name for p in Path(folder).iterdir())
    if not calls:
        return "TrainPipelineConfig.save_pretrained no longer calls _save_pretrained"
    if written != [TRAIN_CONFIG_NAME]:
        return f"TrainPipelineConfig._save_pretrained wrote {written}, not [{TRAIN_CONFIG_NAME!r}]"
    return None


def _checkpoint_layout() -> str | None:
    from lerobot.utils import constants

    expected = {
        "CHECKPOINTS_DIR": "checkpoints",
        "LAST_CHECKPOINT_LINK": "last",
        "PRETRAINED_MODEL_DIR": "pretrained_model",
        "TRAINING_STATE_DIR": "training_state",
        "POLICY_PREPROCESSOR_DEFAULT_NAME": "policy_preprocessor",
        "POLICY_POSTPROCESSOR_DEFAULT_NAME": "policy_postprocessor",
    }
    wrong = {k: getattr(constants, k, None) for k, v in expected.items() if getattr(constants, k, None) != v}
    return f"checkpoint layout constants changed: {wrong}" if wrong else None


def _saved_pipeline_format() -> str | None:
    """A pipeline named ``policy_preprocessor`` is saved as ``policy_preprocessor.json`` with
    ``{"steps": [{"class" | "registry_name": ..., "config": {...}}]}`` - what
    ``lerobot_ext.dataset_changes.SavedCheckpoint`` reads back."""
    from lerobot.processor import DataProcessorPipeline, ProcessorStep

    class Probe(ProcessorStep):
        def __call__(self, transition: Any) -> Any:
            return transition

        def transform_features(self, features: Any) -> Any:
            return features

        def get_config(self) -> dict[str, Any]:
            return {"keys": ["a"]}

    with tempfile.TemporaryDirectory() as folder:
        DataProcessorPipeline(steps=[Probe()], name="policy_preprocessor").save_pretrained(folder)
        saved = Path(folder) / "policy_preprocessor.json"
        if not saved.is_file():
            names = sorted(p.name for p in Path(folder).iterdir())
            return f"a pipeline named policy_preprocessor is saved as {names}, not policy_preprocessor.json"
        steps = json.loads(saved.read_text()).get("steps")
    if not isinstance(steps, list) or len(steps) != 1:
        return f"policy_preprocessor.json has no list 'steps' with the one step saved (got {steps!r})"
    (entry,) = steps
    if not ({"class", "registry_name"} & set(entry)) or entry.get("config") != {"keys": ["a"]}:
        return f"a saved step is no longer {{'class' or 'registry_name', 'config'}} (got {entry!r})"
    return None


def _processor_hooks() -> str | None:
    from lerobot.processor import DataProcessorPipeline

    methods = ("register_before_step_hook", "register_after_step_hook", "save_pretrained")
    missing = [name for name in methods if not callable(getattr(DataProcessorPipeline, name, None))]
    if "steps" not in {f.name for f in dataclasses.fields(DataProcessorPipeline)}:
        missing.append("steps")
    return f"DataProcessorPipeline has no {', '.join(missing)}" if missing else None


def _pretrained_config_registry() -> str | None:
    from lerobot.configs.policies import PreTrainedConfig

    missing = [
        n
        for n in ("get_known_choices", "register_subclass")
        if not callable(getattr(PreTrainedConfig, n, None))
    ]
    return f"PreTrainedConfig has no {', '.join(missing)}" if missing else None


# --------------------------------------------------------------------------- the core's list

_METADATA_ATTRIBUTES = ("root", "robot_type", "fps", "features", "stats", "info", "camera_keys")

OTHER_NAMES: tuple[UpstreamName, ...] = (
    UpstreamName(
        "lerobot.scripts.lerobot_train.train.__wrapped__",
        "lerobot-train-ext runs upstream's training function with its own config class, past the "
        "decorator that would parse sys.argv into TrainPipelineConfig",
        kind="private",
        check=_train_is_undecorated,
    ),
    UpstreamName("lerobot.scripts.lerobot_eval.main", "lerobot-eval-ext runs upstream's evaluation"),
    UpstreamName(
        "lerobot.configs.parser.wrap",
        "lerobot-train-ext parses its config class exactly as lerobot-train does",
    ),
    UpstreamName(
        "lerobot.configs.train.TrainPipelineConfig",
        "the base class of lerobot-train-ext's config; its fields are read by name",
        check=_train_config_fields,
    ),
    UpstreamName(
        "lerobot.configs.train.TrainPipelineConfig._save_pretrained",
        "overridden by ExtTrainPipelineConfig: every train_config.json save also writes "
        "lerobot_ext_fields.json (which plugin owns which field) next to it",
        kind="private",
        check=_train_config_save_hook,
    ),
    UpstreamName(
        "lerobot.common.train_utils.get_step_checkpoint_dir",
        "the folder a step's checkpoint is saved in (on_checkpoint_saved)",
        parameters=("output_dir", "total_steps", "step"),
    ),
    UpstreamName(
        "lerobot.utils.constants",
        "checkpoints/<step>/{pretrained_model,training_state}, checkpoints/last, the pipelines' names",
        kind="behaviour",
        check=_checkpoint_layout,
        note="checkpoint layout",
    ),
    UpstreamName(
        "lerobot.processor.DataProcessorPipeline.save_pretrained",
        "check_checkpoint reads policy_preprocessor.json/policy_postprocessor.json: "
        "steps[].class or registry_name, steps[].config",
        kind="behaviour",
        check=_saved_pipeline_format,
        note="saved steps format",
    ),
    UpstreamName(
        "lerobot.utils.logging_utils.MetricsTracker",
        "on_step_end's metrics are this step's values from upstream's tracker",
        kind="private",
        check=_metrics_tracker_internals,
        note="metrics / AverageMeter.val",
    ),
    UpstreamName(
        "lerobot.utils.logging_utils.MetricsTracker.__str__",
        "the parity tests read losses from the 'step:N ... loss:X' log line",
        kind="behaviour",
        check=_metrics_log_line,
    ),
    UpstreamName(
        "lerobot.datasets.utils.DatasetInfo",
        "transform_dataset's changes reach upstream as a metadata view made with "
        "dataclasses.replace(meta.info, features=...)",
        kind="private",
        check=_dataset_info_is_a_dataclass,
    ),
    *(
        UpstreamName(
            f"lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata().{attribute}",
            "lerobot-ext inspect and the dataset hooks read it from a dataset's metadata",
        )
        for attribute in _METADATA_ATTRIBUTES
    ),
    UpstreamName(
        "lerobot.processor.DataProcessorPipeline",
        "plugins' steps are added to the pipelines; step phase timing marks the device step through its "
        "before/after-step hooks",
        check=_processor_hooks,
        note="steps, step hooks",
    ),
    UpstreamName(
        "lerobot.configs.policies.PreTrainedConfig",
        "register_policies registers plugin policy types with lerobot's config registry",
        check=_pretrained_config_registry,
        note="choice registry",
    ),
    UpstreamName(
        "lerobot.utils.import_utils",
        "the ~100-line torchcodec loader warning is replaced by one line",
        kind="behaviour",
        check=_torchcodec_fallback_message,
        note="torchcodec fallback message",
    ),
    UpstreamName(
        "draccus.parse",
        "lerobot-ext inspect parses plugin flags as lerobot-train would",
        distribution="draccus",
    ),
)


def seam_names() -> list[UpstreamName]:
    """The seams for the installed lerobot (one row of each version table)."""

    names = []
    for entry in (*SEAMS, *EVAL_SEAMS, eval_make_policy.INNER):
        seam = entry.current()

        def check(seam: Any = seam) -> str | None:
            seam.resolve()
            return None

        names.append(
            UpstreamName(
                seam.target,
                f"seam ({seam.make_wrapper.__module__.rsplit('.', 1)[-1]}): {seam.why}",
                kind="seam",
                parameters=seam.parameters,
                check=check,
                distribution=seam.distribution,
            )
        )
    for method in METHOD_SEAMS:

        def check_method(method: Any = method) -> str | None:
            method.resolve_class()
            return None

        names.append(
            UpstreamName(
                method.target,
                f"method seam, wrapped on the run's instance: {method.why}",
                kind="seam",
                check=check_method,
                distribution=method.distribution,
            )
        )
    return names


PACKAGE = Path(__file__).resolve().parents[1]


def _feature_folders() -> set[Path]:
    """The folders of the built-in features (entry points inside this package): not the core."""
    folders = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        parts = ep.value.split(":")[0].strip().split(".")
        if parts[0] == PACKAGE.name and len(parts) > 2:
            folders.add(PACKAGE.joinpath(*parts[1:-1]))
    return folders


def core_imports() -> list[UpstreamName]:
    """The upstream names the core's modules import (this module's imports are its checks)."""
    features = _feature_folders()
    files = [
        path
        for path in PACKAGE.rglob("*.py")
        if path != Path(__file__).resolve() and not any(folder in path.parents for folder in features)
    ]
    return imported_names(files, CORE, root=PACKAGE.parent)


def core_names() -> list[UpstreamName]:
    """The core's: the seams, the names it declares by hand, and the names it imports."""
    return [*seam_names(), *OTHER_NAMES, *core_imports()]


def plugin_source(plugin: object) -> list[Path]:
    """The source files of a plugin object: its package's modules, or its module's file."""
    module = plugin if isinstance(plugin, types.ModuleType) else sys.modules.get(type(plugin).__module__)
    file = getattr(module, "__file__", None)
    if file is None or not getattr(module, "__package__", None):
        return [Path(file)] if file else []
    return sorted(Path(file).resolve().parent.rglob("*.py"))


def registered_names(host: PluginHost) -> list[UpstreamName]:
    """The loaded plugins' names: those each declared (``register_upstream_names``) and those its
    package imports."""
    imported = []
    for info in host.infos:
        # Installed plugins only: a plugin object handed to the host directly has no package.
        installed = info.status == "loaded" and info.entry_point != DIRECT
        plugin = host.pm.get_plugin(info.name) if installed else None
        files = plugin_source(plugin) if plugin is not None else []
        if files:
            imported += imported_names(files, info.name, root=files[0].parent.parent)
    return [*host.registry.upstream_names, *imported]


def all_names(host: PluginHost | None = None) -> list[UpstreamName]:
    """The complete list for the installed lerobot: the core's and the loaded plugins'."""
    return [*core_names(), *(registered_names(host) if host is not None else [])]


def problems(names: Iterable[UpstreamName]) -> list[tuple[UpstreamName, str]]:
    return [(name, problem) for name in names if (problem := name.problem()) is not None]
