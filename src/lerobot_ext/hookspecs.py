"""The hooks a lerobot-ext plugin can implement. The docstrings below are the contract.

A plugin is any module or object whose functions are marked with ``lerobot_ext.hookimpl`` and
that is reachable through an entry point in the ``lerobot_ext`` group::

    [project.entry-points.lerobot_ext]
    my_plugin = "my_package.lerobot_ext_plugin"

Hooks are called with keyword arguments only; an implementation may accept any subset of a
hook's arguments (pluggy passes only the ones it names). Do not give an implementation's
arguments default values: pluggy never passes an argument that has a default.

lerobot-ext's own features are plugins that use these hooks (and the public API,
``lerobot_ext.__all__``) and nothing else. Every hook is called through
:mod:`lerobot_ext.dispatch`, one implementation at a time (so an error names its plugin), as its
:class:`HookKind` says - the table ``lerobot_ext.dispatch.HOOKS``:

* **register** (``register_*``): once per process, right after the plugins are loaded; each
  implementation gets its own ``register`` callable. Two plugins registering the same name is a
  :class:`~lerobot_ext.errors.PluginConflictError` that names both.
* **notify**: every implementation, with the same arguments; each returns ``None``. The ``on_*``
  hooks are lifecycle events and must not change training: no mutation of ``cfg``, no random
  numbers drawn from the global generators. They fire in every process of a distributed run
  (``torchrun`` / ``accelerate launch``), each with that process's ``rank``; ``rank == 0`` is the
  main process. Time spent in ``on_step_end`` is reported by ``--profile`` as the ``hooks`` phase.
* **first result**: implementations in order until one returns something other than ``None``.
* **chain**: each implementation gets the value the previous one left (the config for
  ``configure``, the dataset for ``transform_dataset`` and ``wrap_dataset``).
* **collect**: every implementation; every answer other than ``None``, each with its plugin.

A return value of the wrong type is a :class:`~lerobot_ext.errors.PluginHookError` naming the
plugin. Wrapper implementations (``wrapper=True``, ``hookwrapper=True``) are refused when the
plugin loads: each implementation is called on its own.

Every hook but the registration ones may take ``run``, the :class:`~lerobot_ext.context.RunContext`
of the command (the flags given, rank, world size, resume state, a ``stash`` for what a plugin
keeps between its hooks, and ``run.hooks`` to call hooks a plugin added) - as pytest passes
``config`` and ``session``.

Order, the same for every hook (registration included): implementations run
last-registered-first (pluggy's LIFO order; plugins are registered in entry-point name order);
``@hookimpl(tryfirst=True)`` / ``@hookimpl(trylast=True)`` pin an implementation to the front or
the back. The one exception is ``transform_dataset``, whose order is saved in every checkpoint:
its implementations declare ``@hookimpl(order=N)`` (lower first), so that renaming an entry point
cannot change a checkpoint; one without an order, or two with the same, are refused when the
plugins load.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import contextlib

    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.configs.types import PolicyFeature
    from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata

    from lerobot_ext.config import ExtTrainPipelineConfig
    from lerobot_ext.context import RunContext
    from lerobot_ext.dataset_changes import AppliedChanges, DatasetChange, SavedCheckpoint
    from lerobot_ext.dataset_sources import CombinedDatasets, DatasetPart, DatasetSource, StoredDataset
    from lerobot_ext.layout import DatasetDescription
    from lerobot_ext.load_overrides import LoadOverrides
    from lerobot_ext.robot_adapter import AdapterChoice, RobotAdapter

PROJECT_NAME = "lerobot_ext"
#: The attribute ``@hookimpl(order=N)`` sets on an implementation.
ORDER_ATTRIBUTE = "lerobot_ext_order"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


class HookKind(enum.StrEnum):
    """How a hook's implementations are called (see the module docstring)."""

    REGISTER = "register"
    NOTIFY = "notify"
    FIRST_RESULT = "first result"
    CHAIN = "chain"
    COLLECT = "collect"


