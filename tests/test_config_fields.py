"""``register_config_fields``: plugins add flags to lerobot-train-ext, with every built-in flag among
them - parsed, listed by --help with their plugin, saved and restored, conflicts named."""

from __future__ import annotations

import dataclasses
import json
import types

import pytest
from helpers import TINY_DIFFUSION, dataset_flags, read_json, train_in_process

from lerobot_ext import hookimpl
from lerobot_ext.argv import normalize_argv, plugin_fields_help
from lerobot_ext.config import FIELDS_FILE, ExtTrainPipelineConfig, check_saved_fields, parse_config
from lerobot_ext.dispatch import load_plugins, plugins_from
from lerobot_ext.errors import ConfigError, PluginConflictError, PluginHookError


@dataclasses.dataclass
class Smoothing:
    enable: bool = False
    window: int = 3


def fields_plugin(**fields):
    @hookimpl
    def register_config_fields(register):
        for name, (type_, default) in fields.items():
            register(name, type_, default, help=f"the {name} knob")

    return types.SimpleNamespace(register_config_fields=register_config_fields)


def test_a_plugin_field_is_a_flag_of_the_assembled_config(monkeypatch) -> None:
    host = plugins_from(
        {"lab": fields_plugin(gripper_gain=(float, 1.0), joints=(list[str], []), smoothing=(Smoothing, None))}
    )
    config_class = host.config_class
    assert issubclass(config_class, ExtTrainPipelineConfig)
    assert config_class.plugin_fields == {"gripper_gain": "lab", "joints": "lab", "smoothing": "lab"}
    args = normalize_argv(
        [
            "--dataset.repo_id=x/y",
            "--gripper_gain=2.5",
            "--joints=[a,b]",
            "--smoothing",
            "--smoothing.window=5",
        ],
        config_class,
    )
    monkeypatch.setattr("sys.argv", ["lerobot-train-ext"])
    cfg = parse_config(args, config_class)
    assert (cfg.gripper_gain, cfg.joints) == (2.5, ["a", "b"])
    assert cfg.smoothing == Smoothing(enable=True, window=5)
    # Defaults are per config object: a list default is not shared between configs.
    other = parse_config(["--dataset.repo_id=x/y"], config_class)
    assert other.joints == [] and other.joints is not cfg.joints and other.smoothing == Smoothing()
    help_text = plugin_fields_help(config_class)
    assert "--gripper_gain: float  [plugin lab]" in help_text and "the gripper_gain knob" in help_text
    assert "--smoothing.window: int (default 3)" in help_text
    assert "--smoothing[=true|false]   same as --smoothing.enable=true|false" in help_text


def test_two_plugins_declaring_one_field_is_an_error_naming_both() -> None:
    with pytest.raises(
        PluginConflictError,
        match=r"config field \(flag\) 'gain' is registered by two plugins: '\w+' and '\w+'",
    ):
        plugins_from({"lab_a": fields_plugin(gain=(float, 1.0)), "lab_b": fields_plugin(gain=(int, 2))})


def test_a_field_lerobot_train_already_has_is_refused() -> None:
    with pytest.raises(PluginConflictError, match=r"plugin 'greedy'.*lerobot-train already has --batch_size"):
        plugins_from({"greedy": fields_plugin(batch_size=(int, 8))})


def test_a_field_name_must_be_an_identifier() -> None:
    with pytest.raises(PluginHookError, match=r"plugin 'odd' registered a config field named 'my-flag'"):
        plugins_from({"odd": fields_plugin(**{"my-flag": (int, 0)})})


def test_a_saved_field_whose_plugin_is_not_loaded_names_field_and_plugin(tmp_path) -> None:
    config_file = tmp_path / "train_config.json"
    config_file.write_text(json.dumps({"dataset": {}, "camera_keys": ["wrist"], "resume": False}))
    (tmp_path / FIELDS_FILE).write_text(json.dumps({"fields": {"camera_keys": "cameras"}}))
    with pytest.raises(ConfigError) as excinfo:
        check_saved_fields(config_file, ExtTrainPipelineConfig, ["transforms"], ["cameras"])
    message = str(excinfo.value)
    assert "sets --camera_keys (plugin 'cameras'), but no loaded plugin declares it" in message
    assert (
        "installed but not loaded: cameras" in message and "Install or enable plugin(s) 'cameras'" in message
    )
    # Without the record of owners (a config from elsewhere), the field is still named.
    (tmp_path / FIELDS_FILE).unlink()
    with pytest.raises(ConfigError, match=r"sets --camera_keys \(no plugin recorded\)"):
        check_saved_fields(config_file, ExtTrainPipelineConfig, ["transforms"], [])


