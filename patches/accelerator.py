"""Method seams on the run's ``accelerate.Accelerator`` instance.

* ``end_training`` - fire ``on_train_end`` in every process *before* upstream destroys the
  process group, so end-of-run hooks may still use collectives.
* ``wait_for_everyone`` - the barrier after a checkpoint save: fire ``on_checkpoint_saved`` in
  every process once the checkpoint is complete.
* ``backward`` - only with phase timing: the forward/backward boundary of a step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lerobot_ext.step_timing import Mark

from .seam import MethodSeam

if TYPE_CHECKING:
    from lerobot_ext.training import TrainingRun

_CHECKED = ("1.16.0",)  # as lerobot 0.6.1 and 0.6.2 pin it
END_TRAINING = MethodSeam("accelerate.Accelerator", "end_training", _CHECKED, "accelerate")
WAIT_FOR_EVERYONE = MethodSeam("accelerate.Accelerator", "wait_for_everyone", _CHECKED, "accelerate")
BACKWARD = MethodSeam("accelerate.Accelerator", "backward", _CHECKED, "accelerate")
METHOD_SEAMS = (END_TRAINING, WAIT_FOR_EVERYONE, BACKWARD)


def instrument_accelerator(accelerator: Any, run: TrainingRun) -> None:
    def wrap_end_training(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def end_training(*args: Any, **kwargs: Any) -> Any:
            run.train_ended()
            return original(*args, **kwargs)

        return end_training

    def wrap_wait_for_everyone(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wait_for_everyone(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            run.checkpoint_barrier_passed()
            return result

        return wait_for_everyone

    run.undo_instance_seams.append(END_TRAINING.wrap(accelerator, wrap_end_training))
    run.undo_instance_seams.append(WAIT_FOR_EVERYONE.wrap(accelerator, wrap_wait_for_everyone))
    clock = run.clock
    if clock is not None:

        def wrap_backward(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            def backward(*args: Any, **kwargs: Any) -> Any:
                clock.mark(Mark.BACKWARD_START)
                return original(*args, **kwargs)

            return backward

        run.undo_instance_seams.append(BACKWARD.wrap(accelerator, wrap_backward))
