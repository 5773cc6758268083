"""Items of a dataset stored in another layout than the primary, put into the primary's layout.

The checkpoint saves one pipeline: the primary's steps (say, a state filter that keeps 37 of 45
dims). A dataset whose own steps reach the same features from another stored layout (45 dims in
another order, an extra camera) cannot go through them as it is. Its items are rebuilt in the
primary's stored layout instead: each value the steps keep is put where the primary's steps will
take it from, so the batch the policy sees is what the dataset's own steps would have made.

Where the value of a stored dim comes from is found by running each pipeline's steps on a probe -
every vector holding its own dim numbers - so any step that selects, reorders or drops dims is
understood without knowing its class; a step that computes new values is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lerobot_ext import ACTION_KEY, ConfigError, DatasetPart, step_signature

OBSERVATION_PREFIX = "observation."
VISUAL_DTYPES = ("image", "video")


def vector_keys(features: dict[str, dict[str, Any]]) -> dict[str, int]:
    """``{key: width}`` of the 1-D numeric observation and action features a pipeline sees."""
    out = {}
    for key, feature in features.items():
        shape = feature.get("shape") or ()
        if feature.get("dtype") in (*VISUAL_DTYPES, "string") or len(shape) != 1:
            continue
        if key == ACTION_KEY or key.startswith(OBSERVATION_PREFIX):
            out[key] = int(shape[0])
    return out


def run_steps(steps: Sequence[Any], observation: dict[str, Any], action: Any) -> tuple[dict[str, Any], Any]:
    """The preprocessor ``steps`` on one transition (what a training batch goes through)."""
    from lerobot.processor import TransitionKey, create_transition

    transition = create_transition(observation=dict(observation), action=action)
    for step in steps:
        transition = step(transition)
    return dict(transition.get(TransitionKey.OBSERVATION) or {}), transition.get(TransitionKey.ACTION)


def probe(part: DatasetPart) -> dict[str, np.ndarray]:
    """``{key: stored dim of each kept dim}`` of every vector the part's steps leave."""
    widths = vector_keys(part.planned.original.features)
    observation = {
        key: torch.arange(width, dtype=torch.float64)[None]
        for key, width in widths.items()
        if key != ACTION_KEY
    }
    action = torch.arange(widths[ACTION_KEY], dtype=torch.float64)[None] if ACTION_KEY in widths else None
    observation, action = run_steps(part.planned.preprocessor_steps, observation, action)
    out = {key: value for key, value in observation.items() if key in widths}
    if action is not None:
        out[ACTION_KEY] = action
    found = {}
    for key, value in out.items():
        numbers = np.asarray(torch.as_tensor(value, dtype=torch.float64)[0])
        if numbers.ndim != 1 or not np.all(
            (numbers == np.round(numbers)) & (numbers >= 0) & (numbers < widths[key])
        ):
            steps = ", ".join(step_signature(step) for step in part.planned.preprocessor_steps)
            raise ConfigError(
                f"--dataset.mix: {part.label} stores {key} in another layout than the run's own dataset, and "
                f"the steps that reconcile them ({steps}) compute new values rather than select dims; mix "
                "datasets stored in one layout"
            )
        found[key] = numbers.astype(np.int64)
    return found


@dataclass
class ItemLayout:
    """Rebuilds one dataset's items in the primary's stored layout."""

    #: ``{key: (dims taken from the item, where they go, the primary's width)}``
    vectors: dict[str, tuple[np.ndarray, np.ndarray, int]] = field(default_factory=dict)
    #: Keys the primary's items have and this dataset's lack (none of them reaches the policy).
    fill: dict[str, torch.Tensor] = field(default_factory=dict)
    #: The keys the primary's items have.
    keys: frozenset[str] = frozenset()

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        out = {key: value for key, value in item.items() if key in self.keys}
        for key, (taken, placed, width) in self.vectors.items():
            value = item[key]
            rebuilt = value.new_zeros((*value.shape[:-1], width))
            rebuilt[..., placed] = value[..., taken]
            out[key] = rebuilt
        for key, value in self.fill.items():
            out[key] = value.clone()
        return out


def item_layout(primary: DatasetPart, part: DatasetPart) -> ItemLayout | None:
    """``None`` when ``part``'s items already have the primary's layout (same stored features, same
    steps); else the :class:`ItemLayout` that rebuilds them (read from one item of each)."""
    if not needs_layout(primary, part):
        return None
    kept_primary, kept_part = probe(primary), probe(part)
    primary_item, part_item = primary.source.train[0], part.source.train[0]
    vectors = {}
    part_widths = vector_keys(part.planned.original.features)
    primary_widths = vector_keys(primary.planned.original.features)
    for key, placed in kept_primary.items():
        taken = kept_part.get(key)
        if taken is None or len(taken) != len(placed):
            # The agreement check names such a feature first; this is the last guard.
            raise ConfigError(f"--dataset.mix: {part.label} has no {key} of {len(placed)} kept dims")
        if not (np.array_equal(taken, placed) and part_widths[key] == primary_widths[key]):
            vectors[key] = (taken, placed, primary_widths[key])
    # Keys the primary's items have that this dataset's lack, or hold in another shape without a
    # kept dim the probe maps (a sub-feature the steps drop): zeros of the primary's shape, so a
    # batch collates; none reaches the policy (the agreement check saw to that).
    fill = {
        key: torch.zeros_like(value)
        for key, value in primary_item.items()
        if isinstance(value, torch.Tensor)
        and key not in vectors
        and (
            key not in part_item
            or not isinstance(part_item[key], torch.Tensor)
            or part_item[key].shape != value.shape
        )
    }
    return ItemLayout(vectors, fill, frozenset(primary_item))


def needs_layout(primary: DatasetPart, part: DatasetPart) -> bool:
    """Whether ``part``'s items differ from the primary's layout (stored features or steps)."""
    same_steps = [step_signature(s) for s in primary.planned.preprocessor_steps] == [
        step_signature(s) for s in part.planned.preprocessor_steps
    ]
    return not (same_steps and _stored(primary) == _stored(part))


def _stored(part: DatasetPart) -> dict[str, tuple[Any, ...]]:
    return {
        key: (feature.get("dtype"), tuple(feature.get("shape") or ()), str(feature.get("names")))
        for key, feature in part.planned.original.features.items()
    }
