"""``--dataset.mix`` / ``--dataset.mix_weights``: several datasets in one run - the sampler's shares and
resumable order, the statistics of all the frames together, exact resume, one-line refusals, GR2 and
RoboCasa recordings trained together (and deployed), the held-out split and time windows that never
cross from one dataset into the next."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (
    IMAGE_FLAGS,
    TINY_FLOW,
    dataset_flags,
    read_json,
    same_weights,
    train_in_process,
)
from v21_dataset import write_v21_dataset

from lerobot_ext import hookimpl, vector_feature, write_dataset
from lerobot_ext.dataset_mix.mixed_dataset import MixedDataset
from lerobot_ext.dataset_mix.sampler import DrawCounter, WeightedMixSampler, frame_positions, shares

STATE, ACTION = "observation.state", "action"
BIMODAL_FPS = 10


def lerobot_dataset(root: Path, deltas: dict[str, list[float]] | None = None):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(f"local/{root.name}", root=root, delta_timestamps=deltas, video_backend="pyav")


def raw_column(root: Path, key: str) -> np.ndarray:
    """Every frame's ``key`` as stored in ``root``'s parquet files (no plugin involved)."""
    return np.asarray(lerobot_dataset(root).hf_dataset.with_format("numpy")[key], dtype=np.float64)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "ERROR" in line]


# --------------------------------------------------------------------------- small datasets


def write_shifted_bimodal(
    root: Path, episodes: int, frames: int, low: list[float], seed: int, fps: int = BIMODAL_FPS
) -> Path:
    """The bimodal demo's layout with state and action drawn from ``[low, low + 1)`` per dim: two
    such datasets with far-apart ``low`` have quantiles no average of theirs can give."""
    from lerobot_ext.demo import bimodal

    rng = np.random.default_rng(seed)
    base = np.asarray(low, dtype=np.float64)

    def episode():
        return [
            {
                STATE: (base + rng.random(2)).astype(np.float32),
                "observation.environment_state": np.zeros(2, dtype=np.float32),
                ACTION: (base + rng.random(2)).astype(np.float32),
            }
            for _ in range(frames)
        ]

    return write_dataset(
        root,
        repo_id=f"local/{root.name}",
        fps=fps,
        robot_type="point_mass",
        features=bimodal.features(),
        episodes=(episode() for _ in range(episodes)),
        task="go to either goal",
    )


# (episodes, frames) of the two shifted datasets; literal so the expected sizes below are too.
LOW_SHAPE, HIGH_SHAPE = (3, 12), (2, 9)


@pytest.fixture(scope="module")
def shifted(tmp_path_factory) -> tuple[Path, Path]:
    """Two bimodal-layout datasets, 36 frames in [0, 1) and 18 frames in [5, 6) x [-3, -2)."""
    folder = tmp_path_factory.mktemp("mix")
    low = write_shifted_bimodal(folder / "low", *LOW_SHAPE, low=[0.0, 0.0], seed=1)
    high = write_shifted_bimodal(folder / "high", *HIGH_SHAPE, low=[5.0, -3.0], seed=2)
    return low, high


def flow_run(primary: Path, out: Path, *extra: str) -> list[str]:
    return [*dataset_flags(primary), *TINY_FLOW, "--seed=3", f"--output_dir={out}", *extra]


def mix_flag(*roots: Path) -> str:
    return f"--dataset.mix=[{','.join(str(r) for r in roots)}]"


class Recorder:
    """A third-party plugin keeping what ``datasets_ready`` got (and items read from it)."""

    def __init__(self, read=None) -> None:
        self.read = read
        self.seen: dict = {}

    @hookimpl
    def datasets_ready(self, cfg, dataset, eval_dataset, rank, run):
        self.seen.update(
            train=len(dataset),
            eval=None if eval_dataset is None else len(eval_dataset),
            policy=cfg.policy,
        )
        if self.read is not None:
            self.seen["items"] = self.read(dataset)


# =========================================================================== 1. the sampler


def test_shares_split_the_total_by_weight_with_largest_remainders():
    """``shares`` gives every position to some dataset, in proportion to the weights, the leftover
    positions going to the largest fractional parts (hand-computed cases, weights unnormalised)."""
    # 25 positions at 1:3 -> 6.25 / 18.75: floors 6 + 18 = 24, the leftover goes to .75.
    assert shares([1, 3], 25).tolist() == [6, 19]
    # 7 at .2/.5/.3 -> 1.4 / 3.5 / 2.1: floors 1 + 3 + 2 = 6, the leftover goes to .5.
    assert shares([0.2, 0.5, 0.3], 7).tolist() == [1, 4, 2]
    # 10 at 2:3:5 is exact; 100 at 1:1:1 -> 33.3 each, the leftover to one of them.
    assert shares([2, 3, 5], 10).tolist() == [2, 3, 5]
    counts = shares([1, 1, 1], 100)
    assert counts.sum() == 100 and sorted(counts.tolist()) == [33, 33, 34]
    for weights, total in (([1, 3], 110), ([7, 2, 1], 53), ([0.1, 0.9], 11), ([3, 3], 1001)):
        counts = shares(weights, total)
        exact = np.asarray(weights, dtype=float) / sum(weights) * total
        assert counts.sum() == total
        assert np.all(np.abs(counts - exact) < 1), (weights, total, counts)


def test_every_dataset_gets_at_least_one_position_however_small_its_weight():
    """The documented floor of ``shares`` (each share at least one) and an epoch that can be drawn
    with a weight far smaller than the others (``--dataset.mix_weights=[999,1]``)."""
    assert shares([999, 1], 80).min() >= 1
    sampler = WeightedMixSampler([np.arange(40), np.arange(40, 80)], [999, 1], seed=0)
    order = list(sampler)
    assert len(order) == 80 and any(p >= 40 for p in order)


def test_frame_positions_leave_out_each_episodes_last_frames():
    """Each episode's frames but its last ``drop_n_last_frames``; an episode too short gives none."""
    starts, stops = np.array([0, 5, 8]), np.array([5, 8, 9])
    assert frame_positions(starts, stops, 0).tolist() == list(range(9))
    assert frame_positions(starts, stops, 2).tolist() == [0, 1, 2, 5]
    assert frame_positions(starts, stops, 5).tolist() == []