class HookimplMarker(pluggy.HookimplMarker):
    """pluggy's marker, plus ``order=N``: where an implementation of an ordered hook
    (``transform_dataset``) goes, lower first."""

    def __call__(self, function: Any = None, *, order: int | None = None, **options: Any) -> Any:
        if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
            raise TypeError(f"@hookimpl(order={order!r}): order must be an int (lower runs first)")
        marker = super()

        def mark(implementation: Any) -> Any:
            marked = marker.__call__(implementation, **options)
            if order is not None:
                setattr(marked, ORDER_ATTRIBUTE, order)
            return marked

        return mark if function is None else mark(function)


#: Marks a function or method as a hook implementation: ``@hookimpl``, ``@hookimpl(tryfirst=True)``,
#: ``@hookimpl(order=20)`` (``transform_dataset``).
hookimpl = HookimplMarker(PROJECT_NAME)


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
    """Register robot adapters (instances of ``lerobot_ext.robot_adapter.RobotAdapter``).

    Called once per process after plugins load. An adapter tells plugins (through
    ``lerobot_ext.robot_adapter.layout_of``) and ``lerobot-ext inspect`` how a robot's state and
    action vectors are laid out; which one a run uses is decided by :func:`select_robot_adapter`.

    :param register: call ``register(adapter)``; ``adapter.name`` must be unique.
    """


@hookspec
def register_config_fields(register: Callable[..., None]) -> None:
    """Add command-line flags to ``lerobot-train-ext`` (fields of its config).

    Called once per process after plugins load, before the command line is parsed: the config
    class is assembled from the loaded plugins' fields on top of lerobot's
    ``TrainPipelineConfig``.

    :param register: call ``register(name, type, default, help="")`` per field. ``--name=value``
        then sets ``cfg.name``; a ``bool`` field also takes the bare ``--name`` (= true); a
        dataclass ``type`` makes a group (``--name.sub=value``; ``default`` may be ``None`` for
        the dataclass' own defaults), and if it has a ``bool`` field ``enable``, the bare
        ``--name`` means ``--name.enable=true``. ``help`` is shown by ``--help`` with the
        plugin's name. A name ``group.name`` adds a field to one of lerobot-train's plain config
        groups (``dataset``, ``eval``, ``wandb``, ``job``...; not ``policy``, a choice of
        classes): ``--dataset.name=value`` sets ``cfg.dataset.name`` on a subclass of upstream's
        group class, upstream's own fields unchanged.

    Fields are saved in each checkpoint's ``train_config.json`` and come back with ``--resume``;
    resuming a config whose field's plugin is not loaded is a ``ConfigError`` naming the field
    and the plugin. A name another plugin declared, or one of lerobot-train's own fields, is a
    ``PluginConflictError`` naming both. A flag no loaded plugin declares is an unknown flag.
    """


@hookspec
def register_commands(register: Callable[..., None]) -> None:
    """Add subcommands to the ``lerobot-ext`` command.

    Called once per process after plugins load, like every registration hook (in a training run
    too; only ``lerobot-ext`` builds and runs the commands).

    :param register: call ``register(name, help, configure, run)``: ``configure(parser)`` adds
        arguments to the subcommand's ``argparse.ArgumentParser`` (``configure(parser, context)``
        also gets the command's :class:`~lerobot_ext.context.RunContext`); ``run(args)`` runs it with the
        parsed ``argparse.Namespace`` (``run(args, context)`` also gets the command's
        :class:`~lerobot_ext.context.RunContext`) and returns the exit status (``None`` means 0). A
        :class:`~lerobot_ext.errors.LerobotExtError` raised by ``run`` is printed as one line
        and exits with status 2. A name taken by another plugin or by lerobot-ext itself
        (``plugins``, ``doctor``, ``inspect``) is a ``PluginConflictError``.
    """


