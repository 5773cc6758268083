"""``--state_filtered_keys=[...]``: drop named groups from ``observation.state``."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from lerobot_ext import (
    STATE_KEY,
    DatasetChange,
    DatasetDescription,
    DatasetLayoutError,
    Group,
    StoredDataset,
    get_logger,
    layout_of,
)
from lerobot_ext.transforms.base import DataTransform, TransformContext
from lerobot_ext.transforms.steps import StateFilterStep

log = get_logger("transforms")

# Below this many dims left, the filter probably hit the wrong layout: say so loudly.
_FEW_DIMS = 4


def slice_stats(stats: dict[str, Any], width: int, index: np.ndarray) -> dict[str, Any]:
    """Per-dim stats (mean, std, min, max, quantiles) restricted to ``index``; others unchanged."""
    out = {}
    for name, value in stats.items():
        array = np.asarray(value)
        out[name] = (
            array[..., index] if array.ndim >= 1 and array.shape[-1] == width and name != "count" else value
        )
    return out


def slice_names(names: Any, index: list[int]) -> Any:
    """info.json ``names`` (a list, or a dict of lists covering consecutive dims in order) for the
    dims ``index`` (ascending); None when they do not describe the vector."""
    if isinstance(names, list):
        return [names[i] for i in index]
    if not isinstance(names, dict) or not all(isinstance(v, list) for v in names.values()):
        return None
    if index and max(index) >= sum(len(v) for v in names.values()):
        return None
    wanted = set(index)
    out, start = {}, 0
    for axis, values in names.items():
        kept = [value for i, value in enumerate(values, start) if i in wanted]
        start += len(values)
        # A key whose dims are all dropped would name a part the vector no longer has.
        if kept or len(names) == 1:
            out[axis] = kept
    return out


def _named_in(key: str, datasets: list[StoredDataset]) -> bool:
    """Whether any of ``datasets`` (each with its own adapter) has a state group or sub-feature ``key``."""
    for other in datasets:
        layout = layout_of(other.description, STATE_KEY, other.adapter)
        if (layout is not None and layout.find(key) is not None) or key in other.description.sub_features(
            STATE_KEY
        ):
            return True
    return False


class StateFilterTransform(DataTransform):
    name = "state_filter"

    def apply(self, context: TransformContext) -> DatasetChange | None:
        keys = list(dict.fromkeys(context.cfg.state_filtered_keys))
        if not keys:
            return None
        dataset = context.dataset
        sub_features = dataset.sub_features(STATE_KEY)
        layout = layout_of(dataset, STATE_KEY, context.adapter)
        dropped: list[tuple[str, Group | None, str]] = []
        unknown = []
        for key in keys:
            found = layout.find(key) if layout else None
            if found is not None:
                dropped.append((key, found[0], found[1]))
            elif key in sub_features or key in sub_features.values():
                dropped.append((key, None, "sub-feature"))
            else:
                unknown.append(key)
        elsewhere = [key for key in unknown if _named_in(key, context.run_datasets)]
        if elsewhere:
            # Another of the run's datasets (--dataset.mix) has these groups: nothing to drop here.
            log.info(
                "--state_filtered_keys: %s not in this dataset (%s-D state); another of the run's datasets has %s",
                elsewhere,
                dataset.width(STATE_KEY),
                "it" if len(elsewhere) == 1 else "them",
            )
            unknown = [key for key in unknown if key not in elsewhere]
            if not dropped and not unknown:
                return None
        if unknown:
            available = layout.available() if layout else "(the dataset has no observation.state)"
            subs = f"; sub-features: {', '.join(sorted(sub_features))}" if sub_features else ""
            adapter = context.adapter.name if context.adapter else "none (pass --robot_adapter=NAME)"
            raise DatasetLayoutError(
                f"--state_filtered_keys: unknown state group(s) {unknown}. This dataset "
                f"(robot_type={dataset.robot_type!r}, state {dataset.width(STATE_KEY)}-D, robot adapter: {adapter}) "
                f"has: {available}{subs}. Run `lerobot-ext inspect <dataset root>` to see its layout."
            )
        return self._result(dataset, dropped, sub_features)

    def _result(
        self,
        dataset: DatasetDescription,
        dropped: list[tuple[str, Group | None, str]],
        sub_features: dict[str, str],
    ) -> DatasetChange:
        features = copy.deepcopy(dataset.features)
        stats = dict(dataset.stats)
        drop_features = sorted({sub_features.get(key, key) for key, group, _ in dropped if group is None})
        for name in drop_features:
            features.pop(name, None)
            stats.pop(name, None)
        width = dataset.width(STATE_KEY) or 0
        drop_dims = sorted({d for _, group, _ in dropped if group is not None for d in group.dims})
        keep = [d for d in range(width) if d not in set(drop_dims)]
        steps = []
        parts = []
        if drop_dims:
            if not keep:
                raise DatasetLayoutError(
                    f"--state_filtered_keys drops all {width} dims of {STATE_KEY}; keep at least one group"
                )
            index = np.asarray(keep)
            feature = features[STATE_KEY]
            feature["shape"] = (len(keep),)
            feature["names"] = slice_names(feature.get("names"), keep)
            if STATE_KEY in stats:
                stats[STATE_KEY] = slice_stats(stats[STATE_KEY], width, index)
            parts.append(
                f"{STATE_KEY} {width} -> {len(keep)} dims, dropped "
                + ", ".join(
                    f"{key} [{g.start}:{g.stop}] (from {src})" for key, g, src in dropped if g is not None
                )
            )
            if len(keep) < _FEW_DIMS or len(keep) * 4 < width:
                # Logged here, not in the summary: apply_transforms logs summaries at INFO, where a
                # filter aimed at the wrong layout would pass unnoticed.
                log.warning(
                    "--state_filtered_keys: only %s of %s state dims are left - is this the layout you "
                    "meant? (`lerobot-ext inspect <dataset>` shows it)",
                    len(keep),
                    width,
                )
        if drop_features:
            parts.append(f"dropped features {', '.join(drop_features)}")
        steps.append(
            StateFilterStep(
                keep=keep if drop_dims else [],
                input_width=width,
                drop_features=drop_features,
                dropped_groups=[key for key, _, _ in dropped],
            )
        )
        return DatasetChange(
            features=features, stats=stats, preprocessor_steps=steps, summary="; ".join(parts)
        )
