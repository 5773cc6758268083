"""``--action_keep_dims=N``: train on action dims 0..N-1, re-fill the rest at inference."""

from __future__ import annotations

import copy

import numpy as np

from lerobot_ext import (
    ACTION_KEY,
    DatasetChange,
    DatasetDescription,
    DatasetLayoutError,
    get_logger,
    layout_of,
)
from lerobot_ext.transforms.base import DataTransform, TransformContext
from lerobot_ext.transforms.state_filter import slice_names, slice_stats
from lerobot_ext.transforms.steps import ActionPadStep, ActionSliceStep

log = get_logger("transforms")


def _dim_label(dataset: DatasetDescription, layout, dim: int) -> str:
    names = dataset.dim_names(ACTION_KEY)
    if names:
        return f"{dim} ({names[dim]})"
    if layout is not None:
        for group, _ in layout.groups():
            if dim in group.dims:
                index = f"[{dim - group.start}]" if group.size > 1 else ""
                return f"{dim} ({group.name}{index})"
    return str(dim)


class ActionKeepTransform(DataTransform):
    name = "action_keep"

    def apply(self, context: TransformContext) -> DatasetChange | None:
        keep = context.cfg.action_keep_dims
        if keep is None:
            return None
        dataset = context.dataset
        width = dataset.width(ACTION_KEY)
        if width is None:
            raise DatasetLayoutError(
                f"--action_keep_dims={keep}: the dataset has no '{ACTION_KEY}' feature (it has: "
                f"{', '.join(sorted(dataset.features)) or 'none'}). Drop --action_keep_dims, or point "
                "--dataset.repo_id / --dataset.root at a dataset with actions."
            )
        if keep > width:
            raise DatasetLayoutError(
                f"--action_keep_dims={keep} but the dataset's action has only {width} dims; use N <= {width}"
            )
        if keep == width:
            log.info("--action_keep_dims=%s keeps every action dim: nothing to drop", keep)
            return None
        low, high, mean = (dataset.stat(ACTION_KEY, s) for s in ("min", "max", "mean"))
        if low is None or high is None:
            raise DatasetLayoutError(
                "--action_keep_dims needs the dataset's action min/max stats (meta/stats.json) to check "
                "that the dropped dims are constant; this dataset has none"
            )
        layout = layout_of(dataset, ACTION_KEY, context.adapter)
        dropped = list(range(keep, width))
        constant = set(dataset.constant_dims(ACTION_KEY))
        varying = [d for d in dropped if d not in constant]
        ranges = ", ".join(
            f"dim {_dim_label(dataset, layout, d)} in [{low[d]:.4g}, {high[d]:.4g}]" for d in varying
        )
        if varying and not context.cfg.force_action_keep_dims:
            raise DatasetLayoutError(
                f"--action_keep_dims={keep} would drop action dims {keep}..{width - 1}, but these vary in the "
                f"dataset: {ranges}. Keep more dims (e.g. --action_keep_dims={max(varying) + 1}), or pass "
                "--force_action_keep_dims=true to drop them anyway (the robot then always gets their mean)."
            )
        if varying:
            log.warning(
                "--force_action_keep_dims: dropping varying action dims (%s); inference sends their mean",
                ranges,
            )
        fill = [
            float(low[d]) if d in constant else float(mean[d] if mean is not None else low[d])
            for d in dropped
        ]
        features = copy.deepcopy(dataset.features)
        features[ACTION_KEY]["shape"] = (keep,)
        features[ACTION_KEY]["names"] = slice_names(features[ACTION_KEY].get("names"), list(range(keep)))
        stats = dict(dataset.stats)
        stats[ACTION_KEY] = slice_stats(stats[ACTION_KEY], width, np.arange(keep))
        values = ", ".join(f"{v:g}" for v in fill)
        if varying:
            filled = (
                f"re-filled at inference with {values}: the mean of varying dim(s) "
                f"{', '.join(map(str, varying))} (--force_action_keep_dims), the constant value of the rest"
            )
        else:
            filled = f"constant values {values}, re-filled at inference"
        summary = f"{ACTION_KEY} {width} -> {keep} dims; dropped dims {keep}..{width - 1} ({filled})"
        return DatasetChange(
            features=features,
            stats=stats,
            preprocessor_steps=[ActionSliceStep(keep_dims=keep, input_width=width)],
            postprocessor_steps=[ActionPadStep(fill_values=fill, output_width=width)],
            summary=summary,
        )
