"""Memory in ``--profile`` (CUDA peaks per phase, faked here; the process's RSS, real) and a CUDA
out-of-memory error as one line that names this policy's knobs and leaves the checkpoints intact."""

from __future__ import annotations

import dataclasses
import json
import os
import types

import pytest
import torch
from helpers import TINY_DIFFUSION, dataset_flags, read_json, train_in_process

from lerobot_ext import hookimpl
from lerobot_ext.profiling import memory, out_of_memory
from lerobot_ext.profiling.plugin import plugin as profiler
from lerobot_ext.step_timing import BETWEEN_STEPS, PHASES, STEP, Phase
from lerobot_ext.upstream.versions import for_installed

MIB = 2**20
# torch 2.x's message, as a real out-of-memory error on an 80 GB H100 reads.
TORCH_MESSAGE = (
    "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.25 GiB of which "
    "1.06 GiB is free. Including non-PyTorch memory, this process has 78.18 GiB memory in use. Of the "
    "allocated memory 76.50 GiB is allocated by PyTorch, and 1.12 GiB is reserved by PyTorch but "
    "unallocated. If reserved but unallocated memory is large try setting "
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
)
HAS_ACCUMULATION = for_installed({"0.6.1": False, "0.6.2": True})


# --------------------------------------------------------------------------- RSS (real)


def test_the_process_rss_and_its_peak_are_read_in_bytes():
    current, peak = memory.rss_bytes(), memory.peak_rss_bytes()
    # A Python process with torch imported: tens of MiB at least, far below a TiB; ru_maxrss read
    # as bytes instead of KiB would be 1024 times too small (it trails the RSS by a few pages).
    assert 20 * MIB < current < 2**40
    assert 0.9 * current <= peak < 2**40
    recorder = memory.MemoryRecorder("cpu")
    recorder.step_end(1)
    found = memory.summarise(recorder.to_payload())
    assert found["device"] == "cpu" and "peak_mib" not in found
    assert 20 < found["rss_mib"]["last"] <= found["rss_mib"]["peak"]
    psutil = pytest.importorskip("psutil")
    assert abs(psutil.Process().memory_info().rss - memory.rss_bytes()) < 0.2 * current


# --------------------------------------------------------------------------- CUDA (faked)


class FakeAllocator:
    """torch.cuda's peak counters over a fake 80 GiB device: ``allocate``/``free`` move the
    current figures, the caching allocator's reserved memory only grows."""

    def __init__(self) -> None:
        self.allocated = self.reserved = self.peak_allocated = self.peak_reserved = 0
        self.resets = 0

    def allocate(self, mib: int) -> None:
        self.allocated += mib * MIB
        self.reserved = max(self.reserved, self.allocated)
        self.peak_allocated = max(self.peak_allocated, self.allocated)
        self.peak_reserved = max(self.peak_reserved, self.reserved)

    def free(self, mib: int) -> None:
        self.allocated -= mib * MIB

    def max_memory_allocated(self, device=None) -> int:
        return self.peak_allocated

    def max_memory_reserved(self, device=None) -> int:
        return self.peak_reserved

    def reset_peak_memory_stats(self, device=None) -> None:
        self.resets += 1
        self.peak_allocated, self.peak_reserved = self.allocated, self.reserved

    def current_device(self) -> int:
        return 0

    def get_device_properties(self, index):
        return types.SimpleNamespace(name="Fake H100", total_memory=80 * 2**30)

    def is_available(self) -> bool:
        return True


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's memory functions answered by a :class:`FakeAllocator`."""
    fake = FakeAllocator()
    for name in (
        "max_memory_allocated",
        "max_memory_reserved",
        "reset_peak_memory_stats",
        "current_device",
        "get_device_properties",
        "is_available",
    ):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    return fake


def one_step(fake: FakeAllocator, boundary) -> float:
    """A training step's allocations (MiB), with ``boundary(phase)`` where the core marks each
    phase; what upstream's update_policy does to the peak counter included. Returns upstream's
    ``gpu_mem`` reading (MiB)."""
    boundary(Phase.DATA_WAIT)
    boundary(Phase.PREPROCESS)
    boundary(Phase.H2D_COPY)
    fake.allocate(10)  # the batch on the device
    boundary(Phase.PREPROCESS)
    fake.allocate(5)  # a normalisation temporary
    fake.free(5)
    boundary(Phase.FORWARD)
    fake.reset_peak_memory_stats()  # upstream, as its update begins
    fake.allocate(300)  # activations
    boundary(Phase.BACKWARD)
    fake.allocate(100)  # gradients
    fake.free(300)  # activations released
    boundary(Phase.OPTIMIZER)
    fake.allocate(50)  # a fused optimizer's temporaries
    fake.free(50)
    gpu_mem = fake.max_memory_allocated() / MIB  # upstream, as its update returns
    fake.free(110)  # batch and gradients
    boundary(Phase.HOOKS)
    fake.allocate(1)
    fake.free(1)
    boundary(BETWEEN_STEPS)
    fake.allocate(40)  # an evaluation between steps
    fake.free(40)
    return gpu_mem