@hookspec
def register_hookspecs(register: Callable[[object], None]) -> None:
    """Add hooks of a plugin's own that other plugins can implement (pytest's ``addhooks``).

    Called once per process after plugins load, before every other registration hook and before
    hook names are checked, so another plugin may implement the added hooks.

    :param register: call ``register(specs, kinds={...})`` with a module or class whose functions
        are marked with ``pluggy.HookspecMarker("lerobot_ext")``; ``kinds`` maps a hook's name to
        its :class:`HookKind` (default ``COLLECT``, ``FIRST_RESULT`` for a ``firstresult`` spec).
        Call the added hooks through the run context, e.g.
        ``run.hooks.collect("my_hook", arg=...)`` (``(plugin, answer)`` pairs).
    """


@hookspec
def register_upstream_names(register: Callable[..., None]) -> None:
    """Declare what a plugin relies on in upstream beyond what its imports say.

    Called once per process after plugins load. ``lerobot-ext doctor`` checks each declared name
    on the installed lerobot and shows it with the plugin's name, so an upstream release that
    moves one is reported before a run fails on it. The names an installed plugin's package
    imports (``from lerobot.x import Y``) are read from its source and checked too: declare only
    private attributes, the parameters a call passes by name, and behaviours.

    :param register: call ``register(path, why)`` per name, ``path`` a dotted path such as
        ``"lerobot.policies.diffusion.modeling_diffusion.DiffusionModel._prepare_global_conditioning"``
        (the longest importable module, then attributes) and ``why`` what the plugin uses it for.
        ``register(path, why, parameters=("name", ...))`` also checks that the callable still
        takes those arguments by name (for a dataclass, that it still has those fields). A path
        ``"pkg.module.Class().attr"`` names an attribute instances get in ``__init__``, checked in
        the class's source without building one. ``check=`` (a function returning ``None`` when
        the name behaves as the plugin relies on, else what is wrong) checks a behaviour rather
        than a name; ``note=`` says in words what of the name is relied on (the path is a dotted
        path alone). Several plugins may declare the same name.
    """


# --------------------------------------------------------------------------- transforming: config


@hookspec
def doctor_report(run: RunContext) -> dict[str, Any] | None:
    """Add a section to ``lerobot-ext doctor``: what a plugin checks of this installation.

    Called once by ``lerobot-ext doctor`` (``--json`` too), after the upstream names are checked,
    with the command's context (``run.command == "doctor"``). A section informs: it does not
    change doctor's exit status.

    :return: ``None`` or ``{"title": str, "lines": [str, ...], "data": <a JSON value>}``: a
        heading, the lines printed under it (one fact each), and what ``--json`` shows.
    """


@hookspec
def configure(cfg: ExtTrainPipelineConfig, run: RunContext) -> ExtTrainPipelineConfig | None:
    """Check and adjust the run's config after the command line is parsed, before training.

    Chained: each implementation gets the config the previous one returned (a ``tryfirst``
    implementation that replaces the config - e.g. with the one of a run it continues - is seen by
    all the others). ``lerobot-ext inspect`` chains it the same way.
    Called once per process, before upstream's ``cfg.validate()`` and before any data is read:
    the place to refuse a bad value of a plugin's own flag with a ``ConfigError`` that names
    the value and the fix. Note that upstream resolves ``--policy.path`` and ``--resume`` inside
    ``validate()``, so ``cfg.policy`` may still be ``None`` here and policy fields set here can
    be overwritten; change policy fields in :func:`configure_policy` instead.

    :param cfg: the parsed config; may be mutated in place.
    :return: ``None`` (keep ``cfg``, possibly mutated) or a replacement config of the same
        class; anything else is a ``PluginHookError``.
    """


@hookspec
def configure_policy(
    cfg: ExtTrainPipelineConfig,
    policy_cfg: PreTrainedConfig,
    dataset_meta: LeRobotDatasetMetadata,
    planned: AppliedChanges | None,
    run: RunContext,
) -> dict[str, Any] | None:
    """Propose policy-config changes once the (transformed) dataset is known.

    Called once per process, right before ``make_policy``, after :func:`transform_dataset`
    rewrote ``dataset_meta.features``/``stats`` - so widths seen here are the widths the policy
    gets.

    :param cfg: the run's config (read only).
    :param policy_cfg: the policy config upstream is about to build (read only here).
    :param dataset_meta: the dataset metadata the policy will be built from (read only).
    :param planned: every plugin's change of the run, with the dataset before them
        (``planned.original``) and the robot adapter - ``None`` where no dataset was loaded.
    :return: ``None`` or a mapping ``{field_name: new_value}``. lerobot-ext checks that each
        field exists on ``policy_cfg``, applies it, and logs ``plugin: policy.<field> old -> new``.
        Two plugins setting one field to different values is a ``PluginConflictError``.
    """


