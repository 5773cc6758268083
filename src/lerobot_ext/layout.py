"""Named groups of dims in a dataset's state and action vectors, and where the names come from.

Most LeRobot datasets store ``observation.state`` and ``action`` as one concatenated vector.
The names of its parts come from, in lookup order:

1. ``meta/info.json`` per-dim ``names`` (a list, or a dict of lists): a group is the dims sharing
   a name prefix (``robot0_eef_pos_0..2`` -> ``robot0_eef_pos``), and every per-dim name is a
   one-dim group too;
2. ``meta/modality.json`` (GR00T format: ``{"state": {"<group>": {"start": i, "end": j}}}``);
3. the robot adapter's table for this robot and width.

One exception: an adapter that reads its table off the data itself (RoboCasa's action order, from
which dims are constant) outranks ``meta/modality.json``. Layout files are copied between datasets
and can be wrong; the stats cannot. Where the two disagree, modality.json's table is left out.

Adapters may add aliases (other spellings) to group names, e.g. robosuite's ``robot0_base_pos``
for GR00T's ``base_position``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

STATE_KEY = "observation.state"
ACTION_KEY = "action"
MODALITY_FILE = "meta/modality.json"

# robosuite observation name -> the group name GR00T's modality.json files use for it. Users
# type either spelling, so modality.json groups answer to both.
ROBOSUITE_TO_GR00T = {
    "robot0_base_pos": "base_position",
    "robot0_base_quat": "base_rotation",
    "robot0_eef_pos": "end_effector_position_absolute",
    "robot0_base_to_eef_pos": "end_effector_position_relative",
    "robot0_eef_quat": "end_effector_rotation_absolute",
    "robot0_base_to_eef_quat": "end_effector_rotation_relative",
    "robot0_gripper_qpos": "gripper_qpos",
    "robot0_gripper_qvel": "gripper_qvel",
    "robot0_joint_pos": "joint_position",
    "robot0_joint_pos_cos": "joint_position_cos",
    "robot0_joint_pos_sin": "joint_position_sin",
    "robot0_joint_vel": "joint_velocity",
}


MODALITY_ALIASES: dict[str, tuple[str, ...]] = {v: (k,) for k, v in ROBOSUITE_TO_GR00T.items()}

_INDEXED = re.compile(r"^(?P<prefix>.+?)[_.\-]?(?P<index>\d+)$")


@dataclass(frozen=True)
class Group:
    """Dims ``start:stop`` of a vector, called ``name`` (or any of ``aliases``)."""

    name: str
    start: int
    stop: int
    aliases: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def dims(self) -> range:
        return range(self.start, self.stop)

    def matches(self, key: str) -> bool:
        return key == self.name or key in self.aliases


@dataclass
class GroupTable:
    """The groups one source names for one vector."""

    source: str
    groups: list[Group]

    def find(self, key: str) -> Group | None:
        return next((group for group in self.groups if group.matches(key)), None)


def flatten_names(names: Any) -> list[str] | None:
    """Per-dim names from info.json's ``names`` (a list, or a dict of lists), or None."""
    if names is None:
        return None
    if isinstance(names, Mapping):
        flat: list[str] = []
        for value in names.values():
            if not isinstance(value, list):
                return None
            flat.extend(str(v) for v in value)
        return flat
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return list(names)
    return None


def groups_from_names(names: list[str]) -> list[Group]:
    """Prefix groups of contiguous indexed names, plus each name as a one-dim group."""
    groups: list[Group] = []
    start = 0
    while start < len(names):
        match = _INDEXED.match(names[start])
        stop = start + 1
        if match:
            prefix = match["prefix"]
            while stop < len(names):
                nxt = _INDEXED.match(names[stop])
                if not nxt or nxt["prefix"] != prefix:
                    break
                stop += 1
            if stop - start > 1:
                groups.append(Group(prefix, start, stop))
        start = stop
    taken = {group.name for group in groups}
    groups.extend(Group(name, i, i + 1) for i, name in enumerate(names) if name not in taken)
    return groups