def _cfg(out, **profile):
    return types.SimpleNamespace(
        profile=types.SimpleNamespace(enable=True, warmup_steps=0, trace=False, chart=False, **profile),
        wandb=types.SimpleNamespace(enable=False),
        log_freq=0,
        output_dir=str(out),
        job_name="fake",
        num_workers=0,
        prefetch_factor=2,
        persistent_workers=False,
        batch_size=8,
        dataset=types.SimpleNamespace(video_backend="pyav"),
        policy=types.SimpleNamespace(type="diffusion", input_features={}, n_obs_steps=1),
    )


PHASE_TIMES = {**dict.fromkeys(PHASES, 0.01), STEP: 0.07, BETWEEN_STEPS: 0.0}


def test_cuda_peaks_per_phase_keep_upstreams_gpu_mem(fake_cuda, tmp_path):
    fake_cuda.allocate(1000)  # the model's weights
    run = types.SimpleNamespace(stash={}, hooks=None)
    cfg = _cfg(tmp_path)
    profiler.on_train_start(cfg=cfg, rank=0, world_size=1, start_step=0, device="cuda", run=run)
    readings = []
    for step in (1, 2, 3):
        readings.append(one_step(fake_cuda, lambda phase: profiler.on_phase_start(phase=phase)))
        profiler.on_step_phases(step=step, phases=PHASE_TIMES)
    profiler.on_train_end()
    # Upstream's logged gpu_mem is still the peak of its whole update, not of the optimizer alone.
    assert readings == [1000 + 10 + 300 + 100] * 3
    found = read_json(tmp_path / "profile" / "summary.json")["memory"]
    assert found["device"] == "cuda:0"
    assert found["gpu"] == {"name": "Fake H100", "total_mib": 80 * 1024}
    allocated = {row: peak["allocated"] for row, peak in found["peak_mib"].items()}
    assert allocated == {
        Phase.DATA_WAIT: 1000,
        Phase.PREPROCESS: 1015,  # the higher of its two parts, around the device copy
        Phase.H2D_COPY: 1010,
        Phase.FORWARD: 1310,
        Phase.BACKWARD: 1410,  # the update's running peak: it rose here
        Phase.OPTIMIZER: 1410,  # ... and not here (its own 1110 + 50 is below)
        Phase.HOOKS: 1001,
        STEP: 1410,
        BETWEEN_STEPS: 1040,  # the evaluation between steps 1 and 2, 2 and 3
    }
    assert found["peak_mib"][STEP]["reserved"] == 1410  # the caching allocator keeps it
    report = (tmp_path / "profile" / "report.txt").read_text()
    assert "memory on cuda:0 (Fake H100, 80.0 GiB): peak per phase over steps 1-3, MiB" in report
    assert "backward and optimizer: the highest since the update began" in report
    rows = (tmp_path / "profile" / "steps.csv").read_text().splitlines()
    assert rows[0].endswith("rss_mib,peak_allocated_mib,peak_reserved_mib")
    assert rows[1].endswith(",1410.0,1410.0")


class PhaseStarts:
    """Records the core's ``on_phase_start`` events, and each step's ``on_step_phases``."""

    def __init__(self) -> None:
        self.events: list[str] = []

    @hookimpl
    def on_phase_start(self, phase):
        self.events.append(phase)

    @hookimpl
    def on_step_phases(self, step):
        self.events.append(f"step {step}")


def test_the_core_starts_each_phase_in_step_order(bimodal_root, tmp_path, extra_entry_points):
    """What the per-phase CUDA peaks rely on: one event per boundary, in step order, before the
    step's on_step_phases; between_steps once the step's hooks are done."""
    recorder = PhaseStarts()
    extra_entry_points("phase_starts", recorder)
    out = tmp_path / "run"
    args = [*dataset_flags(bimodal_root), *TINY_DIFFUSION, "--steps=2", "--save_checkpoint=false"]
    assert train_in_process([*args, f"--output_dir={out}", "--profile"]) == 0
    # The device copy is carved out of preprocess, which resumes after it.
    copy = [Phase.H2D_COPY, Phase.PREPROCESS] if Phase.H2D_COPY in recorder.events else []
    step = [Phase.DATA_WAIT, Phase.PREPROCESS, *copy, Phase.FORWARD, Phase.BACKWARD, Phase.OPTIMIZER]
    assert recorder.events == [
        *step,
        Phase.HOOKS,
        BETWEEN_STEPS,
        "step 1",
        *step,
        Phase.HOOKS,
        BETWEEN_STEPS,
        "step 2",
    ]


