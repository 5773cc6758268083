"""Every upstream name lerobot-ext relies on, in one list, each with a check.

The seams (``lerobot_ext.patches``) are only part of it: lerobot-ext also calls upstream's
undecorated training function, overrides ``TrainPipelineConfig._save_pretrained``, reads
``MetricsTracker`` internals, replaces a field of the dataset's ``DatasetInfo`` dataclass, reads
the checkpoint files upstream writes, filters one of lerobot's log messages, and so on. Each of
those is an :class:`UpstreamName` here.

This module holds only the core's names. Each plugin - the built-in features too, each in its
package's ``upstream_names.py`` - declares the names it relies on itself, through the
``register_upstream_names`` hook, so ``lerobot-ext doctor`` attributes them to it.
``tests/test_upstream_names.py`` checks every name on each tested lerobot version, and checks
that every upstream import in the code is on the list of the part of the code that makes it.

A path is a dotted path (the longest importable module, then attributes). ``Class().attr`` is an
attribute of the class's instances: a class attribute or property, a dataclass field, or
assigned as ``self.attr = ...`` in a method of the class or one of its bases.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.metadata
import inspect
import json
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lerobot_ext.errors import LerobotExtError

if TYPE_CHECKING:
    from lerobot_ext.plugins import PluginHost

Check = Callable[[], "str | None"]
KINDS = ("seam", "name", "private", "behaviour")


@dataclass(frozen=True)
class InstanceAttribute:
    """What ``Class().attr`` resolves to: an attribute only the class's instances have."""

    cls: type
    name: str