def _membership(order: np.ndarray, positions: list[np.ndarray]) -> np.ndarray:
    """Which of ``positions`` each drawn position belongs to (-1: none of them)."""
    which = np.full(len(order), -1)
    for i, frames in enumerate(positions):
        which[np.isin(order, frames)] = i
    return which


def test_each_epoch_draws_each_datasets_share_from_its_own_frames():
    """Every epoch has ``len(sampler)`` positions (the frames of all datasets), of which exactly
    ``counts[i]`` are dataset i's - only its given positions, none repeated while its share fits -
    interleaved rather than one dataset after the other."""
    # Positions with gaps (as drop_n_last_frames leaves them), the datasets one after the other.
    positions = [np.array([0, 1, 2, 5, 6, 7, 8, 9]), np.arange(12, 40), np.array([40, 41, 43, 44])]
    sampler = WeightedMixSampler(positions, [3, 5, 2], seed=7)
    assert len(sampler) == 8 + 28 + 4
    # 40 at 3:5:2 -> 12 / 20 / 8.
    assert sampler.counts.tolist() == [12, 20, 8]
    for epoch in range(4):
        sampler.set_epoch(epoch)
        order = np.asarray(list(sampler))
        assert len(order) == 40
        which = _membership(order, positions)
        assert (which >= 0).all(), "a position no dataset gave"
        assert np.bincount(which, minlength=3).tolist() == [12, 20, 8]
        drawn_1 = order[which == 1]
        assert len(set(drawn_1.tolist())) == 20  # 20 of 28 frames: no frame twice
        # Not one dataset after the other: dataset 0's draws are spread through the epoch.
        assert np.flatnonzero(which == 0).max() - np.flatnonzero(which == 0).min() > 12


def test_a_share_larger_than_the_dataset_repeats_its_frames_evenly():
    """A dataset whose share exceeds its size repeats its frames, each at most ceil(count / size)
    times (and at least floor(count / size) times: whole rounds before a partial one)."""
    positions = [np.arange(0, 30), np.arange(30, 35)]  # 35 positions, 5 of them dataset 1's
    sampler = WeightedMixSampler(positions, [1, 2], seed=1)
    counts = sampler.counts.tolist()
    assert counts == [12, 23]  # 35 at 1:2 -> 11.67 / 23.33
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = np.asarray(list(sampler))
        small = order[np.isin(order, positions[1])]
        assert len(small) == 23
        times = np.bincount(small - 30, minlength=5)
        assert times.max() <= math.ceil(23 / 5) and times.min() >= 23 // 5, times
        big = order[np.isin(order, positions[0])]
        assert len(big) == 12 and len(set(big.tolist())) == 12


def test_the_order_is_a_pure_function_of_seed_and_epoch():
    """Two samplers with one seed give the same order for each epoch - whatever was drawn before -
    while another epoch, or another seed, gives another order (what resuming by position needs)."""
    positions = [np.arange(0, 20), np.arange(20, 50)]
    first = WeightedMixSampler(positions, [1, 3], seed=5)
    second = WeightedMixSampler(positions, [1, 3], seed=5)
    epochs_first = [list(first) for _ in range(3)]  # iter() advances the epoch, as upstream's does
    second.set_epoch(2)
    assert list(second) == epochs_first[2]
    second.set_epoch(0)
    assert list(second) == epochs_first[0]
    assert epochs_first[0] != epochs_first[1] != epochs_first[2]
    other_seed = WeightedMixSampler(positions, [1, 3], seed=6)
    assert list(other_seed) != epochs_first[0]