def groups_from_modality(
    modality: Mapping[str, Any] | None, section: str, feature_key: str, aliases: Mapping[str, tuple[str, ...]]
) -> list[Group]:
    """Groups of one section (``state``/``action``) of a GR00T ``modality.json``."""
    if not modality or section not in modality:
        return []
    groups = []
    for name, spec in modality[section].items():
        if not isinstance(spec, Mapping) or "start" not in spec or "end" not in spec:
            continue
        original = spec.get("original_key")
        if original is not None and original != feature_key:
            continue
        groups.append(Group(name, int(spec["start"]), int(spec["end"]), tuple(aliases.get(name, ()))))
    return sorted(groups, key=lambda g: g.start)


def _spellings(group: Group) -> set[str]:
    return {group.name, *group.aliases}


def conflicts(declared: Iterable[Group], found: Iterable[Group]) -> list[tuple[Group, Group]]:
    """``(declared, found)`` pairs that name the same group (in any spelling) at different dims."""
    found = list(found)
    return [
        (a, b)
        for a in declared
        for b in found
        if _spellings(a) & _spellings(b) and (a.start, a.stop) != (b.start, b.stop)
    ]


def with_aliases(groups: Iterable[Group], aliases: Mapping[str, tuple[str, ...]]) -> list[Group]:
    return [
        Group(g.name, g.start, g.stop, tuple(dict.fromkeys((*g.aliases, *aliases.get(g.name, ())))))
        for g in groups
    ]


@dataclass
class DatasetDescription:
    """What the transforms, adapters and ``lerobot-ext inspect`` need to know about a dataset."""

    robot_type: str | None
    fps: int | None
    features: dict[str, dict[str, Any]]
    stats: dict[str, dict[str, Any]]
    modality: dict[str, Any] | None = None
    root: Path | None = None

    @classmethod
    def from_metadata(cls, meta: Any) -> DatasetDescription:
        root = Path(meta.root) if getattr(meta, "root", None) is not None else None
        return cls(
            robot_type=meta.robot_type,
            fps=meta.fps,
            features=dict(meta.features),
            stats=dict(meta.stats or {}),
            modality=read_modality(root),
            root=root,
        )

    def width(self, key: str) -> int | None:
        feature = self.features.get(key)
        if feature is None or not feature.get("shape"):
            return None
        return int(feature["shape"][-1])

    def dim_names(self, key: str) -> list[str] | None:
        feature = self.features.get(key)
        names = flatten_names(feature.get("names")) if feature else None
        width = self.width(key)
        return names if names is not None and len(names) == width else None

    def sub_features(self, key: str) -> dict[str, str]:
        """``{suffix: feature_key}`` for datasets storing ``key.<suffix>`` features separately."""
        prefix = key + "."
        return {k[len(prefix) :]: k for k in self.features if k.startswith(prefix)}

    def stat(self, key: str, name: str) -> np.ndarray | None:
        value = (self.stats.get(key) or {}).get(name)
        return None if value is None else np.asarray(value, dtype=np.float64).reshape(-1)

    def constant_dims(self, key: str, atol: float = 1e-6) -> list[int]:
        """Dims whose min equals max in the dataset stats."""
        low, high = self.stat(key, "min"), self.stat(key, "max")
        if low is None or high is None:
            return []
        spread = high - low
        return [int(i) for i in np.flatnonzero(spread <= atol * np.maximum(1.0, np.abs(high)))]


def read_modality(root: Path | None) -> dict[str, Any] | None:
    if root is None:
        return None
    path = Path(root) / MODALITY_FILE
    if not path.is_file():
        return None
    with open(path) as f:
        return json.load(f)


