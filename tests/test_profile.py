"""``--profile``: verdicts on data-bound and compute-bound runs, phase accounting, files, ranks."""

from __future__ import annotations

import csv
import json
import os
import statistics
import time

import pytest
from helpers import (
    BIN,
    TINY_DIFFUSION,
    dataset_flags,
    read_json,
    run_cli,
    train_in_process,
    write_plugin_distribution,
)
from PIL import Image

from lerobot_ext import hookimpl
from lerobot_ext.profiling.advice import RunSettings, advice, verdict
from lerobot_ext.profiling.plugin import plugin as profiler
from lerobot_ext.profiling.stats import PhaseStats
from lerobot_ext.step_timing import BETWEEN_STEPS, PHASES, STEP, Phase
from lerobot_ext.upstream.versions import for_installed

SLEEP = 0.08
# upstream's per-step timer -> the phases of ours that measure the same span. lerobot 0.6.1's
# data_s covers next() and the preprocessor; 0.6.2 splits it into data_s and prep_s (#4344).
UPDATE = (Phase.FORWARD, Phase.BACKWARD, Phase.OPTIMIZER)
UPSTREAM_TIMERS = for_installed(
    {
        "0.6.1": {"dataloading_s": (Phase.DATA_WAIT, Phase.PREPROCESS, Phase.H2D_COPY), "update_s": UPDATE},
        "0.6.2": {
            "dataloading_s": (Phase.DATA_WAIT,),
            "preprocessing_s": (Phase.PREPROCESS, Phase.H2D_COPY),
            "update_s": UPDATE,
        },
    }
)


def _profile_args(root, out, *extra, warmup=1):
    """A 6-step profiled tiny-diffusion job logging every 3 steps, ``warmup`` warm-up steps skipped."""
    return [
        *dataset_flags(root),
        *TINY_DIFFUSION,
        "--steps=6",
        "--log_freq=3",
        "--save_checkpoint=false",
        f"--output_dir={out}",
        "--profile",
        f"--profile.warmup_steps={warmup}",
        *extra,
    ]


def _profile_run(root, out, *extra, warmup=1):
    assert train_in_process(_profile_args(root, out, *extra, warmup=warmup)) == 0
    return read_json(out / "profile" / "summary.json")


