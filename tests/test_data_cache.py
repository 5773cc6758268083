"""``--data_cache``: items bit-identical to upstream's decoding, a stale cache never served,
atomic builds, and training runs that give the same losses with and without it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, run_cli, train_in_process

from lerobot_ext.data_cache import build as build_module
from lerobot_ext.data_cache.build import build_cache
from lerobot_ext.data_cache.dataset import CachedDataset, compare_items
from lerobot_ext.data_cache.manifest import MANIFEST, Manifest, decoder_versions, stale_reasons
from lerobot_ext.data_cache.plugin import profile_advice
from lerobot_ext.errors import DataCacheError

FPS_ROBOCASA = 20
CAMERAS = ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand")
# The users' Diffusion Policy windows: 2 observation steps, 8 action steps.
ROBOCASA_DELTAS = {
    **{f"observation.images.{cam}": [-1 / FPS_ROBOCASA, 0.0] for cam in CAMERAS},
    "observation.state": [-1 / FPS_ROBOCASA, 0.0],
    "action": [i / FPS_ROBOCASA for i in range(8)],
}


def upstream_dataset(root: Path, deltas=None, episodes=None):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    # return_uint8=True as lerobot-train's make_dataset passes it.
    return LeRobotDataset(
        f"local/{root.name}",
        root=root,
        delta_timestamps=deltas,
        episodes=episodes,
        video_backend="pyav",
        return_uint8=True,
    )


def cached(dataset, folder: Path) -> CachedDataset:
    return CachedDataset(dataset, folder, Manifest.load(folder), True, "mm")


@pytest.fixture(scope="module")
def robocasa_cache(robocasa_root, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("caches") / "robocasa"
    build_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    return folder


def assert_identical(expected_dataset, got_dataset) -> None:
    assert len(expected_dataset) == len(got_dataset)
    for index in range(len(expected_dataset)):
        problems = compare_items(expected_dataset[index], got_dataset[index])
        assert not problems, (index, problems)


def test_every_item_is_bit_identical_to_decoding(robocasa_root, robocasa_cache) -> None:
    dataset = upstream_dataset(robocasa_root, ROBOCASA_DELTAS)
    assert_identical(dataset, cached(dataset, robocasa_cache))
    # Padding at the episode edges is part of it: the first item looks one frame back.
    first = cached(dataset, robocasa_cache)[0]
    assert first["observation.state_is_pad"].tolist() == [True, False]
    assert first["observation.images.robot0_eye_in_hand"].dtype == torch.uint8


def test_an_episode_subset_and_items_without_windows_are_identical_too(robocasa_root, robocasa_cache) -> None:
    subset = upstream_dataset(robocasa_root, ROBOCASA_DELTAS, episodes=[1, 3])
    assert_identical(subset, cached(subset, robocasa_cache))
    plain = upstream_dataset(robocasa_root)
    assert_identical(plain, cached(plain, robocasa_cache))


def test_image_transforms_still_apply_after_the_read(robocasa_root, robocasa_cache) -> None:
    dataset = upstream_dataset(robocasa_root, ROBOCASA_DELTAS)
    dataset.set_image_transforms(lambda frames: frames.flip(-1))  # deterministic, visible
    view = cached(dataset, robocasa_cache)
    assert_identical(dataset, view)
    raw = upstream_dataset(robocasa_root, ROBOCASA_DELTAS)[5]["observation.images.robot0_eye_in_hand"]
    assert torch.equal(view[5]["observation.images.robot0_eye_in_hand"], raw.flip(-1))


def test_depth_video_is_bit_exact(tmp_path) -> None:
    from lerobot_ext.demo import write_demo_dataset

    root = write_demo_dataset("gr2", tmp_path / "gr2_depth", episodes=2, frames=6, image_size=32, depth=True)
    folder = tmp_path / "cache"
    manifest = build_cache(root, folder, backend="pyav", show_progress=False)
    depth = manifest.cameras["observation.images.camera_top_depth"]
    assert (depth.kind, depth.dtype) == ("depth", np.dtype(np.uint16).str)
    dataset = upstream_dataset(root, {"observation.images.camera_top_depth": [-1 / 30, 0.0]})
    view = cached(dataset, folder)
    assert_identical(dataset, view)
    assert view[3]["observation.images.camera_top_depth"].dtype == torch.float32


def test_a_dataloader_with_workers_gives_the_same_batches(robocasa_root, robocasa_cache) -> None:
    dataset = upstream_dataset(robocasa_root, ROBOCASA_DELTAS)
    view = cached(dataset, robocasa_cache)

    def batches(data, workers):
        loader = torch.utils.data.DataLoader(data, batch_size=16, num_workers=workers)
        return list(loader)

    for expected, got in zip(batches(dataset, 0), batches(view, 2), strict=True):
        assert not compare_items(expected, got)


@pytest.mark.slow
def test_a_parallel_build_writes_the_same_arrays(robocasa_root, robocasa_cache, tmp_path) -> None:
    folder = tmp_path / "parallel"
    manifest = build_cache(robocasa_root, folder, backend="pyav", workers=2, show_progress=False)
    for name, spec in manifest.arrays.items():
        assert np.array_equal(np.load(folder / spec.file), np.load(robocasa_cache / spec.file)), name


def test_a_stale_cache_says_what_changed(robocasa_root, tmp_path) -> None:
    root = tmp_path / "robocasa"
    shutil.copytree(robocasa_root, root)
    folder = tmp_path / "cache"
    manifest = build_cache(root, folder, backend="pyav", show_progress=False)
    versions = decoder_versions("pyav")
    assert stale_reasons(manifest, root, "pyav", versions) == []
    # Touching a file is not a change; editing one is.
    info = root / "meta" / "info.json"
    info.touch()
    assert stale_reasons(manifest, root, "pyav", versions) == []
    info.write_text(info.read_text().replace('"fps": 20', '"fps": 20 '))
    video = next((root / "videos").rglob("*.mp4"))
    video.write_bytes(video.read_bytes() + b"\0")
    reasons = stale_reasons(manifest, root, "torchcodec", {**versions, "lerobot": "9.9.9"})
    assert "it was decoded with pyav, this run decodes with torchcodec" in reasons
    assert any(
        r.startswith("it was built with lerobot ") and r.endswith("this is lerobot 9.9.9") for r in reasons
    )
    assert "meta/info.json changed (different contents)" not in reasons  # size changed instead:
    assert any(r.startswith("meta/info.json changed size") for r in reasons)
    assert any(r.startswith(video.relative_to(root).as_posix() + " changed size") for r in reasons)


@pytest.mark.slow
def test_training_refuses_a_stale_cache_before_it_starts(robocasa_root, tmp_path, capsys) -> None:
    root = tmp_path / "robocasa"
    shutil.copytree(robocasa_root, root)
    folder = tmp_path / "cache"
    build_cache(root, folder, backend="pyav", show_progress=False)
    info = root / "meta" / "info.json"
    info.write_text(info.read_text() + "\n")  # still valid: upstream loads it, the cache must not
    out = tmp_path / "run"
    args = [
        *dataset_flags(root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=1",
        f"--output_dir={out}",
        f"--data_cache={folder}",
    ]
    assert train_in_process(args) == 2
    error = capsys.readouterr().err
    assert f"the data cache at {folder} is stale - meta/info.json changed size" in error
    assert f"rebuild it with `lerobot-ext cache build {root} --cache_dir {folder} --overwrite`" in error
    assert not (out / "checkpoints").exists()


@pytest.mark.slow
def test_a_corrupted_cache_fails_the_spot_check(robocasa_root, robocasa_cache, tmp_path, capsys) -> None:
    folder = tmp_path / "cache"
    shutil.copytree(robocasa_cache, folder)
    frames = np.load(folder / "frames" / "observation.images.robot0_eye_in_hand.npy", mmap_mode="r+")
    frames[:] = 255 - frames[:]  # same size, same files: only the decoder can tell
    frames.flush()
    args = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=1",
        f"--output_dir={tmp_path / 'run'}",
    ]
    assert train_in_process([*args, f"--data_cache={folder}"]) == 2
    assert "does not match the decoder at item" in capsys.readouterr().err


def test_a_build_that_fails_leaves_no_cache(robocasa_root, tmp_path, monkeypatch) -> None:
    calls = []
    original = build_module.run_task

    def failing(task):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C halfway through decoding
        return original(task)

    monkeypatch.setattr(build_module, "run_task", failing)
    folder = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        build_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    assert not folder.exists() and not list(tmp_path.glob("cache.partial-*"))
    # A leftover partial build (a killed process) is not a cache, and says so.
    (tmp_path / "cache.partial-123" / "frames").mkdir(parents=True)
    with pytest.raises(
        DataCacheError,
        match=r"is not a complete data cache \(no manifest.json\) .*cache.partial-123 is an interrupted build",
    ):
        Manifest.load(folder)


def test_a_cache_the_disk_cannot_hold_is_refused_before_writing(robocasa_root, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(build_module, "_free_bytes", lambda folder: 1_000_000)
    with pytest.raises(
        DataCacheError,
        match=r"needs about 2\.\d MB, but .* has 1\.0 MB free; choose a --cache_dir on a bigger disk",
    ):
        build_cache(robocasa_root, tmp_path / "cache", backend="pyav", show_progress=False)
    assert not list(tmp_path.iterdir())


def test_build_refuses_to_overwrite_or_nest(robocasa_root, robocasa_cache, tmp_path) -> None:
    with pytest.raises(DataCacheError, match="already exists \\(a data cache\\); pass --overwrite"):
        build_cache(robocasa_root, robocasa_cache, backend="pyav", show_progress=False)
    with pytest.raises(DataCacheError, match="is inside the dataset"):
        build_cache(robocasa_root, robocasa_root / "cache", backend="pyav", show_progress=False)


def test_profile_suggests_the_cache_when_data_bound() -> None:
    import types

    tips = profile_advice(types.SimpleNamespace(data_cache=None), "HIGHLY", {"cameras": 3})
    assert tips and tips[0].startswith("--data_cache=<folder on a fast disk>")
    assert profile_advice(types.SimpleNamespace(data_cache="/c"), "HIGHLY", {"cameras": 3}) is None
    assert profile_advice(types.SimpleNamespace(data_cache=None), "NOT", {"cameras": 3}) is None


@pytest.mark.slow
def test_the_same_job_gives_the_same_losses_with_and_without_the_cache(robocasa_root, tmp_path) -> None:
    job = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=3",
        "--log_freq=1",
        "--seed=3",
        "--save_freq=3",
    ]
    plain = run_cli(["lerobot-train-ext", *job, f"--output_dir={tmp_path / 'plain'}"])
    folder = tmp_path / "cache"
    # Built on the fly (it is missing), read by DataLoader workers.
    cached_run = run_cli(
        [
            "lerobot-train-ext",
            *job,
            f"--output_dir={tmp_path / 'cached'}",
            f"--data_cache={folder}",
            "--num_workers=2",
        ]
    )
    losses = lambda log: [line.split("loss:")[1].split()[0] for line in log.splitlines() if " loss:" in line]  # noqa: E731
    assert losses(plain.stderr) and losses(cached_run.stderr) == losses(plain.stderr)
    assert (folder / MANIFEST).is_file()
    assert "items" in cached_run.stderr and "match the decoder bit for bit" in cached_run.stderr
    info = run_cli(["lerobot-ext", "cache", "info", str(folder)]).stdout
    assert (
        "matches its dataset" in info
        and "camera observation.images.robot0_eye_in_hand: rgb |u1 [3, 48, 48]" in info
    )
    # --resume reads the cache too (the field comes back from train_config.json).
    config = tmp_path / "cached" / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    assert json.loads(config.read_text())["data_cache"] == str(folder)
    resumed = run_cli(["lerobot-train-ext", "--resume=true", f"--config_path={config}", "--steps=4"])
    assert "--data_cache: train items from" in resumed.stderr
