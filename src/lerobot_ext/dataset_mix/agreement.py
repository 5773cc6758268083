"""Whether datasets can be trained together: after every plugin's changes, each must give the policy
the features the primary gives it (names, shapes, dtypes, dim names) at the primary's fps.

Each disagreement names the dataset, the feature, both values and the flag that would reconcile
them - what a run refuses with and what ``lerobot-ext inspect DIR DIR...`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lerobot_ext import ACTION_KEY, STATE_KEY, DatasetDescription, DatasetPart, layout_of

from .item_layout import VISUAL_DTYPES

#: Columns every LeRobot dataset has: they never decide whether datasets mix.
INDEX_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


@dataclass(frozen=True)
class Disagreement:
    """One feature (or the fps) where a dataset differs from the primary after the changes."""

    label: str
    feature: str
    theirs: str
    ours: str
    fix: str

    def line(self, primary: str) -> str:
        return (
            f"--dataset.mix: {self.label} cannot be trained with {primary}: after this run's changes its "
            f"{self.feature} is {self.theirs}, {primary}'s is {self.ours}; {self.fix}"
        )


def disagreements(parts: list[DatasetPart]) -> list[Disagreement]:
    """Every disagreement of ``parts[1:]`` with ``parts[0]``, in dataset then feature order."""
    primary = parts[0]
    found = []
    for part in parts[1:]:
        found.extend(_compare(primary, part))
    return found


def _shape(feature: dict[str, Any] | None) -> str:
    if feature is None:
        return "absent"
    return f"{feature.get('dtype')} {list(feature.get('shape') or ())}"


def _compare(primary: DatasetPart, part: DatasetPart) -> list[Disagreement]:
    ours, theirs = primary.planned.dataset, part.planned.dataset
    out = []
    if ours.fps != theirs.fps:
        out.append(
            Disagreement(
                part.label,
                "fps",
                str(theirs.fps),
                str(ours.fps),
                "no flag resamples a dataset: mix datasets recorded at the same fps",
            )
        )
    keys = [k for k in dict.fromkeys([*ours.features, *theirs.features]) if k not in INDEX_COLUMNS]
    for key in keys:
        mine, other = ours.features.get(key), theirs.features.get(key)
        if mine is not None and other is not None:
            visual = mine.get("dtype") in VISUAL_DTYPES and other.get("dtype") in VISUAL_DTYPES
            if visual and tuple(mine.get("shape") or ()) == tuple(other.get("shape") or ()):
                continue  # an image or a video of one size decodes to the same tensor
            same_shape = (mine.get("dtype"), tuple(mine.get("shape") or ())) == (
                other.get("dtype"),
                tuple(other.get("shape") or ()),
            )
            ours_named, theirs_named = _names(mine), _names(other)
            # Dims without names (a converted dataset) cannot be compared by name: the shape decides.
            if same_shape and (len(ours_named) != len(theirs_named) or ours_named == theirs_named):
                continue
            if same_shape:
                first = next(
                    i for i, (a, b) in enumerate(zip(_names(mine), _names(other), strict=False)) if a != b
                )
                out.append(
                    Disagreement(
                        part.label,
                        f"{key} dim {first}",
                        repr(_names(other)[first]),
                        repr(_names(mine)[first]),
                        "the same width with other dims: no flag reorders dims; record both in one order "
                        "(or give them the same names if they mean the same)",
                    )
                )
                continue
        out.append(
            Disagreement(
                part.label,
                key,
                _shape(other),
                _shape(mine),
                _fix(key, mine, other, primary, part, ours, theirs),
            )
        )
    return out


def _names(feature: dict[str, Any]) -> list[str]:
    names = feature.get("names")
    if isinstance(names, dict):
        return [str(n) for values in names.values() for n in values]
    if isinstance(names, list):
        return [str(n) for n in names]
    return []


def _fix(
    key: str,
    mine: dict[str, Any] | None,
    other: dict[str, Any] | None,
    primary: DatasetPart,
    part: DatasetPart,
    ours: DatasetDescription,
    theirs: DatasetDescription,
) -> str:
    feature = mine or other or {}
    if feature.get("dtype") in VISUAL_DTYPES:
        if mine is None or other is None:
            common = [
                k
                for k in ours.features
                if k in theirs.features and ours.features[k].get("dtype") in VISUAL_DTYPES
            ]
            if not common:
                return "no camera is in both datasets: no flag reconciles them"
            return f"train on the cameras both have: --camera_keys=[{','.join(common)}]"
        return "no flag resizes a camera: mix datasets whose cameras have one size"
    if key == ACTION_KEY and mine is not None and other is not None:
        narrow = min(int(mine["shape"][-1]), int(other["shape"][-1]))
        return f"keep the action dims both have: --action_keep_dims={narrow}"
    if key == STATE_KEY and mine is not None and other is not None:
        wider, narrower, wider_part = (
            (theirs, ours, part)
            if int(other["shape"][-1]) > int(mine["shape"][-1])
            else (ours, theirs, primary)
        )
        extra = _extra_groups(wider, narrower, wider_part)
        if extra:
            return (
                f"drop the state groups only {wider_part.label} has: --state_filtered_keys=[{','.join(extra)}] "
                "(with the groups this run already drops)"
            )
        wide_names, narrow_names = wider.dim_names(STATE_KEY), narrower.dim_names(STATE_KEY)
        if wide_names and narrow_names and not set(narrow_names) <= set(wide_names):
            return (
                "their state dims are different ones (by name), not one a subset of the other: no flag "
                "reconciles them"
            )
        return (
            "no named state groups tell which dims differ: name them in info.json, meta/modality.json or "
            "with --robot_adapter, then drop them with --state_filtered_keys"
        )
    if key.startswith(STATE_KEY + "."):
        return f"drop it with --state_filtered_keys=[{key[len(STATE_KEY) + 1 :]}]"
    return "no flag of this run removes it: mix datasets that record the same features"


def _extra_groups(wider: DatasetDescription, narrower: DatasetDescription, part: DatasetPart) -> list[str]:
    """The fewest named state groups of ``wider`` that hold exactly its dims ``narrower`` lacks
    (by dim name; by group name where the dims have none)."""
    wide = layout_of(wider, STATE_KEY, part.planned.adapter)
    if wide is None:
        return []
    wide_names, narrow_names = wider.dim_names(STATE_KEY), narrower.dim_names(STATE_KEY)
    groups = sorted((group for group, _ in wide.groups()), key=lambda g: (-g.size, g.start))
    if wide_names and narrow_names:
        extra = {d for d, name in enumerate(wide_names) if name not in set(narrow_names)}
        chosen, covered = [], set()
        for group in groups:
            dims = set(range(group.start, group.stop))
            if dims <= extra and not dims & covered:
                chosen.append(group.name)
                covered |= dims
        # The groups must leave the narrower's dims, not fewer: else no state filter reconciles them.
        leaves = [name for d, name in enumerate(wide_names) if d not in covered]
        return chosen if covered == extra and sorted(leaves) == sorted(narrow_names) else []
    narrow = layout_of(narrower, STATE_KEY, part.planned.adapter)
    names = {group.name for group, _ in narrow.groups()} if narrow is not None else set()
    return [group.name for group in groups if group.name not in names]
