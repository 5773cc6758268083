"""``--data_cache``: items bit-identical to upstream's decoding, a stale or damaged cache never
served, safe and atomic builds that never touch what is not a cache, and training runs that give
the same losses with and without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import IMAGE_FLAGS, TINY_DIFFUSION, dataset_flags, train_in_process

from lerobot_ext import hookimpl
from lerobot_ext.data_cache import build as build_module
from lerobot_ext.data_cache import locking, plugin
from lerobot_ext.data_cache.build import build_cache, build_missing_cache
from lerobot_ext.data_cache.dataset import CachedDataset, compare_items
from lerobot_ext.data_cache.errors import CacheBusyError, DataCacheError, StaleCacheError
from lerobot_ext.data_cache.folders import MARKER
from lerobot_ext.data_cache.manifest import FORMAT, MANIFEST, Manifest, decoder_versions, stale_reasons
from lerobot_ext.data_cache.plugin import profile_advice

FPS_ROBOCASA = 20
CAMERAS = ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand")
EYE = "observation.images.robot0_eye_in_hand"


def diffusion_window(fps: int, image_keys: list[str]) -> dict[str, list[float]]:
    """The delta_timestamps lerobot-train gives Diffusion Policy (n_obs_steps 2, horizon 8): the
    action window starts one step back, so both episode edges are padded."""
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig

    policy = DiffusionConfig(n_obs_steps=2, horizon=8, n_action_steps=7, device="cpu")
    observation = [i / fps for i in policy.observation_delta_indices]
    assert policy.action_delta_indices[0] == -1  # the real window has a negative action delta
    return {
        **{key: observation for key in image_keys},
        "observation.state": observation,
        "action": [i / fps for i in policy.action_delta_indices],
    }


ROBOCASA_DELTAS = diffusion_window(FPS_ROBOCASA, [f"observation.images.{cam}" for cam in CAMERAS])


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


@pytest.fixture
def own_robocasa(robocasa_root, tmp_path) -> Path:
    """A copy of the RoboCasa demo dataset this test may change."""
    root = tmp_path / "robocasa"
    shutil.copytree(robocasa_root, root)
    return root


def assert_identical(expected_dataset, got_dataset) -> None:
    assert len(expected_dataset) == len(got_dataset)
    for index in range(len(expected_dataset)):
        problems = compare_items(expected_dataset[index], got_dataset[index])
        assert not problems, (index, problems)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def cli(argv: list[str]) -> int:
    from lerobot_ext.cli.tool import main

    return main(argv)


# --------------------------------------------------------------------------- bit-identical items


def test_every_item_is_bit_identical_to_decoding(robocasa_root, robocasa_cache) -> None:
    dataset = upstream_dataset(robocasa_root, ROBOCASA_DELTAS)
    assert_identical(dataset, cached(dataset, robocasa_cache))
    view = cached(dataset, robocasa_cache)
    # Padding at both episode edges is part of it: the first item looks one frame back, for the
    # cameras, the state and the action; the last one looks 6 frames ahead.
    first, last = view[0], view[len(view) - 1]
    assert first["observation.state_is_pad"].tolist() == [True, False]
    assert first["action_is_pad"].tolist() == [True] + [False] * 7
    assert last["action_is_pad"].tolist() == [False, False] + [True] * 6
    assert first[EYE].dtype == torch.uint8 and first[EYE].shape == (2, 3, 48, 48)


def _write_two_task_dataset(root: Path) -> Path:
    """3 episodes, 2 task strings (one episode switches task halfway), one 32 px camera."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    features = {
        "observation.state": {"dtype": "float32", "shape": (2,), "names": None},
        "action": {"dtype": "float32", "shape": (2,), "names": None},
        "observation.images.top": {
            "dtype": "video",
            "shape": (32, 32, 3),
            "names": ["height", "width", "channels"],
        },
    }
    dataset = LeRobotDataset.create(
        repo_id="local/two_tasks", fps=10, features=features, root=root, use_videos=True, video_backend="pyav"
    )
    rng = np.random.default_rng(0)
    for episode in range(3):
        for frame in range(8):
            task = (
                "push the red block"
                if (episode + (frame >= 4 and episode == 1)) % 2 == 0
                else "open the drawer"
            )
            dataset.add_frame(
                {
                    "observation.state": rng.normal(size=2).astype(np.float32),
                    "action": rng.normal(size=2).astype(np.float32),
                    "observation.images.top": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                    "task": task,
                }
            )
        dataset.save_episode(parallel_encoding=False)
    dataset.finalize()
    shutil.rmtree(root / "images", ignore_errors=True)
    return root