def test_load_state_dict_resumes_an_epoch_at_its_position():
    """``load_state_dict({"epoch": e, "start_index": k})`` then ``iter()`` gives exactly epoch e's
    positions from k on; the next ``iter()`` is epoch e + 1 from its start (upstream's contract)."""
    positions = [np.arange(0, 11), np.arange(11, 30)]
    reference = WeightedMixSampler(positions, [2, 1], seed=11)
    epochs = [list(reference) for _ in range(4)]
    for epoch, start in ((0, 0), (1, 7), (2, 29), (3, 30)):
        resumed = WeightedMixSampler(positions, [2, 1], seed=11)
        resumed.load_state_dict({"epoch": epoch, "start_index": start})
        assert list(resumed) == epochs[epoch][start:]
        if epoch < 3:
            assert list(resumed) == epochs[epoch + 1]
    # What upstream saves is what it loads back.
    resumed.load_state_dict({"epoch": 2, "start_index": 5})
    assert resumed.state_dict() == {"epoch": 2, "start_index": 5}


def test_the_draw_counter_counts_each_datasets_positions():
    """``DrawCounter`` passes the wrapped sampler's positions through unchanged and counts them per
    dataset (the ``samples drawn`` log line), forwarding ``set_epoch``/``load_state_dict``."""
    positions = [np.arange(0, 10), np.arange(10, 40)]
    inner = WeightedMixSampler(positions, [1, 1], seed=2)
    counter = DrawCounter(inner, lambda p: int(p >= 10), 2)
    counter.set_epoch(3)
    order = list(counter)
    assert len(counter) == 40
    expected = WeightedMixSampler(positions, [1, 1], seed=2)
    expected.set_epoch(3)
    assert order == list(expected)
    assert counter.drawn.tolist() == [20, 20]
    counter.load_state_dict({"epoch": 0, "start_index": 35})
    assert len(list(counter)) == 5 and counter.drawn.sum() == 45


# =========================================================================== 2. statistics


