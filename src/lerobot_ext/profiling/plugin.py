"""Built-in plugin ``profiler``: ``--profile`` turns the seams' phase timings into a report, with
the memory each phase peaks at; and on every run, a CUDA out-of-memory error becomes one line.

It asks for timings through ``step_phase_timing`` and consumes them in ``on_step_phases``,
like any third-party plugin could.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext import (
    STEP,
    HookCaller,
    HookKind,
    LerobotExtError,
    RunContext,
    get_logger,
    hookimpl,
    synchronisation_method,
)
from lerobot_ext.profiling import hookspecs, out_of_memory, upstream_names
from lerobot_ext.profiling.advice import RunSettings, advice, verdict
from lerobot_ext.profiling.config import ProfileConfig
from lerobot_ext.profiling.memory import MemoryRecorder, MemoryRecords, report_lines, summarise
from lerobot_ext.profiling.ranks import gather_to_main
from lerobot_ext.profiling.report import log_line, table, write_chart, write_csv, write_json
from lerobot_ext.profiling.stats import COLUMNS, StepRecords, window_means
from lerobot_ext.profiling.trace import TraceWindow

log = get_logger("profiler")

MEASURED, WARMUP, TRACED = 0, 1, 2
# run.stash key: the last step that completed in this run (None before on_train_start).
LAST_STEP = "profiler.last_step"


def profile_dir(cfg: Any) -> Path:
    return Path(cfg.output_dir) / "profile"


class ProfileSession:
    """The timings of one process during one run."""

    def __init__(
        self,
        cfg: Any,
        rank: int,
        world_size: int,
        start_step: int,
        device: str = "cpu",
        hooks: HookCaller | None = None,
        context: RunContext | None = None,
    ) -> None:
        self.cfg = cfg
        # The run's hooks, to ask the profile_advice and profile_notes implementations.
        self.hooks = hooks
        self.context = context
        self.rank = rank
        self.world_size = world_size
        self.start_step = start_step
        self.records = StepRecords()
        self.window: list[dict[str, float]] = []
        self.seen = 0
        self.device = device
        self.method = synchronisation_method(device)
        self.memory = MemoryRecorder(device)
        self.trace: TraceWindow | None = None
        if cfg.profile.trace:
            path = profile_dir(cfg) / f"trace_rank{rank}.json"
            self.trace = TraceWindow(
                path, cfg.profile.warmup_steps, cfg.profile.trace_steps, device == "cuda"
            )

    def record(self, step: int, phases: dict[str, float]) -> None:
        self.seen += 1
        flag = MEASURED
        if self.seen <= self.cfg.profile.warmup_steps:
            flag = WARMUP
        elif self.trace is not None and self.trace.disturbs(self.seen):
            flag = TRACED  # the profiler's own overhead would distort these steps
        self.records.add(step, phases, flag)
        self.memory.step_end(step)
        self.window.append(phases)
        if self.trace is not None:
            self.trace.step()
        if self.cfg.log_freq > 0 and step % self.cfg.log_freq == 0:
            self._log_window(step)

    def phase_start(self, phase: str) -> None:
        self.memory.phase_start(phase)

    def _log_window(self, step: int) -> None:
        means = window_means(self.window)
        count = len(self.window)
        self.window = []
        # Every rank reaches the same log steps; the main process shows the slowest rank's line.
        per_rank = gather_to_main(means, self.world_size, f"step{step}")
        if per_rank is not None:
            slowest = max(range(len(per_rank)), key=lambda r: per_rank[r][STEP])
            note = f", slowest of {len(per_rank)} ranks: rank {slowest}" if len(per_rank) > 1 else ""
            log.info("%s", log_line(step, count, per_rank[slowest], note))
            self._to_wandb(step, per_rank[slowest])

    def _to_wandb(self, step: int, means: dict[str, float]) -> None:
        if not self.cfg.wandb.enable:
            return
        try:
            import wandb
        except ImportError:
            return
        if wandb.run is not None:
            wandb.run.log({f"profile/{column}_ms": value * 1e3 for column, value in means.items()}, step=step)

    def finish(self, gather: bool) -> dict[str, Any] | None:
        """Report on rank 0: every rank's records, or after an exception only rank 0's own."""
        if self.trace is not None:
            self.trace.stop()
        mine = {"records": self.records.to_payload(), "memory": self.memory.to_payload()}
        if gather:
            payloads = gather_to_main(mine, self.world_size, "final")
            if payloads is None:  # not the main process
                return None
        elif self.rank == 0:  # the other ranks may be gone
            payloads = [mine]
        else:
            return None
        ranks = range(len(payloads)) if gather else [self.rank]
        per_rank = {
            rank: StepRecords.from_payload(p["records"]) for rank, p in zip(ranks, payloads, strict=True)
        }
        memory = {rank: p["memory"] for rank, p in zip(ranks, payloads, strict=True)}
        return write_report(
            self.cfg, per_rank, self.method, self.device, self.world_size, self.hooks, memory, self.context
        )


def plugin_advice(hooks: HookCaller | None, cfg: Any, found: Any, settings: RunSettings) -> list[str]:
    """What other plugins suggest, through the ``profile_advice`` hook this plugin adds."""
    if hooks is None:
        return []
    answers = hooks.collect(
        "profile_advice",
        cfg=cfg,
        verdict=found.level,
        data_wait_percent=found.data_wait_percent,
        settings=settings.as_dict(),
    )
    # In hook order; flatten, keeping that order.
    return [tip for _, tips in answers if tips for tip in tips]


def plugin_notes(hooks: HookCaller | None, cfg: Any, context: RunContext | None) -> list[str]:
    """What other plugins add to the report, through the ``profile_notes`` hook this plugin adds."""
    if hooks is None:
        return []
    answers = hooks.collect("profile_notes", cfg=cfg, run=context)
    return [line for _, lines in answers if lines for line in lines]


def write_report(
    cfg: Any,
    per_rank: dict[int, StepRecords],
    method: str,
    device: str,
    world_size: int,
    hooks: HookCaller | None = None,
    memory: dict[int, dict[str, Any]] | None = None,
    context: RunContext | None = None,
) -> dict[str, Any] | None:
    """Print the table, memory and verdict for the slowest rank; write steps.csv, summary.json, the
    chart. ``memory``: each rank's :meth:`MemoryRecorder.to_payload`."""
    per_rank = {rank: records for rank, records in per_rank.items() if len(records)}
    if not per_rank:
        log.warning("--profile: no training step ran, nothing to report")
        return None
    summaries = {rank: records.summary() for rank, records in per_rank.items()}
    slowest = max(summaries, key=lambda rank: summaries[rank][STEP].mean)
    summary, records = summaries[slowest], per_rank[slowest]
    measured = records.measured()
    steps = [s for s, m in zip(records.steps, measured, strict=True) if m] or list(records.steps)
    warmup = sum(1 for f in records.flags if f == WARMUP)
    traced = sum(1 for f in records.flags if f == TRACED)
    ranks = f"slowest of {len(per_rank)} ranks (rank {slowest})" if len(per_rank) > 1 else "1 rank"
    # Not only the recorded steps: the profiler's warm-up and the trace's export cost steps too.
    skipped = f"{warmup} warm-up steps skipped" + (
        f", {traced} steps around the torch.profiler trace skipped" if traced else ""
    )
    if not measured.any():
        skipped = f"every step was warm-up ({warmup}); all are shown - lower --profile.warmup_steps"
    header = f"profile: steps {steps[0]}-{steps[-1]} ({skipped}), {ranks}, {method}"
    settings = RunSettings.from_config(cfg, device, world_size)
    found = verdict(summary)
    tips = advice(summary, settings, found) + plugin_advice(hooks, cfg, found, settings)
    memory = memory or {}
    memory_found = summarise(memory[slowest]) if slowest in memory else None
    notes = plugin_notes(hooks, cfg, context)
    lines = [
        *table(summary, header),
        *(report_lines(memory_found) if memory_found else []),
        *notes,
        found.line(),
    ]
    if tips:
        lines.append("try: " + "; ".join(tips))
    text = "\n".join(lines)
    for line in lines:
        log.info("%s", line)

    out = profile_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(
        out / "steps.csv",
        per_rank,
        {rank: MemoryRecords.from_payload(p["records"]) for rank, p in memory.items()},
    )
    payload = {
        "method": method,
        "ranks": len(per_rank),
        "reported_rank": slowest,
        "first_step": steps[0],
        "last_step": steps[-1],
        "measured_steps": len(steps),
        "warmup_steps_skipped": warmup,
        "traced_steps_skipped": traced,
        "phases": {column: summary[column].as_ms() for column in COLUMNS},
        "verdict": {"level": found.level, "data_wait_percent": found.data_wait_percent, "line": found.line()},
        "advice": tips,
        "notes": notes,
        "settings": settings.as_dict(),
        "per_rank_mean_step_ms": {str(rank): s[STEP].mean * 1e3 for rank, s in summaries.items()},
        "memory": memory_found,
    }
    write_json(out / "summary.json", payload)
    (out / "report.txt").write_text(text + "\n")
    if cfg.profile.chart:
        write_chart(out / "phases.png", records, f"{cfg.job_name or 'run'}: step phases, rank {slowest}")
    log.info(
        "profile written to %s (steps.csv, summary.json, report.txt%s)",
        out,
        ", phases.png" if cfg.profile.chart else "",
    )
    return payload


