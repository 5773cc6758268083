"""Built-in plugin ``validation``: the executed-action error on ``--dataset.eval_split``'s
held-out episodes, per checkpoint, and ``checkpoints/best``.

Through the public hooks: ``datasets_ready`` gives the held-out dataset upstream built (the last
episodes of each task: the same in a resumed run, and never trained on), ``policy_made`` and
``processors_made`` the policy and its preprocessor (main process only). ``on_step_end`` measures
every ``--eval_steps`` steps (beside upstream's eval loss), ``checkpoint_writing`` writes the
measurement of the step being saved into that checkpoint (measuring it if that step was not an
eval step), and ``on_checkpoint_saved`` points ``checkpoints/best`` at the best checkpoint on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, RunContext, get_logger, hookimpl
from lerobot_ext.validation import compare, records, upstream_names
from lerobot_ext.validation.action_error import METRICS, ActionError, action_names, measure
from lerobot_ext.validation.config import ValidationConfig
from lerobot_ext.validation.heldout import HeldOutFrames

log = get_logger("validation")


class ValidationPlugin:
    def __init__(self) -> None:
        self.frames: HeldOutFrames | None = None
        self.policy: Any = None
        self.preprocessor: Any = None
        self.measured: dict[int, ActionError] = {}

    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    @hookimpl
    def register_config_fields(self, register: Callable[..., None]) -> None:
        register(
            "validation",
            ValidationConfig,
            None,
            help="with --dataset.eval_split: the executed-action error on the held-out episodes at every "
            "--eval_steps and checkpoint, and checkpoints/best (`--validation.metric`)",
        )

    @hookimpl
    def register_commands(self, register: Callable[..., None]) -> None:
        register(
            "compare",
            "the validation metric of checkpoints on the same held-out episodes, and their latency",
            compare.configure,
            compare.run,
        )

    @hookimpl
    def configure(self, cfg: Any) -> None:
        settings = cfg.validation
        if settings.metric not in METRICS and not settings.metric.startswith("action_error."):
            raise ConfigError(
                f"--validation.metric={settings.metric} is not a metric; use one of {', '.join(METRICS)} "
                "or action_error.<action dim name>"
            )
        if settings.frames < 1:
            raise ConfigError(f"--validation.frames={settings.frames}: measure on at least 1 frame")

    @staticmethod
    def _active(cfg: Any, rank: int) -> bool:
        return bool(cfg.validation.enable) and cfg.dataset.eval_split > 0 and rank == 0

    @hookimpl
    def datasets_ready(self, cfg: Any, eval_dataset: Any, rank: int) -> None:
        self.frames, self.measured = None, {}
        if self._active(cfg, rank) and eval_dataset is not None:
            self.frames = HeldOutFrames(
                eval_dataset, cfg.validation.frames, cfg.validation.seed, cfg.batch_size
            )

    @hookimpl
    def policy_made(self, cfg: Any, policy: Any, rank: int) -> None:
        self.policy = policy if self._active(cfg, rank) else None

    @hookimpl
    def processors_made(self, cfg: Any, preprocessor: Any, rank: int) -> None:
        self.preprocessor = preprocessor if self._active(cfg, rank) else None

    @hookimpl
    def on_train_start(self, cfg: Any, rank: int) -> None:
        if self.frames is None or self.policy is None:
            return
        if not callable(getattr(self.policy, "predict_action_chunk", None)):
            log.warning(
                "validation: a %s policy has no predict_action_chunk, so its executed actions cannot be "
                "measured; upstream's eval loss is all there is (--validation.enable=false silences this)",
                self.policy.config.type,
            )
            self.frames = None
            return
        width = int(self.policy.config.action_feature.shape[0])
        names = action_names(self.frames.features, width)
        metric = cfg.validation.metric
        if metric.startswith("action_error.") and metric.removeprefix("action_error.") not in names:
            raise ConfigError(
                f"--validation.metric={metric}: the policy's actions have no dim of that name; "
                f"they are {', '.join(names)}"
            )
        self.frames.dim_names = names
        when = f"every {cfg.eval_steps} steps and " if cfg.eval_steps > 0 else ""
        log.info(
            "validation: executed-action error on %s held-out frames (%s episodes, --dataset.eval_split=%s), "
            "%sat every checkpoint; checkpoints/best follows %s",
            self.frames.count,
            self.frames.episodes,
            cfg.dataset.eval_split,
            when,
            metric,
        )

    def _measure(self, cfg: Any, step: int) -> ActionError | None:
        """This step's measurement (measured once per step), or ``None`` once measuring failed:
        a diagnostic must not end a days-long run, so a failure is logged, with what failed, and
        the run goes on without it (``checkpoints/best`` stays where it was)."""
        if step not in self.measured:
            assert self.frames is not None
            try:
                measured = measure(
                    self.policy,
                    self.preprocessor,
                    self.frames.batches(),
                    cfg.validation.seed,
                    self.frames.image_keys,
                    self.frames.dim_names,
                )
            except Exception as failure:
                log.error(
                    "validation: measuring the executed-action error failed at step %s (%s: %s); training "
                    "goes on without it (checkpoints/best stays where it is; --validation.enable=false "
                    "turns it off)",
                    step,
                    type(failure).__name__,
                    failure,
                )
                self.frames = None
                return None
            self.measured = {step: measured}
            self._report(cfg, step, measured)
        return self.measured[step]

    def _report(self, cfg: Any, step: int, measured: ActionError) -> None:
        worst = max(range(len(measured.per_dim)), key=measured.per_dim.__getitem__)
        log.info(
            "step %s: held-out executed-action error %.5f (worst dim %s: %.5f), loss %.5f on %s frames",
            step,
            measured.total,
            measured.names[worst],
            measured.per_dim[worst],
            measured.loss,
            measured.frames,
        )
        records.append_csv(Path(cfg.output_dir), step, measured)
        if cfg.wandb.enable:
            try:
                import wandb
            except ImportError:
                return
            if wandb.run is not None:
                wandb.run.log({f"eval/{k}": v for k, v in measured.as_row().items()}, step=step)

    @hookimpl
    def on_step_end(self, cfg: Any, step: int, rank: int) -> None:
        if self.frames is None or self.policy is None or rank != 0:
            return
        if cfg.eval_steps > 0 and step % cfg.eval_steps == 0:
            self._measure(cfg, step)

    @hookimpl
    def checkpoint_writing(self, cfg: Any, step: int, checkpoint_dir: Path, rank: int) -> None:
        if self.frames is None or self.policy is None or rank != 0:
            return
        measured = self._measure(cfg, step)
        if measured is not None:
            records.write_record(checkpoint_dir, step, measured)

    @hookimpl
    def on_checkpoint_saved(self, cfg: Any, step: int, rank: int, run: RunContext) -> None:
        if self.frames is None or rank != 0:
            return
        checkpoints = Path(cfg.output_dir) / "checkpoints"
        best = records.best_checkpoint(checkpoints, cfg.validation.metric)
        if best is not None and records.point_best(checkpoints, best[0]):
            log.info("checkpoints/best -> %s (%s %.5f)", best[0].name, cfg.validation.metric, best[1])


plugin = ValidationPlugin()