def _csv_flags(out):
    """(warmup, traced) of each step of ``steps.csv``, in step order."""
    rows = list(csv.DictReader((out / "profile" / "steps.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == list(range(1, len(rows) + 1))
    return [(int(r["warmup"]), int(r["traced"])) for r in rows]


def _largest_phase(summary):
    return max(PHASES, key=lambda k: summary["phases"][k]["mean_ms"])


# The verdict tests pit a sleep against work made negligible, so they hold on a loaded machine
# too: the real model's compute (or the real dataset's reads) would otherwise compete with the
# sleep and could win when the CPU is shared.


def _cheap_forward(self, batch, *args, **kwargs):
    """A loss that touches one parameter: forward, backward and optimizer cost next to nothing."""
    parameter = next(self.parameters())
    return (parameter * 0).sum() + batch["action"].float().mean() * 0, None


def _cached_getitem(original):
    cache = {}

    def getitem(self, idx):
        if "item" not in cache:
            cache["item"] = original(self, 0)
        return {k: v.clone() if hasattr(v, "clone") else v for k, v in cache["item"].items()}

    return getitem


def test_slow_dataset_is_highly_data_bound(bimodal_root, tmp_path, monkeypatch):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    original = LeRobotDataset.__getitem__

    def slow_getitem(self, idx):
        time.sleep(SLEEP)
        return original(self, idx)

    monkeypatch.setattr(LeRobotDataset, "__getitem__", slow_getitem)
    monkeypatch.setattr(DiffusionPolicy, "forward", _cheap_forward)
    summary = _profile_run(bimodal_root, tmp_path / "run")
    assert summary["verdict"]["level"] == "HIGHLY"
    assert _largest_phase(summary) == Phase.DATA_WAIT
    assert summary["phases"][Phase.DATA_WAIT]["mean_ms"] >= 4 * SLEEP * 1e3 * 0.9  # batch of 4 sleeps
    assert any(tip.startswith("--num_workers=") and "(now 0" in tip for tip in summary["advice"])


def test_slow_forward_is_not_data_bound(bimodal_root, tmp_path, monkeypatch):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    original = DiffusionPolicy.forward

    def slow_forward(self, *args, **kwargs):
        time.sleep(0.6)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DiffusionPolicy, "forward", slow_forward)
    monkeypatch.setattr(LeRobotDataset, "__getitem__", _cached_getitem(LeRobotDataset.__getitem__))
    summary = _profile_run(bimodal_root, tmp_path / "run")
    assert summary["verdict"]["level"] == "NOT"
    assert _largest_phase(summary) == Phase.FORWARD
    assert summary["phases"][Phase.FORWARD]["mean_ms"] >= 600 * 0.95
    assert any("forward pass dominates" in tip for tip in summary["advice"])


class PhaseAndMetricRecorder:
    def __init__(self) -> None:
        self.metrics: dict[int, dict] = {}
        self.phases: dict[int, dict] = {}

    @hookimpl
    def on_step_end(self, step, metrics):
        self.metrics[step] = dict(metrics)

    @hookimpl
    def on_step_phases(self, step, phases):
        self.phases[step] = dict(phases)


def test_phases_add_up_to_the_step_and_match_upstreams_own_timers(
    robocasa_root, tmp_path, extra_entry_points
):
    recorder = PhaseAndMetricRecorder()
    extra_entry_points("phase_recorder", recorder)
    _profile_run(
        robocasa_root,
        tmp_path / "run",
        "--policy.crop_shape=[40,40]",
        "--policy.use_separate_rgb_encoder_per_camera=false",
    )
    assert sorted(recorder.phases) == [1, 2, 3, 4, 5, 6]
    for phases in recorder.phases.values():
        assert sum(phases[p] for p in PHASES) == pytest.approx(phases[STEP], rel=1e-9)
    # Upstream times the same work with its own clocks. Where a clock measures what some of our
    # phases measure, those phases must cover its work (not less than it: a boundary inside that
    # work) and no other phase's (not more by a twentieth of the step: a boundary on the far side
    # of another phase). Bounds, not equality, over the steps' medians: on a loaded machine the
    # few lines between our clock and upstream's take whatever time the scheduler gives them.
    step_time = statistics.median(phases[STEP] for phases in recorder.phases.values())
    for timer, covered in UPSTREAM_TIMERS.items():
        pairs = [
            (sum(phases[p] for p in covered), recorder.metrics[step][timer])
            for step, phases in recorder.phases.items()
        ]
        extra = statistics.median(ours - theirs for ours, theirs in pairs)
        typical = statistics.median(theirs for _, theirs in pairs)
        assert extra >= -max(0.05 * typical, 2e-4), (timer, covered, pairs)
        assert extra <= max(0.05 * step_time, 2e-4), (timer, covered, pairs, step_time)


def test_report_files_are_written_and_parse(bimodal_root, tmp_path):
    out = tmp_path / "run"
    summary = _profile_run(bimodal_root, out)
    files = {p.name for p in (out / "profile").iterdir()}
    assert files == {"steps.csv", "summary.json", "report.txt", "phases.png"}
    rows = list(csv.DictReader((out / "profile" / "steps.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["warmup"] for r in rows] == ["1", "0", "0", "0", "0", "0"]
    assert {f"{column}_ms" for column in (*PHASES, STEP, BETWEEN_STEPS)} <= set(rows[0])
    assert summary["measured_steps"] == 5 and summary["warmup_steps_skipped"] == 1
    assert (summary["first_step"], summary["last_step"]) == (2, 6)
    assert summary["method"] == "perf_counter (CPU)" and summary["ranks"] == 1
    percents = [summary["phases"][phase]["percent_of_step"] for phase in PHASES]
    assert sum(percents) == pytest.approx(100.0, abs=0.01)
    report = (out / "profile" / "report.txt").read_text()
    assert report.startswith("profile: steps 2-6 (1 warm-up steps skipped), 1 rank, perf_counter (CPU)")
    assert "step (wall)" in report and summary["verdict"]["line"] in report
    # Memory on the CPU: the process's RSS every step (warm-up included), now and at its peak.
    found = summary["memory"]
    assert found["device"] == "cpu" and found["steps"] == [1, 6] and "peak_mib" not in found
    assert 20 < found["rss_mib"]["last"] <= found["rss_mib"]["peak"] < 2**20  # MiB: not KiB nor bytes
    assert f"memory on cpu: process RSS {found['rss_mib']['last']:.1f} MiB at step 6" in report
    assert all(float(r["rss_mib"]) > 20 and r["peak_allocated_mib"] == "" for r in rows)
    with Image.open(out / "profile" / "phases.png") as image:
        assert image.size[0] > 400 and image.size[1] > 200


def test_log_lines_and_report_reach_the_console(bimodal_root, tmp_path, capsys):
    _profile_run(bimodal_root, tmp_path / "run")
    err = capsys.readouterr().err
    assert err.count("profile @ step") == 2  # log_freq=3, 6 steps
    assert "profile @ step 3 (mean of last 3 steps, ms): data_wait" in err
    assert "verdict:" in err and "step (wall)" in err


def test_trace_window_writes_a_chrome_trace(bimodal_root, tmp_path):
    out = tmp_path / "run"
    summary = _profile_run(bimodal_root, out, "--profile.trace=true", "--profile.trace_steps=2")
    trace = json.loads((out / "profile" / "trace_rank0.json").read_text())
    assert trace["traceEvents"]
    assert summary["traced_steps_skipped"] == 3 and summary["measured_steps"] == 2
    # Step 1 is both the run's warm-up and torch.profiler's; steps 2-3 are recorded; writing the
    # trace after step 3 lands in step 4's between_steps.
    assert _csv_flags(out) == [(1, 0), (0, 1), (0, 1), (0, 1), (0, 0), (0, 0)]
    assert (summary["first_step"], summary["last_step"]) == (5, 6)
    report = (out / "profile" / "report.txt").read_text()
    assert report.startswith(
        "profile: steps 5-6 (1 warm-up steps skipped, 3 steps around the torch.profiler trace skipped)"
    )


def test_trace_warmup_step_is_kept_out_of_the_table_without_run_warmup(bimodal_root, tmp_path):
    # With no warm-up steps of its own, the run's step 1 is where torch.profiler warms up: it
    # collects events then, so that step carries the profiler's cost like the recorded ones.
    out = tmp_path / "run"
    summary = _profile_run(bimodal_root, out, "--profile.trace=true", "--profile.trace_steps=2", warmup=0)
    assert _csv_flags(out) == [(0, 1), (0, 1), (0, 1), (0, 1), (0, 0), (0, 0)]
    assert summary["warmup_steps_skipped"] == 0
    assert summary["traced_steps_skipped"] == 4 and summary["measured_steps"] == 2
    assert (summary["first_step"], summary["last_step"]) == (5, 6)


def test_without_profile_nothing_is_measured(bimodal_root, tmp_path, monkeypatch, extra_entry_points):
    from lerobot_ext.step_timing import StepClock

    # Every seam marks its boundary through StepClock.mark (start_step too). Recorded as well as
    # raised, in case something on the way swallows the exception.
    marks = []

    def no_mark(self, name):
        marks.append(name)
        raise AssertionError(f"phase boundary {name!r} marked without --profile")

    monkeypatch.setattr(StepClock, "mark", no_mark)
    recorder = PhaseAndMetricRecorder()
    extra_entry_points("phase_recorder", recorder)
    out = tmp_path / "run"
    args = [
        *dataset_flags(bimodal_root),
        *TINY_DIFFUSION,
        "--steps=2",
        "--save_checkpoint=false",
        f"--output_dir={out}",
    ]
    assert train_in_process(args) == 0
    assert sorted(recorder.metrics) == [1, 2]  # the steps ran and the recorder was loaded
    assert marks == [] and recorder.phases == {}
    assert not (out / "profile").exists()
    assert profiler.session is None and profiler.last_report is None


def test_phase_means_go_to_wandb_when_it_is_on(monkeypatch):
    import types

    import wandb

    from lerobot_ext.profiling.plugin import ProfileSession

    logged = []
    monkeypatch.setattr(
        wandb, "run", types.SimpleNamespace(log=lambda data, step: logged.append((step, data)))
    )
    cfg = types.SimpleNamespace(
        profile=types.SimpleNamespace(warmup_steps=0, trace=False, enable=True),
        wandb=types.SimpleNamespace(enable=True),
        policy=types.SimpleNamespace(device="cpu"),
        log_freq=2,
        output_dir="unused",
    )
    session = ProfileSession(cfg, rank=0, world_size=1, start_step=0)
    for step in (1, 2):
        session.record(step, {Phase.DATA_WAIT: 0.01, Phase.FORWARD: 0.02, STEP: 0.03})
    assert logged and logged[0][0] == 2
    assert logged[0][1]["profile/data_wait_ms"] == pytest.approx(10.0)
    assert logged[0][1]["profile/step_ms"] == pytest.approx(30.0)


def _stats(**percent):
    out = {name: PhaseStats(p / 1000, p / 1000, p / 1000, p / 1000, p) for name, p in percent.items()}
    out.setdefault(BETWEEN_STEPS, PhaseStats(0, 0, 0, 0, 0))
    return out


def _settings(**overrides):
    base = dict(
        num_workers=4,
        prefetch_factor=4,
        persistent_workers=True,
        batch_size=64,
        video_backend="pyav",
        cameras=3,
        n_obs_steps=2,
        device="cuda",
        world_size=1,
        cpu_count=32,
        policy_type="diffusion",
        uses_amp=False,
    )
    return RunSettings(**{**base, **overrides})


@pytest.mark.parametrize(
    ("data_wait", "level"),
    [
        (2.0, "NOT"),
        (4.99, "NOT"),
        (5.0, "MODERATELY"),
        (19.9, "MODERATELY"),
        (20.0, "HIGHLY"),
        (60.0, "HIGHLY"),
    ],
)
def test_verdict_thresholds_follow_tensorflows_profiler(data_wait, level):
    stats = _stats(
        data_wait=data_wait, preprocess=1, h2d_copy=0, forward=50, backward=30, optimizer=5, hooks=0, step=100
    )
    assert verdict(stats).level == level


def test_data_bound_advice_uses_the_runs_settings():
    stats = _stats(
        data_wait=40, preprocess=5, h2d_copy=1, forward=20, backward=30, optimizer=4, hooks=0, step=100
    )
    tips = advice(stats, _settings(), verdict(stats))
    assert tips[0] == "--num_workers=8 (now 4; 32 CPU cores)"
    assert any(t.startswith("--dataset.video_backend=torchcodec (now pyav") for t in tips)
    assert any("decodes 6 video frames (3 cameras x n_obs_steps=2); fewer cameras (--camera_keys) or "
               "--policy.n_obs_steps=1 or --data_cache" in t for t in tips)  # fmt: skip
    # One camera and one observation step: neither is offered to a run that has nothing to drop.
    single = advice(stats, _settings(cameras=1, n_obs_steps=1), verdict(stats))
    decode = next(t for t in single if "decodes" in t)
    assert decode.startswith("each sample decodes 1 video frame (1 camera x n_obs_steps=1); --data_cache=DIR")
    assert "--camera_keys" not in decode and "n_obs_steps=1 or" not in decode
    assert "--prefetch_factor=8 (now 4)" in tips
    two_ranks = advice(stats, _settings(world_size=4, cpu_count=16, num_workers=4), verdict(stats))
    assert two_ranks[0].startswith("--num_workers is already 4 for 4 cores per rank")


def test_compute_bound_advice_on_gpu():
    stats = _stats(
        data_wait=1, preprocess=2, h2d_copy=1, forward=30, backward=60, optimizer=6, hooks=0, step=100
    )
    tips = advice(stats, _settings(), verdict(stats))
    assert any("backward pass dominates" in t and "--policy.use_amp=true" in t for t in tips)
    assert "--batch_size=128 (now 64) if memory allows: larger batches use the GPU better" in tips


SLOW_RANK = """
import os, time
from lerobot_ext import hookimpl

@hookimpl
def on_step_end(rank):
    if rank == int(os.environ["SLOW_RANK"]):
        time.sleep(0.05)
"""


@pytest.mark.slow
def test_torchrun_writes_one_report_with_the_slowest_rank(bimodal_root, tmp_path):
    site = write_plugin_distribution(tmp_path / "site", "slow_rank", SLOW_RANK)
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "SLOW_RANK": "1",
        "OMP_NUM_THREADS": "1",
    }
    out = tmp_path / "run"
    args = _profile_args(bimodal_root, out)
    result = run_cli(
        ["torchrun", "--nproc_per_node=2", "--master_port=29518", str(BIN / "lerobot-train-ext"), *args],
        env=env,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert output.count("profile: steps 2-6") == 1  # one report, from the main process
    summary = read_json(out / "profile" / "summary.json")
    assert summary["ranks"] == 2
    # Under DDP the ranks wait for each other in the gradient all-reduce, so which rank is
    # slowest is a race; what must hold is that the report shows the slowest rank's figures.
    per_rank = {int(k): v for k, v in summary["per_rank_mean_step_ms"].items()}
    reported = summary["reported_rank"]
    assert reported == max(per_rank, key=per_rank.get)
    assert f"slowest of 2 ranks (rank {reported})" in output
    rows = list(csv.DictReader((out / "profile" / "steps.csv").read_text().splitlines()))
    assert {r["rank"] for r in rows} == {"0", "1"}

    def mean(rank, column):
        values = [float(r[column]) for r in rows if r["rank"] == str(rank) and r["warmup"] == "0"]
        return sum(values) / len(values)

    assert summary["phases"][STEP]["mean_ms"] == pytest.approx(mean(reported, "step_ms"), rel=1e-3)
    assert summary["phases"][Phase.HOOKS]["mean_ms"] == pytest.approx(mean(reported, "hooks_ms"), rel=1e-3)
    # Only rank 1 sleeps in its hook: a lower bound of that sleep there, and rank 0 below it, show
    # each rank's own timings are kept (no upper bound on a wall time).
    assert mean(1, "hooks_ms") >= 45 and mean(0, "hooks_ms") < mean(1, "hooks_ms")
    assert "slowest of 2 ranks: rank" in output  # the per-log-step lines too


def test_gpu_boundaries_are_synchronised_before_reading_the_clock(monkeypatch):
    """No GPU here: check the CUDA path calls torch.cuda.synchronize at every phase boundary,
    before the timestamp, so queued GPU work lands in the phase that launched it."""
    import torch

    from lerobot_ext.step_timing import Mark, StepClock

    events = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: events.append("sync"))
    monkeypatch.setattr(time, "perf_counter", lambda: events.append("clock") or float(len(events)))
    clock = StepClock("cuda")
    assert clock.method == "CUDA-synchronised at phase boundaries"
    clock.start_step()
    for name in (
        Mark.DATA_END,
        Mark.UPDATE_START,
        Mark.BACKWARD_START,
        Mark.OPTIMIZER_START,
        Mark.UPDATE_END,
        Mark.HOOKS_END,
    ):
        clock.mark(name)
    assert events == ["sync", "clock"] * 7
    assert StepClock("cpu").method == "perf_counter (CPU)"
