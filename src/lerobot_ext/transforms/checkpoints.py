"""Whether a checkpoint fits this run's ``--state_filtered_keys`` / ``--action_keep_dims``.

A checkpoint that carries the transforms' steps must carry exactly the ones this run plans (on
``--resume`` they come back from its ``train_config.json``). A checkpoint saved without them (a
padded VLA base model, or any run that did not filter) is a starting point the run may narrow -
unless its weights are sized for the full width.
"""

from __future__ import annotations

from lerobot_ext import (
    ACTION_KEY,
    STATE_KEY,
    AppliedChanges,
    ConfigError,
    SavedCheckpoint,
    class_path,
    get_logger,
    step_signature,
)
from lerobot_ext.transforms.steps import ActionPadStep, ActionSliceStep, StateFilterStep

log = get_logger("transforms")

STEP_CLASSES = (StateFilterStep, ActionSliceStep, ActionPadStep)
STEP_PATHS = {class_path(cls) for cls in STEP_CLASSES}


def mismatch(where: str, saved: list[str], planned: list[str]) -> ConfigError:
    return ConfigError(
        f"the checkpoint at {where} was trained with data transforms {saved or 'none'}, but this run asks "
        f"for {planned or 'none'}. Use the same --state_filtered_keys / --action_keep_dims as the run that "
        "wrote it (on --resume they come from its train_config.json: do not override them)."
    )


def check_matches(checkpoint: SavedCheckpoint, planned: AppliedChanges) -> None:
    """Refuse early (before weights are loaded) when a checkpoint's transforms differ from the run's."""
    if not checkpoint.has_processors:
        return
    saved = [step.signature() for step in checkpoint.steps_of(STEP_PATHS)]
    ours = [step_signature(step) for step in planned.steps if isinstance(step, STEP_CLASSES)]
    if not saved:
        if ours:
            _check_weights_fit(checkpoint, planned)
            log.info(
                "the checkpoint at %s has no data transforms; this run adds %s",
                checkpoint.path,
                ", ".join(ours),
            )
        return
    if saved != ours:
        raise mismatch(str(checkpoint.path), saved, ours)


def _check_weights_fit(checkpoint: SavedCheckpoint, planned: AppliedChanges) -> None:
    """Refuse narrowing a vector the checkpoint's weights are sized by (it does not pad to a cap).

    Without this, a policy like Diffusion (or a --resume of an unfiltered run) would fail much
    later, loading its weights, with a bare tensor size mismatch.
    """
    config = checkpoint.config
    for section, key, cap in (
        ("input_features", STATE_KEY, "max_state_dim"),
        ("output_features", ACTION_KEY, "max_action_dim"),
    ):
        shape = ((config.get(section) or {}).get(key) or {}).get("shape")
        width = planned.dataset.width(key)
        if not shape or width is None or int(shape[-1]) == width:
            continue
        if isinstance(config.get(cap), int) and width <= config[cap]:
            continue  # a VLA pads to its cap, so the weights do not depend on the width
        raise ConfigError(
            f"the checkpoint at {checkpoint.path} was saved without data transforms and its "
            f"{config.get('type', 'policy')} weights are sized for a {shape[-1]}-D {key}, but this run's "
            f"--state_filtered_keys / --action_keep_dims make it {width}-D. Fine-tune it without those "
            "flags (on --resume: as the run that wrote it), or train from scratch with them."
        )


def padded_action_width(checkpoint: SavedCheckpoint | None) -> int | None:
    """The width a checkpoint's saved postprocessor pads actions to (None: it does not pad)."""
    if checkpoint is None:
        return None
    widths = [step.config.get("output_width") for step in checkpoint.steps_of({class_path(ActionPadStep)})]
    return widths[0] if widths else None
