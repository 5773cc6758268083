"""The hooks a lerobot-ext plugin can implement. The docstrings below are the contract.

A plugin is any module or object whose functions are marked with ``lerobot_ext.hookimpl`` and
that is reachable through an entry point in the ``lerobot_ext`` group::

    [project.entry-points.lerobot_ext]
    my_plugin = "my_package.lerobot_ext_plugin"

Hooks are called with keyword arguments only; an implementation may accept any subset of a
hook's arguments (pluggy passes only the ones it names). Do not give an implementation's
arguments default values: pluggy never passes an argument that has a default.

There are three kinds of hooks:

* **registration** hooks (``register_*``) run once per process, right after the plugins are
  loaded, and receive a ``register`` callable. Two plugins registering the same name is a
  :class:`~lerobot_ext.errors.PluginConflictError` that names both.
* **transforming** hooks (``configure``, ``configure_policy``, ``step_phase_timing``) may change
  the run. Their return values are validated by the caller, and a wrong type is a
  :class:`~lerobot_ext.errors.PluginHookError` naming the plugin.
* **observing** hooks (``on_*``) are lifecycle events. They return ``None`` and must not change
  training: no mutation of ``cfg``, no random numbers drawn from the global generators. They fire
  in every process of a distributed run (``torchrun`` / ``accelerate launch``), each call with
  that process's ``rank``; ``rank == 0`` is the main process. Time spent in ``on_step_end`` is
  measured and reported by ``--profile`` as the ``hooks`` phase.

Order: implementations run last-registered-first (pluggy's LIFO order); use
``@hookimpl(tryfirst=True)`` / ``(trylast=True)`` to pin a position.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    from lerobot_ext.adapters.base import RobotAdapter
    from lerobot_ext.config import ExtTrainPipelineConfig
    from lerobot_ext.transforms.base import DataTransform

PROJECT_NAME = "lerobot_ext"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --------------------------------------------------------------------------- registration


@hookspec
def register_policies(register: Callable[[str, type[PreTrainedConfig]], None]) -> None:
    """Register policy types that ``--policy.type=<name>`` can select.

    Called once per process after plugins load, before the command line is parsed.

    :param register: call ``register(name, config_class)`` for each policy type.
        ``config_class`` is a ``PreTrainedConfig`` subclass following lerobot's layout
        (``<X>Config`` in ``configuration_<x>.py``, ``<X>Policy`` in ``modeling_<x>.py``,
        ``make_<name>_pre_post_processors`` in ``processor_<x>.py``). lerobot-ext registers the
        class with lerobot's config registry if the import did not already do so.

    A name already used by upstream lerobot for a different class, or by another plugin, is a
    ``PluginConflictError`` naming both owners.
    """


@hookspec
def register_robot_adapters(register: Callable[[RobotAdapter], None]) -> None:
    """Register robot adapters (objects implementing ``lerobot_ext.adapters.RobotAdapter``).

    Called once per process after plugins load. An adapter is chosen for a run by
    ``--robot_adapter=<name>`` or, failing that, by the dataset's ``robot_type``; it tells the
    transforms and ``lerobot-ext inspect`` how a robot's state and action vectors are laid out.

    :param register: call ``register(adapter)``; ``adapter.name`` must be unique.
    """


@hookspec
def register_transforms(register: Callable[[DataTransform], None]) -> None:
    """Register data transforms (objects implementing ``lerobot_ext.transforms.DataTransform``).

    Called once per process after plugins load. Every registered transform is offered every
    run, in registration order; a transform decides from the config whether it applies. A
    transform rewrites the dataset's features and stats before the policy is built and
    contributes processor steps that are saved in the checkpoint, so inference applies it too.

    :param register: call ``register(transform)``; ``transform.name`` must be unique.
    """


@hookspec
def register_upstream_names(register: Callable[..., None]) -> None:
    """Declare the upstream names (lerobot modules, classes, functions, methods) a plugin relies on.

    Called once per process after plugins load. ``lerobot-ext doctor`` checks each declared name
    on the installed lerobot and shows it with the plugin's name, so an upstream release that
    moves one is reported before a run fails on it.

    :param register: call ``register(path, why)`` per name, ``path`` a dotted path such as
        ``"lerobot.policies.diffusion.modeling_diffusion.DiffusionModel._prepare_global_conditioning"``
        (the longest importable module, then attributes) and ``why`` what the plugin uses it for.
        ``register(path, why, parameters=("name", ...))`` also checks that the callable still
        takes those arguments by name. Several plugins may declare the same name.
    """


# --------------------------------------------------------------------------- transforming


@hookspec
def configure(cfg: ExtTrainPipelineConfig) -> ExtTrainPipelineConfig | None:
    """Adjust the run's config after the command line is parsed, before training starts.

    Called once per process, before upstream's ``cfg.validate()``. Note that upstream resolves
    ``--policy.path`` and ``--resume`` inside ``validate()``, so ``cfg.policy`` may still be
    ``None`` here and policy fields set here can be overwritten; change policy fields in
    :func:`configure_policy` instead.

    :param cfg: the parsed config; may be mutated in place.
    :return: ``None`` (keep ``cfg``, possibly mutated) or a replacement
        ``ExtTrainPipelineConfig``; anything else is a ``PluginHookError``.
    """


@hookspec
def configure_policy(
    cfg: ExtTrainPipelineConfig,
    policy_cfg: PreTrainedConfig,
    dataset_meta: LeRobotDatasetMetadata,
) -> dict[str, Any] | None:
    """Propose policy-config changes once the (transformed) dataset is known.

    Called once per process, right before ``make_policy``, after the data transforms rewrote
    ``dataset_meta.features``/``stats`` - so widths seen here are the widths the policy gets.

    :param cfg: the run's config (read only).
    :param policy_cfg: the policy config upstream is about to build (read only here).
    :param dataset_meta: the dataset metadata the policy will be built from (read only).
    :return: ``None`` or a mapping ``{field_name: new_value}``. lerobot-ext checks that each
        field exists on ``policy_cfg``, applies it, and logs ``plugin: policy.<field> old -> new``.
        Two plugins setting one field to different values is a ``PluginConflictError``.
    """


@hookspec
def step_phase_timing(cfg: ExtTrainPipelineConfig) -> bool | None:
    """Ask for per-step phase timings (data wait, preprocess, forward, backward, optimizer...).

    Called once per process before training. If any implementation returns ``True``, the seams
    measure each step's phases (synchronising CUDA at phase boundaries) and pass them to
    :func:`on_step_phases`. Otherwise nothing is measured and nothing is added to the step.
    """


# --------------------------------------------------------------------------- observing


@hookspec
def on_train_start(
    cfg: ExtTrainPipelineConfig, rank: int, world_size: int, start_step: int, device: str
) -> None:
    """The dataset, policy, processors, optimizer and dataloader exist; the first step is next.

    Called in every process. ``start_step`` is the number of steps already done (non-zero when
    resuming). ``device`` is the torch device type this process trains on (``"cuda"``,
    ``"cpu"``, ``"mps"``). ``cfg.output_dir`` is final here.
    """


@hookspec
def on_step_end(
    cfg: ExtTrainPipelineConfig,
    step: int,
    metrics: dict[str, float],
    rank: int,
    world_size: int,
) -> None:
    """One optimisation step finished (forward, backward, optimizer and scheduler step done).

    Called in every process, before upstream logs, evaluates or checkpoints that step. Its
    time counts as the step's ``hooks`` phase in ``--profile``.

    :param step: 1-based number of the step that just finished (counts across resumes).
    :param metrics: this process's values for this step: ``loss``, ``grad_norm``, ``lr``,
        ``update_s``, ``dataloading_s`` and any scalar the policy returned. Do not mutate.
    """


@hookspec
def on_step_phases(
    cfg: ExtTrainPipelineConfig,
    step: int,
    phases: dict[str, float],
    rank: int,
    world_size: int,
) -> None:
    """Where the step's time went; called right after :func:`on_step_end`.

    Called in every process, and only when an implementation of :func:`step_phase_timing`
    asked for timings.

    :param phases: seconds spent in ``data_wait`` (waiting on the DataLoader), ``preprocess``
        (uint8->float and the preprocessor, without the host-to-device copy), ``h2d_copy``
        (the preprocessor's device step), ``forward``, ``backward`` (with gradient clipping),
        ``optimizer`` (optimizer and scheduler step, zero_grad, reading the loss), ``hooks``
        (this step's ``on_step_end`` calls), and ``step``: the wall time from the start of the
        data wait to the return of ``on_step_end`` (the phases above add up to it). Not part of
        ``step``: ``between_steps``, the time from the previous step's end to this step's
        start (upstream's logging, evaluation, checkpointing; 0 for the first step). On CUDA
        every boundary is synchronised, so GPU work is charged to the phase that launched it.
    """


@hookspec
def on_checkpoint_saved(cfg: ExtTrainPipelineConfig, step: int, checkpoint_dir: Path, rank: int) -> None:
    """A checkpoint is complete on disk.

    Called in every process once all processes passed the barrier that follows the save (only
    the main process writes checkpoints), so ``checkpoint_dir`` is complete when this runs.
    """


@hookspec
def on_train_end(cfg: ExtTrainPipelineConfig, step: int, rank: int, world_size: int) -> None:
    """Training finished normally.

    Called in every process after the last step, while the distributed process group is still
    alive: an implementation may use ``torch.distributed`` collectives, and if it does, it must
    do so in every process.
    """


@hookspec
def on_exception(cfg: ExtTrainPipelineConfig, exception: BaseException, rank: int) -> None:
    """Training stopped with an exception (including ``KeyboardInterrupt``).

    Called in every process that saw the exception, before it propagates. Do not use
    collectives here: other processes may be gone.
    """