def _normaliser_stats(checkpoint: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    pipeline = read_json(checkpoint / "policy_preprocessor.json")
    (step,) = [s for s in pipeline["steps"] if s.get("registry_name") == "normalizer_processor"]
    return load_file(str(checkpoint / step["state_file"]))


def test_statistics_are_those_of_every_frame_together(shifted, tmp_path):
    """The checkpoint's normaliser holds the union's statistics: mean/std/min/max of state and action
    equal numpy's over both datasets' raw columns, the quantiles are the union's (within lerobot's
    histogram estimator's resolution) - not the frame-weighted average of each dataset's."""
    low, high = shifted
    out = tmp_path / "run"
    assert train_in_process(flow_run(low, out, mix_flag(high), "--steps=1")) == 0
    saved = _normaliser_stats(out / "checkpoints" / "last" / "pretrained_model")
    for key in (STATE, ACTION):
        each = [raw_column(root, key) for root in (low, high)]
        union = np.concatenate(each)
        assert union.shape == (36 + 18, 2)
        assert int(saved[f"{key}.count"][0]) == 54
        np.testing.assert_allclose(saved[f"{key}.mean"], union.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(saved[f"{key}.std"], union.std(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(saved[f"{key}.min"], union.min(0), rtol=1e-6)
        np.testing.assert_allclose(saved[f"{key}.max"], union.max(0), rtol=1e-6)
        resolution = (union.max(0) - union.min(0)) / 1000
        for name, q in (("q01", 0.01), ("q10", 0.10), ("q50", 0.50), ("q90", 0.90), ("q99", 0.99)):
            # A histogram quantile lies at the order statistic numpy's linear quantile starts from
            # or the next one (give or take a bin): between numpy's 'lower' and 'higher'.
            lower = np.quantile(union, q, axis=0, method="lower")
            higher = np.quantile(union, q, axis=0, method="higher")
            got = saved[f"{key}.{name}"]
            assert np.all(got >= lower - resolution) and np.all(got <= higher + resolution), (
                key,
                name,
                got,
                lower,
                higher,
            )
        # Averaging each dataset's q01 by frames would give another value (the datasets' ranges are apart).
        averaged = (36 * np.quantile(each[0], 0.01, axis=0) + 18 * np.quantile(each[1], 0.01, axis=0)) / 54
        assert np.any(np.abs(saved[f"{key}.q01"] - averaged) > 100 * resolution)


# =========================================================================== 3. exact resume


DRAWN = re.compile(r"--dataset\.mix: samples drawn \((\d+)\): (.*) \(end of run, step (\d+)\)")


def _drawn_shares(log: str, labels: list[str]) -> tuple[list[float], list[float]]:
    """The drawn and asked share of each dataset in the last ``samples drawn`` line at the run's end."""
    (line,) = [m for m in DRAWN.finditer(log)][-1:]
    drawn, asked = [], []
    for label in labels:
        found = re.search(re.escape(label) + r" ([\d.]+)% \(asked ([\d.]+)%\)", line.group(2))
        assert found, line.group(0)
        drawn.append(float(found.group(1)) / 100)
        asked.append(float(found.group(2)) / 100)
    return drawn, asked


@pytest.mark.slow
def test_a_weighted_mix_resumes_exactly(shifted, tmp_path, capsys):
    """6 steps straight and 3 + 3 resumed with ``--dataset.mix_weights=[1,3]`` end with bit-identical
    weights (the weighted sampler resumes by position); the log says what share each dataset got."""
    low, high = shifted
    # Batches of 27: the 6 steps draw 3 whole epochs of 54 positions (each dataset exactly its
    # share), so what the log reports is close to the weights, not to chance.
    weighted = [mix_flag(high), "--dataset.mix_weights=[1,3]", "--save_freq=3", "--batch_size=27"]
    straight = tmp_path / "straight"
    assert train_in_process(flow_run(low, straight, *weighted, "--steps=6")) == 0
    drawn, asked = _drawn_shares(capsys.readouterr().err, [str(low), str(high)])
    assert asked == [0.25, 0.75]
    # 36 and 18 frames: drawn as one concatenated dataset they would be 67% / 33%.
    assert abs(drawn[0] - 0.25) <= 0.04 and abs(drawn[1] - 0.75) <= 0.04, drawn

    resumed = tmp_path / "resumed"
    assert train_in_process(flow_run(low, resumed, *weighted, "--steps=3")) == 0
    config_path = resumed / "checkpoints" / "000003" / "pretrained_model" / "train_config.json"
    saved = read_json(config_path)
    assert saved["dataset"]["mix"] == [str(high)] and saved["dataset"]["mix_weights"] == [1.0, 3.0]
    assert same_weights(straight / "checkpoints" / "000003", resumed / "checkpoints" / "000003")
    assert train_in_process(["--resume=true", f"--config_path={config_path}", "--steps=6"]) == 0
    assert (
        read_json(resumed / "checkpoints" / "000006" / "training_state" / "training_step.json")["step"] == 6
    )
    assert same_weights(straight / "checkpoints" / "000006", resumed / "checkpoints" / "000006")


# =========================================================================== 4. refusals


def _one_error(capsys) -> str:
    """The one ERROR line of a refused run (and no traceback)."""
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text[-3000:]
    lines = error_lines(text)
    assert len(lines) == 1, lines
    assert lines[0].startswith("ERROR lerobot-ext: "), lines[0]
    return lines[0].removeprefix("ERROR lerobot-ext: ")


def test_a_dataset_that_does_not_mix_is_refused_in_one_line(bimodal_root, gr2_root, tmp_path, capsys):
    """Bimodal + GR2: exit status 2 and one line naming the GR2 folder, what differs, both values and
    the flag that reconciles them or that no flag does - before anything is written."""
    out = tmp_path / "run"
    assert train_in_process(flow_run(bimodal_root, out, mix_flag(gr2_root), "--steps=1")) == 2
    line = _one_error(capsys)
    # 10 fps against 30 fps comes first; the other differences are counted, not hidden.
    assert line.startswith(f"--dataset.mix: {gr2_root} cannot be trained with {bimodal_root}: ")
    assert "its fps is 30" in line and f"{bimodal_root}'s is 10" in line and "no flag" in line
    assert re.search(r"\((\d+) more difference\(s\): `lerobot-ext inspect ", line)
    assert not out.exists()

    # At one fps, the first difference is a feature: both shapes, and what (no) flag reconciles them.
    same_fps = write_shifted_bimodal(tmp_path / "at30fps", 2, 6, low=[0.0, 0.0], seed=0, fps=30)
    assert train_in_process(flow_run(same_fps, out, mix_flag(gr2_root), "--steps=1")) == 2
    line = _one_error(capsys)
    assert line.startswith(f"--dataset.mix: {gr2_root} cannot be trained with {same_fps}: ")
    assert f"its {STATE} is float32 [45], {same_fps}'s is float32 [2]" in line
    # No group of the GR2 state leaves the bimodal state's 2 dims: no filter is suggested.
    assert "--state_filtered_keys=[" not in line and "no flag reconciles them" in line
    assert not out.exists()


def test_a_camera_only_the_mixed_dataset_has_is_not_given_a_flag_that_does_nothing(
    bimodal_root, gr2_root, capsys
):
    """The camera line of ``inspect bimodal gr2`` names a fix that removes the difference, or says no
    flag does - never ``--camera_keys=[]`` (no camera kept means every camera kept)."""
    from lerobot_ext.cli.tool import main as tool

    assert tool(["inspect", str(bimodal_root), str(gr2_root), "--summary"]) == 0
    together = capsys.readouterr().out.split("trained together:", 1)[1]
    (camera,) = [line for line in together.splitlines() if "observation.images.camera_top" in line]
    assert "--camera_keys=[]" not in camera


@pytest.fixture(scope="module")
def v21_root(tmp_path_factory) -> Path:
    return write_v21_dataset(tmp_path_factory.mktemp("v21") / "old_recording", lengths=(4, 5))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--dataset.mix=[{other}]", "--dataset.mix_weights=[1,2,3]"],
            "--dataset.mix_weights has 3 weights for 2 datasets",
        ),
        (["--dataset.mix=[{missing}]"], "--dataset.mix: {missing} is neither an existing folder"),
        (["--dataset.mix_weights=[1,2]"], "--dataset.mix_weights=[1.0, 2.0] without --dataset.mix"),
        (["--dataset.mix=[{v21}]"], "--dataset.mix={v21} is a LeRobot v2.1 dataset"),
        (
            ["--dataset.mix=[{other}]", "--dataset.mix_weights=[1,0]"],
            "--dataset.mix_weights=[1.0, 0.0]: every weight must be a positive number",
        ),
        (["--dataset.mix=[{primary}]"], "--dataset.mix: {primary} is named twice"),
        # Offline (conftest), a Hub id neither cached nor reachable: refused when it is loaded.
        (["--dataset.mix=[nobody/no_such_dataset]"], "--dataset.mix: cannot load nobody/no_such_dataset"),
        (
            ["--dataset.mix=[{other}]", "--dataset.eval_split=0.5", "--max_eval_samples=8"],
            "--dataset.mix with --max_eval_samples=8",
        ),
    ],
    ids=[
        "weights-count",
        "missing-path",
        "weights-without-mix",
        "v21-folder",
        "zero-weight",
        "twice",
        "missing-hub-id",
        "max-eval-samples",
    ],
)
def test_a_bad_mix_flag_is_one_line_naming_the_value(flags, expected, shifted, v21_root, tmp_path, capsys):
    """Each mistake in ``--dataset.mix``/``--dataset.mix_weights`` is exit status 2 and one line
    naming the value given, before any data is read or anything written."""
    low, high = shifted
    names = {"other": high, "missing": tmp_path / "no_such_recording", "v21": v21_root, "primary": low}
    out = tmp_path / "run"
    args = [flag.format(**names) for flag in flags]
    assert train_in_process(flow_run(low, out, *args, "--steps=1")) == 2
    line = _one_error(capsys)
    assert expected.format(**names) in line, line
    assert not out.exists()


# =========================================================================== 5. GR2 recordings


GR2_CAMERA = "observation.images.camera_top"


@pytest.fixture(scope="module")
def gr2_more(tmp_path_factory) -> dict[str, Path]:
    """Two more GR2 recordings next to the ``gr2_root`` demo (48 px, 30 fps): ``same`` in its layout
    with another task text; ``no_quat`` 41-D, without the base_quat group (another robot setup)."""
    from lerobot_ext import gr2_state_names
    from lerobot_ext.demo import gr2

    folder = tmp_path_factory.mktemp("gr2_more")
    rng = np.random.default_rng(21)
    same = write_dataset(
        folder / "gr2_stack", "local/gr2_stack", gr2.FPS, "fourier_gr2", gr2.features(48),
        (gr2.episode(rng, 8, 48) for _ in range(2)), "stack the boxes",
    )  # fmt: skip
    names = gr2_state_names()
    kept = [i for i, name in enumerate(names) if not name.startswith("base_quat")]
    assert len(kept) == 41
    features = gr2.features(48)
    features[STATE] = vector_feature({"motors": [names[i] for i in kept]}, len(kept))

    def without_quat():
        for _ in range(2):
            frames = gr2.episode(rng, 8, 48)
            for frame in frames:
                frame[STATE] = np.asarray(frame[STATE])[kept]
            yield frames

    no_quat = write_dataset(
        folder / "gr2_no_quat", "local/gr2_no_quat", gr2.FPS, "fourier_gr2", features, without_quat(),
        "stack the boxes",
    )  # fmt: skip
    return {"same": same, "no_quat": no_quat}


def test_two_gr2_recordings_train_together_and_the_checkpoint_deploys(gr2_root, gr2_more, tmp_path, capsys):
    """The GR2 demo and a second recording (another task text) train together; the checkpoint,
    loaded as a robot script would, takes a full 45-D observation of the second recording and
    returns the dataset's full 37-D action."""
    from lerobot_ext import load_policy

    out = tmp_path / "run"
    second = gr2_more["same"]
    assert train_in_process(flow_run(gr2_root, out, *IMAGE_FLAGS, mix_flag(second), "--steps=2")) == 0
    log = capsys.readouterr().err
    assert f"--dataset.mix: {second}: 16 frames of 2 episodes" in log
    assert "dataset.num_frames=52 " in log  # 3 x 12 + 2 x 8: upstream trains on both
    folder = out / "checkpoints" / "last" / "pretrained_model"
    config = read_json(folder / "config.json")
    assert config["input_features"][STATE]["shape"] == [45]
    assert config["output_features"][ACTION]["shape"] == [37]

    policy, pre, post = load_policy(folder)
    item = lerobot_dataset(second)[3]
    observation = {STATE: item[STATE], GR2_CAMERA: item[GR2_CAMERA], "task": item["task"]}
    assert observation[STATE].shape == (45,) and item["task"] == "stack the boxes"
    with torch.no_grad():
        action = post(policy.select_action(pre(observation)))
    assert action.shape[-1] == 37 and torch.isfinite(action).all()


@pytest.mark.slow
def test_a_recording_in_another_layout_is_rebuilt_in_the_primarys(
    gr2_root, gr2_more, tmp_path, extra_entry_points
):
    """GR2 45-D + a 41-D recording without base_quat, ``--state_filtered_keys=[base_quat]``: the mix
    gives the 41-D recording's items in the 45-D layout, and the checkpoint's own state filter turns
    them back into exactly that recording's stored state (its actions untouched)."""
    from lerobot.processor import TransitionKey, create_transition

    from lerobot_ext import load_policy
    from lerobot_ext.transforms.steps import StateFilterStep

    other = gr2_more["no_quat"]
    primary_frames = 3 * 12
    positions = [primary_frames, primary_frames + 5, primary_frames + 8 + 7]  # of the 41-D recording
    recorder = Recorder(read=lambda dataset: [dataset[p] for p in positions])
    extra_entry_points("recorder", recorder)
    out = tmp_path / "run"
    flags = [mix_flag(other), "--state_filtered_keys=[base_quat]", "--steps=1"]
    assert train_in_process(flow_run(gr2_root, out, *IMAGE_FLAGS, *flags)) == 0

    _, pre, _ = load_policy(out / "checkpoints" / "last" / "pretrained_model")
    (state_filter,) = [step for step in pre.steps if isinstance(step, StateFilterStep)]
    assert state_filter.input_width == 45 and len(state_filter.keep) == 41
    raw_state, raw_action = raw_column(other, STATE), raw_column(other, ACTION)
    policy = recorder.seen["policy"]
    observation_deltas, action_deltas = policy.observation_delta_indices, policy.action_delta_indices
    for item in recorder.seen["items"]:
        assert item[STATE].shape == (len(observation_deltas), 45)
        kept = state_filter(create_transition(observation={STATE: item[STATE]}))
        state = np.asarray(kept[TransitionKey.OBSERVATION][STATE], dtype=np.float64)
        index = int(item["index"])  # the frame's place in the 41-D recording
        for row, delta in enumerate(observation_deltas):
            if not bool(item[f"{STATE}_is_pad"][row]):
                np.testing.assert_allclose(state[row], raw_state[index + delta], rtol=0, atol=0)
        for row, delta in enumerate(action_deltas):
            if not bool(item[f"{ACTION}_is_pad"][row]):
                np.testing.assert_allclose(item[ACTION][row].double(), raw_action[index + delta], atol=0)
    assert bool(recorder.seen["items"][0][f"{STATE}_is_pad"][0])  # the recording's first frame: padded


@pytest.mark.slow
def test_the_suggested_state_filter_works_when_only_the_primary_has_an_adapter(
    gr2_root, gr2_more, tmp_path, capsys
):
    """A 41-D recording whose robot_type no adapter knows, next to the GR2 demo: ``inspect`` names
    ``--state_filtered_keys=[base_quat]`` as the fix, and with that flag the two mix."""
    import json
    import shutil

    from lerobot_ext.cli.tool import main as tool

    other = tmp_path / "gr2_custom"
    shutil.copytree(gr2_more["no_quat"], other)
    info_path = other / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["robot_type"] = "gr2_custom"
    info_path.write_text(json.dumps(info, indent=4))

    assert tool(["inspect", str(gr2_root), str(other), "--summary"]) == 0
    together = capsys.readouterr().out.split("trained together:", 1)[1]
    assert "--state_filtered_keys=[base_quat]" in together
    code = tool(["inspect", str(gr2_root), str(other), "--summary", "--state_filtered_keys=[base_quat]"])
    together = capsys.readouterr().out.split("trained together:", 1)[-1]
    assert code == 0 and f"mixable: {other} gives the policy what {gr2_root} gives it" in together


# =========================================================================== 6. RoboCasa tasks


@pytest.fixture(scope="module")
def robocasa_other_task(tmp_path_factory) -> Path:
    """A second RoboCasa "task" in the demo's layout (48 px cameras, EE-first action)."""
    from lerobot_ext.demo import robocasa

    rng = np.random.default_rng(31)
    return write_dataset(
        tmp_path_factory.mktemp("robocasa_more") / "robocasa_drawer", "local/robocasa_drawer",
        robocasa.FPS, "PandaOmron", robocasa.features(48, "ee-first"),
        (robocasa.episode(rng, 10, 48, "ee-first") for _ in range(2)), "open the drawer",
        modality=robocasa.modality("ee-first"),
    )  # fmt: skip


@pytest.mark.slow
def test_two_robocasa_tasks_inspect_as_mixable_and_train_with_a_cache_each(
    robocasa_root, robocasa_other_task, tmp_path, capsys
):
    """``lerobot-ext inspect A B`` says two RoboCasa tasks mix; training them with ``--data_cache=DIR``
    builds the run's own dataset's cache at DIR and the mixed one's at DIR-mix1, each of its dataset."""
    from lerobot_ext.cli.tool import main as tool

    assert tool(["inspect", str(robocasa_root), str(robocasa_other_task), "--summary"]) == 0
    printed = capsys.readouterr().out
    together = printed.split("trained together:", 1)[1]
    assert "not mixable" not in together
    assert f"mixable: {robocasa_other_task} gives the policy what {robocasa_root} gives it" in together

    cache = tmp_path / "cache"
    out = tmp_path / "run"
    flags = [*IMAGE_FLAGS, mix_flag(robocasa_other_task), f"--data_cache={cache}", "--steps=1"]
    assert train_in_process(flow_run(robocasa_root, out, *flags)) == 0
    for folder, root, frames in (
        (cache, robocasa_root, 4 * 24),
        (tmp_path / "cache-mix1", robocasa_other_task, 20),
    ):
        manifest = read_json(folder / "manifest.json")
        assert Path(manifest["dataset_root"]) == root.resolve()
        assert manifest["total_frames"] == frames
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "cache-mix1", "run"]
    assert (out / "checkpoints" / "last" / "pretrained_model" / "model.safetensors").is_file()