@hookspec
def step_phase_timing(cfg: ExtTrainPipelineConfig, run: RunContext) -> bool | None:
    """Ask for per-step phase timings (data wait, preprocess, forward, backward, optimizer...).

    Called once per process before training. If any implementation returns ``True``, the seams
    measure each step's phases (synchronising CUDA at phase boundaries) and pass them to
    :func:`on_step_phases`. Otherwise nothing is measured and nothing is added to the step.
    """


# --------------------------------------------------------------------------- transforming: data


@hookspec(firstresult=True)
def select_robot_adapter(
    cfg: ExtTrainPipelineConfig,
    dataset: DatasetDescription,
    adapters: Mapping[str, RobotAdapter],
    run: RunContext,
) -> AdapterChoice | None:
    """Choose the robot adapter for a dataset (the first non-``None`` answer wins).

    Called once per process when the training dataset is loaded (and by ``lerobot-ext
    inspect``), before :func:`transform_dataset`.

    :param dataset: the dataset as stored (features, stats, robot_type, modality.json).
    :param adapters: every registered adapter by name.
    :return: ``AdapterChoice(adapter, reason)`` (``lerobot_ext.robot_adapter``), or ``None`` to
        leave the choice to other plugins. A requested adapter that does not exist should be a
        ``ConfigError`` listing the registered ones.
    """


@hookspec
def transform_dataset(
    cfg: ExtTrainPipelineConfig,
    dataset: DatasetDescription,
    adapter: RobotAdapter | None,
    run_datasets: list[StoredDataset],
    run: RunContext,
) -> DatasetChange | None:
    """Change what the policy sees: the dataset's features and stats, and the saved pipelines.

    Called once per process when the training dataset is loaded (and by ``lerobot-ext
    inspect``), before the policy and its normaliser are built. Each implementation gets the
    dataset as the previous one left it.

    :param dataset: the dataset's :class:`~lerobot_ext.layout.DatasetDescription` (do not mutate).
    :param adapter: the robot adapter :func:`select_robot_adapter` chose, or ``None``.
    :param run_datasets: every dataset of the run as stored, each a
        :class:`~lerobot_ext.StoredDataset` with its own adapter, the primary first (one, unless
        :func:`more_datasets` added some: then this hook runs for each, and a name a flag gives
        may belong to another of them).
    :return: ``None`` when the run does not ask for this plugin's change, or a
        :class:`~lerobot_ext.dataset_changes.DatasetChange`: the new ``features`` and
        ``stats`` (the policy is built from them), ``preprocessor_steps`` (put first in the
        preprocessor, run on every training batch and at inference) and ``postprocessor_steps``
        (put last in the postprocessor, on unnormalised actions), and a one-line ``summary``.
        Steps are lerobot ``ProcessorStep`` instances saved in the checkpoint by class path, so
        their module must import without lerobot-ext for the checkpoint to deploy anywhere. Raise
        a ``ConfigError`` for a request the dataset cannot satisfy, naming the value and the fix.
    """


@hookspec
def check_checkpoint(
    cfg: ExtTrainPipelineConfig, checkpoint: SavedCheckpoint, planned: AppliedChanges, run: RunContext
) -> None:
    """Refuse to continue from a checkpoint that does not fit this run's data changes.

    Called once per process when the run starts from a local checkpoint (``--resume``, or
    ``--policy.path``), after :func:`transform_dataset` and before the weights are loaded.

    :param checkpoint: the checkpoint's saved processor steps (class path and config) and
        policy ``config.json``.
    :param planned: every plugin's change for this run, with the steps it will add.
    :raise ConfigError: saying what the checkpoint was trained with and what to pass instead.
    """


