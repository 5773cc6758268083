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
from lerobot_ext.config import ExtTrainPipelineConfig
from lerobot_ext.console import get_logger
from lerobot_ext.dataset_view import DatasetWithMetadata
from lerobot_ext.errors import PluginConflictError, PluginHookError
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
        return dataset_changes.install_steps(preprocessor, postprocessor, self.changes, self.pretrained_path)

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

    @contextlib.contextmanager
    def inside_checkpoint_save(self) -> Iterator[None]:
        self.saving_checkpoint = True
        try:
            yield
        finally:
            self.saving_checkpoint = False

    def checkpoint_barrier_passed(self) -> None:
        """The first barrier after a save (not one inside it) is where every rank knows it is complete."""
        if self.pending_checkpoint is None or self.saving_checkpoint:
            return
        from lerobot.common.train_utils import get_step_checkpoint_dir

        step, self.pending_checkpoint = self.pending_checkpoint, None
        checkpoint_dir = get_step_checkpoint_dir(Path(self.cfg.output_dir), self.cfg.steps, step)
        self.hook.on_checkpoint_saved(cfg=self.cfg, step=step, checkpoint_dir=checkpoint_dir, rank=self.rank)

    def train_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.hook.on_train_end(cfg=self.cfg, step=self.step, rank=self.rank, world_size=self.world_size)

    def failed(self, exception: BaseException) -> None:
        self.hook.on_exception(cfg=self.cfg, exception=exception, rank=self.rank)


def apply_configure_hooks(cfg: ExtTrainPipelineConfig, host: PluginHost) -> ExtTrainPipelineConfig:
    for plugin, result in call_each(host, "configure", cfg=cfg):
        if result is None:
            continue
        if not isinstance(result, type(cfg)):
            raise PluginHookError(
                f"plugin '{plugin}' returned {type(result).__name__} from configure; expected None or "
                f"the config it was given (a {type(cfg).__name__})"
            )
        cfg = result
    return cfg


def run_training(cfg: ExtTrainPipelineConfig, host: PluginHost) -> TrainingRun:
    """Run upstream's training loop for ``cfg`` with the seams and hooks of ``host``."""
    from lerobot.scripts import lerobot_train

    from lerobot_ext.patches import applied_seams

    cfg = apply_configure_hooks(cfg, host)
    run = TrainingRun(cfg, host)
    with applied_seams(run):
        try:
            lerobot_train.train.__wrapped__(cfg)
        except BaseException as exc:
            run.failed(exc)
            raise
    # The end_training seam fires on_train_end while the process group is alive; this covers
    # runs that never reached it (e.g. a remote HF job submission returns early).
    run.train_ended()
    return run