@pytest.mark.slow
def test_plugin_fields_are_saved_with_their_owners_and_restored_on_resume(
    bimodal_root, tmp_path, extra_entry_points, capsys, monkeypatch
) -> None:
    extra_entry_points("lab", fields_plugin(gripper_gain=(float, 1.0)))
    out = tmp_path / "run"
    args = [
        *dataset_flags(bimodal_root),
        *TINY_DIFFUSION,
        "--steps=1",
        f"--output_dir={out}",
        "--gripper_gain=3.5",
    ]
    assert train_in_process(args) == 0
    saved = out / "checkpoints" / "last" / "pretrained_model"
    assert read_json(saved / "train_config.json")["gripper_gain"] == 3.5
    owners = read_json(saved / FIELDS_FILE)["fields"]
    assert owners["gripper_gain"] == "lab" and owners["state_filtered_keys"] == "transforms"

    resumed = []

    @hookimpl
    def configure(cfg):
        resumed.append(cfg.gripper_gain)

    extra_entry_points("observer", types.SimpleNamespace(configure=configure))
    resume = ["--resume=true", f"--config_path={saved / 'train_config.json'}", "--steps=2"]
    assert train_in_process(resume) == 0
    assert resumed == [3.5]

    # Resuming without the plugin that owns a saved field is refused, naming both.
    every_other = [
        name for name in load_plugins(environ={}).names_with_status() if name not in ("lab", "observer")
    ]
    monkeypatch.setenv("LEROBOT_EXT_PLUGINS", ",".join([*every_other, "observer"]))
    capsys.readouterr()
    assert train_in_process(resume) == 2
    error = capsys.readouterr().err
    assert "sets --gripper_gain (plugin 'lab'), but no loaded plugin declares it" in error
    assert "Install or enable plugin(s) 'lab'" in error


def test_a_plugin_adds_a_field_to_one_of_upstreams_groups(monkeypatch) -> None:
    host = plugins_from(
        {"mixer": fields_plugin(**{"dataset.extra_roots": (list[str], []), "dataset.strict": (bool, False)})}
    )
    config_class = host.config_class
    assert config_class.plugin_fields == {"dataset.extra_roots": "mixer", "dataset.strict": "mixer"}
    monkeypatch.setattr("sys.argv", ["lerobot-train-ext"])
    args = normalize_argv(
        ["--dataset.repo_id=x/y", "--dataset.extra_roots=[/a/b,c/d]", "--dataset.strict"], config_class
    )
    cfg = parse_config(args, config_class)
    # Upstream's own fields and defaults are kept; the group is still upstream's class.
    from lerobot.configs.default import DatasetConfig

    assert isinstance(cfg.dataset, DatasetConfig) and cfg.dataset.repo_id == "x/y"
    assert cfg.dataset.video_backend == DatasetConfig(repo_id="x/y").video_backend
    assert (cfg.dataset.extra_roots, cfg.dataset.strict) == (["/a/b", "c/d"], True)
    assert parse_config(["--dataset.repo_id=x/y"], config_class).dataset.extra_roots == []
    help_text = plugin_fields_help(config_class)
    assert (
        "--dataset.extra_roots: list[str]  [plugin mixer]" in help_text
        and "the dataset.extra_roots knob" in help_text
    )
    assert "--dataset.strict[=true|false]" in help_text


def test_a_group_field_must_be_new_and_in_a_plain_group() -> None:
    with pytest.raises(
        PluginConflictError, match=r"plugin 'greedy'.*lerobot-train already has --dataset.repo_id"
    ):
        plugins_from({"greedy": fields_plugin(**{"dataset.repo_id": (str, "")})})
    # policy is a choice of classes (one per --policy.type): no field can be added to all of them.
    with pytest.raises(PluginHookError) as refused:
        plugins_from({"odd": fields_plugin(**{"policy.extra": (int, 0)})})
    message = str(refused.value)
    assert "a dotted flag name must be 'group.name' with group one of lerobot-train's groups (" in message
    groups = message.rsplit("(", 1)[1].rstrip(")").split(", ")
    assert "dataset" in groups and "policy" not in groups


def test_a_saved_group_field_whose_plugin_is_not_loaded_is_named(tmp_path) -> None:
    config_file = tmp_path / "train_config.json"
    config_file.write_text(
        json.dumps({"dataset": {"repo_id": "x/y", "extra_roots": ["/a"]}, "resume": False})
    )
    (tmp_path / FIELDS_FILE).write_text(json.dumps({"fields": {"dataset.extra_roots": "mixer"}}))
    with pytest.raises(
        ConfigError, match=r"sets --dataset.extra_roots \(plugin 'mixer'\), but no loaded plugin"
    ):
        check_saved_fields(config_file, ExtTrainPipelineConfig, ["transforms"], ["mixer"])


@pytest.mark.slow
def test_a_group_field_is_saved_and_restored_on_resume(bimodal_root, tmp_path, extra_entry_points) -> None:
    extra_entry_points("mixer", fields_plugin(**{"dataset.extra_roots": (list[str], [])}))
    out = tmp_path / "run"
    args = [*dataset_flags(bimodal_root), *TINY_DIFFUSION, "--steps=1", f"--output_dir={out}",
            "--dataset.extra_roots=[/data/b]"]  # fmt: skip
    assert train_in_process(args) == 0
    saved = out / "checkpoints" / "last" / "pretrained_model"
    assert read_json(saved / "train_config.json")["dataset"]["extra_roots"] == ["/data/b"]
    assert read_json(saved / FIELDS_FILE)["fields"]["dataset.extra_roots"] == "mixer"
    resumed = []

    @hookimpl
    def configure(cfg):
        resumed.append(cfg.dataset.extra_roots)

    extra_entry_points("observer", types.SimpleNamespace(configure=configure))
    assert (
        train_in_process(["--resume=true", f"--config_path={saved / 'train_config.json'}", "--steps=2"]) == 0
    )
    assert resumed == [["/data/b"]]
