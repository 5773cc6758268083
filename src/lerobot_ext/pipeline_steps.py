"""The plugins' processor steps join upstream's pipelines: first in the preprocessor, last in the
postprocessor - once, also when the pipelines come from a checkpoint that already has them."""

from __future__ import annotations

from typing import Any

from lerobot_ext.dataset_changes import AppliedChanges, step_signature
from lerobot_ext.errors import ConfigError


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
