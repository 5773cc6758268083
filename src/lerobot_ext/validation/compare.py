"""``lerobot-ext compare CKPT... --dataset.root=DIR``: checkpoints side by side on the same
held-out episodes, and whether each one's action chunk fits the robot's control period.

The held-out episodes are the ones ``--dataset.eval_split`` kept out of training (upstream's rule:
the last ``ceil(n * split)`` episodes of each task), the split read from the first checkpoint's
``train_config.json`` unless ``--dataset.eval_split`` is given; a split of 0 measures on every
episode of ``DIR`` (a dataset recorded apart for validation). Every checkpoint is measured on the
same frames with the same noise (``action_error``). Latency is one action chunk at batch 1 as a
robot computes it at a chunk boundary: preprocessor, ``select_action`` from a reset policy,
postprocessor - the median of ``--rounds`` after one warm-up. A chunk computed in the control loop
stalls it for that long: it fits the control rate when it takes at most one control period
(``1/fps``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, RunContext, get_logger, load_policy
from lerobot_ext.validation.action_error import ActionError, action_names, measure
from lerobot_ext.validation.heldout import HeldOutFrames

log = get_logger("validation")
TRAIN_CONFIG = "train_config.json"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoints",
        nargs="+",
        help="checkpoint folders (checkpoints/<step>, checkpoints/best, or their pretrained_model)",
    )
    parser.add_argument(
        "--dataset.root", dest="root", required=True, help="the dataset the held-out episodes come from"
    )
    parser.add_argument(
        "--dataset.repo_id", dest="repo_id", default=None, help="its repo id (default: local/<folder name>)"
    )
    parser.add_argument(
        "--dataset.eval_split",
        dest="eval_split",
        type=float,
        default=None,
        help="share of each task's episodes held out (default: the first checkpoint's; 0: every episode)",
    )
    parser.add_argument(
        "--frames", type=int, default=512, help="held-out frames measured (a fixed, seeded choice)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the frames chosen and of the noise")
    parser.add_argument(
        "--batch_size",
        type=int,
        default=None,
        help="frames per batch (default: the first checkpoint's training batch size, which the run's own "
        "measurement used: the noise drawn depends on it)",
    )
    parser.add_argument("--device", default=None, help="default: each checkpoint's policy.device")
    parser.add_argument(
        "--rounds", type=int, default=5, help="timed chunks per checkpoint (the median is reported)"
    )
    parser.add_argument("--chart", type=Path, default=None, help="write a PNG chart here (default: none)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")


@dataclass
class Compared:
    checkpoint: str
    step: int | None
    policy: str
    measured: ActionError
    latency_s: float
    period_s: float

    @property
    def fits(self) -> bool:
        return self.latency_s <= self.period_s


def model_folder(path: Path) -> Path:
    """The ``pretrained_model`` folder of a checkpoint given as the step folder, a link or itself."""
    path = Path(path)
    for candidate in (path / "pretrained_model", path):
        if (candidate / "config.json").is_file():
            return candidate
    raise ConfigError(
        f"{path} is not a checkpoint (no config.json in it or in its pretrained_model/); give "
        "<output_dir>/checkpoints/<step>, checkpoints/best or checkpoints/last"
    )


def checkpoint_step(folder: Path) -> int | None:
    name = folder.resolve().parent.name if folder.name == "pretrained_model" else folder.resolve().name
    return int(name) if name.isdigit() else None


def saved_training(folder: Path) -> dict[str, Any]:
    """The checkpoint's ``train_config.json`` (empty when it has none: a policy saved otherwise)."""
    try:
        return json.loads((folder / TRAIN_CONFIG).read_text())
    except (OSError, ValueError):
        return {}


def held_out_episodes(episode_tasks: list[list[str]], split: float) -> list[int]:
    """The episodes ``--dataset.eval_split=split`` keeps out of training: the last
    ``ceil(n * split)`` of each task's episodes (grouped by an episode's first task), as upstream's
    ``make_train_eval_datasets`` holds them out. Every episode when ``split`` is 0."""
    if split <= 0:
        return list(range(len(episode_tasks)))
    by_task: dict[str, list[int]] = {}
    for index, tasks in enumerate(episode_tasks):
        by_task.setdefault(tasks[0] if tasks else "", []).append(index)
    held: list[int] = []
    for episodes in by_task.values():
        held.extend(episodes[len(episodes) - math.ceil(len(episodes) * split) :])
    return sorted(held)


def current_frame(item: dict[str, Any], features: dict[str, Any]) -> dict[str, Any]:
    """What a robot gives the policy at one control step: the observation of the item's current
    frame and its task. A feature with an observation window has one more dim than the dataset
    declares (lerobot drops it for a single decoded video frame): its last entry is the current one."""
    frame: dict[str, Any] = {}
    for key, value in item.items():
        if key.startswith("observation.") and key in features:
            declared = len(features[key].get("shape") or ())
            frame[key] = value[-1] if getattr(value, "ndim", 0) > declared else value
        elif key == "task":
            frame[key] = value
    return frame


def chunk_latency(
    policy: Any, preprocessor: Any, postprocessor: Any, frame: dict[str, Any], rounds: int
) -> float:
    """Seconds for one action chunk at batch 1 (median of ``rounds`` after one warm-up)."""
    import torch

    def one() -> float:
        start = time.perf_counter()
        batch = preprocessor(
            {k: (v.unsqueeze(0) if hasattr(v, "unsqueeze") else [v]) for k, v in frame.items()}
        )
        policy.reset()
        with torch.no_grad():
            postprocessor(policy.select_action(batch))
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - start

    one()
    return statistics.median(one() for _ in range(max(1, rounds)))