# --------------------------------------------------------------------------- out of memory: the line


def _run_config(policy_type: str, batch_size: int = 32, output_dir=None, save_checkpoint: bool = True):
    """What the message reads of a run's config, with the installed lerobot's own classes: its
    policy config, and its accelerator config where it has one (0.6.2)."""
    from lerobot.configs.train import TrainPipelineConfig
    from lerobot.policies.factory import make_policy_config

    fields = {f.name: f for f in dataclasses.fields(TrainPipelineConfig)}
    extra = {"accelerator": fields["accelerator"].default_factory()} if "accelerator" in fields else {}
    return types.SimpleNamespace(
        batch_size=batch_size,
        policy=make_policy_config(policy_type, device="cpu"),
        save_checkpoint=save_checkpoint,
        output_dir=output_dir,
        **extra,
    )


@pytest.mark.parametrize(
    ("policy_type", "checkpointing"),
    [("pi0", True), ("pi05", True), ("diffusion", True), ("smolvla", False), ("act", False)],
)
def test_the_knobs_are_those_this_policy_and_this_lerobot_have(policy_type, checkpointing):
    tips = out_of_memory.knobs(_run_config(policy_type), environ={})
    accumulation = (
        ", with --accelerator.gradient_accumulation.steps=2 (now 1) to keep 32 samples per optimizer update "
        "(--steps then counts micro-batches)"
    )
    assert tips[0] == "--batch_size=16 (now 32)" + (accumulation if HAS_ACCUMULATION else "")
    gradient = "--policy.gradient_checkpointing=true (now false: recompute activations in the backward pass)"
    assert (gradient in tips) is checkpointing
    assert not any("checkpointing" in tip for tip in tips if tip != gradient)
    assert tips[-1] == (
        "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True in the environment (less memory lost to fragmentation)"
    )
    assert len(tips) == 2 + checkpointing


def test_an_odd_batch_is_halved_down_and_the_samples_per_update_said():
    tips = out_of_memory.knobs(_run_config("act", batch_size=5), environ={})
    accumulation = (
        ", with --accelerator.gradient_accumulation.steps=2 (now 1) for 4 samples (now 5) per optimizer "
        "update (--steps then counts micro-batches)"
    )
    assert tips[0] == "--batch_size=2 (now 5)" + (accumulation if HAS_ACCUMULATION else "")


