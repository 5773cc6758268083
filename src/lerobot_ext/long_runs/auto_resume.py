"""``--auto_resume=true``: the same command line continues the run in ``--output_dir``.

If ``<output_dir>/checkpoints/last`` exists, the run resumes from it exactly as
``--resume=true --config_path=<last>/pretrained_model/train_config.json`` would (upstream's resume:
weights, optimizer, scheduler, RNG state and data order), after checking that every flag the
command sets agrees with the saved config - except those a continued run may change. Otherwise
the run starts fresh.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lerobot_ext.console import get_logger
from lerobot_ext.errors import ConfigError

log = get_logger("long_runs")

# Flags (first segment) a continued run may set differently from the run it continues.
MAY_CHANGE = frozenset(
    {
        "steps",
        "log_freq",
        "save_freq",
        "eval_freq",
        "env_eval_freq",
        "eval_steps",
        "num_workers",
        "prefetch_factor",
        "persistent_workers",
        "wandb",
        "resume",
        "auto_resume",
        "keep_last_checkpoints",
        "profile",
        "data_cache",
        "output_dir",
        "config_path",
    }
)


def last_checkpoint_config(output_dir: Path) -> Path | None:
    config = Path(output_dir) / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    return config if config.is_file() else None


def _flag_paths(args: list[str]) -> list[tuple[str, str]]:
    """``(dotted field, raw text)`` of each ``--field=value`` the command sets (the last one of a
    flag given twice, as the parser takes it)."""
    out: dict[str, str] = {}
    for arg in args:
        if arg.startswith("--") and "=" in arg:
            name, value = arg[2:].split("=", 1)
            out.pop(name, None)
            out[name] = value
    return list(out.items())


def _value(cfg: Any, dotted: str) -> Any:
    value = cfg
    for part in dotted.split("."):
        if part == "path" and hasattr(value, "pretrained_path"):
            return str(value.pretrained_path)
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def disagreements(fresh: Any, saved: Any, args: list[str]) -> list[str]:
    """The flags of ``args`` whose value in ``fresh`` differs from ``saved`` (the run continued)."""
    found = []
    for dotted, raw in _flag_paths(args):
        if dotted.split(".", 1)[0] in MAY_CHANGE:
            continue
        mine, theirs = _value(fresh, dotted), _value(saved, dotted)
        if mine != theirs:
            found.append(f"--{dotted}={raw} (the run in progress has {theirs!r})")
    return found


def resumed_config(cfg: Any, args: list[str]) -> Any | None:
    """The config continuing the run in ``cfg.output_dir``, or None when there is nothing to continue."""
    from lerobot_ext.cli.train import parse_config

    if cfg.output_dir is None:
        raise ConfigError(
            "--auto_resume=true needs --output_dir=<folder>: the run to continue is found there"
        )
    saved_file = last_checkpoint_config(Path(cfg.output_dir))
    if saved_file is None:
        if Path(cfg.output_dir).is_dir():
            raise ConfigError(
                f"--auto_resume=true: {cfg.output_dir} exists but has no complete checkpoint "
                "(checkpoints/last) to continue; remove it or pick another --output_dir"
            )
        log.info("--auto_resume: no checkpoint in %s yet; starting a fresh run", cfg.output_dir)
        return None
    saved = type(cfg).from_pretrained(saved_file)
    differ = disagreements(cfg, saved, args)
    if differ:
        raise ConfigError(
            f"--auto_resume=true would continue the run in {cfg.output_dir}, but this command sets "
            f"{'; '.join(differ)}. Re-run it with that run's flags (only {', '.join(sorted(MAY_CHANGE - {'resume', 'auto_resume', 'config_path', 'output_dir'}))} "
            "may change), or give a new --output_dir"
        )
    overrides = [
        arg
        for arg in args
        if arg.startswith("--") and arg[2:].split("=", 1)[0].split(".", 1)[0] in MAY_CHANGE
    ]
    overrides = [a for a in overrides if not a.startswith(("--resume", "--config_path", "--output_dir"))]
    program = sys.argv[0] if sys.argv else "lerobot-train-ext"
    resumed = parse_config(["--resume=true", f"--config_path={saved_file}", *overrides], type(cfg))
    sys.argv[0] = program
    log.info("--auto_resume: continuing %s from %s", cfg.output_dir, saved_file.parent.parent)
    return resumed
