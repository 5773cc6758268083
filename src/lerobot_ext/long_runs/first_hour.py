"""The errors of a run's first hour, as one line each, before anything is written or fetched."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lerobot_ext.errors import ConfigError


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
    """A --dataset.root that holds no LeRobot dataset: name it, before lerobot tries the Hub."""
    root = getattr(cfg.dataset, "root", None) if cfg.dataset is not None else None
    if not root:
        return
    root = Path(root).expanduser()
    if (root / "meta" / "info.json").is_file():
        return
    if not root.exists():
        what = "does not exist"
    elif not root.is_dir():
        what = "is a file, not a folder"
    else:
        entries = sorted(p.name for p in root.iterdir())[:8]
        what = f"has no meta/info.json (it holds: {', '.join(entries) or 'nothing'})"
    raise ConfigError(
        f"--dataset.root={root} {what}; point it at a LeRobot dataset's folder (the one with meta/, data/ "
        "and videos/) - nothing was fetched from the Hub"
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def check_offline_policy_path() -> None:
    """``HF_HUB_OFFLINE`` with a Hub ``--policy.path`` that is not in the local cache: say so."""
    from lerobot.configs import parser

    path = parser.get_path_arg("policy")
    if not path or Path(path).expanduser().exists() or not _offline():
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(path, "config.json"), str):
        return
    raise ConfigError(
        f"HF_HUB_OFFLINE is set and --policy.path={path} is not in the local Hugging Face cache; download it "
        f"first (`huggingface-cli download {path}` with HF_HUB_OFFLINE unset), or give --policy.path a local folder"
    )


def checkpoint_bytes(policy: Any, ema: bool) -> int:
    """What one checkpoint of ``policy`` takes: its weights, the optimizer's two moments (Adam),
    and an EMA copy when EMA is on; 5% for configs, processors and the rest."""
    weights = sum(p.numel() * p.element_size() for p in policy.parameters())
    copies = 1 + 2 + (1 if ema else 0)
    return int(weights * copies * 1.05)


def check_disk_room(cfg: Any, policy: Any) -> None:
    """An output dir on a disk without room for one checkpoint fails at the first save - hours in."""
    if not cfg.save_checkpoint or cfg.output_dir is None:
        return
    ema = bool(getattr(getattr(cfg, "ema", None), "enable", False))
    needed = checkpoint_bytes(policy, ema)
    probe = Path(cfg.output_dir).resolve()
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        parameters = sum(p.numel() for p in policy.parameters())
        raise ConfigError(
            f"--output_dir={cfg.output_dir} is on a disk with {free / 1e9:.2f} GB free, but one checkpoint of "
            f"this {parameters / 1e6:.1f}M-parameter policy needs about {needed / 1e9:.2f} GB (weights, optimizer "
            "state" + (", EMA weights" if ema else "") + "); free some space or choose another --output_dir"
        )
