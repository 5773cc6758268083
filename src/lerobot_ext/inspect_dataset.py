"""``lerobot-ext inspect``: a dataset's robot adapter, state/action groups, ranges and constants,
and what the loaded plugins' flags would change - through the hooks a run uses, the
``configure`` chain included. It knows no plugin: it shows each plugin's own summary of its
``DatasetChange`` and the features that change (new shapes, removed features)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot_ext.argv import check_unknown_flags, normalize_argv
from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.context import RunContext
from lerobot_ext.dataset_sources import DatasetPart, DatasetSource, StoredDataset
from lerobot_ext.dataset_versions import check_dataset_version
from lerobot_ext.dispatch import Hooks
from lerobot_ext.errors import ConfigError, LerobotExtError
from lerobot_ext.layout import ACTION_KEY, STATE_KEY, DatasetDescription, VectorLayout
from lerobot_ext.robot_adapter import layout_of
from lerobot_ext.training import configured, planned_changes, stored_dataset


@dataclass
class VectorReport:
    key: str
    width: int
    source: str | None
    groups: list[dict[str, Any]]
    dims: list[dict[str, Any]]
    constant_dims: list[int]


@dataclass
class InspectReport:
    root: str
    robot_type: str | None
    fps: int | None
    total_frames: int | None
    total_episodes: int | None
    adapter: str | None
    adapter_reason: str
    notes: list[str]
    vectors: list[VectorReport]
    cameras: list[str]
    #: ``plugin: summary`` of each plugin's ``DatasetChange``, in hook order.
    changes: list[str] = field(default_factory=list)
    #: What the changes leave: ``changed`` ``{feature: {"shape": new, "was": old or None}}`` and
    #: ``removed`` features.
    result: dict[str, Any] = field(default_factory=dict)


def load_description(root: str | Path) -> tuple[DatasetDescription, Any]:
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    root = Path(root)
    if not (root / "meta" / "info.json").is_file():
        raise ConfigError(
            f"{root} is not a LeRobot dataset (no meta/info.json); pass the dataset's root folder"
        )
    check_dataset_version(root, None)  # a v2.x folder: one line with the convert command
    meta = LeRobotDatasetMetadata(repo_id=f"local/{root.name}", root=root)
    return DatasetDescription.from_metadata(meta), meta


def _vector_report(dataset: DatasetDescription, layout: VectorLayout) -> VectorReport:
    low, high = dataset.stat(layout.key, "min"), dataset.stat(layout.key, "max")
    constant = dataset.constant_dims(layout.key)
    names = dataset.dim_names(layout.key)
    table = layout.best_table()
    owner = {}
    if table is not None:
        for group in table.groups:
            for d in group.dims:
                owner.setdefault(d, group.name)
    dims = [
        {
            "dim": d,
            "name": names[d] if names else None,
            "group": owner.get(d),
            "min": None if low is None else float(low[d]),
            "max": None if high is None else float(high[d]),
            "constant": d in constant,
        }
        for d in range(layout.width)
    ]
    groups = layout.spans()
    return VectorReport(layout.key, layout.width, table.source if table else None, groups, dims, constant)


def inspect_context(hooks: Hooks, flags: list[str]) -> RunContext:
    """The context of ``lerobot-ext inspect`` with these plugin flags (``run.flags`` reads them)."""
    config_class = hooks.host.config_class
    return RunContext("inspect", hooks, argv=normalize_argv(flags, config_class), config_class=config_class)


def inspect_config(hooks: Hooks, context: RunContext, root: str | Path) -> Any:
    """The run config ``lerobot-train-ext`` would have for these plugin flags on this dataset.

    Only the loaded plugins' flags are accepted (lerobot-train's own flags change nothing here).
    """
    import draccus

    load_description(root)  # a folder that is not a dataset: say so before any plugin looks at it
    config_class = context.config_class
    flags = context.argv
    # A flag of lerobot-train itself is "unknown" here: inspect only shows what plugins do.
    check_unknown_flags(flags, config_class, hooks.host.not_loaded(), plugin_fields_only=True)
    root = Path(root)
    args = [f"--dataset.repo_id=local/{root.name}", f"--dataset.root={root}", *flags]
    try:
        cfg = draccus.parse(config_class=config_class, args=args)
    except (SystemExit, Exception) as exc:
        raise ConfigError(f"lerobot-ext inspect: cannot read {' '.join(flags)}: {exc}") from exc
    assert isinstance(cfg, ExtTrainPipelineConfig)
    # Chained exactly as for a run: a plugin may replace the config the others then see.
    return configured(hooks, cfg, context)


def inspect_with_flags(
    hooks: Hooks, root: str | Path, flags: list[str], together: list[str] | None = None
) -> InspectReport:
    """``lerobot-ext inspect ROOT FLAGS...``: the config the flags give, then the report.
    ``together``: every root named, when several are inspected as one run's datasets."""
    context = inspect_context(hooks, flags)
    cfg = inspect_config(hooks, context, root)
    stored = (
        [stored_dataset(hooks, cfg, context, load_description(other)[0]) for other in together]
        if together
        else None
    )
    mine = stored[together.index(root)].description if stored and together else None
    return inspect_dataset(root, hooks, context, cfg, stored, mine)