# =========================================================================== 7. held-out episodes


def test_eval_split_holds_out_episodes_of_every_dataset(shifted, tmp_path, capsys, extra_entry_points):
    """``--dataset.eval_split=0.34`` splits each dataset by upstream's rule (the last ceil(n x 0.34)
    episodes of each task): the run logs each split, trains on the rest, and ``datasets_ready`` gets
    one held-out dataset of both datasets' held-out episodes."""
    low, high = shifted
    recorder = Recorder()
    extra_entry_points("recorder", recorder)
    out = tmp_path / "run"
    flags = [mix_flag(high), "--dataset.eval_split=0.34", "--steps=2"]
    assert train_in_process(flow_run(low, out, *flags)) == 0
    log = capsys.readouterr().err
    # low: 3 episodes -> ceil(1.02) = 2 held out; high: 2 episodes -> ceil(0.68) = 1 held out.
    (episodes_low, frames_low), (episodes_high, frames_high) = LOW_SHAPE, HIGH_SHAPE
    held_low, held_high = math.ceil(episodes_low * 0.34), math.ceil(episodes_high * 0.34)
    assert (held_low, held_high) == (2, 1)
    assert "Train/eval split: 1 train, 2 eval (eval_split=0.34, 1 tasks)" in log
    assert "Train/eval split: 1 train, 1 eval (eval_split=0.34, 1 tasks)" in log
    assert (
        recorder.seen["train"]
        == (episodes_low - held_low) * frames_low + (episodes_high - held_high) * frames_high
    )
    assert recorder.seen["eval"] == held_low * frames_low + held_high * frames_high
    assert f"--dataset.mix: {high}: {frames_high} frames of 1 episodes" in log
    assert (out / "checkpoints" / "000002").is_dir()


