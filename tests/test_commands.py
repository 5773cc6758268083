"""``register_commands``: plugins add ``lerobot-ext`` subcommands, as simonw/llm's do."""

from __future__ import annotations

import json
import types

import pytest

from lerobot_ext import hookimpl
from lerobot_ext.cli import tool
from lerobot_ext.dispatch import load_plugins, plugins_from
from lerobot_ext.errors import ConfigError, PluginConflictError


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
        plugins_from({"sneaky": command_plugin("doctor", [])})
    with pytest.raises(PluginConflictError, match=r"lerobot-ext command 'ping' is registered by two plugins"):
        plugins_from({"a": command_plugin("ping", []), "b": command_plugin("ping", [])})


# --------------------------------------------------------------------------- demo layouts


def layout_plugin(name: str, calls: list):
    """A lab plugin adding a demo layout through the demo plugin's hook, written with the public
    writer: a 3-D arm state and action, no camera."""

    def write(root, episodes, seed, overwrite):
        import numpy as np

        from lerobot_ext import vector_feature, write_dataset

        calls.append({"episodes": episodes, "seed": seed, "overwrite": overwrite})
        rng = np.random.default_rng(seed)
        frames = [
            [
                {
                    "observation.state": rng.normal(size=3).astype(np.float32),
                    "action": rng.normal(size=3).astype(np.float32),
                }
                for _ in range(3)
            ]
            for _ in range(episodes)
        ]
        return write_dataset(
            root,
            repo_id="lab/arm",
            fps=10,
            robot_type="lab_arm",
            features={"observation.state": vector_feature(None, 3), "action": vector_feature(None, 3)},
            episodes=iter(frames),
            task="wave",
            overwrite=overwrite,
        )

    @hookimpl(optionalhook=True)
    def register_demo_layouts(register):
        register(name, write, "a lab's arm")

    return types.SimpleNamespace(register_demo_layouts=register_demo_layouts)


def test_a_plugin_adds_a_demo_layout_through_the_demo_plugins_hook(
    extra_entry_points, tmp_path, capsys
) -> None:
    calls: list = []
    extra_entry_points("lab_layouts", layout_plugin("lab_arm", calls))
    root = tmp_path / "arm"
    assert (
        tool.main(
            ["demo-dataset", "--layout", "lab_arm", "--root", str(root), "--episodes", "2", "--seed", "3"]
        )
        == 0
    )
    # The writer got the options it names, as given (and the defaults of the others it names).
    assert calls == [{"episodes": 2, "seed": 3, "overwrite": False}]
    info = json.loads((root / "meta" / "info.json").read_text())
    assert (info["robot_type"], info["total_episodes"], info["total_frames"]) == ("lab_arm", 2, 6)
    # An option its writer does not name is refused, not ignored; nothing is written.
    capsys.readouterr()
    assert (
        tool.main(["demo-dataset", "--layout", "lab_arm", "--root", str(tmp_path / "b"), "--frames", "5"])
        == 2
    )
    # (the torchcodec notice is printed once per process, by whichever command comes first)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "torchcodec" not in line]
    assert err == [
        "ERROR lerobot-ext: --frames: the lab_arm layout does not take it "
        "(it takes --episodes, --seed, --overwrite); leave it out"
    ]
    assert len(calls) == 1 and not (tmp_path / "b").exists()
    # `--help` lists it with its plugin and the options it takes.
    with pytest.raises(SystemExit):
        tool.main(["demo-dataset", "--help"])
    out = capsys.readouterr().out
    assert (
        "lab_arm [plugin lab_layouts]: a lab's arm" in out and "takes --episodes, --seed, --overwrite" in out
    )


def test_a_demo_layout_name_taken_twice_names_both_plugins(extra_entry_points, tmp_path, capsys) -> None:
    extra_entry_points("lab_a", layout_plugin("lab_arm", []))
    extra_entry_points("lab_b", layout_plugin("lab_arm", []))
    assert tool.main(["demo-dataset", "--layout", "lab_arm", "--root", str(tmp_path / "a")]) == 2
    # lab_b is asked first (registered last: the one hook order), so lab_a's is the second claim.
    assert (
        "demo layout 'lab_arm' is registered by two plugins: 'lab_b' and 'lab_a'" in capsys.readouterr().err
    )