@hookspec
def checkpoint_loading(
    policy_cfg: PreTrainedConfig, pretrained_path: Path, run: RunContext
) -> LoadOverrides | None:
    """Change what upstream reads from a saved policy folder, before it is built from it.

    Called once per load of a ``pretrained_model/`` (or ``pretrained_model_ema/``) folder: in a
    training run that starts from one (``--policy.path``, ``--resume``, ``--auto_resume``; every
    process, right before ``make_policy`` and before :func:`configure_policy`), in
    ``lerobot-eval-ext``, and in :func:`lerobot_ext.load_policy` (``lerobot-ext compare``,
    scripts) - and, before anything is built, by the ``long_runs`` first-hour check when a name
    the folder's files give is not found otherwise. A saved file names things outside its folder - a VLM's Hub id, a tokenizer's
    folder - that upstream looks up from the current directory or the Hub; an implementation
    that knows where they are says so here.

    :param policy_cfg: the policy config upstream is about to build from (read only).
    :param pretrained_path: the folder the weights, ``config.json`` and the saved processors are
        loaded from.
    :return: ``None`` or a :class:`~lerobot_ext.LoadOverrides`: its ``policy`` fields are set
        on the config (each change logged once), its ``preprocessor``/``postprocessor`` step
        arguments join upstream's ``preprocessor_overrides``/``postprocessor_overrides`` (an
        argument the caller passed itself wins). Two plugins setting one field or step argument
        to different values is a ``PluginConflictError``.
    """


@hookspec
def more_datasets(cfg: ExtTrainPipelineConfig, run: RunContext) -> list[DatasetSource] | None:
    """Datasets to train on besides ``--dataset.repo_id``/``--dataset.root`` (the primary).

    Called once per process when upstream has loaded the primary dataset (inside upstream's
    ``make_train_eval_datasets``: under torchrun the main process first, the others after its
    barrier - so a download happens once), before any dataset hook. Load each dataset as upstream
    loads the primary (``lerobot.datasets.factory.make_train_eval_datasets`` on a copy of the
    config), so every ``--dataset.*`` option applies to it.

    :return: ``None`` or a list of :class:`~lerobot_ext.DatasetSource` (``label``, ``train``,
        ``eval``); the run numbers them after the primary (``index`` 1, 2, ...). With any,
        :func:`select_robot_adapter`, :func:`transform_dataset` and :func:`wrap_dataset` run for
        each dataset on its own, and :func:`combine_datasets` makes one of them.
    """


@hookspec(firstresult=True)
def combine_datasets(
    cfg: ExtTrainPipelineConfig, parts: list[DatasetPart], run: RunContext
) -> CombinedDatasets | None:
    """Make one training dataset (and one held-out dataset) of several (the first answer wins).

    Called once per process when :func:`more_datasets` gave datasets, after each one's
    :func:`wrap_dataset`, before :func:`datasets_ready`. ``parts[0]`` is the primary.

    :param parts: each dataset (``part.source``: ``label``, ``train``, ``eval``) with the changes
        the plugins planned for it from its own metadata (``part.planned``).
    :return: a :class:`~lerobot_ext.CombinedDatasets`: ``train`` (its ``meta`` what upstream
        builds the policy, the processors and the sampler from), ``eval`` (or ``None``) and
        ``planned``, whose steps are the ones saved in the checkpoint and whose ``dataset``
        carries the features and statistics of all the data. Raise a ``ConfigError`` naming the
        dataset, the feature and the flag that reconciles them for parts that cannot be combined.
    """


@hookspec
def compare_datasets(
    cfg: ExtTrainPipelineConfig, parts: list[DatasetPart], run: RunContext
) -> list[str] | None:
    """Say whether datasets can be trained together, and which flags would make them so.

    Called by ``lerobot-ext inspect DIR DIR...`` with each dataset's planned changes (no data
    read); ``parts[0]`` is the first folder named. The answer of a plugin that would combine them
    in a run should match what :func:`combine_datasets` would do.

    :return: ``None`` or the lines to print (the first one a verdict).
    """


