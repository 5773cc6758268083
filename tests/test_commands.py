"""``register_commands``: plugins add ``lerobot-ext`` subcommands, as simonw/llm's do."""

from __future__ import annotations

import types

import pytest

from lerobot_ext import hookimpl
from lerobot_ext.cli import tool
from lerobot_ext.errors import ConfigError, PluginConflictError
from lerobot_ext.plugins import PluginHost, load_plugins


def command_plugin(name: str, calls: list):
    def configure(parser):
        parser.add_argument("robot")
        parser.add_argument("--hz", type=int, default=10)

    def run(args):
        if args.robot == "broken":
            raise ConfigError("robot 'broken' is not connected; plug it in or pass another name")
        calls.append((args.robot, args.hz))
        return 3 if args.hz == 0 else None

    @hookimpl
    def register_commands(register):
        register(name, "check a robot's connection", configure, run)

    return types.SimpleNamespace(register_commands=register_commands)


def test_a_plugin_command_runs_with_its_arguments(extra_entry_points, capsys) -> None:
    calls: list = []
    extra_entry_points("lab_tools", command_plugin("ping-robot", calls))
    assert tool.main(["ping-robot", "arm0", "--hz", "50"]) == 0
    assert calls == [("arm0", 50)]
    # The command's own exit status comes back; an error of ours is one line and status 2.
    assert tool.main(["ping-robot", "arm0", "--hz", "0"]) == 3
    assert tool.main(["ping-robot", "broken"]) == 2
    assert "robot 'broken' is not connected" in capsys.readouterr().err
    # `lerobot-ext --help` lists it with its plugin.
    with pytest.raises(SystemExit):
        tool.main(["--help"])
    assert "ping-robot" in capsys.readouterr().out


def test_the_built_in_demo_dataset_command_is_a_plugin_command(tmp_path, monkeypatch) -> None:
    assert load_plugins(environ={}).registry.owner("commands", "demo-dataset") == "demo"
    assert (
        tool.main(
            [
                "demo-dataset",
                "--layout",
                "bimodal",
                "--root",
                str(tmp_path / "d"),
                "--episodes",
                "1",
                "--frames",
                "4",
            ]
        )
        == 0
    )
    assert (tmp_path / "d" / "meta" / "info.json").is_file()
    # Without the demo plugin there is no such command.
    monkeypatch.setenv("LEROBOT_EXT_PLUGINS", "transforms")
    with pytest.raises(SystemExit):
        tool.main(["demo-dataset", "--layout", "bimodal", "--root", str(tmp_path / "e")])
    assert not (tmp_path / "e").exists()


def test_a_command_name_taken_by_lerobot_ext_or_another_plugin_is_refused() -> None:
    with pytest.raises(
        PluginConflictError,
        match=r"'doctor' is registered by plugin 'sneaky', but lerobot-ext has that command",
    ):
        PluginHost.from_plugins({"sneaky": command_plugin("doctor", [])})
    with pytest.raises(PluginConflictError, match=r"lerobot-ext command 'ping' is registered by two plugins"):
        PluginHost.from_plugins({"a": command_plugin("ping", []), "b": command_plugin("ping", [])})
