"""``lerobot-ext convert``: LeRobot v2.0/v2.1 datasets into verified v3.0 ones, and the one-line
refusal of a v2.x folder with the command that converts it."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import TINY_ACT, dataset_flags, run_cli, train_in_process
from v21_dataset import CAMERA, TASKS, write_v21_dataset

from lerobot_ext import ConfigError, check_dataset_version, dataset_version
from lerobot_ext.convert import upstream_steps
from lerobot_ext.convert.conversion import MARKER, convert
from lerobot_ext.convert.verify import verify_conversion

LENGTHS = (10, 12, 9)


def digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` (and only those), by content."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def v21_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_v21_dataset(tmp_path_factory.mktemp("v21") / "so100_pick", lengths=LENGTHS)


@pytest.fixture(scope="module")
def converted(v21_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``v21_root`` converted once (read-only for the tests: copy it to change it)."""
    target = tmp_path_factory.mktemp("v30") / "so100_pick_v30"
    convert(v21_root, target, show_progress=False)
    return target


@pytest.fixture
def own_v21(tmp_path: Path) -> Path:
    """A v2.1 dataset a test may change."""
    return write_v21_dataset(tmp_path / "own", lengths=(6, 7))


@pytest.fixture
def tool():
    """``lerobot-ext``, in this process, with the installed plugins (``convert`` among them)."""
    from lerobot_ext.cli.tool import main

    return main


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("ERROR lerobot-ext: "), err
    return lines[0].removeprefix("ERROR lerobot-ext: ")


# --------------------------------------------------------------------------- the version check


def test_a_v21_folder_is_one_line_naming_its_version_and_the_command(v21_root: Path) -> None:
    assert dataset_version(v21_root) == "v2.1"
    with pytest.raises(ConfigError) as refused:
        check_dataset_version(v21_root, "--dataset.root")
    message = str(refused.value)
    assert "\n" not in message
    installed = importlib.metadata.version("lerobot")
    target = v21_root.with_name("so100_pick_v30")
    assert message == (
        f"--dataset.root={v21_root} is a LeRobot v2.1 dataset; lerobot {installed} reads v3.0: "
        f"lerobot-ext convert {v21_root} {target} (then --dataset.root={target})"
    )
    with pytest.raises(
        ConfigError, match=rf"^{v21_root} is a LeRobot v2.1 dataset; .* \(then use {target}\)$"
    ):
        check_dataset_version(v21_root, None)  # a positional folder: lerobot-ext inspect DIR


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["lerobot-train-ext", "--dataset.repo_id=local/old", "--dataset.root={root}", "--policy.type=act",
         "--output_dir={out}"],
        ["lerobot-ext", "inspect", "{root}"],
        ["lerobot-ext", "cache", "build", "{root}", "--cache_dir={out}"],
    ],
    ids=["train", "inspect", "cache-build"],
)  # fmt: skip
def test_every_command_naming_a_v21_folder_says_so_in_one_line(
    command, v21_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [part.format(root=v21_root, out=out) for part in command]
    result = run_cli(args, env={"HF_HUB_OFFLINE": "1"}, check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    line = one_error_line(_without_info(result.stderr))
    assert "is a LeRobot v2.1 dataset" in line and f"lerobot-ext convert {v21_root} " in line
    assert not out.exists()  # nothing written


def _without_info(err: str) -> str:
    """stderr without the INFO and WARNING lines printed before the refusal (the torchcodec notice
    on a machine without FFmpeg, upstream's device fallback while it parses the policy config);
    whatever follows the first ERROR line is kept, so noise after it still fails the test."""
    lines = err.splitlines()
    first_error = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), len(lines))
    before = [line for line in lines[:first_error] if not line.startswith(("INFO ", "WARNING"))]
    return "\n".join([*before, *lines[first_error:]])


