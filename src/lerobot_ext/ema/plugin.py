"""``--ema.*`` on lerobot versions without upstream EMA, through the public hooks.

* ``policy_made``: the main process makes the shadow (diffusers' ``EMAModel``), restored from the
  checkpoint on ``--resume``;
* ``on_step_end``: one EMA update per optimisation step (the live weights are not touched);
* ``checkpoint_writing``: ``pretrained_model_ema/`` (a deployable copy of ``pretrained_model/``
  with the shadow weights) and ``training_state/ema_state.pt``, inside the checkpoint being
  written, so they are committed with it atomically;
* ``around_evaluation``: with ``--ema.use_for_eval`` (default true, as upstream) in-training env
  evaluation (``--env_eval_freq``) sees the shadow's weights; the live ones are back after it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, for_installed, get_logger, hookimpl
from lerobot_ext.ema import upstream_names

log = get_logger("ema")

EMA_DIR = "pretrained_model_ema"
EMA_STATE = "ema_state.pt"
# {first lerobot version: whether lerobot-train has EMA of its own}
UPSTREAM_HAS_EMA = for_installed({"0.6.1": False, "0.6.2": True})


@dataclass
class EmaConfig:
    # Keep an exponential moving average of the weights and save it as pretrained_model_ema/.
    enable: bool = False
    # A constant decay for every step (e.g. 0.99); unset: diffusers' warm-up schedule below.
    decay: float | None = None
    # Optimizer steps during which the shadow stays a copy of the live weights.
    update_after_step: int = 0
    inv_gamma: float = 1.0
    power: float = 0.75
    min_decay: float = 0.0
    max_decay: float = 0.9999
    # Evaluate the EMA weights (instead of the live ones) in in-training env evaluation
    # (--env_eval_freq). The offline eval loss (--eval_steps) always uses the live weights.
    use_for_eval: bool = True


class EmaPlugin:
    """The plugin object (entry point ``ema = lerobot_ext.ema.plugin:plugin``)."""

    # A hook (lerobot-ext doctor checks the names): module-level in upstream_names.py.
    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    def __init__(self) -> None:
        self.shadow: Any = None
        self.policy: Any = None

    @hookimpl
    def register_config_fields(self, register: Callable[..., None]) -> None:
        if not UPSTREAM_HAS_EMA:
            register(
                "ema", EmaConfig, None, help="exponential moving average of the weights (`--ema.enable=true`)"
            )

    @hookimpl
    def configure(self, cfg: Any) -> None:
        if UPSTREAM_HAS_EMA or not cfg.ema.enable:
            return
        # The same checks as lerobot 0.6.2's own --ema flags, so a command behaves alike on both.
        ema = cfg.ema
        if not 0.0 <= ema.min_decay <= ema.max_decay <= 1.0:
            raise ConfigError(
                f"--ema.min_decay={ema.min_decay} / --ema.max_decay={ema.max_decay}: need 0 <= min <= max <= 1"
            )
        if ema.decay is not None and not 0.0 <= ema.decay <= 1.0:
            raise ConfigError(f"--ema.decay={ema.decay} must be in [0, 1], e.g. 0.999")
        clamp = (EmaConfig.min_decay, EmaConfig.max_decay)
        if ema.decay is not None and (ema.min_decay, ema.max_decay) != clamp:
            raise ConfigError(
                f"--ema.decay={ema.decay} (a constant decay) and --ema.min_decay/--ema.max_decay (the "
                "schedule's clamp) are mutually exclusive: set one or the other"
            )
        if ema.inv_gamma <= 0 or ema.power <= 0 or ema.update_after_step < 0:
            raise ConfigError(
                f"--ema.inv_gamma={ema.inv_gamma}, --ema.power={ema.power} must be > 0 and "
                f"--ema.update_after_step={ema.update_after_step} >= 0"
            )

    @hookimpl
    def policy_made(self, cfg: Any, policy: Any, rank: int) -> None:
        self.shadow = self.policy = None
        if UPSTREAM_HAS_EMA or not cfg.ema.enable or rank != 0:
            return
        import torch
        from diffusers.training_utils import EMAModel

        ema = cfg.ema
        low = ema.min_decay if ema.decay is None else ema.decay
        high = ema.max_decay if ema.decay is None else ema.decay
        self.policy = policy
        self.shadow = EMAModel(
            policy.parameters(),
            decay=high,
            min_decay=low,
            update_after_step=ema.update_after_step,
            use_ema_warmup=True,
            inv_gamma=ema.inv_gamma,
            power=ema.power,
        )
        if cfg.resume and cfg.checkpoint_path is not None:
            state = Path(cfg.checkpoint_path) / "training_state" / EMA_STATE
            if state.is_file():
                try:
                    saved = torch.load(state, map_location="cpu", weights_only=True)
                except Exception as exc:  # a damaged file: say which, not pickle's traceback
                    raise ConfigError(
                        f"--ema: cannot read {state} ({type(exc).__name__}: {exc}); resume from another "
                        "checkpoint, or delete that file to restart the shadow from the current weights"
                    ) from exc
                self.shadow.load_state_dict(saved)
                log.info("--ema: shadow resumed from %s", state)
            else:
                log.warning("--ema: resuming without %s; the shadow restarts from the current weights", state)

    @hookimpl  # the shadow's update reads the live weights and never writes them: any order
    def on_step_end(self, rank: int) -> None:
        if self.shadow is None or rank != 0:
            return
        self.shadow.step(self.policy.parameters())

    @contextlib.contextmanager
    def shadow_weights(self) -> Iterator[None]:
        """The shadow in the policy for the duration of the block; the live weights exactly back."""
        parameters = list(self.policy.parameters())
        self.shadow.store(parameters)
        self.shadow.copy_to(parameters)
        try:
            yield
        finally:
            self.shadow.restore(parameters)

    @hookimpl
    def around_evaluation(self, cfg: Any, policy: Any) -> contextlib.AbstractContextManager[None] | None:
        if self.shadow is None or not cfg.ema.use_for_eval or policy is not self.policy:
            return None
        log.info("--ema.use_for_eval: evaluating the EMA weights")
        return self.shadow_weights()

    @hookimpl
    def checkpoint_writing(self, checkpoint_dir: Path, rank: int) -> None:
        """Into the checkpoint being written (``<step>.partial/``): committed with it, atomically."""
        if self.shadow is None or rank != 0:
            return
        import torch

        checkpoint_dir = Path(checkpoint_dir)
        torch.save(self.shadow.state_dict(), checkpoint_dir / "training_state" / EMA_STATE)
        # The configs and saved processors of pretrained_model/ (not its weights: save_pretrained
        # writes the shadow's next, and a VLA's weights are gigabytes to copy for nothing).
        shutil.copytree(
            checkpoint_dir / "pretrained_model",
            checkpoint_dir / EMA_DIR,
            ignore=shutil.ignore_patterns("model.safetensors"),  # what save_pretrained writes
        )
        with self.shadow_weights():
            self.policy.save_pretrained(checkpoint_dir / EMA_DIR)

    def _finish(self) -> None:
        self.shadow = self.policy = None

    @hookimpl
    def on_train_end(self) -> None:
        self._finish()

    @hookimpl
    def on_exception(self) -> None:
        self._finish()


plugin = EmaPlugin()