@hookspec(firstresult=True)
def make_sampler(
    cfg: ExtTrainPipelineConfig, dataset: Any, arguments: dict[str, Any], run: RunContext
) -> Any:
    """Choose the order the training items are drawn in (the first answer wins).

    Called once per process where upstream builds its ``EpisodeAwareSampler`` for the training
    dataloader (a map-style dataset), before a resumed run positions it.

    :param dataset: the training dataset upstream made the sampler for (what
        :func:`datasets_ready` saw).
    :param arguments: the keyword arguments upstream passes to ``EpisodeAwareSampler``
        (``dataset_from_indices``, ``dataset_to_indices``, ``episode_indices_to_use``,
        ``drop_n_last_frames``, ``shuffle``, ``seed``, ...).
    :return: ``None`` (upstream's sampler) or one that behaves as upstream's does, because
        upstream resumes it by position: ``len()`` the number of positions per epoch, each
        ``iter()`` the next epoch, the order a pure function of ``(seed, epoch)``, and
        ``state_dict()``/``load_state_dict({"epoch": e, "start_index": i})``.
    """


@hookspec
def wrap_dataset(
    cfg: ExtTrainPipelineConfig,
    dataset: Any,
    role: str,
    planned: AppliedChanges,
    source: DatasetSource,
    run: RunContext,
) -> Any:
    """Change how training items are produced (what is read and decoded, from where).

    Called once per process for the training dataset (``role="train"``) and, if there is one,
    the held-out one (``role="eval"``), after :func:`check_checkpoint` - for each dataset of the
    run when :func:`more_datasets` added some. Each implementation gets the previous one's
    dataset; lerobot-ext then gives upstream a view whose ``meta`` carries the changed features
    and stats.

    :param dataset: upstream's ``LeRobotDataset`` (or what a previous plugin returned).
    :param planned: every plugin's change for this dataset.
    :param source: which of the run's datasets this is (``source.index`` 0 for the primary,
        ``source.label`` its name).
    :return: ``None`` (unchanged) or the dataset to use instead. Items must stay what the
        policy and processors expect for ``planned``.
    """


@hookspec
def datasets_ready(
    cfg: ExtTrainPipelineConfig, dataset: Any, eval_dataset: Any, rank: int, run: RunContext
) -> None:
    """The datasets upstream trains on and evaluates on, final.

    Called once in every process, after every :func:`wrap_dataset`, before the policy is built.
    ``eval_dataset`` holds the episodes ``--dataset.eval_split`` keeps out of training (the last
    ones of each task, upstream's rule: the same in a resumed run), or is ``None`` without a split.
    Read items from them; do not change them (the ``validation`` plugin keeps the held-out one to
    measure the policy's actions on it). Return ``None``.
    """


@hookspec
def env_policy_features(
    policy_cfg: PreTrainedConfig,
    env_features: dict[str, PolicyFeature],
    checkpoint: SavedCheckpoint | None,
    run: RunContext,
) -> dict[str, PolicyFeature] | None:
    """The features to build a checkpoint's policy with for a simulator (``lerobot-eval-ext``).

    Upstream's ``make_policy`` gives a checkpoint's policy the environment's action feature; a
    plugin whose saved steps change the action width says what the policy really has.

    :param env_features: the environment's features (upstream's ``env_to_policy_features``).
    :param checkpoint: the local checkpoint's saved steps, or ``None`` (a Hub checkpoint).
    :return: ``None`` (upstream's features) or the features to use; the first answer wins.
    """


@hookspec
def policy_made(cfg: ExtTrainPipelineConfig, policy: Any, rank: int, run: RunContext) -> None:
    """The policy exists (weights loaded), before the optimizer and ``accelerator.prepare``.

    Called in every process. The place to refuse a run that cannot finish - e.g. an output
    folder on a disk without room for one checkpoint of this policy - with a ``ConfigError``
    before the first step. Do not change what the policy computes; a plugin may resize its
    parameters here, before the optimizer exists (``vla_caps``' ``--widen_pretrained``), with
    ``tryfirst`` so that plugins which copy the parameters (EMA) see the result.
    """