def compare_with_flags(hooks: Hooks, roots: list[str], flags: list[str]) -> list[str]:
    """``lerobot-ext inspect ROOT ROOT... FLAGS...``: whether the datasets can be trained together
    with these flags, from each one's planned changes (``compare_datasets``; no data read)."""
    context = inspect_context(hooks, flags)
    cfg = inspect_config(hooks, context, roots[0])
    parts, lines = [], []
    stored = [stored_dataset(hooks, cfg, context, load_description(root)[0]) for root in roots]
    for index, (root, one) in enumerate(zip(roots, stored, strict=True)):
        try:
            planned = planned_changes(hooks, cfg, context, one.description, stored)
        except LerobotExtError as error:
            lines.append(f"{root}: {error}")
            continue
        parts.append(DatasetPart(DatasetSource(str(root), None, None, index), planned))
    if lines:
        return ["the flags do not apply to every dataset:", *lines]
    answers = hooks.collect("compare_datasets", cfg=cfg, parts=parts, run=context)
    if not answers:
        return ["no loaded plugin says whether these datasets train together (the compare_datasets hook)"]
    return [line for _, answer in answers for line in answer]


def inspect_dataset(
    root: str | Path,
    hooks: Hooks,
    context: RunContext,
    cfg: Any,
    run_datasets: list[StoredDataset] | None = None,
    description: DatasetDescription | None = None,
) -> InspectReport:
    """What ``lerobot-train-ext`` would do with this dataset, through the same hooks (as one of
    ``run_datasets``, ``description`` being its entry there, when several are inspected)."""
    dataset, meta = load_description(root)
    dataset = description if description is not None else dataset
    applied = planned_changes(hooks, cfg, context, dataset, run_datasets)
    adapter = applied.adapter
    reason = (
        applied.adapter_reason
        if adapter is not None
        else f"no registered adapter knows robot_type {dataset.robot_type!r}"
    )
    vectors = []
    for key in (STATE_KEY, ACTION_KEY):
        layout = layout_of(dataset, key, adapter)
        if layout is not None:
            vectors.append(_vector_report(dataset, layout))
    report = InspectReport(
        root=str(root),
        robot_type=dataset.robot_type,
        fps=dataset.fps,
        total_frames=getattr(meta, "total_frames", None),
        total_episodes=getattr(meta, "total_episodes", None),
        adapter=adapter.name if adapter else None,
        adapter_reason=reason,
        notes=adapter.notes(dataset) if adapter else [],
        vectors=vectors,
        cameras=list(meta.camera_keys),
    )
    if applied.changed:
        report.changes = [f"{plugin}: {summary}" for plugin, summary in applied.plugin_summaries]
        report.result = feature_changes(dataset.features, applied.dataset.features)
    return report


def _shape(feature: dict[str, Any]) -> list[int] | None:
    shape = feature.get("shape")
    return None if shape is None else [int(n) for n in shape]


def feature_changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The features whose shape changed or that are new, and the ones that are gone."""
    changed = {
        key: {"shape": _shape(feature), "was": _shape(before[key]) if key in before else None}
        for key, feature in after.items()
        if key not in before or _shape(before[key]) != _shape(feature)
    }
    return {"changed": changed, "removed": [key for key in before if key not in after]}


def _fmt_shape(shape: list[int] | None) -> str:
    if shape is None:
        return "?"
    return f"{shape[0]}-D" if len(shape) == 1 else "x".join(str(n) for n in shape)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def format_report(report: InspectReport, per_dim: bool = True) -> str:
    lines = [
        f"dataset: {report.root}",
        f"  robot_type {report.robot_type!r}, {report.fps} fps, {report.total_episodes} episodes, {report.total_frames} frames",
        f"  cameras: {', '.join(report.cameras) or 'none'}",
        f"robot adapter: {report.adapter or 'none'} ({report.adapter_reason})",
        *(f"  - {note}" for note in report.notes),
    ]
    for vector in report.vectors:
        lines.append("")
        lines.append(f"{vector.key}: {vector.width}-D, groups from {vector.source or 'nowhere (no names)'}")
        for group in vector.groups:
            names = " = ".join(group["names"])
            lines.append(f"  [{group['start']}:{group['stop']}] {names}  ({', '.join(group['sources'])})")
        if per_dim:
            lines.append(f"  {'dim':>4}  {'name':<32} {'group':<32} {'min':>10} {'max':>10}")
        for dim in vector.dims if per_dim else []:
            flag = "  constant" if dim["constant"] else ""
            lines.append(
                f"  {dim['dim']:>4}  {dim['name'] or '-'!s:<32.32} {dim['group'] or '-'!s:<32.32} "
                f"{_fmt(dim['min']):>10} {_fmt(dim['max']):>10}{flag}"
            )
        lines.append(f"  constant dims: {vector.constant_dims or 'none'}")
    if report.changes or report.result:
        lines.append("")
        lines.append("with the requested flags:")
        lines.extend(f"  {summary}" for summary in report.changes)
        for key, change in report.result.get("changed", {}).items():
            was = f" (was {_fmt_shape(change['was'])})" if change["was"] is not None else " (new)"
            lines.append(f"  -> {key}: {_fmt_shape(change['shape'])}{was}")
        if report.result.get("removed"):
            lines.append(f"  -> removed: {', '.join(report.result['removed'])}")
    return "\n".join(lines)
