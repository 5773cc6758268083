"""Every upstream name lerobot-ext relies on, in one list, each with a check.

The seams (``lerobot_ext.patches``) are only part of it: lerobot-ext also calls upstream's
undecorated training function, reads ``MetricsTracker`` internals, replaces a field of the
dataset's ``DatasetInfo`` dataclass, filters one of lerobot's log messages, and so on. Each of
those is an :class:`UpstreamName` here. Plugins add the names they rely on through the
``register_upstream_names`` hook (the flow policy registers Diffusion Policy's building blocks).

``tests/test_upstream_names.py`` checks every name on each tested lerobot version, and
``lerobot-ext doctor`` checks them on the installed one, so an upstream change fails one named
check instead of a user's run.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lerobot_ext.errors import LerobotExtError

if TYPE_CHECKING:
    from lerobot_ext.plugins import PluginHost

Check = Callable[[], "str | None"]


def resolve_dotted(path: str) -> Any:
    """The object at ``package.module.Attr.attr``: the longest importable module, then attributes."""
    parts = path.split(".")
    error: Exception | None = None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError as exc:
            error = error or exc
            continue
        for index, attribute in enumerate(parts[cut:], cut):
            if not hasattr(obj, attribute):
                raise AttributeError(f"{'.'.join(parts[:index])} has no attribute '{attribute}'")
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(f"cannot import {parts[0]}: {error}")


@dataclass(frozen=True)
class UpstreamName:
    """One upstream name (or behaviour) lerobot-ext relies on.

    ``check`` returns ``None`` when the name is as expected, else what is wrong; without one,
    the dotted ``path`` must resolve. ``parameters`` are arguments a call passes or reads by name.
    """

    path: str
    why: str
    kind: str = "name"  # "seam", "name", "private", "behaviour"
    parameters: tuple[str, ...] = ()
    check: Check | None = None
    distribution: str = "lerobot"
    relied_on_by: str = "lerobot-ext"

    def problem(self) -> str | None:
        """``None`` when the installed upstream has this name as lerobot-ext uses it."""
        try:
            if self.check is not None:
                return self.check()
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
        "persistent_workers",
    }  # fmt: skip
    missing = wanted - {f.name for f in dataclasses.fields(TrainPipelineConfig)}
    return f"TrainPipelineConfig has no field(s) {', '.join(sorted(missing))}" if missing else None


def _checkpoint_layout() -> str | None:
    from lerobot.utils import constants

    expected = {
        "CHECKPOINTS_DIR": "checkpoints",
        "LAST_CHECKPOINT_LINK": "last",
        "PRETRAINED_MODEL_DIR": "pretrained_model",
        "TRAINING_STATE_DIR": "training_state",
    }
    wrong = {k: getattr(constants, k, None) for k, v in expected.items() if getattr(constants, k, None) != v}
    return f"checkpoint layout constants changed: {wrong}" if wrong else None


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


def _torch_store() -> str | None:
    from torch.distributed import Store, distributed_c10d

    if not callable(getattr(distributed_c10d, "_get_default_store", None)):
        return "torch.distributed.distributed_c10d._get_default_store is gone"
    missing = [n for n in ("set", "get", "delete_key") if not callable(getattr(Store, n, None))]
    return f"torch.distributed.Store has no {', '.join(missing)}" if missing else None


# --------------------------------------------------------------------------- the list

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
        "checkpoints/<step>/{pretrained_model,training_state}, checkpoints/last",
        kind="behaviour",
        check=_checkpoint_layout,
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
        "the transforms give upstream a metadata view with dataclasses.replace(info, features=...)",
        kind="private",
        check=_dataset_info_is_a_dataclass,
    ),
    UpstreamName(
        "lerobot.datasets.lerobot_dataset.LeRobotDatasetMetadata",
        "inspect and the transforms read a dataset's features, stats and cameras",
    ),
    UpstreamName(
        "lerobot.datasets.lerobot_dataset.LeRobotDataset.create",
        "demo datasets are written with lerobot's own writer (create/add_frame/save_episode/finalize)",
    ),
    UpstreamName("lerobot.datasets.lerobot_dataset.LeRobotDataset.add_frame", "demo dataset writer"),
    UpstreamName("lerobot.datasets.lerobot_dataset.LeRobotDataset.save_episode", "demo dataset writer"),
    UpstreamName("lerobot.datasets.lerobot_dataset.LeRobotDataset.finalize", "demo dataset writer"),
    UpstreamName(
        "lerobot.processor.ProcessorStep",
        "the transforms' steps subclass it and are saved in the checkpoint's pipelines by class path",
    ),
    UpstreamName("lerobot.processor.TransitionKey", "the transforms' steps read observations and actions"),
    UpstreamName("lerobot.configs.PipelineFeatureType", "the transforms' steps declare feature shapes"),
    UpstreamName("lerobot.configs.PolicyFeature", "the transforms' steps declare feature shapes"),
    UpstreamName("lerobot.configs.types.FeatureType", "lerobot-eval-ext tells actions from observations"),
    UpstreamName(
        "lerobot.processor.DeviceProcessorStep",
        "--profile times the preprocessor's device step as h2d_copy",
    ),
    UpstreamName(
        "lerobot.processor.DataProcessorPipeline (steps, step hooks)",
        "the transforms add steps to the pipelines; --profile marks the device step through its before/after-step hooks",
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
        "torch.distributed.distributed_c10d._get_default_store",
        "--profile gathers every rank's timings through the process group's store",
        kind="private",
        check=_torch_store,
        distribution="torch",
    ),
    UpstreamName(
        "draccus.utils.ParsingError", "config errors are shown with their cause", distribution="draccus"
    ),
)


def seam_names() -> list[UpstreamName]:
    """The seams for the installed lerobot (one row of each version table)."""
    from lerobot_ext.patches import EVAL_SEAMS, METHOD_SEAMS, SEAMS, eval_make_policy

    names = []
    for entry in (*SEAMS, *EVAL_SEAMS, eval_make_policy.INNER):
        seam = entry.current()
        module = importlib.import_module(seam.make_wrapper.__module__)
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""

        def check(seam: Any = seam) -> str | None:
            seam.resolve()
            return None

        names.append(
            UpstreamName(
                seam.target,
                f"seam ({module.__name__.rsplit('.', 1)[-1]}): {summary}",
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
                "method seam, wrapped on the run's instance",
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
