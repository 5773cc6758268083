"""Seam: ``lerobot.scripts.lerobot_train.save_checkpoint`` - write checkpoints atomically.

Upstream writes ``checkpoints/<step>/`` in place; a crash or a full disk halfway leaves a
directory that looks like a checkpoint but is not. We let upstream write into
``<step>.partial/`` and, in the main process, rename it to ``<step>/`` once ``save_checkpoint``
has returned.

lerobot 0.6.1 calls it in the main process only. From 0.6.2 every rank calls it (sharded DCP
saves are collective) and it ends with a barrier, so when it returns in the main process every
rank's files are in ``<step>.partial/``. What 0.6.2 writes after it - the EMA weights
(``pretrained_model_ema/``, ``training_state/ema_state.pt``) - goes into ``<step>/`` before
upstream moves ``checkpoints/last`` to it: ``last`` only ever points at a complete checkpoint.
Before the rename, ``checkpoint_writing`` lets plugins add their own files to ``<step>.partial/``,
so what they write is part of the same atomic checkpoint; where every rank saves, the rename waits
at a barrier for every rank's hooks.

Supported lerobot versions: 0.6.1, 0.6.2 (both pass ``checkpoint_dir`` and ``step`` by name;
0.6.2's collective save also takes ``accelerator``, which is how the wrapper knows every rank is in
it - tests/test_distributed.py fails on a version whose every-rank save stops passing it).
"""

from __future__ import annotations

import functools
import inspect
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext.training import TrainingRun

from .seam import Seam


def commit(partial: Path, final: Path) -> None:
    """Put the finished ``partial`` in place of ``final`` (replacing an older save of that step)."""
    if final.exists():  # the same step saved again (e.g. a resumed run re-saving its last step)
        stale = final.with_name(final.name + ".stale")
        shutil.rmtree(stale, ignore_errors=True)
        final.rename(stale)
        partial.rename(final)
        shutil.rmtree(stale, ignore_errors=True)
    else:
        partial.rename(final)


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def save_checkpoint(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        final = Path(bound.arguments["checkpoint_dir"])
        partial = final.with_name(final.name + ".partial")
        main = run.rank == 0
        if main:
            shutil.rmtree(partial, ignore_errors=True)  # left by a save that crashed
        bound.arguments["checkpoint_dir"] = partial
        try:
            with run.inside_checkpoint_save():
                result = original(*bound.args, **bound.kwargs)
                run.checkpoint_writing(int(bound.arguments["step"]), partial)
                # A save every rank runs (0.6.2 passes its accelerator) has every rank's hooks write
                # into <step>.partial/: the main process renames it only once all of them are done.
                accelerator = bound.arguments.get("accelerator")
                if accelerator is not None and accelerator.num_processes > 1:
                    accelerator.wait_for_everyone()
        except BaseException:
            if main:  # a save that did not complete (or that a plugin refused) leaves nothing
                shutil.rmtree(partial, ignore_errors=True)
            raise
        if main:
            commit(partial, final)
        return result

    return save_checkpoint


SEAM = Seam(
    "lerobot.scripts.lerobot_train",
    "save_checkpoint",
    make_wrapper,
    parameters=("checkpoint_dir", "step"),
    why="checkpoints are written into <step>.partial/ (with the checkpoint_writing hooks' files) and "
    "renamed when complete",
)
