"""The docs (README and docs/) document every flag and built-in plugin, and the plugin guide's
example works. The hook reference and the public API page are checked against the code in
tests/test_architecture.py."""

from __future__ import annotations

import json
import os
import re
import tomllib

import pytest
from helpers import README, REPO, run_cli, write_plugin_distribution

from lerobot_ext.dispatch import load_plugins

HOST = load_plugins(environ={})  # every installed plugin
DOCS_DIR = REPO / "docs"
DOCS = "\n".join([README, *(page.read_text() for page in sorted(DOCS_DIR.rglob("*.md")))])


def test_readme_is_a_front_page_that_links_every_docs_page() -> None:
    assert len(README.splitlines()) <= 200
    for page in sorted(DOCS_DIR.rglob("*.md")):
        assert f"docs/{page.relative_to(DOCS_DIR).as_posix()}" in README, f"README does not link {page}"


def test_the_plugins_section_lists_every_built_in_plugin():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["lerobot_ext"]
    section = (DOCS_DIR / "plugins" / "guide.md").read_text().split("\n## Built-in plugins\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    listed = set(re.findall(r"^- `(\w+)`: \S", section, re.M))
    assert set(declared) <= listed, f"docs/plugins/guide.md does not list {set(declared) - listed}"


FIELDS = [spec.name for spec in HOST.registry.config_fields]


@pytest.mark.parametrize("field", FIELDS)
def test_every_plugin_flag_is_documented(field):
    assert f"`--{field}" in DOCS, f"docs/ do not document --{field}"


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


@pytest.mark.slow
def test_readme_example_plugin_is_discovered_and_lists_its_hooks(tmp_path):
    block = (DOCS_DIR / "plugins" / "guide.md").read_text().split("<!-- example-plugin -->", 1)[1]
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
