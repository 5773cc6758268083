"""``--action_mse.root=DIR --action_mse.every=N``: held-out action MSE with fixed noise.

Through the public hooks: the policy (``policy_made``) and the preprocessor (``processors_made``)
are kept on the main process; ``on_train_start`` loads a fixed set of held-out frames with the
policy's own observation and action windows; ``on_step_end`` samples a chunk for each with the
same noise every time (inside ``torch.random.fork_rng``: training's random state is untouched)
and logs the error against the recorded actions, in normalised units, to the log, W&B and
``<output_dir>/action_mse.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, get_logger, hookimpl
from lerobot_ext.action_mse import upstream_names

log = get_logger("action_mse")

SUPPORTED = ("diffusion", "flow")


@dataclass
class ActionMseConfig:
    # A held-out LeRobot dataset (same robot and features, episodes not trained on); unset: off.
    root: str | None = None
    # Every how many steps (and at the last one).
    every: int = 500
    # How many held-out frames (one batch).
    samples: int = 128
    # Seed of the frames chosen and of the fixed noise.
    seed: int = 0


class ActionMsePlugin:
    # A hook (lerobot-ext doctor checks the names): module-level in upstream_names.py.
    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    def __init__(self) -> None:
        self.policy: Any = None
        self.preprocessor: Any = None
        self.batch: dict[str, Any] | None = None
        self.history: list[tuple[int, float]] = []

    @hookimpl
    def register_config_fields(self, register: Callable[..., None]) -> None:
        register(
            "action_mse",
            ActionMseConfig,
            None,
            help="held-out action MSE of sampled chunks with fixed noise, logged every N steps "
            "(`--action_mse.root=<held-out dataset>`)",
        )

    @hookimpl
    def configure(self, cfg: Any) -> None:
        settings = cfg.action_mse
        if settings.root is None:
            return
        if not (Path(settings.root) / "meta" / "info.json").is_file():
            raise ConfigError(
                f"--action_mse.root={settings.root} is not a LeRobot dataset (no meta/info.json)"
            )
        if settings.every < 1 or settings.samples < 1:
            raise ConfigError("--action_mse.every and --action_mse.samples must be >= 1")

    def _active(self, cfg: Any, rank: int) -> bool:
        return cfg.action_mse.root is not None and rank == 0

    @hookimpl
    def policy_made(self, cfg: Any, policy: Any, rank: int) -> None:
        self.policy = policy if self._active(cfg, rank) else None
        if self.policy is not None and policy.config.type not in SUPPORTED:
            raise ConfigError(
                f"--action_mse samples action chunks with fixed noise; it supports {', '.join(SUPPORTED)}, "
                f"not {policy.config.type}"
            )

    @hookimpl
    def processors_made(self, cfg: Any, preprocessor: Any, rank: int) -> None:
        self.preprocessor = preprocessor if self._active(cfg, rank) else None

    @hookimpl
    def on_train_start(self, cfg: Any, rank: int) -> None:
        self.batch, self.history = None, []
        if not self._active(cfg, rank) or self.policy is None:
            return
        import numpy as np
        import torch
        from lerobot.datasets.factory import resolve_delta_timestamps
        from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

        root = Path(cfg.action_mse.root)
        meta = LeRobotDatasetMetadata(f"local/{root.name}", root=root)
        held_out = LeRobotDataset(
            f"local/{root.name}",
            root=root,
            delta_timestamps=resolve_delta_timestamps(self.policy.config, meta),
        )
        rng = np.random.default_rng(cfg.action_mse.seed)
        indices = rng.choice(len(held_out), size=min(cfg.action_mse.samples, len(held_out)), replace=False)
        self.batch = torch.utils.data.default_collate([held_out[int(i)] for i in sorted(indices)])
        log.info(
            "--action_mse: %s held-out frames from %s, every %s steps",
            len(indices),
            root,
            cfg.action_mse.every,
        )

    def measure(self, cfg: Any) -> float:
        """Normalised MSE between sampled chunks (fixed noise) and the recorded actions."""
        import torch

        policy, config = self.policy, self.policy.config
        batch = dict(self.batch)
        for key in config.image_features:
            if batch[key].dtype == torch.uint8:
                batch[key] = batch[key].to(torch.float32) / 255
        was_training = policy.training
        policy.eval()
        try:
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.action_mse.seed)
                batch = self.preprocessor(batch)
                reset = getattr(policy, "reset", None)
                if callable(reset):
                    reset()  # empty observation queues: the batch's own history is used
                first = config.n_obs_steps - 1
                target = batch["action"][:, first : first + config.n_action_steps]
                pad = batch["action_is_pad"][:, first : first + config.n_action_steps]
                generator = torch.Generator(device="cpu").manual_seed(cfg.action_mse.seed)
                noise = torch.randn(
                    (target.shape[0], config.horizon, target.shape[-1]), generator=generator
                ).to(target.device, target.dtype)
                chunk = policy.predict_action_chunk(batch, noise=noise)
                error = ((chunk - target) ** 2).mean(dim=-1)
                return float(error[~pad].mean())
        finally:
            policy.train(was_training)

    @hookimpl
    def on_step_end(self, cfg: Any, step: int, rank: int) -> None:
        if self.batch is None or rank != 0:
            return
        if step % cfg.action_mse.every != 0 and step != cfg.steps:
            return
        value = self.measure(cfg)
        self.history.append((step, value))
        log.info(
            "step %s: held-out action MSE %.5f (%s frames, fixed noise)",
            step,
            value,
            len(self.batch["index"]),
        )
        path = Path(cfg.output_dir) / "action_mse.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["step", "heldout_action_mse"])
            writer.writerow([step, f"{value:.6g}"])
        if cfg.wandb.enable:
            try:
                import wandb
            except ImportError:
                return
            if wandb.run is not None:
                wandb.run.log({"eval/heldout_action_mse": value}, step=step)


plugin = ActionMsePlugin()
