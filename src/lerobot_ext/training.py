"""One ``lerobot-train-ext`` run: upstream's training loop with our seams around it.

``run_training`` applies the ``configure`` hooks, then runs upstream's undecorated
``lerobot.scripts.lerobot_train.train`` with the seams of ``lerobot_ext.patches`` in place. The
seams turn upstream's calls into events of the :class:`TrainingRun`, which dispatches them to the
plugins' hooks. It knows no feature: what a dataset change, an adapter or a timing means is up
to the plugins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lerobot_ext import dataset_changes
from lerobot_ext.config import ExtTrainPipelineConfig, apply_configure_hooks
from lerobot_ext.console import get_logger
from lerobot_ext.dataset_view import DatasetWithMetadata
from lerobot_ext.errors import PluginConflictError, PluginHookError, TrainingStopped
from lerobot_ext.layout import DatasetDescription
from lerobot_ext.plugins import PluginHost, call_each
from lerobot_ext.step_timing import Mark, StepClock

if TYPE_CHECKING:
    from lerobot_ext.dataset_changes import AppliedChanges

log = get_logger("training")


class TrainingRun:
    """State shared by the seams during one run (one instance per process)."""

    def __init__(self, cfg: ExtTrainPipelineConfig, host: PluginHost) -> None:
        self.cfg = cfg
        self.host = host
        self.rank = 0
        self.world_size = 1
        self.accelerator: Any = None
        self.device_type = "cpu"
        self.start_step = 0
        self.step = 0
        self.changes: AppliedChanges | None = None
        self.pending_checkpoint: int | None = None
        # True while upstream's save_checkpoint runs: its own barriers do not complete the save.
        self.saving_checkpoint = False
        self.ended = False
        # Why the run stops early (request_stop), once the processes agreed.
        self.stop_reason: str | None = None
        # Undo functions of the method seams put on upstream objects during the run.
        self.undo_instance_seams: list[Callable[[], None]] = []
        results = call_each(host, "step_phase_timing", cfg=cfg)
        for plugin, result in results:
            if result is not None and not isinstance(result, bool):
                raise PluginHookError(
                    f"plugin '{plugin}' returned {result!r} from step_phase_timing; expected a bool or None"
                )
        self.timing_requested = any(result for _, result in results)
        self.clock: StepClock | None = None

    @property
    def hook(self) -> Any:
        return self.host.hook

    @property
    def pretrained_path(self) -> str | None:
        policy = self.cfg.policy
        return str(policy.pretrained_path) if policy is not None and policy.pretrained_path else None

    # ------------------------------------------------------------------ accelerator

    def attach_accelerator(self, accelerator: Any) -> None:
        """Called by the ``init_logging`` seam, the first point where upstream's accelerator exists."""
        self.accelerator = accelerator
        self.rank = int(accelerator.process_index)
        self.world_size = int(accelerator.num_processes)
        self.device_type = accelerator.device.type
        if self.timing_requested:
            self.clock = StepClock(self.device_type)

    # ------------------------------------------------------------------ data

    def datasets_made(self, dataset: Any, eval_dataset: Any) -> tuple[Any, Any]:
        """The ``make_train_eval_datasets`` event: the plugins choose an adapter, change what the
        policy sees, check a checkpoint against it and change how items are produced."""
        description = DatasetDescription.from_metadata(dataset.meta)
        choice = dataset_changes.choose_adapter(self.host, self.cfg, description)
        adapter = choice.adapter if choice is not None else None
        if choice is not None:
            log.info("robot adapter: %s (%s; %s)", adapter.name, adapter.description, choice.reason)
            for note in adapter.notes(description):
                log.info("%s: %s", adapter.name, note)
        self.changes = dataset_changes.apply_changes(self.host, self.cfg, description, adapter)
        if self.pretrained_path:
            dataset_changes.check_checkpoint(self.host, self.cfg, self.pretrained_path, self.changes)
        meta = self.changes.metadata_view(dataset.meta) if self.changes.changed else None

        def produce(data: Any, role: str) -> Any:
            data = dataset_changes.wrap_dataset(self.host, self.cfg, data, role, self.changes)
            return DatasetWithMetadata(data, meta) if meta is not None else data

        return produce(dataset, "train"), produce(eval_dataset, "eval") if eval_dataset is not None else None

    def processors_made(self, preprocessor: Any, postprocessor: Any) -> tuple[Any, Any]:
        """The ``make_pre_post_processors`` event: the plugins' steps join the pipelines."""
        preprocessor, postprocessor = dataset_changes.install_steps(
            preprocessor, postprocessor, self.changes, self.pretrained_path
        )
        self.hook.processors_made(
            cfg=self.cfg, preprocessor=preprocessor, postprocessor=postprocessor, rank=self.rank
        )
        return preprocessor, postprocessor

    def policy_made(self, policy: Any) -> None:
        """The ``make_policy`` event, after upstream built the policy."""
        self.hook.policy_made(cfg=self.cfg, policy=policy, rank=self.rank)

    # ------------------------------------------------------------------ policy config

    def configure_policy(self, policy_cfg: Any, dataset_meta: Any) -> None:
        """Apply the ``configure_policy`` hooks' proposals to ``policy_cfg`` (in place)."""
        proposals: dict[str, tuple[str, Any]] = {}
        for plugin, result in call_each(
            self.host, "configure_policy", cfg=self.cfg, policy_cfg=policy_cfg, dataset_meta=dataset_meta
        ):
            if result is None:
                continue
            if not isinstance(result, dict):
                raise PluginHookError(
                    f"plugin '{plugin}' returned {type(result).__name__} from configure_policy; "
                    "expected a dict {field: value} or None"
                )
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
        self.step = self.start_step
        self.hook.on_train_start(
            cfg=self.cfg,
            rank=self.rank,
            world_size=self.world_size,
            start_step=self.start_step,
            device=self.device_type,
        )

    def before_first_batch(self, dataloader: Any) -> None:
        self.hook.before_first_batch(
            cfg=self.cfg, dataloader=dataloader, start_step=self.start_step, rank=self.rank
        )

    def first_batch_fetched(self) -> None:
        self.hook.first_batch_ready(cfg=self.cfg, rank=self.rank, start_step=self.start_step)

    def step_ended(self, step: int, metrics: dict[str, float]) -> None:
        self.step = step
        self.hook.on_step_end(
            cfg=self.cfg, step=step, metrics=metrics, rank=self.rank, world_size=self.world_size
        )
        if self.clock is not None:
            self.clock.mark(Mark.HOOKS_END)
            self.hook.on_step_phases(
                cfg=self.cfg,
                step=step,
                phases=self.clock.phases(),
                rank=self.rank,
                world_size=self.world_size,
            )
        if self.stop_reason is None:
            self.stop_reason = self._agreed_stop(step)

    def _agreed_stop(self, step: int) -> str | None:
        """Whether any process asked to stop after ``step`` (``request_stop``), the same answer in
        every process: one 1-element all-reduce under torchrun, nothing otherwise."""
        impls = self.host.impls("request_stop")
        if not impls:
            return None
        reasons = []
        for impl in impls:
            reason = self.host.call_impl(
                impl, cfg=self.cfg, step=step, rank=self.rank, world_size=self.world_size
            )
            if reason is not None and not isinstance(reason, str):
                raise PluginHookError(
                    f"plugin '{impl.plugin_name}' returned {reason!r} from request_stop; expected a str or None"
                )
            if reason:
                reasons.append(f"{reason} (plugin {impl.plugin_name}, rank {self.rank})")
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
        self.hook.checkpoint_writing(cfg=self.cfg, step=step, checkpoint_dir=checkpoint_dir, rank=self.rank)

    def checkpoint_barrier_passed(self) -> None:
        """The first barrier after a save (not one inside it) is where every rank knows it is complete."""
        if self.pending_checkpoint is None or self.saving_checkpoint:
            return
        from lerobot.common.train_utils import get_step_checkpoint_dir

        step, self.pending_checkpoint = self.pending_checkpoint, None
        checkpoint_dir = get_step_checkpoint_dir(Path(self.cfg.output_dir), self.cfg.steps, step)
        self.hook.on_checkpoint_saved(cfg=self.cfg, step=step, checkpoint_dir=checkpoint_dir, rank=self.rank)
        if self.stop_reason is not None:
            self.stop_now()

    def train_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.hook.on_train_end(cfg=self.cfg, step=self.step, rank=self.rank, world_size=self.world_size)

    @contextlib.contextmanager
    def evaluating(self, policy: Any) -> Iterator[None]:
        """The ``eval_policy_all`` event: the ``around_evaluation`` contexts, entered in hook order."""
        with contextlib.ExitStack() as stack:
            for plugin, context in call_each(
                self.host, "around_evaluation", cfg=self.cfg, policy=policy, step=self.step, rank=self.rank
            ):
                if context is None:
                    continue
                if not isinstance(context, contextlib.AbstractContextManager):
                    raise PluginHookError(
                        f"plugin '{plugin}' returned {context!r} from around_evaluation; expected a "
                        "context manager (e.g. from @contextlib.contextmanager) or None"
                    )
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
        self.hook.on_exception(cfg=self.cfg, exception=exception, rank=self.rank)


def run_training(cfg: ExtTrainPipelineConfig, host: PluginHost) -> TrainingRun:
    """Run upstream's training loop for ``cfg`` with the seams and hooks of ``host``."""
    from lerobot.scripts import lerobot_train

    from lerobot_ext.patches import applied_seams

    cfg = apply_configure_hooks(cfg, host)
    run = TrainingRun(cfg, host)
    with applied_seams(run):
        try:
            lerobot_train.train.__wrapped__(cfg)
        except TrainingStopped as stop:
            run.stopped(stop)
        except BaseException as exc:
            run.failed(exc)
            raise
    # The end_training seam fires on_train_end while the process group is alive; this covers
    # runs that never reached it (e.g. a remote HF job submission returns early).
    run.train_ended()
    return run