def test_other_versions_and_non_datasets(tmp_path: Path, converted: Path) -> None:
    check_dataset_version(converted)  # v3.0: nothing to say
    check_dataset_version(tmp_path / "missing")  # not a dataset: the caller's other checks say so
    assert dataset_version(tmp_path) is None

    def folder(name: str, info_path: str, version: str) -> Path:
        path = tmp_path / name / info_path
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"codebase_version": version}))
        return tmp_path / name

    with pytest.raises(ConfigError, match=r"is a LeRobot v2.0 dataset; .*lerobot-ext convert .*old_v30"):
        check_dataset_version(folder("old", "meta/info.json", "v2.0"))
    with pytest.raises(ConfigError, match=r"v1.6 dataset; .* reads v2.0 and v2.1: convert it to v2.1"):
        check_dataset_version(folder("older", "meta_data/info.json", "v1.6"))
    with pytest.raises(ConfigError, match=r"v4.0 dataset, newer than lerobot .*: upgrade lerobot"):
        check_dataset_version(folder("newer", "meta/info.json", "v4.0"))


# --------------------------------------------------------------------------- converting


def test_the_converted_dataset_loads_matches_its_source_and_leaves_it_untouched(
    v21_root: Path, converted: Path, tmp_path: Path
) -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    before = digests(v21_root)
    again = tmp_path / "again"
    result = convert(v21_root, again, show_progress=False)
    assert digests(v21_root) == before, "the source is read, never written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"], "no partial or failed folder is left"
    assert result.version == "v2.1"
    verification = result.verification
    assert verification.ok, verification.problems
    assert verification.episodes == (3, 3) and verification.frames == (31, 31)
    assert verification.decoded_frames == 3 and verification.cameras == [CAMERA]
    assert {"observation.state", "action", "index", "timestamp"} <= set(verification.columns)
    assert {"observation.state", "action"} <= set(verification.stats_features)

    dataset = LeRobotDataset("local/so100_pick_v30", root=converted, video_backend="pyav")
    assert dataset.meta.info["codebase_version"] == "v3.0"
    assert (dataset.num_episodes, len(dataset)) == (3, sum(LENGTHS))
    item = dataset[LENGTHS[0] + 3]  # episode 1, frame 3
    assert item["task"] == TASKS[1]
    assert tuple(item[CAMERA].shape) == (3, 32, 32)
    source = pq.read_table(v21_root / "data/chunk-000/episode_000001.parquet").to_pydict()
    np.testing.assert_array_equal(item["action"].numpy(), np.asarray(source["action"][3], dtype=np.float32))


