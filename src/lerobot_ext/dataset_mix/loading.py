"""Loading ``--dataset.mix``'s datasets as upstream loads ``--dataset.repo_id``/``--dataset.root``."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, DatasetSource, check_dataset_version, is_true

FLAG = "--dataset.mix"
WEIGHTS_FLAG = "--dataset.mix_weights"
#: What a local folder looks like in a mix entry (a Hub id is ``owner/name``).
_PATH_PREFIXES = ("/", "./", "../", "~", ".\\")


def is_local(entry: str) -> bool:
    """An existing folder is a local dataset root; anything else names a Hub dataset."""
    return Path(entry).expanduser().is_dir()


def check_entries(cfg: Any) -> None:
    """Refuse a mix the run cannot load, before any data is read (one line each)."""
    mix = list(cfg.dataset.mix or [])
    weights = cfg.dataset.mix_weights
    if weights is not None and not mix:
        raise ConfigError(
            f"{WEIGHTS_FLAG}={list(weights)} without {FLAG}: the weights are the shares of the mixed "
            f"datasets; add {FLAG}=[DIR_OR_REPO_ID,...] or drop {WEIGHTS_FLAG}"
        )
    if not mix:
        return
    if getattr(cfg, "sample_weighting", None) is not None:
        raise ConfigError(
            f"{FLAG} with --sample_weighting: upstream looks each frame's weight up by its index in the run's "
            "own dataset, which the mixed datasets' indices repeat; train without one of the two"
        )
    if getattr(cfg, "max_eval_samples", 0) and cfg.dataset.eval_split:
        raise ConfigError(
            f"{FLAG} with --max_eval_samples={cfg.max_eval_samples}: upstream subsamples one dataset's held-out "
            "frames by task, not a mix's; drop --max_eval_samples (every held-out frame is evaluated) or the mix"
        )
    if cfg.dataset.streaming:
        raise ConfigError(
            f"{FLAG} mixes map-style datasets; --dataset.streaming=true streams one: drop one of the two"
        )
    seen = {_identity(cfg.dataset.root, cfg.dataset.repo_id)}
    for entry in mix:
        text = str(entry).strip()
        if not text or "," in text:
            raise ConfigError(
                f"{FLAG} has a malformed entry {entry!r}; write the list in brackets without spaces: "
                f"{FLAG}=[/data/recording2,owner/dataset3]"
            )
        if is_local(text):
            root = Path(text).expanduser()
            check_dataset_version(root, FLAG)
            if not (root / "meta" / "info.json").is_file():
                raise ConfigError(
                    f"{FLAG}: {root} is a folder but not a LeRobot dataset (no meta/info.json); name the "
                    "dataset's root folder, or a Hub repo id"
                )
        elif text.startswith(_PATH_PREFIXES) or text.count("/") != 1:
            raise ConfigError(
                f"{FLAG}: {text} is neither an existing folder nor a Hub repo id (owner/name); check the path"
            )
        identity = _identity(text if is_local(text) else None, text)
        if identity in seen:
            raise ConfigError(
                f"{FLAG}: {text} is named twice (or is the run's own dataset); name each dataset once and "
                f"give it more weight with {WEIGHTS_FLAG}"
            )
        seen.add(identity)
    if weights is not None:
        if len(weights) != len(mix) + 1:
            raise ConfigError(
                f"{WEIGHTS_FLAG} has {len(weights)} weights for {len(mix) + 1} datasets; give one per "
                f"dataset, the run's own first: {WEIGHTS_FLAG}=[{','.join(['1'] * (len(mix) + 1))}]"
            )
        bad = [w for w in weights if not (math.isfinite(w) and w > 0)]
        if bad:
            raise ConfigError(
                f"{WEIGHTS_FLAG}={list(weights)}: every weight must be a positive number (got {bad}); "
                "leave a dataset out of --dataset.mix rather than giving it 0"
            )


def _identity(root: Any, repo_id: Any) -> str:
    if root is not None and Path(str(root)).expanduser().is_dir():
        return str(Path(str(root)).expanduser().resolve())
    return str(repo_id)


def load_sources(cfg: Any) -> list[DatasetSource]:
    """Each mixed dataset, train and held-out parts, loaded by upstream's
    ``make_train_eval_datasets`` with the run's ``--dataset.*`` options (its own episodes: all)."""
    from lerobot.datasets.factory import make_train_eval_datasets

    sources = []
    for entry in cfg.dataset.mix:
        text = str(entry).strip()
        local = is_local(text)
        one = copy.copy(cfg)
        one.dataset = dataclasses.replace(
            cfg.dataset,
            repo_id=f"local/{Path(text).expanduser().resolve().name}" if local else text,
            root=str(Path(text).expanduser().resolve()) if local else None,
            episodes=None,
            mix=[],
            mix_weights=None,
        )
        try:
            train, held_out = make_train_eval_datasets(one)
        except Exception as error:
            # Upstream's eval split leaving no training episode, an incomplete folder, a Hub id
            # that is neither reachable nor cached: one line, not the loader's traceback.
            where = (
                "a complete LeRobot v3 dataset folder (meta/, data/, videos/)"
                if local
                else "a Hub dataset reachable now or already in the cache (HF_HUB_OFFLINE is "
                f"{'set' if _offline() else 'not set'})"
            )
            raise ConfigError(
                f"{FLAG}: cannot load {text} ({type(error).__name__}: {error}); it must be {where}"
            ) from error
        sources.append(DatasetSource(text, train, held_out))
    return sources


def _offline() -> bool:
    return is_true(os.environ.get("HF_HUB_OFFLINE"))