@functools.cache  # doctor asks for many attributes of a few classes
def _assigned_in(cls: type) -> frozenset[str]:
    """Names assigned as ``self.<name>`` (or annotated) anywhere in ``cls``'s own source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return set()
    names = set()
    for node in ast.walk(ast.parse(source)):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign | ast.AugAssign)
            else []
        )
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                if target.value.id in ("self", "obj", "instance"):
                    names.add(target.attr)
            elif isinstance(target, ast.Name) and isinstance(node, ast.AnnAssign):
                names.add(target.id)  # a class-level annotation: a dataclass field
    return frozenset(names)


def instance_has(cls: type, name: str) -> bool:
    """Whether instances of ``cls`` have ``name`` (see the module docstring), without making one."""
    if hasattr(cls, name):
        return True
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return True
    return any(
        name in _assigned_in(klass)
        for klass in inspect.getmro(cls)
        if klass is not object and not klass.__module__.startswith(("builtins", "typing", "abc"))
    )


def resolve_dotted(path: str) -> Any:
    """The object at ``package.module.Attr.attr``: the longest importable module, then attributes.

    ``package.module.Class().attr`` checks an instance attribute (:func:`instance_has`) and
    resolves to an :class:`InstanceAttribute`; it must be the last part of the path.
    """
    parts = path.split(".")
    error: Exception | None = None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError as exc:
            error = error or exc
            continue
        for index, attribute in enumerate(parts[cut:], cut):
            where = ".".join(parts[:index])
            if attribute.endswith("()"):
                obj = getattr(obj, attribute[:-2], None)
                if not inspect.isclass(obj):
                    raise AttributeError(f"{where} has no class '{attribute[:-2]}'")
                rest = parts[index + 1 :]
                if len(rest) != 1:
                    raise ValueError(f"{path}: write an instance attribute as Class().attribute, last")
                if not instance_has(obj, rest[0]):
                    raise AttributeError(f"{where}.{obj.__name__} instances have no attribute '{rest[0]}'")
                return getattr(obj, rest[0], InstanceAttribute(obj, rest[0]))
            if not hasattr(obj, attribute):
                raise AttributeError(f"{where} has no attribute '{attribute}'")
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(f"cannot import {parts[0]}: {error}")


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    # One scan of every installed distribution's files (~0.5 s): once per process, only for doctor.
    return importlib.metadata.packages_distributions()


def distribution_of(package: str) -> str:
    """The installed distribution that provides the top-level ``package`` (or the package's name)."""
    found = _packages_distributions().get(package)
    return found[0] if found else package


def kind_of(path: str) -> str:
    """``private`` for a path with a ``_name`` part (or ``__wrapped__``-like dunder), else ``name``."""
    parts = path.split(" ")[0].replace("()", "").split(".")
    return "private" if any(part.startswith("_") for part in parts) else "name"


@dataclass(frozen=True)
class UpstreamName:
    """One upstream name (or behaviour) lerobot-ext relies on.

    ``check`` returns ``None`` when the name is as expected, else what is wrong; without one,
    the dotted ``path`` must resolve. ``parameters`` are arguments a call passes or reads by name
    (for a class: its constructor's, so a dataclass's fields), checked with or without a ``check``. ``kind`` defaults to ``private``
    for a path with a ``_private`` part, else ``name``.
    """

    path: str
    why: str
    kind: str = ""  # "seam", "name", "private", "behaviour"
    parameters: tuple[str, ...] = ()
    check: Check | None = None
    distribution: str = "lerobot"
    relied_on_by: str = "lerobot-ext"

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", kind_of(self.path))
        if self.kind not in KINDS:
            raise ValueError(f"{self.path}: kind {self.kind!r} is not one of {', '.join(KINDS)}")

    @property
    def provider(self) -> str:
        """The distribution the name comes from: ``distribution``, or for a name outside lerobot
        declared without one (a plugin's diffusers, torch, ... name) the one that installs it.
        Worked out only when asked (doctor): finding it scans every installed distribution."""
        top = self.path.split(".")[0]
        if self.distribution == "lerobot" and top != "lerobot":
            return distribution_of(top)
        return self.distribution

    @property
    def dotted(self) -> str:
        """The path without its note: ``lerobot.utils.constants`` for ``lerobot.utils.constants (...)``."""
        return self.path.split(" ")[0]

    def problem(self) -> str | None:
        """``None`` when the installed upstream has this name as lerobot-ext uses it."""
        try:
            if self.check is not None:
                found = self.check()
                if found is not None or not self.parameters:
                    return found
                target = resolve_dotted(self.dotted)  # a check and the parameters: both must hold
            else:
                target = resolve_dotted(self.path)
        except (LerobotExtError, AttributeError, ImportError) as exc:
            return str(exc)
        except Exception as exc:  # an import error deep in upstream is a finding, not a crash
            return f"{type(exc).__name__}: {exc}"
        if self.parameters:
            try:
                names = set(inspect.signature(target).parameters)
            except (TypeError, ValueError):
                return "its signature cannot be read"
            missing = [p for p in self.parameters if p not in names]
            if missing:
                return f"no longer takes {', '.join(missing)}"
        return None


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

    from lerobot_ext.video_backend import MARKER

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
        "lerobot.utils.import_utils.register_third_party_plugins",
        "imports lerobot_policy_* distributions, as lerobot-train does first",
    ),
    UpstreamName(
        "lerobot.common.train_utils.get_step_checkpoint_dir",
        "the folder a step's checkpoint is saved in (on_checkpoint_saved)",
        parameters=("output_dir", "total_steps", "step"),
    ),
    UpstreamName(
        "lerobot.utils.constants (checkpoint layout)",
        "checkpoints/<step>/{pretrained_model,training_state}, checkpoints/last, the pipelines' names",
        kind="behaviour",
        check=_checkpoint_layout,
    ),
    UpstreamName(
        "lerobot.processor.DataProcessorPipeline.save_pretrained (saved steps format)",
        "check_checkpoint reads policy_preprocessor.json/policy_postprocessor.json: "
        "steps[].class or registry_name, steps[].config",
        kind="behaviour",
        check=_saved_pipeline_format,
    ),
    UpstreamName(
        "lerobot.utils.logging_utils.MetricsTracker.metrics / AverageMeter.val",
        "on_step_end's metrics are this step's values from upstream's tracker",
        kind="private",
        check=_metrics_tracker_internals,
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
        "lerobot.processor.ProcessorStep",
        "the plugins' processor steps join the saved pipelines (merged with a checkpoint's own)",
    ),
    UpstreamName(
        "lerobot.processor.DeviceProcessorStep",
        "step phase timing marks the preprocessor's device step (the h2d_copy phase)",
    ),
    UpstreamName(
        "lerobot.processor.DataProcessorPipeline (steps, step hooks)",
        "plugins' steps are added to the pipelines; step phase timing marks the device step through its "
        "before/after-step hooks",
        check=_processor_hooks,
    ),
    UpstreamName(
        "lerobot.configs.policies.PreTrainedConfig (choice registry)",
        "register_policies registers plugin policy types with lerobot's config registry",
        check=_pretrained_config_registry,
    ),
    UpstreamName(
        "lerobot.utils.import_utils (torchcodec fallback message)",
        "the ~100-line torchcodec loader warning is replaced by one line",
        kind="behaviour",
        check=_torchcodec_fallback_message,
    ),
    UpstreamName(
        "draccus.utils.ParsingError", "config errors are shown with their cause", distribution="draccus"
    ),
    UpstreamName(
        "draccus.parse",
        "lerobot-ext inspect parses plugin flags as lerobot-train would",
        distribution="draccus",
    ),
)


def seam_names() -> list[UpstreamName]:
    """The seams for the installed lerobot (one row of each version table)."""
    from lerobot_ext.patches import EVAL_SEAMS, METHOD_SEAMS, SEAMS, eval_make_policy

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


def core_names() -> list[UpstreamName]:
    return [*seam_names(), *OTHER_NAMES]


def plugin_names(host: PluginHost) -> list[UpstreamName]:
    """Names the loaded plugins registered through ``register_upstream_names``."""
    return list(host.registry.upstream_names)


def all_names(host: PluginHost | None = None) -> list[UpstreamName]:
    """The complete list for the installed lerobot: the core's and the loaded plugins'."""
    return [*core_names(), *(plugin_names(host) if host is not None else [])]


def problems(names: Iterable[UpstreamName]) -> list[tuple[UpstreamName, str]]:
    return [(name, problem) for name in names if (problem := name.problem()) is not None]
