"""The errors of a run's first hour, as one line each, before anything is written or fetched."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, check_dataset_version, is_true

# What lerobot reads of a LeRobot v3 dataset's metadata (lerobot.datasets.utils' paths).
INFO = "meta/info.json"
STATS = "meta/stats.json"
TASKS = "meta/tasks.parquet"
EPISODES = "meta/episodes"


def check_output_dir(cfg: Any) -> None:
    """An existing --output_dir ends upstream in FileExistsError; say how to continue instead."""
    if cfg.resume or getattr(cfg, "auto_resume", False) or cfg.output_dir is None:
        return
    output = Path(cfg.output_dir)
    if not output.is_dir():
        return
    last = output / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    if last.is_file():
        continue_with = (
            f"continue it with the same command and --auto_resume=true, or --resume=true --config_path={last}"
        )
    else:
        continue_with = "it has no complete checkpoint to continue from"
    raise ConfigError(
        f"--output_dir={output} already exists: {continue_with}; or pick another --output_dir "
        "(lerobot-train-ext never overwrites a run)"
    )


def check_dataset_root(cfg: Any) -> None:
    """A --dataset.root that holds no (complete) LeRobot dataset: name it and what is missing,
    before lerobot turns to the Hub for it."""
    root = getattr(cfg.dataset, "root", None) if cfg.dataset is not None else None
    if not root:
        return
    root = Path(root).expanduser()
    if not root.exists():
        what = "does not exist"
    elif not root.is_dir():
        what = "is a file, not a folder"
    elif not (root / INFO).is_file():
        entries = sorted(p.name for p in root.iterdir())[:8]
        what = f"has no {INFO} (it holds: {', '.join(entries) or 'nothing'})"
    else:
        check_dataset_version(root, "--dataset.root")  # a v2.x folder: its version and the convert command
        missing = missing_dataset_files(root, cfg.dataset.repo_id, getattr(cfg.dataset, "episodes", None))
        if not missing:
            return
        what = f"is not a complete LeRobot dataset: {missing}"
    raise ConfigError(
        f"--dataset.root={root} {what}; point it at a LeRobot dataset's folder (the one with meta/, data/ "
        "and videos/) - nothing was fetched from the Hub"
    )


def _first(paths: list[str], limit: int = 3) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def missing_dataset_files(root: Path, repo_id: str, episodes: list[int] | None) -> str | None:
    """What of a LeRobot v3 dataset lerobot reads locally is not under ``root`` (``None``: all
    there). lerobot loads ``meta/`` first and the episodes' data and video files next, and goes to
    the Hub for whatever is missing - which, for a local dataset, ends in a network error."""
    try:
        info = json.loads((root / INFO).read_text())
    except (OSError, ValueError) as exc:
        return f"{INFO} cannot be read ({exc})"
    missing = []
    if not (root / STATS).is_file():
        missing.append(f"{STATS} (the normalisation statistics)")
    if info.get("total_tasks", 0) > 0 and not (root / TASKS).is_file():
        missing.append(TASKS)
    if info.get("total_episodes", 0) > 0 and not any((root / EPISODES).glob("**/*.parquet")):
        missing.append(f"{EPISODES}/ (the episodes' parquet files)")
    if missing:
        return f"no {'; no '.join(missing)}"
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    # meta/ is complete, so this reads it from disk (no Hub access).
    meta = LeRobotDatasetMetadata(repo_id, root=root)
    wanted = list(range(meta.total_episodes)) if episodes is None else list(episodes)
    table = meta.episodes
    expected = {
        meta.data_path.format(
            chunk_index=table["data/chunk_index"][i], file_index=table["data/file_index"][i]
        )
        for i in wanted
    }
    for key in meta.video_keys:
        chunks, files = table[f"videos/{key}/chunk_index"], table[f"videos/{key}/file_index"]
        expected |= {
            meta.video_path.format(video_key=key, chunk_index=chunks[i], file_index=files[i]) for i in wanted
        }
    absent = sorted(path for path in expected if not (root / path).is_file())
    if absent:
        return f"{len(absent)} of its {len(expected)} data and video files are missing ({_first(absent)})"
    return None


def check_resume_flags(flags: dict[str, str]) -> None:
    """The ways to continue a run, one at a time, each with what it needs."""
    resume = is_true(flags.get("resume"))
    if resume and is_true(flags.get("auto_resume")):
        raise ConfigError(
            "--auto_resume=true and --resume=true are two ways to continue a run: give --auto_resume=true "
            "alone (it continues from <output_dir>/checkpoints/last), or --resume=true "
            "--config_path=<run>/checkpoints/last/pretrained_model/train_config.json without --auto_resume"
        )
    if resume and not flags.get("config_path"):
        raise ConfigError(
            "--resume=true needs --config_path=<run>/checkpoints/last/pretrained_model/train_config.json "
            "(the checkpoint to continue); or continue a run with the command that started it and "
            "--auto_resume=true"
        )


def resumed_checkpoint(cfg: Any, argv: Sequence[str]) -> Path | None:
    """The local ``pretrained_model/`` folder a ``--resume`` continues from (upstream builds the
    policy and its processors from it), read from ``--config_path`` in ``argv``; ``None`` when not
    resuming or when ``--config_path`` is a Hub repo (upstream downloads that one)."""
    if not cfg.resume:
        return None
    given = next((arg.split("=", 1)[1] for arg in reversed(argv) if arg.startswith("--config_path=")), None)
    if not given:
        return None
    path = Path(given).expanduser()
    if path.is_file():
        return path.parent
    return path if path.is_dir() else None


def checkpoint_bytes(policy: Any, ema: bool) -> int:
    """What one checkpoint of ``policy`` takes: its weights, the optimizer's two moments (Adam),
    and with EMA two more copies (``training_state/ema_state.pt`` and the deployable
    ``pretrained_model_ema/``); 5% for configs, processors and the rest."""
    weights = sum(p.numel() * p.element_size() for p in policy.parameters())
    copies = 1 + 2 + (2 if ema else 0)
    return int(weights * copies * 1.05)


def least_across_processes(value: int) -> int:
    """The smallest ``value`` of all processes of the run (one all-reduce under torchrun), so
    that every process takes the same branch and none waits at a barrier for one that left."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    import torch
    from accelerate import PartialState

    tensor = torch.tensor([value], dtype=torch.int64, device=PartialState().device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return int(tensor.item())


def check_disk_room(cfg: Any, policy: Any, rank: int) -> None:
    """An output dir on a disk without room for one checkpoint fails at the first save - hours in.

    Called in every process: under torchrun the processes agree on the fullest disk (machines may
    differ), the main process says it in one line and exits 2, the others exit 2 quietly.
    """
    if not cfg.save_checkpoint or cfg.output_dir is None:
        return
    ema = bool(getattr(getattr(cfg, "ema", None), "enable", False))
    needed = checkpoint_bytes(policy, ema)
    probe = Path(cfg.output_dir).resolve()
    while not probe.exists():
        probe = probe.parent
    free = least_across_processes(shutil.disk_usage(probe).free)
    if needed <= free:
        return
    if rank != 0:
        raise SystemExit(2)  # the main process reports it
    parameters = sum(p.numel() for p in policy.parameters())
    raise ConfigError(
        f"--output_dir={cfg.output_dir} is on a disk with {free / 1e9:.2f} GB free, but one checkpoint of "
        f"this {parameters / 1e6:.1f}M-parameter policy needs about {needed / 1e9:.2f} GB (weights, optimizer "
        "state" + (", two EMA copies" if ema else "") + "); free some space or choose another --output_dir"
    )