@hookspec
def processors_made(
    cfg: ExtTrainPipelineConfig, preprocessor: Any, postprocessor: Any, rank: int, run: RunContext
) -> None:
    """The policy's pre- and postprocessor exist, with the plugins' steps in them.

    Called in every process, before the first step. They are the pipelines training uses and the
    checkpoint saves; keep a reference to process batches as training does (e.g. to evaluate
    on held-out data), but do not change them here - add steps through :func:`transform_dataset`.
    """


@hookspec
def before_first_batch(
    cfg: ExtTrainPipelineConfig, dataloader: Any, start_step: int, rank: int, run: RunContext
) -> None:
    """The training dataloader exists and its first batch is fetched next.

    Called once in every process, after :func:`on_train_start`. ``dataloader`` is the one upstream
    iterates (accelerate's prepared dataloader); ``start_step`` is non-zero when resuming. An
    implementation may position it - not replace it - for what follows: the ``long_runs`` plugin
    sets a resumed run's epoch there, which accelerate would restart at 0. Return ``None``.
    """


@hookspec
def first_batch_ready(cfg: ExtTrainPipelineConfig, rank: int, start_step: int, run: RunContext) -> None:
    """The first batch is fetched; the first optimisation step is next.

    Called once in every process, after :func:`on_train_start`. Unlike the lifecycle hooks it may
    set process state the first step depends on: creating the data iterator draws from torch's
    random generator, so this is where a resumed run can put back the random state its checkpoint
    recorded, so that a resumed run continues exactly.
    """


@hookspec
def optimizer_ready(
    cfg: ExtTrainPipelineConfig,
    optimizer: Any,
    lr_scheduler: Any,
    start_step: int,
    rank: int,
    run: RunContext,
) -> None:
    """The optimizer and learning-rate scheduler upstream steps; the first optimisation step is next.

    Called once in every process, after :func:`first_batch_ready`, with a resumed run's optimizer
    and scheduler state already loaded. ``lr_scheduler`` may be ``None`` (a policy without one);
    both may be accelerate's wrappers. An implementation may change the learning rates and nothing
    else: the ``long_runs`` plugin applies a continued run's new ``--optimizer.lr`` here, which
    upstream's resume would otherwise replace with the saved one. Return ``None``.
    """


@hookspec
def request_stop(
    cfg: ExtTrainPipelineConfig, step: int, rank: int, world_size: int, run: RunContext
) -> str | None:
    """Ask the run to stop after this step (e.g. the process got SIGTERM).

    Called in every process after every step's :func:`on_step_end`. Return a short reason to stop,
    or ``None``. If any process asks, every process - they agree through one all-reduce per step
    under torchrun - saves a checkpoint of this step (the same atomic write as every checkpoint),
    fires :func:`on_checkpoint_saved`, then ends the run as a finished one: :func:`on_train_end`
    fires (``step`` is the last step done) and the process exits 0. With ``--save_checkpoint=false``
    the run stops after the step without a checkpoint. The core logs only that the run stopped,
    why, and where its checkpoint is; what the user can do next is the asking plugin's to say
    (e.g. in its :func:`on_train_end`).
    """


@hookspec
def around_evaluation(
    cfg: ExtTrainPipelineConfig, policy: Any, step: int, rank: int, run: RunContext
) -> contextlib.AbstractContextManager[Any] | None:
    """Wrap one in-training environment evaluation (``--env.type=... --env_eval_freq=N``).

    Called right before upstream evaluates the policy in its environments, in the process that
    evaluates (upstream's main process; the others wait at its barrier). ``policy`` is the policy
    being evaluated (unwrapped from DDP), ``step`` the step after which the evaluation runs. Return
    a context manager, or ``None`` to leave the evaluation alone: every context returned is entered
    in hook order before the evaluation and exited in reverse order after it, also when the
    evaluation fails. A context may change what is evaluated - the ``ema`` plugin puts the EMA
    weights in the policy on lerobot 0.6.1 (``--ema.use_for_eval``), as 0.6.2 does itself - but
    must leave the policy exactly as it found it when it exits: training goes on with it. A context
    must not swallow the evaluation's exception (that is a ``PluginHookError``).
    """