def test_a_plugin_layout_may_not_take_a_built_in_name(extra_entry_points, tmp_path, capsys) -> None:
    extra_entry_points("lab", layout_plugin("bimodal", []))
    assert tool.main(["demo-dataset", "--layout", "bimodal", "--root", str(tmp_path / "a")]) == 2
    assert "demo layout 'bimodal' is registered by two plugins: 'demo' and 'lab'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--episodes", "0"], "--episodes 0: need at least 1 episode"),
        (["--episodes", "-2"], "--episodes -2: need at least 1 episode"),
        (["--seed", "-1"], "--seed -1: need a seed >= 0"),
        (["--frames", "1"], "--frames 1: need at least 2 frames per episode"),
        (["--image-size", "32"], "--image-size: the bimodal layout does not take it"),
        (["--action-order", "base-first"], "--action-order: the bimodal layout does not take it"),
        (["--depth"], "--depth: the bimodal layout does not take it"),
        (["--noise", "-0.1"], "--noise -0.1: need a standard deviation >= 0"),
        (["--noise", "nan"], "--noise nan: need a standard deviation >= 0"),
        (["--noise", "0.2"], "--noise: the bimodal layout does not take it"),
    ],
)
def test_bad_demo_dataset_input_is_one_line_naming_the_value(option, message, tmp_path, capsys) -> None:
    root = tmp_path / "d"
    assert tool.main(["demo-dataset", "--layout", "bimodal", "--root", str(root), *option]) == 2
    # (the torchcodec notice is printed once per process, by whichever command comes first)
    err = [line for line in capsys.readouterr().err.strip().splitlines() if "torchcodec" not in line]
    assert len(err) == 1 and message in err[0], err
    assert not root.exists()


def test_noise_reaches_a_writer_that_takes_it_and_its_own_default_holds_otherwise(
    extra_entry_points, tmp_path
) -> None:
    """``--noise`` has no default of its own: a scripted expert's right noise is in its task's
    units, so a writer that names ``noise`` keeps its default unless the flag is given."""
    received: list = []

    def write(root, episodes=1, noise=0.5):
        received.append(noise)
        root.mkdir()
        return root

    class Lab:
        @hookimpl
        def register_demo_layouts(self, register):
            register("lab_expert", write, "a scripted expert")

    extra_entry_points("lab", Lab())
    assert tool.main(["demo-dataset", "--layout", "lab_expert", "--root", str(tmp_path / "a")]) == 0
    assert (
        tool.main(["demo-dataset", "--layout", "lab_expert", "--root", str(tmp_path / "b"), "--noise", "0"])
        == 0
    )
    assert received == [0.5, 0.0]


def test_a_layout_writer_without_a_root_first_is_refused_naming_the_plugin(
    extra_entry_points, tmp_path, capsys
) -> None:
    class NoRoot:
        @hookimpl
        def register_demo_layouts(self, register):
            register("lab_arm", lambda *, episodes=1: None, "a writer that forgot the root")

    extra_entry_points("lab", NoRoot())
    assert tool.main(["demo-dataset", "--layout", "lab_arm", "--root", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "plugin 'lab' registered demo layout 'lab_arm' with a writer that takes no root first" in err
    assert "Traceback" not in err and not (tmp_path / "a").exists()


def test_the_python_api_refuses_an_option_a_layout_does_not_take_as_the_command_does(tmp_path) -> None:
    from lerobot_ext.demo import write_demo_dataset

    with pytest.raises(ConfigError, match="--image-size: the bimodal layout does not take it"):
        write_demo_dataset("bimodal", tmp_path / "b", episodes=2, frames=4, image_size=32)
    assert not (tmp_path / "b").exists()


def test_the_python_api_takes_a_flag_set_to_false_as_left_out_as_the_command_does(tmp_path) -> None:
    """``depth=False`` (and ``overwrite=False``) is what the command passes for a flag not given:
    the robocasa layout, which takes no ``depth``, writes as if it were left out."""
    from lerobot_ext.demo import write_demo_dataset

    root = write_demo_dataset("robocasa", tmp_path / "r", episodes=1, frames=4, depth=False, overwrite=False)
    assert (root / "meta" / "info.json").is_file()
