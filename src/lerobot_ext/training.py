"""One ``lerobot-train-ext`` run: upstream's training loop with our seams around it.

``run_training`` applies the ``configure`` hooks, then runs upstream's undecorated
``lerobot.scripts.lerobot_train.train`` with the seams of ``lerobot_ext.seams`` in place. The
seams turn upstream's calls into events of the :class:`TrainingRun`, which dispatches them to the
plugins' hooks. It knows no feature: what a dataset change, an adapter or a timing means is up
to the plugins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lerobot_ext.checkpoint_loading import FolderOverrides, apply_to_policy_config
from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.console import get_logger
from lerobot_ext.context import RunContext
from lerobot_ext.dataset_changes import AppliedChanges, SavedCheckpoint
from lerobot_ext.dataset_sources import CombinedDatasets, DatasetPart, DatasetSource, StoredDataset
from lerobot_ext.dataset_view import DatasetWithMetadata
from lerobot_ext.dispatch import Hooks
from lerobot_ext.errors import (
    ConfigError,
    LerobotExtError,
    PluginConflictError,
    PluginHookError,
    TrainingStopped,
    UpstreamChangedError,
)
from lerobot_ext.layout import DatasetDescription
from lerobot_ext.pipeline_steps import install_steps
from lerobot_ext.robot_adapter import AdapterChoice
from lerobot_ext.step_timing import Mark, StepClock

log = get_logger("training")


class TrainingRun:
    """State shared by the seams during one run (one instance per process)."""

    def __init__(self, cfg: ExtTrainPipelineConfig, context: RunContext, hooks: Hooks) -> None:
        self.cfg = cfg
        self.context = context
        self.hooks = hooks
        self.accelerator: Any = None
        self.device_type = "cpu"
        self.step = 0
        self.changes: AppliedChanges | None = None
        # The training dataset upstream trains on (datasets_made's answer).
        self.dataset: Any = None
        self.pending_checkpoint: int | None = None
        # True while upstream's save_checkpoint runs: its own barriers do not complete the save.
        self.saving_checkpoint = False
        self.ended = False
        # Why the run stops early (request_stop), once the processes agreed.
        self.stop_reason: str | None = None
        # Undo functions of the method seams put on upstream objects during the run.
        self.undo_instance_seams: list[Callable[[], None]] = []
        # Upstream makes one training data iterator per run (cycle); a second one is a change.
        self.cycles = 0
        answers = hooks.collect("step_phase_timing", cfg=cfg, run=context)
        self.timing_requested = any(answer for _, answer in answers)
        self.clock: StepClock | None = None
        self.load_overrides = FolderOverrides(hooks, context)

    # The run's rank, world size and resume point live in its context, which the hooks get.
    @property
    def rank(self) -> int:
        return self.context.rank

    @property
    def world_size(self) -> int:
        return self.context.world_size

    @property
    def start_step(self) -> int:
        return self.context.start_step

    @start_step.setter
    def start_step(self, step: int) -> None:
        self.context.start_step = step

    @property
    def pretrained_path(self) -> str | None:
        policy = self.cfg.policy
        return str(policy.pretrained_path) if policy is not None and policy.pretrained_path else None

    # ------------------------------------------------------------------ accelerator

    def attach_accelerator(self, accelerator: Any) -> None:
        """Called by the ``init_logging`` seam, the first point where upstream's accelerator exists."""
        self.accelerator = accelerator
        self.context.rank = int(accelerator.process_index)
        self.context.world_size = int(accelerator.num_processes)
        self.device_type = accelerator.device.type
        if self.timing_requested:
            listening = bool(self.hooks.implementations("on_phase_start"))
            self.clock = StepClock(self.device_type, self._phase_started if listening else None)

    def _phase_started(self, phase: str) -> None:
        self.hooks.notify("on_phase_start", cfg=self.cfg, phase=phase, rank=self.rank, run=self.context)

    # ------------------------------------------------------------------ data

    def datasets_made(self, dataset: Any, eval_dataset: Any) -> tuple[Any, Any]:
        """The ``make_train_eval_datasets`` event: the plugins add datasets, choose an adapter and
        change what the policy sees for each, check a checkpoint against it, change how items are
        produced and - with several datasets - combine them."""
        primary = DatasetSource(primary_label(self.cfg), dataset, eval_dataset, index=0)
        sources = [primary]
        for _, answer in self.hooks.collect("more_datasets", cfg=self.cfg, run=self.context):
            for source in answer:
                source.index = len(sources)
                sources.append(source)
        stored = [
            stored_dataset(
                self.hooks, self.cfg, self.context, DatasetDescription.from_metadata(source.train.meta)
            )
            for source in sources
        ]
        parts = [self._planned_part(source, one, stored) for source, one in zip(sources, stored, strict=True)]
        self.changes = parts[0].planned
        checkpoint = SavedCheckpoint.read(self.pretrained_path)
        if checkpoint is not None:
            self.hooks.notify(
                "check_checkpoint",
                cfg=self.cfg,
                checkpoint=checkpoint,
                planned=self.changes,
                run=self.context,
            )
        for part in parts:
            part.source.train = self._wrapped(part, part.source.train, "train")
            if part.source.eval is not None:
                part.source.eval = self._wrapped(part, part.source.eval, "eval")
        if len(parts) == 1:
            dataset, eval_dataset = primary.train, primary.eval
            meta_of: Any = dataset.meta
        else:
            answer = self.hooks.first("combine_datasets", cfg=self.cfg, parts=parts, run=self.context)
            if answer is None:
                extra = ", ".join(source.label for source in sources[1:])
                raise PluginHookError(
                    f"more_datasets added {extra}, but no loaded plugin implements combine_datasets to "
                    "train on them together; install the plugin that combines them, or train on one"
                )
            combined: CombinedDatasets = answer[1]
            dataset, eval_dataset, self.changes = combined.train, combined.eval, combined.planned
            meta_of = dataset.meta
        if self.changes.changed or len(parts) > 1:
            dataset = DatasetWithMetadata(dataset, self.changes.metadata_view(meta_of))
            if eval_dataset is not None:  # its own episodes, the changed features and stats
                eval_dataset = DatasetWithMetadata(
                    eval_dataset, self.changes.metadata_view(eval_dataset.meta)
                )
        self.hooks.notify(
            "datasets_ready",
            cfg=self.cfg,
            dataset=dataset,
            eval_dataset=eval_dataset,
            rank=self.rank,
            run=self.context,
        )
        self.dataset = dataset
        return dataset, eval_dataset

    def _planned_part(
        self, source: DatasetSource, one: StoredDataset, stored: list[StoredDataset]
    ) -> DatasetPart:
        description = one.description
        several = len(stored) > 1
        prefix = f"{source.label}: " if several else ""
        try:
            planned = planned_changes(self.hooks, self.cfg, self.context, description, stored)
        except LerobotExtError as error:
            if not several:
                raise
            # Which of the run's datasets a flag does not fit (the same error type where it can be).
            try:
                named = type(error)(f"{prefix}{error}")
            except TypeError:
                named = ConfigError(f"{prefix}{error}")
            raise named from error
        adapter = planned.adapter
        if adapter is not None:
            log.info(
                "%srobot adapter: %s (%s; %s)",
                prefix,
                adapter.name,
                adapter.description,
                planned.adapter_reason,
            )
            for note in adapter.notes(description):
                log.info("%s%s: %s", prefix, adapter.name, note)
        for plugin, summary in planned.plugin_summaries:
            log.info("%s%s: %s", prefix, plugin, summary)
        return DatasetPart(source, planned)

    def _wrapped(self, part: DatasetPart, data: Any, role: str) -> Any:
        data, _ = self.hooks.chain(
            "wrap_dataset",
            cfg=self.cfg,
            dataset=data,
            role=role,
            planned=part.planned,
            source=part.source,
            run=self.context,
        )
        return data

    def make_sampler(self, arguments: dict[str, Any]) -> Any:
        """Upstream is about to build its training sampler: a plugin may give another, or ``None``."""
        answer = self.hooks.first(
            "make_sampler", cfg=self.cfg, dataset=self.dataset, arguments=arguments, run=self.context
        )
        return answer[1] if answer is not None else None

    def processors_made(self, preprocessor: Any, postprocessor: Any) -> tuple[Any, Any]:
        """The ``make_pre_post_processors`` event: the plugins' steps join the pipelines."""
        preprocessor, postprocessor = install_steps(
            preprocessor, postprocessor, self.changes, self.pretrained_path
        )
        self.hooks.notify(
            "processors_made",
            cfg=self.cfg,
            preprocessor=preprocessor,
            postprocessor=postprocessor,
            rank=self.rank,
            run=self.context,
        )
        return preprocessor, postprocessor

    def policy_made(self, policy: Any) -> None:
        """The ``make_policy`` event, after upstream built the policy."""
        self.hooks.notify("policy_made", cfg=self.cfg, policy=policy, rank=self.rank, run=self.context)

    # ------------------------------------------------------------------ policy config

    def checkpoint_loading(self, policy_cfg: Any) -> None:
        """Apply the ``checkpoint_loading`` policy changes to ``policy_cfg`` when the run builds
        its policy from a saved folder."""
        if self.pretrained_path:
            apply_to_policy_config(policy_cfg, self.load_overrides(policy_cfg, self.pretrained_path))

    def configure_policy(self, policy_cfg: Any, dataset_meta: Any) -> None:
        """Apply the ``configure_policy`` hooks' proposals to ``policy_cfg`` (in place)."""
        proposals: dict[str, tuple[str, Any]] = {}
        for plugin, result in self.hooks.collect(
            "configure_policy",
            cfg=self.cfg,
            policy_cfg=policy_cfg,
            dataset_meta=dataset_meta,
            planned=self.changes,
            run=self.context,
        ):
            for name, value in result.items():
                if not hasattr(policy_cfg, name):
                    raise PluginHookError(
                        f"plugin '{plugin}' set policy.{name}, but {type(policy_cfg).__name__} has no such field"
                    )
                if name in proposals and proposals[name][1] != value:
                    other, other_value = proposals[name]
                    raise PluginConflictError(
                        f"plugins '{other}' and '{plugin}' set policy.{name} to different values "
                        f"({other_value!r} vs {value!r})"
                    )
                proposals[name] = (plugin, value)
        for name, (plugin, value) in proposals.items():
            old = getattr(policy_cfg, name)
            if old != value:
                setattr(policy_cfg, name, value)
                log.info("%s: policy.%s %r -> %r", plugin, name, old, value)

    # ------------------------------------------------------------------ lifecycle events

    def train_started(self) -> None:
        self.cycles += 1
        if self.cycles > 1:
            raise UpstreamChangedError(
                "upstream's training called cycle() a second time in one run; lerobot-ext relies on one "
                "training data iterator per run (on_train_start and first_batch_ready fire at it). This "
                "lerobot is not one lerobot-ext supports as is: run `lerobot-ext doctor`."
            )
        self.step = self.start_step
        self.hooks.notify(
            "on_train_start",
            cfg=self.cfg,
            rank=self.rank,
            world_size=self.world_size,
            start_step=self.start_step,
            device=self.device_type,
            run=self.context,
        )

    def before_first_batch(self, dataloader: Any) -> None:
        self.hooks.notify(
            "before_first_batch",
            cfg=self.cfg,
            dataloader=dataloader,
            start_step=self.start_step,
            rank=self.rank,
            run=self.context,
        )

    def first_batch_fetched(self) -> None:
        self.hooks.notify(
            "first_batch_ready", cfg=self.cfg, rank=self.rank, start_step=self.start_step, run=self.context
        )

    def optimizer_ready(self, optimizer: Any, lr_scheduler: Any) -> None:
        """The first ``update_policy`` call: the optimizer and scheduler it steps, state loaded."""
        self.hooks.notify(
            "optimizer_ready",
            cfg=self.cfg,
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            start_step=self.start_step,
            rank=self.rank,
            run=self.context,
        )

    def step_ended(self, step: int, metrics: dict[str, float]) -> None:
        self.step = step
        self.hooks.notify(
            "on_step_end",
            cfg=self.cfg,
            step=step,
            metrics=metrics,
            rank=self.rank,
            world_size=self.world_size,
            run=self.context,
        )
        if self.clock is not None:
            self.clock.mark(Mark.HOOKS_END)
            self.hooks.notify(
                "on_step_phases",
                cfg=self.cfg,
                step=step,
                phases=self.clock.phases(),
                rank=self.rank,
                world_size=self.world_size,
                run=self.context,
            )
        if self.stop_reason is None:
            self.stop_reason = self._agreed_stop(step)

    def _agreed_stop(self, step: int) -> str | None:
        """Whether any process asked to stop after ``step`` (``request_stop``), the same answer in
        every process: one 1-element all-reduce under torchrun, nothing otherwise."""
        if not self.hooks.implementations("request_stop"):
            return None
        reasons = [
            f"{reason} (plugin {plugin}, rank {self.rank})"
            for plugin, reason in self.hooks.collect(
                "request_stop",
                cfg=self.cfg,
                step=step,
                rank=self.rank,
                world_size=self.world_size,
                run=self.context,
            )
            if reason
        ]
        if self.world_size > 1:
            import torch
            import torch.distributed as dist

            if dist.is_available() and dist.is_initialized():
                flag = torch.tensor([1 if reasons else 0], device=self.accelerator.device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                if flag.item() and not reasons:
                    reasons.append("another process asked to stop")
        return "; ".join(reasons) or None

    def stop_now(self) -> None:
        """Where a stop takes effect: after the checkpoint of the step (or at once without one)."""
        checkpoint = None
        if self.cfg.save_checkpoint:
            from lerobot.common.train_utils import get_step_checkpoint_dir

            checkpoint = str(get_step_checkpoint_dir(Path(self.cfg.output_dir), self.cfg.steps, self.step))
        raise TrainingStopped(self.stop_reason or "stop requested", self.step, checkpoint)

    def stopped(self, stop: TrainingStopped) -> None:
        """End a stopped run like a finished one: on_train_end, then the process group goes.

        What to do next is up to the plugin that asked to stop (e.g. in its ``on_train_end``)."""
        where = (
            f"; the checkpoint of step {stop.step} is complete in {stop.checkpoint}"
            if stop.checkpoint
            else " without a checkpoint (--save_checkpoint=false)"
        )
        log.warning("stopped after step %s: %s%s", stop.step, stop.reason, where)
        if self.accelerator is not None:
            self.accelerator.end_training()  # the end_training seam fires on_train_end first
        self.train_ended()

    @contextlib.contextmanager
    def inside_checkpoint_save(self) -> Iterator[None]:
        self.saving_checkpoint = True
        try:
            yield
        finally:
            self.saving_checkpoint = False

    def checkpoint_writing(self, step: int, checkpoint_dir: Path) -> None:
        """Upstream wrote the checkpoint into its ``.partial`` folder; the plugins add theirs."""
        self.hooks.notify(
            "checkpoint_writing",
            cfg=self.cfg,
            step=step,
            checkpoint_dir=checkpoint_dir,
            rank=self.rank,
            run=self.context,
        )

    def checkpoint_barrier_passed(self) -> None:
        """The first barrier after a save (not one inside it) is where every rank knows it is complete."""
        if self.pending_checkpoint is None or self.saving_checkpoint:
            return
        from lerobot.common.train_utils import get_step_checkpoint_dir

        step, self.pending_checkpoint = self.pending_checkpoint, None
        checkpoint_dir = get_step_checkpoint_dir(Path(self.cfg.output_dir), self.cfg.steps, step)
        missing = incomplete_checkpoint(checkpoint_dir)
        if missing is not None:
            raise UpstreamChangedError(
                f"the first barrier after upstream saved the checkpoint of step {step} passed, but "
                f"{checkpoint_dir} {missing}. lerobot-ext fires on_checkpoint_saved at that barrier, "
                "which holds only while upstream has no other barrier between deciding to save and "
                "saving: this lerobot changed that. Run `lerobot-ext doctor`."
            )
        self.hooks.notify(
            "on_checkpoint_saved",
            cfg=self.cfg,
            step=step,
            checkpoint_dir=checkpoint_dir,
            rank=self.rank,
            run=self.context,
        )
        if self.stop_reason is not None:
            self.stop_now()

    def train_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.hooks.notify(
            "on_train_end",
            cfg=self.cfg,
            step=self.step,
            rank=self.rank,
            world_size=self.world_size,
            run=self.context,
        )

    @contextlib.contextmanager
    def evaluating(self, policy: Any) -> Iterator[None]:
        """The ``eval_policy_all`` event: the ``around_evaluation`` contexts, entered in hook order."""
        with contextlib.ExitStack() as stack:
            for _, context in self.hooks.collect(
                "around_evaluation",
                cfg=self.cfg,
                policy=policy,
                step=self.step,
                rank=self.rank,
                run=self.context,
            ):
                stack.enter_context(context)
            failure: BaseException | None = None
            try:
                yield
            except BaseException as exc:
                failure = exc
                raise
        # Only reached with a failure when a context's __exit__ swallowed it: upstream would go on
        # without the evaluation's results.
        if failure is not None:
            raise PluginHookError(
                f"an around_evaluation context swallowed the evaluation's error ({failure!r}); a "
                "context must let it through"
            ) from failure

    def failed(self, exception: BaseException) -> None:
        self.hooks.notify("on_exception", cfg=self.cfg, exception=exception, rank=self.rank, run=self.context)


def configured(hooks: Hooks, cfg: ExtTrainPipelineConfig, context: RunContext) -> ExtTrainPipelineConfig:
    """Chain ``configure``: each implementation sees the config the previous one returned.

    The one way a config goes through the ``configure`` hooks - for a run and for ``lerobot-ext
    inspect`` alike, so both see the same config.
    """
    cfg, _ = hooks.chain("configure", cfg=cfg, run=context)
    context.cfg = cfg
    return cfg


def stored_dataset(
    hooks: Hooks, cfg: Any, context: RunContext, description: DatasetDescription
) -> StoredDataset:
    """A dataset as stored, with the robot adapter ``select_robot_adapter`` chooses for it."""
    answer = hooks.first(
        "select_robot_adapter",
        cfg=cfg,
        dataset=description,
        adapters=hooks.host.registry.robot_adapters,
        run=context,
    )
    choice: AdapterChoice | None = answer[1] if answer is not None else None
    if choice is None:
        return StoredDataset(description)
    return StoredDataset(description, choice.adapter, choice.reason)


def planned_changes(
    hooks: Hooks,
    cfg: Any,
    context: RunContext,
    description: DatasetDescription,
    run_datasets: list[StoredDataset] | None = None,
) -> AppliedChanges:
    """The robot adapter (``select_robot_adapter``) and every plugin's change of what the policy
    sees (``transform_dataset``, chained in declared order) - for a run and ``inspect`` alike.
    ``run_datasets``: every dataset of the run with its adapter (default: this one alone), one of
    them ``description`` itself."""
    if run_datasets is None:
        run_datasets = [stored_dataset(hooks, cfg, context, description)]
    stored = next(s for s in run_datasets if s.description is description)
    dataset, changes = hooks.chain(
        "transform_dataset",
        cfg=cfg,
        dataset=description,
        adapter=stored.adapter,
        run_datasets=list(run_datasets),
        run=context,
    )
    return AppliedChanges(
        original=description,
        dataset=dataset,
        adapter=stored.adapter,
        adapter_reason=stored.adapter_reason,
        changes=changes,
    )


def primary_label(cfg: Any) -> str:
    """How messages name the run's own dataset: the folder given, else the Hub id."""
    return str(cfg.dataset.root) if cfg.dataset.root else str(cfg.dataset.repo_id)


def incomplete_checkpoint(checkpoint_dir: Path) -> str | None:
    """What a complete checkpoint folder lacks (``None`` when it is complete)."""
    from lerobot.utils.constants import PRETRAINED_MODEL_DIR, TRAINING_STATE_DIR

    if not checkpoint_dir.is_dir():
        return "does not exist"
    missing = [
        name for name in (PRETRAINED_MODEL_DIR, TRAINING_STATE_DIR) if not (checkpoint_dir / name).is_dir()
    ]
    return f"has no {' and no '.join(missing)}" if missing else None
