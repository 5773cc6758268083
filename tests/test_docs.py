"""The README documents every hook and flag, its plugin example works, and the package ships whole."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest
from helpers import README, REPO, all_hookspecs, public_api, run_cli, write_plugin_distribution

from lerobot_ext.plugins import load_plugins

HOST = load_plugins(environ={})  # every installed plugin


HOOKSPECS = all_hookspecs()
HOOKS = sorted(HOOKSPECS)


def _hook_row(hook: str) -> str:
    return next((line for line in README.splitlines() if line.startswith(f"| `{hook}` |")), "")


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    row = _hook_row(hook)
    assert row, f"README's hook table has no row for {hook}"
    spec = HOOKSPECS[hook]
    arguments = ", ".join(name for name in inspect.signature(spec).parameters if name != "self")
    assert f"`{hook}({arguments})" in row, f"README's row for {hook} does not show {hook}({arguments})"
    assert (spec.__doc__ or "").strip(), f"{spec.__module__}.{hook} has no docstring (the contract)"


def test_every_public_name_exists_and_says_what_it_is_for():
    api = public_api()
    assert {"lerobot_ext", "lerobot_ext.dataset_changes", "lerobot_ext.errors"} <= set(api)
    for module, names in api.items():
        imported = importlib.import_module(module)
        for name, purpose in names.items():
            assert hasattr(imported, name), f"README declares {module}.{name} public, but it does not exist"
            assert len(purpose.split()) >= 3, f"README gives {module}.{name} no purpose"


def test_the_plugins_section_lists_every_built_in_plugin():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["lerobot_ext"]
    section = README.split("\n## Plugins\n", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"^- `(\w+)`: \S", section, re.M))
    assert set(declared) <= listed, f"README's Plugins section does not list {set(declared) - listed}"


FIELDS = [spec.name for spec in HOST.registry.config_fields]


@pytest.mark.parametrize("field", FIELDS)
def test_every_plugin_flag_is_documented(field):
    assert f"`--{field}" in README, f"README does not document --{field}"


def test_the_built_in_flags_are_all_there():
    # The users' command lines (shared/CONTEXT.md) use these; they must stay declared.
    assert {"state_filtered_keys", "action_keep_dims", "profile"} <= set(FIELDS)


def test_the_two_commands_exist_and_ci_runs_the_test_command():
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        assert f"{script} " in README
        assert os.access(REPO / script, os.X_OK)
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()


BENCHMARK_SCRIPTS = sorted(
    path.stem
    for path in (REPO / "benchmarks").glob("*.py")
    if path.stem not in ("common", "flow_tasks")  # shared helpers, not benchmarks
)


@pytest.mark.parametrize("script", BENCHMARK_SCRIPTS)
def test_every_benchmark_has_its_command_and_raw_output_in_benchmarks_md(script):
    benchmarks_md = (REPO / "BENCHMARKS.md").read_text()
    assert f"benchmarks/{script}.py" in benchmarks_md, f"BENCHMARKS.md does not give the command of {script}"
    result = REPO / "benchmarks" / "results" / f"{script}.txt"
    assert result.is_file(), f"no raw output of {script} in benchmarks/results/"
    first_line = result.read_text().splitlines()[0].lower()
    assert first_line.startswith(f"command: python benchmarks/{script}.py"), (result, first_line)


def test_readme_example_plugin_is_discovered_and_lists_its_hooks(tmp_path):
    block = README.split("<!-- example-plugin -->", 1)[1]
    source = re.search(r"```python\n(.*?)```", block, re.S).group(1)
    site = write_plugin_distribution(tmp_path / "site", "lerobot_ext_hello", source)
    # The README declares the entry point as `hello = "lerobot_ext_hello"`.
    (site / "lerobot_ext_hello-0.0.1.dist-info" / "entry_points.txt").write_text(
        "[lerobot_ext]\nhello = lerobot_ext_hello\n"
    )
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "LEROBOT_EXT_STRICT_PLUGINS": "1",
    }
    listing = json.loads(run_cli(["lerobot-train-ext", "--plugins", "--json"], env=env).stdout)
    hello = next(p for p in listing["plugins"] if p["name"] == "hello")
    assert hello["status"] == "loaded"
    assert hello["hooks"] == ["configure", "on_step_end", "register_config_fields", "register_robot_adapters"]
    assert hello["registered"] == {"robot_adapters": ["my_arm"], "config_fields": ["hello_every"]}


@pytest.mark.slow
def test_a_plain_pip_install_ships_the_patches_and_every_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("lerobot_ext-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (REPO / "patches").glob("*.py"):
        assert f"lerobot_ext/patches/{module.name}" in names
    source_packages = {
        p.parent.relative_to(REPO / "src").as_posix() for p in (REPO / "src").rglob("__init__.py")
    }
    for package in source_packages:
        assert f"{package}/__init__.py" in names, f"{package} is missing from the wheel (pyproject packages)"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[lerobot_ext]" in text and "profiler = lerobot_ext.profiling.plugin:plugin" in text