# --------------------------------------------------------------------------- observing


@hookspec
def on_train_start(
    cfg: ExtTrainPipelineConfig, rank: int, world_size: int, start_step: int, device: str, run: RunContext
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
    run: RunContext,
) -> None:
    """One optimisation step finished (forward, backward, optimizer and scheduler step done).

    Called in every process, before upstream logs, evaluates or checkpoints that step. Its
    time counts as the step's ``hooks`` phase in ``--profile``.

    :param step: 1-based number of the step that just finished (counts across resumes).
    :param metrics: this process's values for this step: ``loss``, ``grad_norm``, ``lr``,
        ``update_s``, ``dataloading_s`` and any scalar the policy returned. Do not mutate.
    """


@hookspec
def on_phase_start(cfg: ExtTrainPipelineConfig, phase: str, rank: int, run: RunContext) -> None:
    """A phase of the step starts.

    Called at each phase boundary, right after its timestamp (on CUDA, after the
    synchronisation), in every process, and only when :func:`step_phase_timing` asked for
    timings. It runs about eight times per step and its time counts in the phase it starts: keep
    it cheap (the profiler reads CUDA's peak-memory counters here).

    :param phase: one of ``lerobot_ext.PHASES`` (``preprocess`` a second time after
        ``h2d_copy``), or ``"between_steps"`` once the step's ``on_step_end`` calls returned
        (:func:`on_step_phases` follows).
    """


@hookspec
def on_step_phases(
    cfg: ExtTrainPipelineConfig,
    step: int,
    phases: dict[str, float],
    rank: int,
    world_size: int,
    run: RunContext,
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
def checkpoint_writing(
    cfg: ExtTrainPipelineConfig, step: int, checkpoint_dir: Path, rank: int, run: RunContext
) -> None:
    """Add files to the checkpoint of ``step`` while it is being written.

    Called in every process that runs upstream's save (the main process on lerobot 0.6.1; every
    rank from 0.6.2), right after upstream wrote the checkpoint into ``checkpoint_dir`` - the
    ``<step>.partial/`` folder - and before it is renamed to ``<step>/`` and ``checkpoints/last``
    moves to it. Files written here are part of that one atomic checkpoint: a crash before the
    rename leaves no checkpoint that looks complete, with or without them (the ``ema`` plugin
    writes ``pretrained_model_ema/`` and ``training_state/ema_state.pt`` here on 0.6.1). Where
    every rank runs the save, the rename waits until every rank's implementations returned. An
    exception ends the run without the checkpoint. Return ``None``.
    """


@hookspec
def on_checkpoint_saved(
    cfg: ExtTrainPipelineConfig, step: int, checkpoint_dir: Path, rank: int, run: RunContext
) -> None:
    """A checkpoint is complete on disk.

    Called in every process once all processes passed the barrier that follows the save (only
    the main process writes checkpoints), so ``checkpoint_dir`` is complete when this runs.
    """


@hookspec
def on_train_end(cfg: ExtTrainPipelineConfig, step: int, rank: int, world_size: int, run: RunContext) -> None:
    """Training finished normally - after its last step, or stopped early on request
    (:func:`request_stop`, e.g. SIGTERM) once the checkpoint of its last step is complete.

    Called in every process after the last step, while the distributed process group is still
    alive: an implementation may use ``torch.distributed`` collectives, and if it does, it must
    do so in every process.
    """


@hookspec
def on_exception(cfg: ExtTrainPipelineConfig, exception: BaseException, rank: int, run: RunContext) -> None:
    """Training stopped with an exception (including ``KeyboardInterrupt``; not a stop asked for
    through :func:`request_stop`, which ends like a finished run).

    Called in every process that saw the exception, before it propagates. Do not use
    collectives here: other processes may be gone. An implementation may translate the exception
    into one a user can act on by raising a :class:`~lerobot_ext.LerobotExtError` chained
    ``from exception`` (printed as one line, exit status 2 - the profiler does this for a CUDA
    out-of-memory error); the implementations after it are then skipped, so do it
    ``trylast``.
    """
