"""``--profile``'s flags (a group registered by the ``profiler`` plugin)."""

from __future__ import annotations

from dataclasses import dataclass

from lerobot_ext import ConfigError


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

    def check(self) -> None:
        if self.warmup_steps < 0:
            raise ConfigError(f"--profile.warmup_steps={self.warmup_steps} must be >= 0")
        if self.trace_steps < 1:
            raise ConfigError(f"--profile.trace_steps={self.trace_steps} must be >= 1")
