"""A resumed run reads its data, and draws its random numbers, as the uninterrupted run would have.

Upstream puts its ``EpisodeAwareSampler`` at the checkpoint's epoch and offset so that a resume is
sample-exact, and restores the random state before the data iterator is made. Two things undo
that, both fixed here for ``--auto_resume`` and ``--resume`` alike:

* the dataloader is accelerate's ``DataLoaderShard``, whose ``__iter__`` calls
  ``set_epoch(self.iteration)`` with its own epoch counter - 0 after ``accelerator.prepare``: a
  run stopped in epoch 1 or later would read the rest of that epoch, and every later one, in the
  order of an earlier epoch. :func:`continue_sampler_epoch` sets accelerate's counter to the
  sampler's epoch (accelerate's public ``set_epoch``) before the first batch.
* making a data iterator draws its base seed from torch's global generator. The uninterrupted
  run made one at the start and makes one at every epoch boundary (with non-persistent workers);
  the resumed run makes one first thing. Mid-epoch (or with persistent workers, which keep their
  iterator across epochs) the uninterrupted run drew nothing there, so the checkpoint's random
  state is put back after the first batch; resumed exactly at an epoch boundary with a fresh
  iterator per epoch, both drew the same seed from the same state, and it is left alone
  (:func:`restore_rng_after_first_batch`).

Supported lerobot versions: 0.6.1, 0.6.2 (the same sampler, ``state_dict()`` with ``epoch`` and
``start_index``, and accelerate's ``DataLoaderShard``).
"""

from __future__ import annotations

from typing import Any


def sampler_state(dataloader: Any) -> dict[str, int] | None:
    """The sampler's ``state_dict()`` (``epoch``, ``start_index``), found where accelerate's
    ``set_epoch`` looks for it; ``None`` for a sampler without one."""
    batch_sampler = getattr(dataloader, "batch_sampler", None)
    for holder in (batch_sampler, getattr(batch_sampler, "batch_sampler", None)):
        sampler = getattr(holder, "sampler", None)
        state_dict = getattr(sampler, "state_dict", None)
        if callable(state_dict) and callable(getattr(sampler, "set_epoch", None)):
            state = state_dict()
            if isinstance(state.get("epoch"), int) and isinstance(state.get("start_index"), int):
                return state
            return None
    return None


def continue_sampler_epoch(dataloader: Any) -> None:
    """Make accelerate's epoch counter start at the sampler's epoch (see the module docstring)."""
    iteration = getattr(dataloader, "iteration", None)
    state = sampler_state(dataloader)
    if isinstance(iteration, int) and state is not None and state["epoch"] != iteration:
        # DataLoaderShard.set_epoch sets its counter and the sampler's epoch; the sampler's
        # offset into the epoch (where the resume starts) is not touched.
        dataloader.set_epoch(state["epoch"])


def restore_rng_after_first_batch(dataloader: Any) -> bool:
    """Whether the checkpoint's random state must be put back once the first batch is fetched."""
    state = sampler_state(dataloader)
    at_epoch_boundary = state is not None and state["start_index"] == 0 and state["epoch"] > 0
    return not (at_epoch_boundary and not getattr(dataloader, "persistent_workers", False))