def test_knobs_the_run_already_uses_are_not_offered():
    cfg = _run_config("pi0", batch_size=1)
    cfg.policy.gradient_checkpointing = True
    assert out_of_memory.knobs(cfg, {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}) == []
    # Another allocator setting is kept, the missing one added to it.
    tips = out_of_memory.knobs(cfg, {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:128"})
    assert tips == [
        "PYTORCH_CUDA_ALLOC_CONF=max_split_size_mb:128,expandable_segments:True in the environment "
        "(less memory lost to fragmentation)"
    ]


def test_the_gpus_memory_comes_from_torchs_message_or_from_the_device(fake_cuda):
    error = torch.cuda.OutOfMemoryError(TORCH_MESSAGE)
    assert out_of_memory.GpuMemory.of(error).text() == (
        " on GPU 0 (79.25 GiB total, 1.06 GiB free, 76.50 GiB allocated by PyTorch, it asked for 2.00 GiB more)"
    )
    fake_cuda.allocate(3 * 1024)
    bare = out_of_memory.GpuMemory.of(RuntimeError("CUDA out of memory."), torch.cuda)
    assert bare.text() == " on GPU 0 (80.00 GiB total, 3.00 GiB allocated by PyTorch at the peak)"
    assert out_of_memory.GpuMemory.of(RuntimeError("CUDA out of memory.")).text() == ""


def test_which_errors_are_cuda_out_of_memory():
    error = torch.cuda.OutOfMemoryError(TORCH_MESSAGE)
    assert out_of_memory.cuda_out_of_memory(error) is error
    old_style = RuntimeError(
        "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total capacity)"
    )
    assert out_of_memory.cuda_out_of_memory(old_style) is old_style
    try:
        try:
            raise error
        except torch.cuda.OutOfMemoryError as exc:
            raise ValueError("wrapped") from exc
    except ValueError as wrapped:
        assert out_of_memory.cuda_out_of_memory(wrapped) is error
    try:
        try:
            raise error
        except torch.cuda.OutOfMemoryError:  # handled (a retry with less), then another error
            raise KeyError("other") from None
    except KeyError as other:
        assert out_of_memory.cuda_out_of_memory(other) is None
    assert out_of_memory.cuda_out_of_memory(RuntimeError("shapes do not match")) is None


def test_the_line_says_where_what_to_change_and_how_to_continue(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints" / "000004" / "pretrained_model").mkdir(parents=True)
    (out / "checkpoints" / "last").symlink_to("000004")
    cfg = _run_config("smolvla", batch_size=8, output_dir=out)
    line = out_of_memory.message(torch.cuda.OutOfMemoryError(TORCH_MESSAGE), cfg, last_step=5, environ={})
    assert line.startswith("CUDA out of memory in step 6 on GPU 0 (79.25 GiB total,")
    assert "To fit: --batch_size=4 (now 8)" in line and "\n" not in line
    assert line.endswith(
        "checkpoints/last (step 000004) is intact: the same command with --auto_resume=true continues "
        "from it; to change flags as it continues, --resume=true "
        f"--config_path={out}/checkpoints/last/pretrained_model/train_config.json and the new flags."
    )
    error = torch.cuda.OutOfMemoryError(TORCH_MESSAGE)
    assert out_of_memory.message(error, cfg, last_step=None, environ={}).startswith(
        "CUDA out of memory before the first training step"
    )
    fresh = _run_config("act", output_dir=tmp_path / "fresh")
    assert out_of_memory.message(error, fresh, 0, environ={}).endswith("No checkpoint was saved before it.")
    unsaved = _run_config("act", output_dir=out, save_checkpoint=False)
    assert out_of_memory.message(error, unsaved, 0, environ={}).endswith(
        "Nothing was saved (--save_checkpoint=false)."
    )


# --------------------------------------------------------------------------- out of memory: a run


class OutOfMemoryAt:
    """Raises a fake CUDA out-of-memory error in training step ``step``'s forward, or while the
    checkpoint of ``step`` is being written."""

    def __init__(self, step: int, during: str) -> None:
        self.step, self.during = step, during

    @hookimpl
    def policy_made(self, policy):
        original, calls = policy.forward, [0]

        def forward(batch, *args, **kwargs):
            if policy.training:
                calls[0] += 1
                if self.during == "forward" and calls[0] == self.step:
                    raise torch.cuda.OutOfMemoryError(TORCH_MESSAGE)
            return original(batch, *args, **kwargs)

        policy.forward = forward

    @hookimpl
    def checkpoint_writing(self, step):
        if self.during == "save" and step == self.step:
            raise torch.cuda.OutOfMemoryError(TORCH_MESSAGE)


@pytest.mark.parametrize(
    ("step", "during", "where", "profile"),
    [
        (3, "forward", "in step 3", True),
        (4, "save", "while saving the checkpoint of step 4", False),
    ],
    ids=["forward", "save"],
)
def test_out_of_memory_in_a_run_is_one_line_and_the_checkpoints_stay(
    step, during, where, profile, bimodal_root, tmp_path, extra_entry_points, capsys, monkeypatch
):
    monkeypatch.delenv("PYTORCH_CUDA_ALLOC_CONF", raising=False)
    monkeypatch.delenv("PYTORCH_ALLOC_CONF", raising=False)
    fault = OutOfMemoryAt(step, during)
    extra_entry_points("out_of_memory", fault)
    out = tmp_path / "run"
    flags = [
        *dataset_flags(bimodal_root),
        *TINY_DIFFUSION,
        "--save_freq=2",
        "--seed=3",
        f"--output_dir={out}",
    ]
    assert train_in_process([*flags, "--steps=6", *(["--profile"] if profile else [])]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, err[-3000:]
    line = errors[0]
    assert line.startswith(f"ERROR lerobot-ext: CUDA out of memory {where} on GPU 0 (79.25 GiB total, ")
    assert "--batch_size=2 (now 4)" in line and "--policy.gradient_checkpointing=true" in line
    assert ("--accelerator.gradient_accumulation.steps=2" in line) is HAS_ACCUMULATION
    assert "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True" in line
    assert "checkpoints/last (step 000002) is intact" in line
    checkpoints = out / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["000002", "last"]
    assert (checkpoints / "last").resolve().name == "000002"
    assert (checkpoints / "000002" / "training_state").is_dir()
    if profile:  # the steps measured before it are reported, memory included
        summary = read_json(out / "profile" / "summary.json")
        assert summary["last_step"] == 2 and summary["memory"]["device"] == "cpu"
    if during != "save":
        return
    # What the line offers works: continue from checkpoints/last with a smaller batch.
    config = checkpoints / "last" / "pretrained_model" / "train_config.json"
    smaller = [
        "--batch_size=2",
        *(["--accelerator.gradient_accumulation.steps=2"] if HAS_ACCUMULATION else []),
    ]
    fault.during = "never"
    assert train_in_process(["--resume=true", f"--config_path={config}", *smaller]) == 0
    assert (checkpoints / "last").resolve().name == "000006"
    saved = json.loads((checkpoints / "000006" / "pretrained_model" / "train_config.json").read_text())
    assert saved["batch_size"] == 2
    assert os.path.isdir(checkpoints / "000004")
