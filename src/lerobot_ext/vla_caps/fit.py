"""Which ``--state_filtered_keys`` groups and which ``--action_keep_dims`` bring a dataset under a
pretrained VLA's caps - so the refusal names flags to paste instead of "drop dims".

The state rule (deterministic, documented in the user guide):

1. the groups the run already drops (``--state_filtered_keys``) stay dropped;
2. then groups are dropped until the state fits, in this order: groups whose every dim is constant
   in the dataset's stats (they tell the policy nothing), then groups whose name says they are not
   the robot's own joints or end effector - velocities, accelerations, IMU, forces/torques, the
   mobile base (:data:`AUXILIARY`) - then any other group; within each of these tiers the last
   group of the vector goes first (layouts put the robot's joints first and extras last);
3. a chosen group the state fits without is put back (the last chosen first), so no group is
   dropped that the cap does not need.

The groups come from one source, the most specific that can make the state fit: the robot
adapter's table, else ``meta/modality.json``'s, else the dataset's per-dim names (their indexed
prefixes, e.g. ``joint_vel_0..6`` -> ``joint_vel``, then single names).

The action rule: ``--action_keep_dims`` may only drop dims that are constant in the stats (the
transform re-fills them at inference), so it is offered when the constant run at the end of the
action starts at or below the cap; it then keeps the action up to that run (every constant
trailing dim is dropped: they carry nothing to learn).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lerobot_ext import (
    ACTION_KEY,
    STATE_KEY,
    DatasetDescription,
    Group,
    RobotAdapter,
    VectorLayout,
    layout_of,
)

#: Group names (lower case, split at ``_``/``.``/``-``) that are not the robot's joints or end
#: effector: what a policy fine-tuned on a narrower robot most plausibly does without.
AUXILIARY = re.compile(
    r"(?:^|_)(?:q?vel|vels|velocity|velocities|acc|accel|acceleration|omega|gyro|imu|"
    r"force|forces|torque|torques|effort|efforts|wrench|base|odom|odometry)(?:_|$)"
)


@dataclass(frozen=True)
class Advice:
    """What brings one vector under its cap: a flag to pass, or why no flag of ours can."""

    flag: str | None
    note: str

    def __str__(self) -> str:
        return f"{self.flag} ({self.note})" if self.flag else self.note


def is_auxiliary(name: str) -> bool:
    """Whether a group's name says it is not the robot's joints/end effector (see :data:`AUXILIARY`)."""
    return AUXILIARY.search(re.sub(r"[^a-z0-9]+", "_", name.lower())) is not None


def _droppable_groups(layout: VectorLayout, groups: list[Group]) -> list[Group]:
    """One source's ``groups`` without overlaps (multi-dim groups win; one that is the whole vector is
    no choice), each findable by its name with the same dims - what ``--state_filtered_keys=[name]``
    would drop."""
    taken: set[int] = set()
    out: list[Group] = []
    for group in sorted(groups, key=lambda g: (g.size == 1, g.start)):
        found = layout.find(group.name)
        # Another table may give the same name other dims; the flag would then drop those.
        if found is None or found[0].dims != group.dims or not taken.isdisjoint(group.dims):
            continue
        if group.size >= layout.width:
            continue
        taken.update(group.dims)
        out.append(group)
    return sorted(out, key=lambda g: g.start)


def _choose(candidates: list[Group], constant: set[int], need: int) -> list[Group] | None:
    """The groups to drop (rule 2 and 3 of the module docstring), or ``None`` if they cannot
    drop ``need`` dims."""

    def tier(group: Group) -> int:
        if set(group.dims) <= constant:
            return 0
        return 1 if is_auxiliary(group.name) else 2

    chosen: list[Group] = []
    for group in sorted(candidates, key=lambda g: (tier(g), -g.start)):
        if sum(g.size for g in chosen) >= need:
            break
        chosen.append(group)
    if sum(g.size for g in chosen) < need:
        return None
    for group in reversed(list(chosen)):
        if sum(g.size for g in chosen) - group.size >= need:
            chosen.remove(group)
    return sorted(chosen, key=lambda g: g.start)


def state_advice(
    dataset: DatasetDescription, adapter: RobotAdapter | None, cap: int, dropped_keys: Sequence[str] = ()
) -> Advice:
    """The ``--state_filtered_keys=[...]`` that brings ``dataset``'s state to ``cap`` dims or fewer.

    :param dataset: the dataset before the run's transforms (the groups are named there).
    :param dropped_keys: what the run's ``--state_filtered_keys`` already drops; kept in the list.
    """
    width = dataset.width(STATE_KEY)
    layout = layout_of(dataset, STATE_KEY, adapter)
    if width is None or layout is None:
        return Advice(None, f"the dataset has no {STATE_KEY}")
    dropped: set[int] = set()
    for key in dropped_keys:
        found = layout.find(key)
        if found is not None:
            dropped.update(found[0].dims)
    need = width - len(dropped) - cap
    if need <= 0:  # the run's own filter already fits (only reached when asked directly)
        return Advice(
            f"--state_filtered_keys=[{','.join(dropped_keys)}]", f"{width} -> {width - len(dropped)} dims"
        )
    constant = set(dataset.constant_dims(STATE_KEY))
    # The most specific source first: the robot adapter's table, then modality.json's, then the
    # dataset's per-dim names (vector_layout appends them in the opposite order).
    chosen = None
    for table in reversed(layout.tables):
        candidates = [g for g in _droppable_groups(layout, table.groups) if dropped.isdisjoint(g.dims)]
        chosen = _choose(candidates, constant, need)
        if chosen is not None:
            break
    if chosen is None:
        named = (
            "its named groups cover too few" if layout.tables else "no robot adapter or dataset names groups"
        )
        return Advice(
            None,
            f"--state_filtered_keys cannot: {named} of the {width} state dims to leave {cap} "
            "(pass --robot_adapter=NAME, or see `lerobot-ext inspect <dataset>`)",
        )
    keys = [*dropped_keys, *(g.name for g in chosen)]
    left = width - len(dropped) - sum(g.size for g in chosen)
    constant_names = [g.name for g in chosen if set(g.dims) <= constant]
    why = f"; {', '.join(constant_names)} constant" if constant_names else ""
    return Advice(f"--state_filtered_keys=[{','.join(keys)}]", f"{width} -> {left} dims{why}")


def action_advice(dataset: DatasetDescription, cap: int) -> Advice:
    """The ``--action_keep_dims=N`` that brings ``dataset``'s action to ``cap`` dims or fewer, when
    the dims it drops are constant; otherwise why it cannot."""
    width = dataset.width(ACTION_KEY)
    if width is None:
        return Advice(None, f"the dataset has no {ACTION_KEY}")
    if dataset.stat(ACTION_KEY, "min") is None or dataset.stat(ACTION_KEY, "max") is None:
        return Advice(
            None,
            "--action_keep_dims cannot be checked: the dataset has no action min/max stats to show "
            "which dims are constant",
        )
    constant = set(dataset.constant_dims(ACTION_KEY))
    start = width
    while start > 1 and start - 1 in constant:
        start -= 1
    if start <= cap:
        return Advice(
            f"--action_keep_dims={start}",
            f"dims {start}..{width - 1} are constant, re-filled at inference",
        )
    varying = [d for d in range(cap, width) if d not in constant]
    shown = ", ".join(map(str, varying[:6])) + (", ..." if len(varying) > 6 else "")
    return Advice(
        None,
        f"--action_keep_dims cannot: action dims {cap}..{width - 1} are not all constant (dim {shown} "
        "varies; --force_action_keep_dims=true would send their mean)",
    )