@pytest.mark.slow
def test_train_two_steps_on_the_converted_dataset(converted: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train_in_process([*dataset_flags(converted), *TINY_ACT, "--steps=2", f"--output_dir={out}"]) == 0
    assert (out / "checkpoints" / "000002" / "pretrained_model").is_dir()


def test_a_v20_dataset_gets_its_episode_statistics_computed(tmp_path: Path) -> None:
    source = write_v21_dataset(tmp_path / "v20", lengths=(5, 6), version="v2.0")
    before = digests(source)
    result = convert(source, tmp_path / "v30", show_progress=False)
    assert result.version == "v2.0" and result.verification.ok, result.verification.problems
    assert digests(source) == before
    stats = json.loads((tmp_path / "v30" / "meta" / "stats.json").read_text())
    state = np.concatenate(
        [pq.read_table(p).to_pydict()["observation.state"] for p in sorted(source.glob("data/*/*.parquet"))]
    )
    np.testing.assert_allclose(stats["observation.state"]["mean"], state.mean(0), rtol=1e-6)
    assert np.asarray(stats[CAMERA]["mean"]).shape == (3, 1, 1)


def test_episodes_spread_over_several_files_are_verified_in_each(
    own_v21: Path, tmp_path: Path, monkeypatch
) -> None:
    # Each episode "weighs" 150 MB: upstream starts a new data file (100 MB) and a new video file
    # (200 MB) for every episode, so each is read at its own offset.
    upstream = upstream_steps.upstream_converter()
    monkeypatch.setattr(upstream, "get_parquet_file_size_in_mb", lambda path: 150.0)
    monkeypatch.setattr(upstream, "get_file_size_in_mb", lambda path: 150.0)
    result = convert(own_v21, tmp_path / "v30", show_progress=False)
    assert result.verification.ok, result.verification.problems
    assert len(list((tmp_path / "v30").glob("data/*/*.parquet"))) == 2
    assert len(list((tmp_path / "v30").glob(f"videos/{CAMERA}/*/*.mp4"))) == 2
    assert result.verification.decoded_frames == 2


def test_nothing_from_the_hub_is_called(own_v21: Path, tmp_path: Path, monkeypatch) -> None:
    upstream = upstream_steps.upstream_converter()

    def hub(*args, **kwargs):
        raise AssertionError("the conversion touched the Hub")

    for name in ("HfApi", "snapshot_download", "convert_dataset"):
        monkeypatch.setattr(upstream, name, hub)
    assert convert(own_v21, tmp_path / "v30", show_progress=False).verification.ok


# --------------------------------------------------------------------------- the command


def test_the_command_converts_and_reports(tool, own_v21: Path, tmp_path: Path, capsys) -> None:
    assert tool(["convert", str(own_v21), str(tmp_path / "v30")]) == 0
    out = capsys.readouterr().out
    assert f"verified {tmp_path / 'v30'} against {own_v21}: OK" in out
    assert "episodes  2 -> 2" in out and "frames    13 -> 13" in out
    assert "2 decoded frames" in out
    assert f"train with --dataset.root={tmp_path / 'v30'}" in out


def test_an_existing_target_is_refused_unless_overwrite(tool, own_v21: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "v30"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    assert tool(["convert", str(own_v21), str(target)]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"{target} already exists; choose another folder, or pass --overwrite to replace it"
    )
    # --overwrite replaces a dataset, never an arbitrary folder.
    assert tool(["convert", str(own_v21), str(target), "--overwrite"]) == 2
    assert "is not a LeRobot dataset; --overwrite replaces a dataset only" in one_error_line(
        capsys.readouterr().err
    )
    assert (target / "notes.txt").read_text() == "mine"

    shutil.rmtree(target)
    assert tool(["convert", str(own_v21), str(target)]) == 0
    (target / "meta" / "stale.txt").write_text("from the first conversion")
    assert tool(["convert", str(own_v21), str(target), "--overwrite"]) == 0
    assert not (target / "meta" / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["own", "v30"]


def test_sources_it_cannot_convert_are_one_line(
    tool, converted: Path, own_v21: Path, tmp_path: Path, capsys
) -> None:
    assert tool(["convert", str(converted), str(tmp_path / "x")]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        f"{converted} is already a LeRobot v3.0 dataset: nothing to convert (train on it with --dataset.root={converted})"
    )
    assert tool(["convert", str(own_v21), str(own_v21 / "inside")]) == 2
    assert "write the converted dataset outside" in one_error_line(capsys.readouterr().err)
    (own_v21 / "videos/chunk-000" / CAMERA / "episode_000001.mp4").unlink()
    assert tool(["convert", str(own_v21), str(tmp_path / "x")]) == 2
    assert (
        "cannot be converted as it is: 1 of its 2 observation.images.front videos are missing"
        in one_error_line(capsys.readouterr().err)
    )
    assert not (tmp_path / "x").exists()


def test_an_interrupted_conversion_leaves_no_half_dataset(
    tool, own_v21: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    upstream = upstream_steps.upstream_converter()
    before = digests(own_v21)
    real = upstream.convert_videos

    def fails_half_way(**kwargs):
        real(**kwargs)  # the videos are written into the partial folder, then:
        raise OSError("No space left on device")

    monkeypatch.setattr(upstream, "convert_videos", fails_half_way)
    target = tmp_path / "v30"
    assert tool(["convert", str(own_v21), str(target)]) == 2
    assert one_error_line(capsys.readouterr().err) == (
        "upstream's convert_videos (video files) failed: OSError: No space left on device"
    )

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(upstream, "convert_videos", interrupted)
    assert tool(["convert", str(own_v21), str(target)]) == 130
    assert f"interrupted: {target} was not written" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["own"], "neither DST nor a partial folder"
    assert digests(own_v21) == before

    # A killed conversion leaves its marked partial folder: the next one removes it.
    monkeypatch.setattr(upstream, "convert_videos", real)
    partial = tmp_path / "v30.partial"
    (partial / "data").mkdir(parents=True)
    (partial / MARKER).touch()
    assert tool(["convert", str(own_v21), str(target)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["own", "v30"]
    capsys.readouterr()
    # ... but never a folder of that name it did not make.
    shutil.rmtree(target)
    partial.mkdir()
    assert tool(["convert", str(own_v21), str(target)]) == 2
    assert "is not an earlier conversion's partial output; move it away first" in one_error_line(
        capsys.readouterr().err
    )


# --------------------------------------------------------------------------- the verification


def copy_of(folder: Path, where: Path) -> Path:
    return Path(shutil.copytree(folder, where / folder.name))


def test_the_verification_catches_a_changed_value(v21_root: Path, converted: Path, tmp_path: Path) -> None:
    target = copy_of(converted, tmp_path)
    data = target / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data).to_pandas()
    action = np.stack(table["action"].to_numpy())
    action[LENGTHS[0] + 4, 2] += 1e-3  # episode 1, frame 4
    table["action"] = list(action)
    table.to_parquet(data, index=False)
    problems = verify_conversion(v21_root, target, show_progress=False).problems
    assert "episode 1: column action differs (1 frame(s) differ, first at frame 4)" in problems
    data.write_bytes(data.read_bytes()[:100])  # a truncated file: a problem line, not a traceback
    problems = verify_conversion(v21_root, target, show_progress=False).problems
    assert problems[0].startswith("episode 0: its data cannot be read (ArrowInvalid: "), problems


def test_the_verification_catches_stats_and_frames_that_differ(
    v21_root: Path, converted: Path, tmp_path: Path
) -> None:
    target = copy_of(converted, tmp_path)
    stats_file = target / "meta" / "stats.json"
    stats = json.loads(stats_file.read_text())
    stats["observation.state"]["mean"][0] += 0.1
    stats_file.write_text(json.dumps(stats))
    # A source whose episodes 0 and 1 swapped videos: the converted frames no longer match it.
    source = copy_of(v21_root, tmp_path / "src")
    videos = source / "videos/chunk-000" / CAMERA
    (videos / "episode_000000.mp4").rename(videos / "swap.mp4")
    (videos / "episode_000001.mp4").rename(videos / "episode_000000.mp4")
    (videos / "swap.mp4").rename(videos / "episode_000001.mp4")
    problems = verify_conversion(source, target, show_progress=False).problems
    assert any(p.startswith("meta/stats.json: observation.state mean is") and "dim 0" in p for p in problems)
    assert any(p.startswith(f"episode 0, {CAMERA}: the last frame") for p in problems), problems


def test_a_failed_verification_keeps_nothing_at_the_target(
    tool, own_v21: Path, tmp_path: Path, capsys
) -> None:
    # Episode statistics that no longer match the data (an episode edited after recording).
    stats_file = own_v21 / "meta" / "episodes_stats.jsonl"
    rows = [json.loads(line) for line in stats_file.read_text().splitlines()]
    rows[0]["stats"]["action"]["max"][1] += 5.0
    stats_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    target = tmp_path / "v30"
    assert tool(["convert", str(own_v21), str(target)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("ERROR lerobot-ext: ")]
    assert errors[0].startswith("ERROR lerobot-ext: meta/stats.json: action max is")
    assert "--recompute-stats computes them from it" in errors[0]
    assert errors[-1].endswith(
        f"{target} was not written (the converted copy is kept in {target}.failed to look at)"
    )
    assert not target.exists() and (tmp_path / "v30.failed" / "meta" / "info.json").is_file()
    # The fix the line names: statistics computed from the data.
    assert tool(["convert", str(own_v21), str(target), "--recompute-stats"]) == 0
    stats = json.loads((target / "meta" / "stats.json").read_text())
    actions = np.concatenate(
        [pq.read_table(p).to_pydict()["action"] for p in sorted(own_v21.glob("data/*/*.parquet"))]
    )
    np.testing.assert_allclose(stats["action"]["max"], actions.max(0), rtol=1e-6)
