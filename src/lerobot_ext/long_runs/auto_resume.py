"""``--auto_resume=true``: the same command line continues the run in ``--output_dir``.

If ``<output_dir>/checkpoints/last`` exists, the run resumes from it exactly as
``--resume=true --config_path=<last>/pretrained_model/train_config.json`` would (upstream's resume:
weights, optimizer, scheduler, RNG state and data order), after checking that every flag the
command sets agrees with the saved config - except those a continued run may change. Without a
checkpoint to continue the run starts afresh: a folder that does not exist is simply created; a
folder that exists but holds no complete checkpoint (a run killed before its first save, or while
writing it) is moved aside to ``<output_dir>.interrupted-<time>`` - nothing is deleted - and the
run starts in its place. A folder holding a complete step checkpoint but no ``last`` (copied
without its link) is refused with what to do: which checkpoint to continue is the user's call.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, RunContext, get_logger, step_checkpoints

log = get_logger("long_runs")
# How long the other processes of a launch wait for the main one to move an interrupted run aside.
_WAIT_FOR_MAIN_S = 120.0

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
        "keep_last_checkpoints",
        "profile",
        "data_cache",
        "output_dir",
    }
)
# Single fields a continued run may change (whole sections above, by first segment). The learning
# rate: the long_runs plugin applies a new one after upstream's resume loaded the old one.
MAY_CHANGE_FIELDS = frozenset({"optimizer.lr"})
# Flags of the command that say how to continue, not what the run is: never compared or passed on.
_HOW_TO_CONTINUE = frozenset({"resume", "auto_resume", "config_path"})


def last_checkpoint_config(output_dir: Path) -> Path | None:
    """``train_config.json`` of the checkpoint ``checkpoints/last`` points to (through the link:
    the resumed run then records the step it continued from, not ``last``)."""
    last = Path(output_dir) / "checkpoints" / "last"
    config = last.resolve() / "pretrained_model" / "train_config.json"
    return config if last.exists() and config.is_file() else None


def _head(dotted: str) -> str:
    return dotted.split(".", 1)[0]


def may_change(dotted: str) -> bool:
    """Whether a continued run may set the flag ``dotted`` differently."""
    return _head(dotted) in MAY_CHANGE or dotted in MAY_CHANGE_FIELDS


def _value(cfg: Any, dotted: str) -> Any:
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _original_policy_path(saved_file: Path, output_dir: Path) -> str | None:
    """The ``--policy.path`` the run was started from, read from ``train_config.json`` files.

    A resumed run's config has ``resume: true`` and its ``policy.pretrained_path`` names the
    checkpoint it resumed from (``checkpoints/<step>/pretrained_model``), whose config says where
    *that* came from: follow the chain (in ``output_dir``, where the run is now). ``None`` when a
    link of it is gone (``--keep_last_checkpoints`` removed it).
    """
    data = json.loads(saved_file.read_text())
    seen: set[Path] = set()
    while data.get("resume"):
        path = (data.get("policy") or {}).get("pretrained_path")
        if not path:
            return None
        step = Path(path).parent.name  # checkpoints/<step>/pretrained_model
        config = output_dir / "checkpoints" / step / "pretrained_model" / "train_config.json"
        if config in seen or not config.is_file():
            return None
        seen.add(config)
        data = json.loads(config.read_text())
    path = (data.get("policy") or {}).get("pretrained_path")
    return None if path is None else str(path)


def disagreements(
    saved: Any, applied: Any, flags: dict[str, str], saved_file: Path, output_dir: Path
) -> list[str]:
    """The flags of the command (``flags``) that would change the run continued (``saved``).

    ``applied`` is ``saved`` with those flags parsed on top, the way lerobot-train reads them:
    a flag agrees when it changes nothing, whatever way its value is written.
    """
    found = []
    for dotted, raw in flags.items():
        if may_change(dotted) or _head(dotted) in _HOW_TO_CONTINUE:
            continue
        if dotted == "policy.path":
            original = _original_policy_path(saved_file, output_dir)
            if original is None:
                log.info(
                    "--auto_resume: the run's original --policy.path is no longer on record; not compared"
                )
            elif str(Path(raw)) != str(Path(original)):
                found.append(f"--policy.path={raw} (the run in progress was started from {original!r})")
            continue
        theirs, mine = _value(saved, dotted), _value(applied, dotted)
        if mine != theirs:
            found.append(f"--{dotted}={raw} (the run in progress has {theirs!r})")
    return found


def _refuse_without_last(output_dir: Path) -> ConfigError | None:
    """The refusal for a folder with a complete step checkpoint but no ``checkpoints/last``."""
    complete = step_checkpoints(output_dir / "checkpoints")
    if complete:
        newest = complete[-1]
        return ConfigError(
            f"--auto_resume=true: {output_dir} has the complete checkpoint {newest.name} but no "
            f"checkpoints/last (copied without its link?); point it at the checkpoint to continue "
            f"(`ln -s {newest.name} {output_dir / 'checkpoints' / 'last'}`) and re-run the same command"
        )
    return None


def _held(output_dir: Path) -> str:
    held = sorted(
        str(p.relative_to(output_dir)) for p in [*output_dir.iterdir(), *output_dir.glob("checkpoints/*")]
    )
    return ", ".join(held[:6]) + (f" and {len(held) - 6} more" if len(held) > 6 else "") or "nothing"


def _start_afresh_beside(output_dir: Path, rank: int) -> None:
    """Move a folder without a complete checkpoint aside, so the run can start in its place.

    Only the main process moves it; the others (configure runs in every process, before the
    process group exists) wait until it is gone, as upstream refuses an existing --output_dir.
    """
    if rank == 0:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        aside = output_dir.with_name(f"{output_dir.name}.interrupted-{stamp}")
        suffix = 1
        while aside.exists():
            suffix += 1
            aside = output_dir.with_name(f"{output_dir.name}.interrupted-{stamp}-{suffix}")
        held = _held(output_dir)
        output_dir.rename(aside)
        log.warning(
            "--auto_resume: %s had no complete checkpoint to continue (it held: %s); moved it to %s "
            "(nothing deleted) and starting the run afresh",
            output_dir,
            held,
            aside,
        )
        return
    deadline = time.monotonic() + _WAIT_FOR_MAIN_S
    while output_dir.exists():
        if time.monotonic() > deadline:
            raise ConfigError(
                f"--auto_resume=true: rank {rank} waited {_WAIT_FOR_MAIN_S:.0f} s for the main "
                f"process to move {output_dir} (no complete checkpoint) aside; see the main process's log"
            )
        time.sleep(0.2)


def resumed_config(cfg: Any, run: RunContext) -> Any | None:
    """The config continuing the run in ``cfg.output_dir``, or None when there is nothing to continue."""
    if cfg.output_dir is None:
        raise ConfigError(
            "--auto_resume=true needs --output_dir=<folder>: the run to continue is found there"
        )
    output_dir = Path(cfg.output_dir)
    saved_file = last_checkpoint_config(output_dir)
    if saved_file is None:
        if output_dir.exists():
            refusal = _refuse_without_last(output_dir)
            if refusal is not None:
                raise refusal
            _start_afresh_beside(output_dir, run.rank)
        else:
            log.info("--auto_resume: no run in %s yet; starting it", output_dir)
        return None
    flags = run.flags
    config_class = type(cfg)
    saved = config_class.from_pretrained(saved_file)
    compared = [
        f"--{name}={value}"
        for name, value in flags.items()
        if not may_change(name) and _head(name) not in _HOW_TO_CONTINUE and name != "policy.path"
    ]
    applied = run.parse_config([f"--config_path={saved_file}", *compared])
    differ = disagreements(saved, applied, flags, saved_file, output_dir)
    if differ:
        allowed = ", ".join(f"--{name}" for name in sorted(MAY_CHANGE | MAY_CHANGE_FIELDS))
        lr_hint = (
            " (a continued run's learning rate is --optimizer.lr: the policy's preset only starts a run)"
            if any(d.startswith("--policy.optimizer_lr=") for d in differ)
            else ""
        )
        raise ConfigError(
            f"--auto_resume=true would continue the run in {output_dir}, but this command sets "
            f"{'; '.join(differ)}{lr_hint}. Re-run it with that run's flags (only {allowed} may change), "
            "or give a new --output_dir"
        )
    # The flags that may change are passed on; --output_dir too, so that a run moved to another
    # folder continues there, not in the folder its saved config names.
    overrides = [f"--{name}={value}" for name, value in flags.items() if may_change(name)]
    resumed = run.resume_config(saved_file, [*overrides, f"--output_dir={output_dir}"])
    log.info("--auto_resume: continuing %s from checkpoint %s", output_dir, saved_file.parent.parent.name)
    return resumed
