"""Normalisation statistics of several datasets: those of all their frames put together.

Numeric features (state, action, environment state, index columns) are recomputed from the frames
every dataset of the run reads (its training and held-out episodes), after each dataset's own
steps, with lerobot's own estimator (``get_feature_stats``) over the union - so mean, std, min and
max are exact and the quantiles are the union's, not an average of each dataset's. Camera
statistics are lerobot's estimates from sampled frames, stored per dataset: mean, std, min and max
are combined exactly from them (each dataset weighted by its frames); their quantiles are weighted
averages - no policy normalises cameras by quantiles, and recomputing them would decode every
frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lerobot_ext import ACTION_KEY, DatasetPart

from .item_layout import VISUAL_DTYPES, run_steps, vector_keys


def union_stats(parts: list[DatasetPart]) -> dict[str, dict[str, Any]]:
    """The statistics the policy of a mix is normalised with (keys of the primary's changed stats)."""
    from lerobot.datasets.compute_stats import get_feature_stats

    primary = parts[0].planned.dataset
    stats: dict[str, dict[str, Any]] = {}
    columns = [_transformed_columns(part) for part in parts]
    for key, feature in primary.features.items():
        if key not in primary.stats:
            continue
        if feature.get("dtype") in VISUAL_DTYPES:
            having = [part for part in parts if key in part.planned.dataset.stats]
            stats[key] = combined_stats(
                [part.planned.dataset.stats[key] for part in having], [frames_of(part) for part in having]
            )
            continue
        arrays = [frames[key] for frames in columns if key in frames]
        if len(arrays) != len(parts):
            stats[key] = primary.stats[key]  # not a column every dataset stores (kept as it was)
            continue
        values = np.concatenate(arrays)
        stats[key] = get_feature_stats(values, axis=0, keepdims=values.ndim == 1)
    return stats


def _transformed_columns(part: DatasetPart) -> dict[str, np.ndarray]:
    """Every numeric column of the frames the part reads, after the part's own steps."""
    datasets = [part.source.train, *([part.source.eval] if part.source.eval is not None else [])]
    features = part.planned.original.features
    names = [
        key
        for key, feature in features.items()
        if feature.get("dtype") not in (*VISUAL_DTYPES, "string") and key != "task"
    ]
    raw: dict[str, np.ndarray] = {}
    for key in names:
        chunks = [np.asarray(dataset.hf_dataset.with_format("numpy")[key]) for dataset in datasets]
        raw[key] = np.concatenate(chunks)
    vectors = vector_keys(features)
    observation = {k: torch.from_numpy(raw[k]) for k in vectors if k != ACTION_KEY and k in raw}
    action = torch.from_numpy(raw[ACTION_KEY]) if ACTION_KEY in raw else None
    observation, action = run_steps(part.planned.preprocessor_steps, observation, action)
    out = {k: v for k, v in raw.items() if k not in vectors}
    out.update({k: np.asarray(v) for k, v in observation.items() if k in vectors})
    if action is not None:
        out[ACTION_KEY] = np.asarray(action)
    return out


def frames_of(part: DatasetPart) -> int:
    """The frames a part's run reads (training and held-out episodes)."""
    return len(part.source.train) + (len(part.source.eval) if part.source.eval is not None else 0)


def combined_stats(each: list[dict[str, Any]], frames: list[int]) -> dict[str, Any]:
    """Statistics of several sets from each one's, each set weighted by its ``frames`` (lerobot's
    camera ``count`` is the frames it sampled, not the frames there are): mean and std exact for
    statistics that describe each set, min and max exact, quantiles weighted averages."""
    counts = np.array([float(np.asarray(s.get("count", [0])).reshape(-1)[0]) for s in each])
    weights = np.asarray(frames, dtype=np.float64) / float(np.sum(frames))
    shape = (-1,) + (1,) * (np.asarray(each[0]["mean"]).ndim)
    means = np.stack([np.asarray(s["mean"], dtype=np.float64) for s in each])
    stds = np.stack([np.asarray(s["std"], dtype=np.float64) for s in each])
    mean = (weights.reshape(shape) * means).sum(axis=0)
    variance = (weights.reshape(shape) * (stds**2 + (means - mean) ** 2)).sum(axis=0)
    out: dict[str, Any] = {
        "mean": mean,
        "std": np.sqrt(variance),
        "min": np.min(np.stack([np.asarray(s["min"]) for s in each]), axis=0),
        "max": np.max(np.stack([np.asarray(s["max"]) for s in each]), axis=0),
        "count": np.array([int(counts.sum())]),
    }
    for name in each[0]:
        if name not in out and all(name in s for s in each):
            values = np.stack([np.asarray(s[name], dtype=np.float64) for s in each])
            out[name] = (weights.reshape(shape) * values).sum(axis=0)
    return out