@dataclass
class VectorLayout:
    """The named groups of one vector feature (``observation.state`` or ``action``)."""

    key: str
    width: int
    tables: list[GroupTable] = field(default_factory=list)

    def find(self, name: str) -> tuple[Group, str] | None:
        for table in self.tables:
            group = table.find(name)
            if group is not None:
                return group, table.source
        return None

    def groups(self) -> list[tuple[Group, str]]:
        """Every multi-dim group of every source, then one-dim groups, without repeats."""
        seen: set[tuple[str, int, int]] = set()
        out = []
        for table in self.tables:
            for group in sorted(table.groups, key=lambda g: (g.size == 1, g.start)):
                ident = (group.name, group.start, group.stop)
                if ident not in seen:
                    seen.add(ident)
                    out.append((group, table.source))
        return out

    def best_table(self) -> GroupTable | None:
        """The source that names the most dims with multi-dim groups (for display)."""
        if not self.tables:
            return None
        return max(self.tables, key=lambda t: sum(g.size for g in t.groups if g.size > 1))

    def display_groups(self) -> list[tuple[Group, str]]:
        """Multi-dim groups, plus one-dim groups whose dim no multi-dim group covers."""
        groups = self.groups()
        covered = {d for g, _ in groups if g.size > 1 for d in g.dims}
        return [(g, src) for g, src in groups if g.size > 1 or g.start not in covered]

    def spans(self) -> list[dict[str, Any]]:
        """The displayed groups merged by dim range: ``{start, stop, names, sources}``."""
        merged: dict[tuple[int, int], dict[str, Any]] = {}
        for group, source in self.display_groups():
            span = merged.setdefault(
                (group.start, group.stop),
                {"start": group.start, "stop": group.stop, "names": [], "sources": []},
            )
            span["names"].extend(n for n in (group.name, *group.aliases) if n not in span["names"])
            if source not in span["sources"]:
                span["sources"].append(source)
        return sorted(merged.values(), key=lambda s: (s["start"], s["stop"]))

    def available(self, limit: int = 40) -> str:
        labels = [f"{' = '.join(span['names'])} [{span['start']}:{span['stop']}]" for span in self.spans()]
        if len(labels) > limit:
            labels = [*labels[:limit], f"... ({len(labels) - limit} more)"]
        return "; ".join(labels) if labels else "(none: the dataset names no groups and no adapter knows it)"


def vector_layout(
    description: DatasetDescription,
    key: str,
    adapter_groups: list[Group] | None = None,
    adapter_name: str | None = None,
    aliases: Mapping[str, tuple[str, ...]] | None = None,
    adapter_from_data: bool = False,
) -> VectorLayout | None:
    """The layout of ``key`` from the dataset's names, its modality.json and the adapter table.

    ``adapter_from_data``: the adapter found its table in the data (see the module docstring), so
    a modality.json table that disagrees with it is dropped rather than consulted first.
    """
    width = description.width(key)
    if width is None:
        return None
    aliases = aliases or {}
    layout = VectorLayout(key, width)
    names = description.dim_names(key)
    if names:
        layout.tables.append(
            GroupTable("meta/info.json names", with_aliases(groups_from_names(names), aliases))
        )
    fitting = [g for g in adapter_groups or [] if g.stop <= width]
    section = "state" if key == STATE_KEY else "action" if key == ACTION_KEY else None
    if section:
        modality_aliases = {**MODALITY_ALIASES, **aliases}
        modality_groups = [
            g
            for g in groups_from_modality(description.modality, section, key, modality_aliases)
            if g.stop <= width
        ]
        if adapter_from_data and conflicts(modality_groups, with_aliases(fitting, aliases)):
            modality_groups = []
        if modality_groups:
            layout.tables.append(GroupTable(MODALITY_FILE, modality_groups))
    if adapter_groups:
        layout.tables.append(GroupTable(f"robot adapter '{adapter_name}'", with_aliases(fitting, aliases)))
    return layout