def test_items_with_several_task_strings_are_identical(tmp_path) -> None:
    root = _write_two_task_dataset(tmp_path / "two_tasks")
    folder = tmp_path / "cache"
    build_cache(root, folder, backend="pyav", show_progress=False)
    dataset = upstream_dataset(root, diffusion_window(10, ["observation.images.top"]))
    view = cached(dataset, folder)
    assert_identical(dataset, view)
    assert {view[i]["task"] for i in range(len(view))} == {"push the red block", "open the drawer"}
    assert [view[i]["task"] for i in (8, 12)] == ["open the drawer", "push the red block"]


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
    raw = upstream_dataset(robocasa_root, ROBOCASA_DELTAS)[5][EYE]
    assert torch.equal(view[5][EYE], raw.flip(-1))


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


# --------------------------------------------------------------------------- never stale


def test_a_stale_cache_says_what_changed(own_robocasa, tmp_path) -> None:
    root = own_robocasa
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


def test_same_size_edits_added_and_removed_files_and_another_pyav_make_it_stale(
    own_robocasa, tmp_path
) -> None:
    root = own_robocasa
    manifest = build_cache(root, tmp_path / "cache", backend="pyav", show_progress=False)
    versions = decoder_versions("pyav")
    # One byte of a video, same size: only the hash can tell (its mtime moves on, so it is hashed).
    video = next((root / "videos").rglob("*.mp4"))
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF
    video.write_bytes(bytes(data))
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert stale_reasons(manifest, root, "pyav", versions) == [
        f"{video.relative_to(root).as_posix()} changed (different contents)"
    ]
    data[len(data) // 2] ^= 0xFF  # the same bytes again: the cache matches, whatever the mtime
    video.write_bytes(bytes(data))
    assert stale_reasons(manifest, root, "pyav", versions) == []

    (root / "meta" / "extra_tasks.jsonl").write_text("{}\n")
    stats = root / "meta" / "stats.json"
    stats.unlink()
    assert stale_reasons(manifest, root, "pyav", {**versions, "av": "0.0.1"}) == [
        f"it was built with av {versions['av']}, this is av 0.0.1",
        "meta/extra_tasks.jsonl was added to the dataset",
        "meta/stats.json was removed from the dataset",
    ]


@pytest.mark.slow
def test_training_refuses_a_stale_cache_before_it_starts(own_robocasa, tmp_path, capsys) -> None:
    root = own_robocasa
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
    frames = np.load(folder / "frames" / f"{EYE}.npy", mmap_mode="r+")
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


def test_a_dataset_edited_during_the_build_is_not_cached(own_robocasa, tmp_path, monkeypatch) -> None:
    original = build_module.run_task
    info = own_robocasa / "meta" / "info.json"

    def edit_then_decode(task):
        if not info.read_text().endswith("\n\n"):
            info.write_text(info.read_text() + "\n\n")  # someone writes the dataset mid-build
        return original(task)

    monkeypatch.setattr(build_module, "run_task", edit_then_decode)
    folder = tmp_path / "cache"
    with pytest.raises(
        DataCacheError,
        match=r"the dataset .*robocasa changed while its cache was built \(meta/info.json changed size",
    ):
        build_cache(own_robocasa, folder, backend="pyav", show_progress=False)
    assert not folder.exists() and not locking.leftovers(folder)


# --------------------------------------------------------------------------- never damaged


def test_a_truncated_manifest_is_one_line_in_cache_info(robocasa_cache, tmp_path, capsys) -> None:
    folder = tmp_path / "cache"
    shutil.copytree(robocasa_cache, folder)
    manifest = folder / MANIFEST
    manifest.write_text(manifest.read_text()[:200])
    assert cli(["cache", "info", str(folder)]) == 2
    output = capsys.readouterr().err
    error = "\n".join(line for line in output.splitlines() if line.startswith("ERROR"))
    assert (
        len(error.splitlines()) == 1 and "JSONDecodeError" not in output and "DamagedCacheError" not in output
    )
    assert f"the data cache at {folder} is damaged: its manifest.json cannot be read" in error
    assert f"--cache_dir {folder} --overwrite`" in error


def test_a_truncated_or_missing_array_is_damaged_in_info_and_training(
    robocasa_root, robocasa_cache, tmp_path, capsys
) -> None:
    folder = tmp_path / "cache"
    shutil.copytree(robocasa_cache, folder)
    assert cli(["cache", "info", str(folder)]) == 0
    arrays = len(Manifest.load(folder).arrays)  # 7 columns and 3 cameras
    assert (
        f"intact ({arrays} array files at their recorded sizes) and matches its dataset"
        in capsys.readouterr().out
    )
    frames = folder / "frames" / f"{EYE}.npy"
    full = frames.stat().st_size
    with open(frames, "r+b") as f:
        f.truncate(full - 1000)
    (folder / "frames" / "observation.images.robot0_agentview_left.npy").unlink()
    assert cli(["cache", "info", str(folder)]) == 1
    out = capsys.readouterr().out
    assert (
        f"DAMAGED - it will not be served: frames/observation.images.robot0_agentview_left.npy is missing; "
        f"frames/{EYE}.npy has {full - 1000} bytes, the manifest says {full}"
    ) in out
    assert f"rebuild: lerobot-ext cache build {robocasa_root} --cache_dir {folder} --overwrite" in out

    args = [*dataset_flags(robocasa_root), *TINY_DIFFUSION, *IMAGE_FLAGS, "--steps=1"]
    assert train_in_process([*args, f"--output_dir={tmp_path / 'run'}", f"--data_cache={folder}"]) == 2
    error = capsys.readouterr().err
    assert (
        f"the data cache at {folder} is damaged - frames/observation.images.robot0_agentview_left.npy is missing"
        in error
    )
    # One line, not a traceback of it (an unrelated "--- Logging error ---" of an earlier in-process
    # run's closed stream may appear in this captured stderr).
    assert "DamagedCacheError" not in error and not (tmp_path / "run" / "checkpoints").exists()
    # --overwrite replaces a damaged cache (it is one of ours); the rebuilt one is intact.
    build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert Manifest.load(folder).damage(folder) == []


def test_a_cache_without_its_manifest_is_refused_but_replaceable(
    robocasa_root, robocasa_cache, tmp_path
) -> None:
    folder = tmp_path / "cache"
    shutil.copytree(robocasa_cache, folder)
    (folder / MANIFEST).unlink()
    with pytest.raises(DataCacheError, match=r"already exists \(a damaged data cache \(no manifest.json\)\)"):
        build_missing_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert (folder / MANIFEST).is_file()


def test_a_cache_of_another_format_says_how_to_rebuild(robocasa_root, robocasa_cache, tmp_path) -> None:
    folder = tmp_path / "cache"
    shutil.copytree(robocasa_cache, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "format": 1}))
    with pytest.raises(
        DataCacheError,
        match=rf"cache format 1, this one reads {FORMAT}\); rebuild it with `lerobot-ext cache build {robocasa_root} ",
    ):
        Manifest.load(folder)


