"""``ExtTrainPipelineConfig``: lerobot's ``TrainPipelineConfig`` plus the extension's fields.

This is the one place lerobot-ext's command-line fields live. Draccus shows the comment above
each field as its ``--help`` text, and every field is written into each checkpoint's
``train_config.json``, so ``--resume=true --config_path=.../train_config.json`` restores it.

Each field names, in its metadata, the plugin that acts on it: setting a field whose plugin is
not loaded is an error, never a silently ignored flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from lerobot.configs.train import TrainPipelineConfig

from lerobot_ext.errors import ConfigError


@dataclass
class ProfileConfig:
    # Measure where each training step's time goes and print a report (`--profile` alone = true).
    enable: bool = False
    # Steps excluded from the report at the start (DataLoader workers starting, cudnn autotuning).
    warmup_steps: int = 5
    # Also record a torch.profiler trace (Chrome/Perfetto JSON) of a few steps after the warm-up.
    trace: bool = False
    # Number of steps in the torch.profiler trace window.
    trace_steps: int = 3
    # Draw the per-step phase chart (PNG) in <output_dir>/profile/.
    chart: bool = True


@dataclass
class ExtTrainPipelineConfig(TrainPipelineConfig):
    # Named groups to drop from observation.state, e.g. [robot0_base_pos,robot0_joint_vel]. Names
    # come from the dataset's per-dim names, meta/modality.json, or the robot adapter.
    state_filtered_keys: list[str] = field(default_factory=list, metadata={"plugin": "transforms"})
    # Keep only action dims 0..N-1; the dropped dims must be constant in the dataset stats and are
    # re-filled with those constants at inference.
    action_keep_dims: int | None = field(default=None, metadata={"plugin": "transforms"})
    # Drop action dims that are NOT constant anyway (their mean is used at inference).
    force_action_keep_dims: bool = field(default=False, metadata={"plugin": "transforms"})
    # Robot adapter to use (default: chosen from the dataset's robot_type); see `lerobot-ext inspect`.
    robot_adapter: str | None = field(default=None, metadata={"plugin": "robot_adapters"})
    # Per-step time breakdown and data-bound verdict (`--profile`, `--profile.trace=true`, ...).
    profile: ProfileConfig = field(default_factory=ProfileConfig, metadata={"plugin": "profiler"})

    def validate_extension(self) -> None:
        """Check the extension's own fields (cheap; runs before any data is read)."""
        if self.action_keep_dims is not None and self.action_keep_dims < 1:
            raise ConfigError(
                f"--action_keep_dims={self.action_keep_dims} keeps no action dims; use N >= 1, "
                "or leave it unset to keep them all"
            )
        if self.force_action_keep_dims and self.action_keep_dims is None:
            raise ConfigError("--force_action_keep_dims=true needs --action_keep_dims=N")
        bad = [key for key in self.state_filtered_keys if not key or "," in key or key != key.strip()]
        if bad:
            raise ConfigError(
                f"--state_filtered_keys has malformed entries {bad}; write the list in brackets "
                "without spaces: --state_filtered_keys=[robot0_base_pos,robot0_joint_vel]"
            )
        if self.profile.warmup_steps < 0:
            raise ConfigError(f"--profile.warmup_steps={self.profile.warmup_steps} must be >= 0")
        if self.profile.trace_steps < 1:
            raise ConfigError(f"--profile.trace_steps={self.profile.trace_steps} must be >= 1")

    def validate(self) -> None:
        self.validate_extension()
        super().validate()


def extension_fields() -> list:
    """The dataclass fields ExtTrainPipelineConfig adds to upstream's TrainPipelineConfig."""
    upstream = {f.name for f in fields(TrainPipelineConfig)}
    return [f for f in fields(ExtTrainPipelineConfig) if f.name not in upstream]


def is_active(cfg: ExtTrainPipelineConfig, name: str) -> bool:
    """Whether extension field ``name`` asks for something (a sub-config counts when enabled)."""
    for f in extension_fields():
        if f.name == name:
            value = getattr(cfg, name)
            if hasattr(value, "enable"):
                return bool(value.enable)
            default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
            return value != default
    raise KeyError(name)
