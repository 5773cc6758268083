"""Seam: ``lerobot.scripts.lerobot_train.update_policy`` - one optimisation step.

Before the first update, ``optimizer_ready`` fires with the optimizer and scheduler it steps.
After upstream's update returns, ``on_step_end`` fires with the step's metrics (read from the
``MetricsTracker`` upstream just filled in). With phase timing on, the step's forward, backward
and optimizer phases are marked: the start of this call, ``accelerator.backward`` (see
``patches.accelerator``), ``optimizer.step`` (below) and the return.

Supported lerobot versions: 0.6.1, 0.6.2 (the same name, returning ``(train_metrics, output_dict)``
and taking ``train_metrics`` and ``optimizer`` on both).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lerobot_ext.step_timing import Mark
from lerobot_ext.training import TrainingRun

from .seam import MethodSeam, Seam

OPTIMIZER_STEP = MethodSeam(
    "torch.optim.Optimizer",
    "step",
    "torch",
    "step phase timing (when a plugin asks for it): where a step's backward ends and its optimizer step starts",
)


def step_metrics(train_metrics: Any) -> dict[str, float]:
    """This step's values (not the running averages) from upstream's MetricsTracker."""
    return {name: float(meter.val) for name, meter in train_metrics.metrics.items()}


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)
    instrumented: set[int] = set()

    def instrument_optimizer(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        optimizer = signature.bind(*args, **kwargs).arguments["optimizer"]
        if id(optimizer) in instrumented:
            return
        instrumented.add(id(optimizer))
        clock = run.clock
        assert clock is not None

        def wrap_step(original_step: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original_step)
            def step(*a: Any, **kw: Any) -> Any:
                clock.mark(Mark.OPTIMIZER_START)
                return original_step(*a, **kw)

            return step

        run.undo_instance_seams.append(OPTIMIZER_STEP.wrap(optimizer, wrap_step))

    first_call = [True]

    @functools.wraps(original)
    def update_policy(*args: Any, **kwargs: Any) -> Any:
        if first_call[0]:
            first_call[0] = False
            arguments = signature.bind(*args, **kwargs).arguments
            run.optimizer_ready(arguments["optimizer"], arguments.get("lr_scheduler"))
        clock = run.clock
        if clock is not None:
            instrument_optimizer(args, kwargs)
            clock.mark(Mark.UPDATE_START)
        train_metrics, output_dict = original(*args, **kwargs)
        if clock is not None:
            clock.mark(Mark.UPDATE_END)
        # One call is one loop step (one micro-batch under gradient accumulation), counted from
        # the step a resumed run starts at - as upstream counts them.
        run.step_ended(run.step + 1, step_metrics(train_metrics))
        return train_metrics, output_dict

    return update_policy


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "update_policy",
    make_wrapper,
    parameters=("train_metrics", "optimizer", "lr_scheduler"),
    why="optimizer_ready before the first update; on_step_end after each optimisation step, with the step's metrics; the update's phase boundaries of step phase timing",
)