# --------------------------------------------------------------------------- never touches what is not ours


@pytest.mark.slow
def test_training_never_deletes_a_folder_that_holds_the_dataset(own_robocasa, tmp_path, capsys) -> None:
    before = tree(own_robocasa)
    args = [*dataset_flags(own_robocasa), *TINY_DIFFUSION, *IMAGE_FLAGS, "--steps=1"]
    # The folder above the dataset: the bug this guards against renamed and deleted it.
    assert train_in_process([*args, f"--output_dir={tmp_path / 'run'}", f"--data_cache={tmp_path}"]) == 2
    error = capsys.readouterr().err
    assert f"the cache folder {tmp_path} contains the dataset {own_robocasa}" in error
    assert tree(own_robocasa) == before
    assert not list(tmp_path.glob("*.partial-*")) and not list(tmp_path.glob("*.replaced-*"))
    with pytest.raises(DataCacheError, match="contains the dataset"):
        build_cache(own_robocasa, tmp_path, backend="pyav", overwrite=True, show_progress=False)
    assert tree(own_robocasa) == before


def test_an_unrelated_folder_is_never_replaced_even_with_overwrite(robocasa_root, tmp_path, capsys) -> None:
    folder = tmp_path / "experiments"
    (folder / "run1").mkdir(parents=True)
    (folder / "notes.txt").write_text("keep me")
    (folder / "run1" / "model.safetensors").write_bytes(b"weights")
    before = tree(folder)
    with pytest.raises(
        DataCacheError,
        match=r"experiments is not a data cache \(it holds notes.txt, run1, which lerobot-ext did not "
        r"write\); nothing there is touched, even with --overwrite",
    ):
        build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert tree(folder) == before
    # A manifest.json among other files does not make a folder ours.
    (folder / MANIFEST).write_text("{}")
    with pytest.raises(DataCacheError, match="is not a data cache"):
        build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert (folder / "notes.txt").read_text() == "keep me"
    # The CLI says it in one line, exit 2.
    assert cli(["cache", "build", str(robocasa_root), "--cache_dir", str(folder), "--overwrite"]) == 2
    assert "is not a data cache" in capsys.readouterr().err
    assert (folder / "run1" / "model.safetensors").read_bytes() == b"weights"


