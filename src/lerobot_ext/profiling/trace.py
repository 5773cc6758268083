"""``--profile.trace=true``: a torch.profiler window of a few steps, saved as a Chrome/Perfetto trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot_ext import get_logger

log = get_logger("profiler")


class TraceWindow:
    """Records ``steps`` steps with torch.profiler, after one profiler warm-up step.

    Counting this run's steps, the warm-up is step ``max(skip, 1)`` and the recorded window the
    ``steps`` steps after it: with ``skip == 0`` there is no earlier step to warm up in, so the
    window starts at step 2.
    """

    def __init__(self, path: Path, skip: int, steps: int, cuda: bool) -> None:
        import torch

        self.path = path
        activities = [torch.profiler.ProfilerActivity.CPU]
        if cuda:
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        # One profiler "warmup" step before the window, then `steps` recorded ones.
        wait = max(0, skip - 1)
        self.first, self.last = wait + 2, wait + 1 + steps
        self._profiler = torch.profiler.profile(
            activities=activities,
            schedule=torch.profiler.schedule(wait=wait, warmup=1, active=steps, repeat=1),
            on_trace_ready=self._save,
            record_shapes=False,
        )
        self._profiler.start()
        self.done = False
        self._seen = 0

    def _save(self, profiler: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        profiler.export_chrome_trace(str(self.path))
        log.info(
            "torch.profiler trace of %s steps written to %s (open in https://ui.perfetto.dev)",
            self.last - self.first + 1,
            self.path,
        )

    def disturbs(self, seen: int) -> bool:
        """Whether the profiler's overhead lands in the ``seen``-th step of this run.

        Besides the recorded window, that is the profiler's warm-up step: torch.profiler already
        collects events there (and discards them), so the step runs with the profiler's cost. And
        the step after the window: :meth:`step` stops the profiler and writes the trace file after
        the last recorded step's end, which that next step's ``between_steps`` then counts.
        """
        return self.first - 1 <= seen <= self.last + 1

    def step(self) -> None:
        if self.done:
            return
        self._seen += 1
        self._profiler.step()
        if self._seen >= self.last:
            self.stop()

    def stop(self) -> None:
        if not self.done:
            self.done = True
            self._profiler.stop()