# =========================================================================== 8. time windows


def test_time_windows_never_cross_from_one_dataset_into_the_next(shifted):
    """A mix's item is its own dataset's item, window and padding included: the last frame of the
    first dataset pads its action window with its own last frame (nothing of the second dataset),
    and the first frame of the second pads its state history instead of looking into the first."""
    low, high = shifted
    deltas = {
        STATE: [-1 / BIMODAL_FPS, 0.0],
        ACTION: [i / BIMODAL_FPS for i in range(8)],
    }
    first, second = lerobot_dataset(low, deltas), lerobot_dataset(high, deltas)
    mix = MixedDataset([first, second], [str(low), str(high)], [None, None])
    assert len(mix) == len(first) + len(second) == 36 + 18
    assert mix.num_episodes == 3 + 2

    last = len(first) - 1
    item = mix[last]
    assert item[f"{ACTION}_is_pad"].tolist() == [False] + [True] * 7
    assert torch.equal(item[ACTION], first[last][ACTION])
    own_last = torch.as_tensor(raw_column(low, ACTION)[-1], dtype=torch.float32)
    assert torch.equal(item[ACTION], own_last.expand(8, 2))  # padded with its own last frame
    assert (item[ACTION] < 1).all()  # the second dataset's actions are all >= 5 in dim 0

    item = mix[len(first)]
    assert item[f"{STATE}_is_pad"].tolist() == [True, False]
    assert torch.equal(item[STATE], second[0][STATE]) and torch.equal(item[ACTION], second[0][ACTION])
    assert (item[STATE][:, 0] >= 5).all()  # not the first dataset's last state
    # Episode ends inside one dataset are padded as well (upstream's own windows, unchanged).
    end_of_first_episode = 12 - 1
    assert mix[end_of_first_episode][f"{ACTION}_is_pad"].tolist() == [False] + [True] * 7
    # The episodes upstream's sampler sees are each dataset's own, one after the other.
    assert mix.meta.episodes["dataset_from_index"] == [0, 12, 24, 36, 45]
    assert mix.meta.episodes["dataset_to_index"] == [12, 24, 36, 45, 54]


