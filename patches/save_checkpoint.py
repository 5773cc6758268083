"""Seam: ``lerobot.scripts.lerobot_train.save_checkpoint`` - write checkpoints atomically.

Upstream writes ``checkpoints/<step>/`` in place; a crash or a full disk halfway leaves a
directory that looks like a checkpoint but is not. We let upstream write into
``<step>.partial/`` and rename it to ``<step>/`` only once everything is on disk.
"""

from __future__ import annotations

import functools
import inspect
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .seam import Seam

if TYPE_CHECKING:
    from lerobot_ext.training import TrainingRun


def make_wrapper(original: Callable[..., Any], run: TrainingRun) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def save_checkpoint(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        final = Path(bound.arguments["checkpoint_dir"])
        partial = final.with_name(final.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        bound.arguments["checkpoint_dir"] = partial
        result = original(*bound.args, **bound.kwargs)
        if final.exists():  # the same step saved again (e.g. a resumed run re-saving its last step)
            stale = final.with_name(final.name + ".stale")
            shutil.rmtree(stale, ignore_errors=True)
            final.rename(stale)
            partial.rename(final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            partial.rename(final)
        return result

    return save_checkpoint


SEAM = Seam("lerobot.scripts.lerobot_train", "save_checkpoint", ("0.6.1",), make_wrapper)
