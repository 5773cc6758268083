"""Command-line behaviour: bare booleans, unknown flags, --help, --plugins, torchcodec's noise."""

from __future__ import annotations

import json
import logging

import pytest
from helpers import dataset_flags, run_cli, train_in_process

from lerobot_ext.argv import check_unknown_flags, normalize_argv
from lerobot_ext.dispatch import load_plugins
from lerobot_ext.errors import UnknownFlagError
from lerobot_ext.video_backend import _UPSTREAM_LOGGER, MARKER, _DropTorchcodecFallbackWarning


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["--profile"], ["--profile.enable=true"]),
        (["--profile", "--steps=3"], ["--profile.enable=true", "--steps=3"]),
        (["--profile=false"], ["--profile.enable=false"]),
        (["--profile", "true"], ["--profile.enable=true"]),
        (["--profile.warmup_steps=2"], ["--profile.warmup_steps=2"]),
        (["--force_action_keep_dims"], ["--force_action_keep_dims=true"]),
        (["--force_action_keep_dims", "no"], ["--force_action_keep_dims=no"]),
        (
            ["--save_checkpoint=false", "--policy.type=flow"],
            ["--save_checkpoint=false", "--policy.type=flow"],
        ),
    ],
)
def test_bare_boolean_flags_mean_true(given, expected):
    assert normalize_argv(given, CONFIG) == expected


CONFIG = load_plugins(environ={}).config_class


def test_unknown_flag_names_it_and_suggests_the_closest():
    with pytest.raises(UnknownFlagError, match=r"--state_filter_keys.*did you mean --state_filtered_keys"):
        check_unknown_flags(["--dataset.repo_id=x", "--state_filter_keys=[a]"], CONFIG)
    with pytest.raises(UnknownFlagError, match=r"unknown flag --bogus"):
        check_unknown_flags(["--bogus=1"], CONFIG)
    check_unknown_flags(
        ["--policy.path=x", "--config_path=y", "--dataset.root=z", "--profile.enable=true"], CONFIG
    )


def test_unknown_flag_fails_before_anything_is_written(bimodal_root, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        train_in_process(
            [*dataset_flags(bimodal_root), "--policy.type=diffusion", f"--output_dir={out}", "--stepz=3"]
        )
        == 2
    )
    assert "unknown flag --stepz" in capsys.readouterr().err
    assert not out.exists()


def test_invalid_extension_value_is_a_clear_error(bimodal_root, tmp_path, capsys):
    args = [*dataset_flags(bimodal_root), "--policy.type=diffusion", f"--output_dir={tmp_path / 'run'}"]
    assert train_in_process([*args, "--action_keep_dims=0"]) == 2
    assert "--action_keep_dims=0 keeps no action dims" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("command", ["lerobot-train-ext", "lerobot-train"])
def test_a_policy_config_error_reaches_the_console_with_its_fix(command, tmp_path):
    # draccus turns the config's own error into "Couldn't instantiate class FlowConfig"; the
    # field, its value and the fix must still be printed, through either CLI.
    args = [command, "--policy.type=flow", "--policy.horizon=12", "--dataset.repo_id=local/x"]
    result = run_cli([*args, f"--output_dir={tmp_path / 'run'}"], check=False)
    assert result.returncode != 0
    assert "`n_action_steps`=32: must be <= horizon - n_obs_steps + 1" in result.stderr
    assert "Use --policy.n_action_steps=11" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_an_upstream_policy_config_error_names_its_cause(tmp_path):
    result = run_cli(
        [
            "lerobot-train-ext",
            "--policy.type=diffusion",
            "--policy.horizon=12",
            "--policy.down_dims=[8,16,32,64]",
            "--dataset.repo_id=local/x",
            f"--output_dir={tmp_path / 'run'}",
        ],
        check=False,
    )
    assert result.returncode == 2
    assert "invalid configuration: The horizon should be an integer multiple" in result.stderr