@pytest.mark.slow
def test_two_robocasa_tasks_with_the_users_flags_resume_exactly_and_deploy(
    robocasa_root, robocasa_other_task, tmp_path, capsys
):
    """Two RoboCasa tasks, half and half (``--dataset.mix_weights=[1,1]``), with the RoboCasa users'
    state filter, ``--action_keep_dims``, EMA and ``--profile``: preempted at step 2 and resumed, the
    run ends bit for bit where the uninterrupted one does; the profile reports the shares drawn;
    the checkpoint takes a full 53-D observation of the second task and returns the full 12-D action."""
    from helpers import USERS_FILTER

    from lerobot_ext import load_policy

    flags = [
        *IMAGE_FLAGS,
        mix_flag(robocasa_other_task),
        "--dataset.mix_weights=[1,1]",
        f"--state_filtered_keys={USERS_FILTER}",
        "--action_keep_dims=7",
        "--ema.enable=true",
        "--save_freq=2",
    ]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert train_in_process(flow_run(robocasa_root, straight, *flags, "--steps=4", "--profile")) == 0
    summary = read_json(straight / "profile" / "summary.json")
    (note,) = [line for line in summary["notes"] if line.startswith("--dataset.mix: samples drawn")]
    assert "(asked 50.0%)" in note and str(robocasa_other_task) in note
    assert train_in_process(flow_run(robocasa_root, resumed, *flags, "--steps=2")) == 0
    config_path = resumed / "checkpoints" / "000002" / "pretrained_model" / "train_config.json"
    assert train_in_process(["--resume=true", f"--config_path={config_path}", "--steps=4"]) == 0
    assert same_weights(straight / "checkpoints" / "000004", resumed / "checkpoints" / "000004")
    capsys.readouterr()

    folder = resumed / "checkpoints" / "000004" / "pretrained_model"
    assert read_json(folder / "config.json")["output_features"][ACTION]["shape"] == [7]
    policy, pre, post = load_policy(folder)
    item = lerobot_dataset(robocasa_other_task)[5]
    observation = {
        key: value for key, value in item.items() if key.startswith("observation.") and "_is_pad" not in key
    }
    assert observation[STATE].shape == (53,)
    with torch.no_grad():
        action = post(policy.select_action(pre({**observation, "task": item["task"]})))
    assert action.shape[-1] == 12 and torch.isfinite(action).all()


