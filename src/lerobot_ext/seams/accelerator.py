"""Method seams on the run's ``accelerate.Accelerator`` instance.

* ``end_training`` - fire ``on_train_end`` in every process *before* upstream destroys the
  process group, so end-of-run hooks may still use collectives; with more than one process, let
  go of the GIL for a moment after it (see ``GLOO_WORKERS_GRACE_S``).
* ``wait_for_everyone`` - the barrier after a checkpoint save: fire ``on_checkpoint_saved`` in
  every process once the checkpoint is complete.
* ``backward`` - only with phase timing: the forward/backward boundary of a step.

Supported lerobot versions: 0.6.1, 0.6.2 (both create the ``Accelerator`` the same way and
require accelerate>=1.14,<2, whose ``Accelerator`` has these three methods).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from lerobot_ext.step_timing import Mark
from lerobot_ext.training import TrainingRun

from .seam import MethodSeam

END_TRAINING = MethodSeam(
    "accelerate.Accelerator",
    "end_training",
    "accelerate",
    "on_train_end fires in every process before upstream destroys the process group",
)
WAIT_FOR_EVERYONE = MethodSeam(
    "accelerate.Accelerator",
    "wait_for_everyone",
    "accelerate",
    "on_checkpoint_saved fires in every process at the barrier after a checkpoint is written",
)
BACKWARD = MethodSeam(
    "accelerate.Accelerator",
    "backward",
    "accelerate",
    "step phase timing (when a plugin asks for it): where a step's forward ends and its backward starts",
)
METHOD_SEAMS = (END_TRAINING, WAIT_FOR_EVERYONE, BACKWARD)

# Right after end_training the training frames go (upstream's train() returns, or a stopped run's
# traceback is freed) and with them DDP's reducer, the last holder of the process group: its gloo
# destructor joins the worker threads while holding the GIL, and a worker still freeing a finished
# collective's tensors needs the GIL - a deadlock (3 of about 65 stopped torchrun runs on CPU;
# none in 90 with this pause). Sleeping releases the GIL so those workers finish first. Seen with
# gloo; the pause is not limited to it, as every backend's destructor runs in the same place.
GLOO_WORKERS_GRACE_S = 0.2


def instrument_accelerator(accelerator: Any, run: TrainingRun) -> None:
    def wrap_end_training(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def end_training(*args: Any, **kwargs: Any) -> Any:
            run.train_ended()
            result = original(*args, **kwargs)
            if run.world_size > 1:
                time.sleep(GLOO_WORKERS_GRACE_S)
            return result

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