def test_flag_of_an_unloaded_plugin_is_refused_not_ignored(bimodal_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEROBOT_EXT_PLUGINS", "robot_adapters")
    args = [*dataset_flags(bimodal_root), "--policy.type=diffusion", f"--output_dir={tmp_path / 'run'}"]
    assert train_in_process([*args, "--action_keep_dims=1"]) == 2
    error = capsys.readouterr().err
    assert "unknown flag --action_keep_dims: neither lerobot-train nor a loaded lerobot-ext plugin" in error
    assert "installed plugins that are not loaded (their flags are unknown too):" in error
    assert "transforms" in error.split("not loaded")[-1]
    assert not (tmp_path / "run").exists()


def test_help_lists_upstream_and_extension_flags(capsys):
    from lerobot_ext.cli.train import main as train_main

    with pytest.raises(SystemExit) as ended:
        train_main(["--help", "--policy.type=diffusion"])
    assert ended.value.code in (0, None)
    out = capsys.readouterr().out
    for flag in (
        "--state_filtered_keys",
        "--action_keep_dims",
        "--profile.enable",
        "--robot_adapter",
        "--batch_size",
        "--policy.horizon",
        "--dataset.repo_id",
    ):
        assert flag in out, flag
    # Each plugin field is listed with its plugin and the help the plugin registered.
    assert "--action_keep_dims: int | None  [plugin transforms]" in out
    assert "keep only action dims 0..N-1" in out
    assert "--camera_keys: list[str]  [plugin cameras]" in out
    assert "--profile.warmup_steps: int (default 5)" in out
    assert "--profile[=true|false]   same as --profile.enable=true|false" in out


def lab_plugin():
    """A third party's flag, and a dataset change that logs an info and a warning line."""
    import types

    from lerobot_ext import hookimpl
    from lerobot_ext.console import get_logger

    log = get_logger("lab")

    @hookimpl
    def register_config_fields(register):
        register("lab_gain", float, 1.0, help="the lab's gain")

    @hookimpl(order=50)
    def transform_dataset(cfg, dataset):
        log.info("lab: info line of a run")
        log.warning("lab: gain %s is unusual", cfg.lab_gain)

    return types.SimpleNamespace(
        register_config_fields=register_config_fields, transform_dataset=transform_dataset
    )


def test_inspect_help_lists_the_loaded_plugins_flags(extra_entry_points, capsys):
    from lerobot_ext.cli import tool

    extra_entry_points("lab", lab_plugin())
    with pytest.raises(SystemExit):
        tool.main(["inspect", "--help"])
    out = capsys.readouterr().out
    assert "--lab_gain: float  [plugin lab]" in out and "the lab's gain" in out
    assert "--camera_keys: list[str]  [plugin cameras]" in out


def test_inspect_shows_plugins_warnings_not_their_run_time_info(extra_entry_points, bimodal_root, capsys):
    from lerobot_ext.cli import tool
    from lerobot_ext.console import get_logger

    extra_entry_points("lab", lab_plugin())
    assert tool.main(["inspect", str(bimodal_root), "--summary", "--lab_gain=3"]) == 0
    err = capsys.readouterr().err
    assert "lab: gain 3.0 is unusual" in err and "info line of a run" not in err
    assert get_logger().getEffectiveLevel() == logging.INFO  # quiet during inspect only


def test_plugins_listing_from_the_command_line(capsys):
    # In this process: the console scripts themselves start in subprocesses in other tests.
    from lerobot_ext.cli import tool
    from lerobot_ext.cli.train import main as train_main

    assert train_main(["--plugins"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["NAME", "VERSION", "STATUS"]
    assert any(line.startswith("transforms") for line in table.splitlines())
    assert train_main(["--plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {p["name"]: p for p in data["plugins"]}
    assert names["robot_adapters"]["registered"]["robot_adapters"] == [
        "robocasa",
        "fourier_gr2",
        "modality_json",
    ]
    assert tool.main(["plugins", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == data


def test_torchcodec_fallback_warning_is_dropped():
    record = logging.LogRecord(
        _UPSTREAM_LOGGER, logging.WARNING, __file__, 1, f"traceback...\n{MARKER}. Falling back", None, None
    )
    assert _DropTorchcodecFallbackWarning().filter(record) is False
    other = logging.LogRecord(_UPSTREAM_LOGGER, logging.WARNING, __file__, 1, "something else", None, None)
    assert _DropTorchcodecFallbackWarning().filter(other) is True


@pytest.mark.slow
def test_a_run_prints_one_line_about_torchcodec_at_most(bimodal_root, tmp_path):
    from lerobot_ext.video_backend import torchcodec_loadable

    args = [
        *dataset_flags(bimodal_root),
        "--policy.type=diffusion",
        "--policy.device=cpu",
        "--steps=1",
        "--num_workers=0",
        "--batch_size=2",
        "--policy.down_dims=[16,32,64]",
        "--policy.horizon=8",
        "--policy.n_action_steps=7",
        "--policy.drop_n_last_frames=0",
        "--wandb.enable=false",
        "--policy.push_to_hub=false",
        "--save_checkpoint=false",
        f"--output_dir={tmp_path / 'run'}",
    ]
    result = run_cli(["lerobot-train-ext", *args])
    output = result.stdout + result.stderr
    assert "libtorchcodec" not in output and MARKER not in output
    notices = [line for line in output.splitlines() if "torchcodec is installed but cannot load" in line]
    assert len(notices) == (0 if torchcodec_loadable() else 1)


@pytest.mark.slow
def test_lerobot_eval_ext_takes_lerobot_evals_flags():
    result = run_cli(["lerobot-eval-ext", "--help"])
    assert "flow" in result.stdout  # third-party policies are registered, as by lerobot-eval
    for flag in ("--env.type", "--eval.n_episodes", "--policy.type"):
        assert flag in result.stdout, flag