# =========================================================================== review: edge cases


def _part(label: str, features: dict, fps: int = 10):
    from lerobot_ext import AppliedChanges, DatasetDescription, DatasetPart, DatasetSource

    description = DatasetDescription(None, fps, features, {})
    return DatasetPart(DatasetSource(label, None), AppliedChanges(description, description))


def test_dims_without_names_agree_by_shape_and_cameras_by_size():
    """A converted dataset may store no dim names: the same shape agrees (no crash); an image and a
    video camera of one size decode to the same tensor and agree; other names at one width do not."""
    from lerobot_ext.dataset_mix.agreement import disagreements

    named = {"observation.state": {"dtype": "float32", "shape": [3], "names": ["a", "b", "c"]}}
    unnamed = {"observation.state": {"dtype": "float32", "shape": [3], "names": None}}
    reordered = {"observation.state": {"dtype": "float32", "shape": [3], "names": ["a", "c", "b"]}}
    assert disagreements([_part("A", named), _part("B", unnamed)]) == []
    (found,) = disagreements([_part("A", named), _part("B", reordered)])
    assert found.feature == "observation.state dim 1" and (found.theirs, found.ours) == ("'c'", "'b'")
    image = {
        "observation.images.top": {
            "dtype": "image",
            "shape": [48, 48, 3],
            "names": ["height", "width", "channel"],
        }
    }
    video = {
        "observation.images.top": {
            "dtype": "video",
            "shape": [48, 48, 3],
            "names": ["height", "width", "channels"],
        }
    }
    bigger = {"observation.images.top": {"dtype": "video", "shape": [64, 64, 3], "names": None}}
    assert disagreements([_part("A", image), _part("B", video)]) == []
    (found,) = disagreements([_part("A", image), _part("B", bigger)])
    assert "no flag resizes a camera" in found.fix


def test_camera_statistics_weigh_each_dataset_by_its_frames_not_its_sampled_count():
    """lerobot's camera ``count`` is the frames it sampled; two datasets of 100 and 300 frames with
    counts 100 and 100 combine 1:3, as the pixels of all 400 frames would."""
    from lerobot_ext.dataset_mix.statistics import combined_stats

    a = {
        "mean": np.array([0.0]),
        "std": np.array([1.0]),
        "min": np.array([-1.0]),
        "max": np.array([1.0]),
        "count": np.array([100]),
    }
    b = {
        "mean": np.array([4.0]),
        "std": np.array([2.0]),
        "min": np.array([0.0]),
        "max": np.array([9.0]),
        "count": np.array([100]),
    }
    out = combined_stats([a, b], [100, 300])
    assert out["mean"][0] == pytest.approx(3.0)  # (0 x 1 + 4 x 3) / 4
    # Variance of the union: E[x^2] - mean^2 = (1 x (1 + 0) + 3 x (4 + 16)) / 4 - 9 = 6.25
    assert out["std"][0] == pytest.approx(2.5)
    assert (out["min"][0], out["max"][0]) == (-1.0, 9.0)