def test_a_folder_of_npy_frames_is_ours_only_if_a_build_marked_it(robocasa_root, tmp_path) -> None:
    # A user's own frames/0001.npy looks like a cache whose build died before its manifest.
    folder = tmp_path / "recorded"
    (folder / "frames").mkdir(parents=True)
    (folder / "frames" / "0001.npy").write_bytes(b"the user's frame")
    with pytest.raises(DataCacheError, match="recorded is not a data cache"):
        build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert (folder / "frames" / "0001.npy").read_bytes() == b"the user's frame"
    (folder / MARKER).write_text("")  # a build's leftover: ours, so --overwrite may replace it
    build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert Manifest.load(folder).damage(folder) == [] and not (folder / "frames" / "0001.npy").exists()


def test_training_builds_into_an_empty_folder(robocasa_root, tmp_path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    build_missing_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    assert Manifest.load(folder).damage(folder) == []


def test_build_refuses_to_overwrite_or_nest(robocasa_root, robocasa_cache, tmp_path) -> None:
    with pytest.raises(
        DataCacheError,
        match=rf"already exists \(a data cache\); replace it with `lerobot-ext cache build {robocasa_root} "
        rf"--cache_dir {robocasa_cache} --overwrite`",
    ):
        build_cache(robocasa_root, robocasa_cache, backend="pyav", show_progress=False)
    with pytest.raises(DataCacheError, match="is inside the dataset"):
        build_cache(
            robocasa_root, robocasa_root / "cache", backend="pyav", overwrite=True, show_progress=False
        )
    assert not (robocasa_root / "cache").exists()


# --------------------------------------------------------------------------- builds: atomic, one at a time


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
    assert not folder.exists() and not list(tmp_path.glob("cache.*"))  # no partial, no lock file
    # A leftover partial build (a killed process) is not a cache, and says so.
    (tmp_path / "cache.partial-host-123" / "frames").mkdir(parents=True)
    with pytest.raises(
        DataCacheError,
        match=r"is not a complete data cache \(no manifest.json\) .*cache.partial-host-123 is an interrupted build",
    ):
        Manifest.load(folder)


def test_ctrl_c_during_a_parallel_build_drops_the_queued_tasks(robocasa_root, tmp_path, monkeypatch) -> None:
    started = []
    release = threading.Event()

    def decode(task):
        started.append(task)
        if len(started) == 1:
            raise KeyboardInterrupt  # the first task: Ctrl-C
        release.wait(timeout=60)  # held until the build has given up: no race with the clock
        return len(task.timestamps)

    # One thread stands in for the pool of spawned processes (which cannot see a monkeypatch).
    pool = ThreadPoolExecutor(1)
    monkeypatch.setattr(
        build_module, "ProcessPoolExecutor", lambda workers, mp_context=None, initializer=None: pool
    )
    monkeypatch.setattr(build_module, "run_task", decode)
    monkeypatch.setattr(build_module, "FRAMES_PER_TASK", 4)  # 72 tasks
    try:
        with pytest.raises(KeyboardInterrupt):
            build_cache(robocasa_root, tmp_path / "cache", backend="pyav", workers=2, show_progress=False)
    finally:
        release.set()
        pool.shutdown(wait=True)  # runs whatever the build left queued
    # The failed task and at most the one the thread took next ran; the other 70 were dropped.
    assert len(started) <= 2
    assert not list(tmp_path.iterdir())


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_the_leftovers_of_dead_builds_are_removed(robocasa_root, tmp_path) -> None:
    folder = tmp_path / "cache"
    host = locking._host()
    live = tmp_path / f"cache.partial-{host}-{os.getppid()}"  # the process that started pytest: alive
    dead = tmp_path / f"cache.partial-{host}-{_dead_pid()}"
    other_host = tmp_path / f"cache.partial-elsewhere-{_dead_pid()}"  # its pid means nothing here
    strange = tmp_path / "cache.partial-x-1"  # not laid out as a build writes it
    for leftover in (live, dead, other_host):
        (leftover / "frames").mkdir(parents=True)
        (leftover / "frames" / "a.npy").write_bytes(b"x")
        (leftover / MARKER).write_text("")  # what every build writes first
    strange.mkdir()
    (strange / "thesis.tex").write_text("keep")
    build_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    assert (folder / MANIFEST).is_file()
    assert not dead.exists()
    assert live.is_dir() and other_host.is_dir() and (strange / "thesis.tex").is_file()


def test_a_second_build_of_the_same_cache_is_refused_while_one_runs(robocasa_root, tmp_path) -> None:
    folder = tmp_path / "cache"
    busy = rf"another build of {folder} is running \(process {os.getpid()} on "
    with locking.build_lock(folder, wait=False), pytest.raises(CacheBusyError, match=busy):
        build_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    assert not folder.exists()


def test_training_waits_for_another_build_and_uses_its_cache(
    robocasa_root, robocasa_cache, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(locking, "LOCK_POLL_S", 0.05)
    monkeypatch.setattr(build_module, "_build", lambda *a, **k: pytest.fail("built a second time"))
    folder = tmp_path / "cache"
    holding, release = threading.Event(), threading.Event()

    def other_build() -> None:
        with locking.build_lock(folder, wait=False):
            holding.set()
            release.wait(10)
            shutil.copytree(robocasa_cache, folder)

    thread = threading.Thread(target=other_build)
    thread.start()
    assert holding.wait(10)
    threading.Timer(0.3, release.set).start()
    build_missing_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    thread.join()
    assert (folder / MANIFEST).is_file()


def test_a_cache_the_disk_cannot_hold_is_refused_before_writing(robocasa_root, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(build_module, "_free_bytes", lambda folder: 1_000_000)
    with pytest.raises(
        DataCacheError,
        match=r"needs about 2\.\d MB, but .* has 1\.0 MB free; choose a cache folder on a bigger disk",
    ):
        build_cache(robocasa_root, tmp_path / "cache", backend="pyav", show_progress=False)
    assert not list(tmp_path.iterdir())


def test_replacing_a_cache_does_not_count_the_old_one_as_room(
    robocasa_root, robocasa_cache, tmp_path, monkeypatch
) -> None:
    folder = tmp_path / "cache"
    shutil.copytree(robocasa_cache, folder)
    before = tree(folder)
    monkeypatch.setattr(build_module, "_free_bytes", lambda folder: 1_000_000)
    with pytest.raises(
        DataCacheError, match=r"has 1\.0 MB free \(the old cache there, 2\.\d MB, stays until"
    ):
        build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert tree(folder) == before


# --------------------------------------------------------------------------- several processes


def _cfg(folder: Path, root: Path | None = None) -> types.SimpleNamespace:
    dataset = types.SimpleNamespace(
        root=str(root) if root else None, video_backend="pyav", return_uint8=True, depth_output_unit="mm"
    )
    return types.SimpleNamespace(data_cache=str(folder), dataset=dataset)


# What a run context says in the second of two processes.
RANK_1_OF_2 = types.SimpleNamespace(rank=1, world_size=2)
# The run's own dataset (not one --dataset.mix adds).
PRIMARY = types.SimpleNamespace(index=0, label="primary")


def test_a_non_main_process_never_builds(robocasa_root, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "1")
    folder = tmp_path / "cache"
    with pytest.raises(
        DataCacheError, match=rf"rank 1: the main process did not build the data cache at {folder}"
    ):
        plugin.wrap_dataset(
            _cfg(folder), upstream_dataset(robocasa_root), "train", source=PRIMARY, run=RANK_1_OF_2
        )
    assert not folder.exists()


def test_other_processes_wait_for_the_main_build_without_a_barrier(
    robocasa_root, robocasa_cache, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(plugin, "RANK_POLL_S", 0.05)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    folder = tmp_path / "cache"
    threading.Timer(0.3, lambda: shutil.copytree(robocasa_cache, folder)).start()
    plugin.configure(
        _cfg(folder, robocasa_root), run=RANK_1_OF_2
    )  # returns once the main process's cache is there
    assert (folder / MANIFEST).is_file()
    # No build ever starts (say, rank 0 sees another filesystem): a clear error, not a hang.
    monkeypatch.setattr(plugin, "START_GRACE_S", 0.1)
    with pytest.raises(DataCacheError, match=r"rank 1: the main process has not built the data cache at .*"):
        plugin.configure(_cfg(tmp_path / "never", robocasa_root), run=RANK_1_OF_2)


def test_profile_suggests_the_cache_when_data_bound() -> None:
    tips = profile_advice(types.SimpleNamespace(data_cache=None), "HIGHLY", {"cameras": 3})
    assert tips and tips[0].startswith("--data_cache=<folder on a fast disk>")
    assert profile_advice(types.SimpleNamespace(data_cache="/c"), "HIGHLY", {"cameras": 3}) is None
    assert profile_advice(types.SimpleNamespace(data_cache=None), "NOT", {"cameras": 3}) is None


# --------------------------------------------------------------------------- training end to end


class LossRecorder:
    """A plugin that keeps every step's exact loss (a float, not a log line)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    @hookimpl
    def on_step_end(self, cfg, step, metrics, rank, world_size):
        self.losses.append(float(metrics["loss"]))


@pytest.mark.slow
def test_the_same_job_gives_the_same_losses_with_and_without_the_cache(
    robocasa_root, tmp_path, extra_entry_points, capsys
) -> None:
    recorder = LossRecorder()
    extra_entry_points("loss_recorder", recorder)
    # Random image transforms, an episode subset and DataLoader workers, through the training CLI.
    job = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--dataset.episodes=[0,2,3]",
        "--dataset.image_transforms.enable=true",
        "--num_workers=2",
        "--steps=4",
        "--save_freq=4",
        "--seed=3",
    ]
    folder = tmp_path / "cache"
    losses = {}
    for name, extra in (("plain", []), ("cached", [f"--data_cache={folder}"])):  # cached: built on the fly
        recorder.losses.clear()
        assert train_in_process([*job, f"--output_dir={tmp_path / name}", *extra]) == 0
        config = tmp_path / name / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
        assert train_in_process(["--resume=true", f"--config_path={config}", "--steps=6"]) == 0
        losses[name] = list(recorder.losses)
    assert len(losses["plain"]) == 6 and losses["cached"] == losses["plain"]  # exact floats
    error = capsys.readouterr().err
    assert "match the decoder bit for bit" in error
    # --resume reads the cache too (the field comes back from train_config.json).
    assert error.count(f"--data_cache: train items from {folder}") == 2
    config = tmp_path / "cached" / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    assert json.loads(config.read_text())["data_cache"] == str(folder)
    assert cli(["cache", "info", str(folder)]) == 0
    assert f"camera {EYE}: rgb |u1 [3, 48, 48]" in capsys.readouterr().out


@pytest.mark.slow
def test_camera_keys_with_the_cache_read_only_the_kept_camera(
    robocasa_root, robocasa_cache, tmp_path, monkeypatch, capsys
) -> None:
    opened: list[set[str]] = []
    original = CachedDataset._open

    def recording_open(self):
        arrays = original(self)
        opened.append(set(arrays))
        return arrays

    monkeypatch.setattr(CachedDataset, "_open", recording_open)
    args = [
        *dataset_flags(robocasa_root),
        *TINY_DIFFUSION,
        *IMAGE_FLAGS,
        "--steps=2",
        "--camera_keys=[robot0_eye_in_hand]",
        f"--data_cache={robocasa_cache}",
        f"--output_dir={tmp_path / 'run'}",
    ]
    assert train_in_process(args) == 0
    assert "match the decoder bit for bit" in capsys.readouterr().err  # items without the dropped cameras
    mapped = set().union(*opened)
    assert EYE in mapped
    assert not mapped & {
        "observation.images.robot0_agentview_left",
        "observation.images.robot0_agentview_right",
    }


def test_a_cache_replaced_during_a_run_is_not_served_to_later_workers(robocasa_root, tmp_path) -> None:
    folder = tmp_path / "cache"
    build_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    items = cached(upstream_dataset(robocasa_root), folder)
    first = items[0]  # the run's own process maps the checked files
    build_cache(robocasa_root, folder, backend="pyav", overwrite=True, show_progress=False)
    assert compare_items(first, items[0]) == []  # already mapped: the checked files, still open
    items._pid = None  # as in a DataLoader worker started after the rebuild
    with pytest.raises(
        StaleCacheError, match=f"the data cache at {folder} was replaced while this run used it"
    ):
        items[0]


def test_a_decoder_failure_is_one_line_naming_the_video(robocasa_root, tmp_path, monkeypatch) -> None:
    def broken(task):
        raise RuntimeError("Invalid data found when processing input")

    monkeypatch.setattr(build_module, "run_task", broken)
    folder = tmp_path / "cache"
    with pytest.raises(
        DataCacheError, match=r"decoding .*\.mp4 at 0\.000-.* s failed \(RuntimeError: Invalid"
    ):
        build_cache(robocasa_root, folder, backend="pyav", show_progress=False)
    assert not folder.exists() and not list(tmp_path.glob("cache.partial-*"))