class Profiler:
    """The plugin object (entry point ``profiler = lerobot_ext.profiling.plugin:plugin``)."""

    def __init__(self) -> None:
        self.session: ProfileSession | None = None
        self.last_report: dict[str, Any] | None = None

    # A hook (lerobot-ext doctor checks the names): module-level in upstream_names.py.
    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    @hookimpl
    def register_hookspecs(self, register: Callable[..., None]) -> None:
        register(hookspecs, kinds={"profile_advice": HookKind.COLLECT, "profile_notes": HookKind.COLLECT})

    @hookimpl
    def register_config_fields(self, register: Callable[..., None]) -> None:
        register(
            "profile",
            ProfileConfig,
            None,
            help="per-step time breakdown and data-bound verdict (`--profile`, `--profile.trace=true`, ...)",
        )

    @hookimpl
    def configure(self, cfg: Any) -> None:
        cfg.profile.check()

    @hookimpl
    def step_phase_timing(self, cfg: Any) -> bool:
        return bool(cfg.profile.enable)

    @hookimpl
    def on_train_start(
        self, cfg: Any, rank: int, world_size: int, start_step: int, device: str, run: RunContext
    ) -> None:
        run.stash[LAST_STEP] = start_step
        self.session = (
            ProfileSession(cfg, rank, world_size, start_step, device, run.hooks, run)
            if cfg.profile.enable
            else None
        )
        self.last_report = None

    @hookimpl
    def on_step_end(self, step: int, run: RunContext) -> None:
        # On every run, --profile or not: an out-of-memory error names the step it stopped.
        run.stash[LAST_STEP] = step

    # Each phase boundary: CUDA's peak counters are read (and restarted) here.
    @hookimpl
    def on_phase_start(self, phase: str) -> None:
        if self.session is not None:
            self.session.phase_start(phase)

    @hookimpl
    def on_step_phases(self, step: int, phases: dict[str, float]) -> None:
        if self.session is not None:
            self.session.record(step, phases)

    @hookimpl
    def on_train_end(self) -> None:
        if self.session is not None:
            self.last_report = self.session.finish(gather=True)
            self.session = None

    # Last, so that the other plugins' on_exception (which undo what they installed) have run
    # before the error is replaced: the core calls the implementations one by one, and the first
    # that raises ends the loop.
    @hookimpl(trylast=True)
    def on_exception(self, cfg: Any, exception: BaseException, run: RunContext) -> None:
        # A long profiling run stopped with Ctrl-C still reports what it measured.
        if self.session is not None:
            log.warning(
                "--profile: training stopped (%s); reporting the steps measured so far",
                type(exception).__name__,
            )
            self.last_report = self.session.finish(gather=False)
            self.session = None
        # A CUDA out-of-memory error becomes one line with what to change (exit 2, no traceback);
        # chained, so the CUDA error is still there for a debugger or a log that wants it.
        if not isinstance(exception, LerobotExtError) and out_of_memory.cuda_out_of_memory(exception):
            raise out_of_memory.CudaOutOfMemoryError(
                out_of_memory.message(exception, cfg, run.stash.get(LAST_STEP))
            ) from exception


plugin = Profiler()
