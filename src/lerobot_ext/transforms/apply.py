"""Run the registered data transforms over a dataset and fold their steps into the processors."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lerobot_ext.console import get_logger
from lerobot_ext.errors import ConfigError, PluginHookError
from lerobot_ext.layout import ACTION_KEY, STATE_KEY, DatasetDescription
from lerobot_ext.transforms.base import DataTransform, TransformContext, TransformResult
from lerobot_ext.transforms.steps import TransformStep

if TYPE_CHECKING:
    from lerobot_ext.adapters.base import RobotAdapter
    from lerobot_ext.config import ExtTrainPipelineConfig

log = get_logger("transforms")


@dataclass
class AppliedTransforms:
    """The outcome of every transform that applied, in order."""

    dataset: DatasetDescription
    names: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    preprocessor_steps: list[Any] = field(default_factory=list)
    postprocessor_steps: list[Any] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.names)

    def metadata_view(self, meta: Any) -> Any:
        """A shallow copy of upstream's dataset metadata carrying the transformed features/stats."""
        view = copy.copy(meta)
        view.info = dataclasses.replace(meta.info, features=copy.deepcopy(self.dataset.features))
        view.stats = self.dataset.stats
        return view


def apply_transforms(
    transforms: list[tuple[str, DataTransform]],
    cfg: ExtTrainPipelineConfig,
    dataset: DatasetDescription,
    adapter: RobotAdapter | None,
) -> AppliedTransforms:
    """Offer the dataset to each ``(plugin, transform)`` in order; each sees the previous result."""
    applied = AppliedTransforms(dataset)
    for plugin, transform in transforms:
        result = transform.apply(TransformContext(cfg=cfg, dataset=applied.dataset, adapter=adapter))
        if result is None:
            continue
        if not isinstance(result, TransformResult):
            raise PluginHookError(
                f"transform '{transform.name}' of plugin '{plugin}' returned {type(result).__name__}; "
                "expected a TransformResult or None"
            )
        for step in (*result.preprocessor_steps, *result.postprocessor_steps):
            if not isinstance(step, TransformStep):
                raise PluginHookError(
                    f"transform '{transform.name}' of plugin '{plugin}' returned step {step!r}, which is "
                    "not a lerobot_ext.transforms.steps.TransformStep"
                )
        applied.dataset = dataclasses.replace(applied.dataset, features=result.features, stats=result.stats)
        applied.names.append(transform.name)
        applied.summaries.append(result.summary)
        applied.preprocessor_steps.extend(result.preprocessor_steps)
        applied.postprocessor_steps.extend(result.postprocessor_steps)
        if result.summary:
            log.info("%s: %s", transform.name, result.summary)
    return applied


def _signature(step: Any) -> str:
    config = ", ".join(f"{key}={value}" for key, value in step.get_config().items())
    return f"{type(step).__name__}({config})"


def _mismatch(where: str, saved: list[str], planned: list[str]) -> ConfigError:
    return ConfigError(
        f"the checkpoint at {where} was trained with data transforms {saved or 'none'}, but this run asks "
        f"for {planned or 'none'}. Use the same --state_filtered_keys / --action_keep_dims as the run that "
        "wrote it (on --resume they come from its train_config.json: do not override them)."
    )


def saved_transform_steps(pretrained_path: str | Path) -> list[str] | None:
    """Signatures of the TransformSteps in a local checkpoint's saved processors (None: not local)."""
    root = Path(pretrained_path)
    files = [root / f"{name}.json" for name in ("policy_preprocessor", "policy_postprocessor")]
    if not all(f.is_file() for f in files):
        return None
    signatures = []
    for path in files:
        with open(path) as f:
            entries = json.load(f).get("steps", [])
        for entry in entries:
            class_path = entry.get("class")
            if not class_path:
                continue
            module, _, name = class_path.rpartition(".")
            try:
                cls = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                continue  # not ours to judge; lerobot's loader will report it
            if isinstance(cls, type) and issubclass(cls, TransformStep):
                signatures.append(_signature(cls(**entry.get("config", {}))))
    return signatures


def check_checkpoint_matches(pretrained_path: str | Path, applied: AppliedTransforms) -> None:
    """Refuse early (before weights are loaded) when a checkpoint's transforms differ from the run's.

    A checkpoint saved without transform steps (a padded VLA base model, or any run that did not
    filter) is a starting point the run may narrow, as a Hub checkpoint is: only one that already
    carries steps has to match.
    """
    saved = saved_transform_steps(pretrained_path)
    planned = [_signature(s) for s in (*applied.preprocessor_steps, *applied.postprocessor_steps)]
    if not saved:
        if saved is not None and planned:
            _check_weights_fit(Path(pretrained_path), applied)
            log.info(
                "the checkpoint at %s has no data transforms; this run adds %s",
                pretrained_path,
                ", ".join(planned),
            )
        return
    if saved != planned:
        raise _mismatch(str(pretrained_path), saved, planned)


def _check_weights_fit(root: Path, applied: AppliedTransforms) -> None:
    """Refuse narrowing a vector the checkpoint's weights are sized by (it does not pad to a cap).

    Without this, a policy like Diffusion (or a --resume of an unfiltered run) would fail much
    later, loading its weights, with a bare tensor size mismatch.
    """
    path = root / "config.json"
    if not path.is_file():
        return
    with open(path) as f:
        config = json.load(f)
    for section, key, cap in (
        ("input_features", STATE_KEY, "max_state_dim"),
        ("output_features", ACTION_KEY, "max_action_dim"),
    ):
        shape = ((config.get(section) or {}).get(key) or {}).get("shape")
        width = applied.dataset.width(key)
        if not shape or width is None or int(shape[-1]) == width:
            continue
        if isinstance(config.get(cap), int) and width <= config[cap]:
            continue  # a VLA pads to its cap, so the weights do not depend on the width
        raise ConfigError(
            f"the checkpoint at {root} was saved without data transforms and its "
            f"{config.get('type', 'policy')} weights are sized for a {shape[-1]}-D {key}, but this run's "
            f"--state_filtered_keys / --action_keep_dims make it {width}-D. Fine-tune it without those "
            "flags (on --resume: as the run that wrote it), or train from scratch with them."
        )


def _merge(pipeline: Any, steps: list[Any], at_start: bool, checkpoint: str | None) -> Any:
    """Add ``steps`` to ``pipeline`` unless a loaded checkpoint pipeline already has them."""
    present = [step for step in pipeline.steps if isinstance(step, TransformStep)]
    if present:
        # Loaded from a checkpoint (resume, or --policy.path): it must carry exactly our steps.
        if [_signature(s) for s in present] != [_signature(s) for s in steps]:
            raise _mismatch(
                checkpoint or "?", [_signature(s) for s in present], [_signature(s) for s in steps]
            )
        return pipeline
    if not steps:
        return pipeline
    pipeline.steps = [*steps, *pipeline.steps] if at_start else [*pipeline.steps, *steps]
    return pipeline


def install_steps(
    preprocessor: Any, postprocessor: Any, applied: AppliedTransforms | None, checkpoint: str | None
) -> tuple[Any, Any]:
    """The pipelines with the transforms' steps: first in the preprocessor, last in the postprocessor."""
    pre_steps = applied.preprocessor_steps if applied else []
    post_steps = applied.postprocessor_steps if applied else []
    preprocessor = _merge(preprocessor, pre_steps, True, checkpoint)
    postprocessor = _merge(postprocessor, post_steps, False, checkpoint)
    return preprocessor, postprocessor