def compare_checkpoints(args: argparse.Namespace, hooks: Any = None) -> list[Compared]:
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

    folders = [model_folder(Path(p)) for p in args.checkpoints]
    root = Path(args.root)
    if not (root / "meta" / "info.json").is_file():
        raise ConfigError(f"--dataset.root={root} is not a LeRobot dataset (no meta/info.json)")
    training = saved_training(folders[0])
    split = (
        float((training.get("dataset") or {}).get("eval_split") or 0.0)
        if args.eval_split is None
        else args.eval_split
    )
    batch_size = args.batch_size or int(training.get("batch_size") or 64)
    if not 0 <= split < 1:
        raise ConfigError(f"--dataset.eval_split={split} must be in [0, 1)")
    repo_id = args.repo_id or f"local/{root.name}"
    meta = LeRobotDatasetMetadata(repo_id, root=root)
    episodes = held_out_episodes([list(t) for t in meta.episodes["tasks"]], split)
    results = []
    for folder in folders:
        # With the plugins' checkpoint_loading changes (a self-contained VLA's own VLM files).
        policy, preprocessor, postprocessor = load_policy(folder, device=args.device or None, hooks=hooks)
        config = policy.config
        dataset = LeRobotDataset(
            repo_id, root=root, episodes=episodes, delta_timestamps=resolve_delta_timestamps(config, meta)
        )
        frames = HeldOutFrames(dataset, args.frames, args.seed, batch_size)
        width = int(config.action_feature.shape[0])
        measured = measure(
            policy,
            preprocessor,
            frames.batches(),
            args.seed,
            frames.image_keys,
            policy_action_names(meta.features, width),
        )
        latency = chunk_latency(
            policy, preprocessor, postprocessor, current_frame(dataset[0], meta.features), args.rounds
        )
        results.append(
            Compared(str(folder), checkpoint_step(folder), config.type, measured, latency, 1.0 / meta.fps)
        )
        print(
            f"  {folder}: action_error {measured.total:.5f}, latency {latency * 1e3:.1f} ms "
            f"({len(episodes)} held-out episodes, {measured.frames} frames)",
            flush=True,
        )
    return results


def policy_action_names(dataset_features: dict[str, Any], width: int) -> list[str]:
    """The names of the policy's ``width`` action dims: the dataset's, or its first ``width`` when
    the run kept fewer (``--action_keep_dims`` keeps the leading dims)."""
    full = (dataset_features.get("action") or {}).get("names")
    if isinstance(full, dict):
        full = [name for group in full.values() for name in group]
    if isinstance(full, list | tuple) and len(full) > width:
        return action_names({"action": {"names": list(full[:width])}}, width)
    return action_names(dataset_features, width)


def table(results: list[Compared]) -> list[str]:
    names = results[0].measured.names
    best = min(results, key=lambda r: r.measured.total)
    lines = [
        "| checkpoint | step | policy | action_error | worst dim | "
        + " | ".join(names)
        + " | chunk latency | control period | fits |",
        "|---|---:|---|---:|---|" + "---:|" * len(names) + "---:|---:|---|",
    ]
    for r in results:
        m = r.measured
        worst = max(range(len(m.per_dim)), key=m.per_dim.__getitem__)
        mark = " (best)" if r is best and len(results) > 1 else ""
        lines.append(
            f"| {r.checkpoint}{mark} | {r.step if r.step is not None else '-'} | {r.policy} | {m.total:.5f} | "
            f"{m.names[worst]} | "
            + " | ".join(f"{v:.5f}" for v in m.per_dim)
            + f" | {r.latency_s * 1e3:.1f} ms | {r.period_s * 1e3:.1f} ms | {'yes' if r.fits else 'NO'} |"
        )
    return lines


def chart(results: list[Compared], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(r.step) if r.step is not None else Path(r.checkpoint).name for r in results]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    positions = range(len(results))
    left.bar(
        positions, [r.measured.total for r in results], color="tab:blue", alpha=0.6, label="mean over dims"
    )
    names = results[0].measured.names
    for index, name in enumerate(names[:12]):  # beyond a dozen dims the lines hide each other
        left.plot(
            positions, [r.measured.per_dim[index] for r in results], marker=".", linewidth=0.8, label=name
        )
    left.set_xticks(list(positions), labels, rotation=45, ha="right")
    left.set_ylabel("executed-action MSE (normalised)")
    left.set_title("held-out executed-action error")
    left.legend(fontsize=6, ncol=2)
    right.bar(
        positions,
        [r.latency_s * 1e3 for r in results],
        color=["tab:green" if r.fits else "tab:red" for r in results],
    )
    right.axhline(results[0].period_s * 1e3, color="black", linestyle="--", label="control period (1/fps)")
    right.set_xticks(list(positions), labels, rotation=45, ha="right")
    right.set_ylabel("ms per action chunk (batch 1)")
    right.set_title("chunk latency vs the control period")
    right.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(args: argparse.Namespace, context: RunContext | None = None) -> int:
    if args.frames < 1 or args.rounds < 1:
        raise ConfigError("--frames and --rounds must be >= 1")
    results = compare_checkpoints(args, context.hooks if context is not None else None)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "checkpoint": r.checkpoint,
                        "step": r.step,
                        "policy": r.policy,
                        **r.measured.as_row(),
                        "frames": r.measured.frames,
                        "latency_s": r.latency_s,
                        "control_period_s": r.period_s,
                        "fits_control_rate": r.fits,
                    }
                    for r in results
                ]
            )
        )
    else:
        print("\n".join(table(results)))
    if args.chart is not None:
        chart(results, args.chart)
        print(f"chart: {args.chart}")
    return 0
