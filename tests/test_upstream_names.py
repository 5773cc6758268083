"""Every upstream name lerobot-ext (and its loaded plugins) relies on is found in the installed
lerobot; CI runs this on each tested version. ``lerobot-ext doctor`` reports the same list, and
every upstream import in the code is on it, attributed to the part of the code that makes it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import REPO, run_cli, write_plugin_distribution

from lerobot_ext.cli import doctor
from lerobot_ext.dispatch import load_plugins, plugins_from
from lerobot_ext.host import ENTRY_POINT_GROUP, PluginHost
from lerobot_ext.upstream import catalogue as upstream
from lerobot_ext.upstream.imports import upstream_imports
from lerobot_ext.upstream.names import UpstreamName, instance_has, resolve_dotted
from lerobot_ext.upstream.versions import (
    CI_SELECTORS,
    SUPPORTED_RANGE,
    TESTED,
    for_installed,
    installed_lerobot,
    is_tested,
)

HOST = load_plugins(environ={})
NAMES = upstream.all_names(HOST)
CORE = "lerobot-ext"


@pytest.mark.parametrize("name", NAMES, ids=lambda n: f"{n.relied_on_by}:{n.label}")
def test_every_upstream_name_is_found_in_the_installed_lerobot(name: UpstreamName) -> None:
    assert name.problem() is None


def test_the_list_covers_the_seams_the_private_names_and_the_plugins_names() -> None:
    paths = {(name.relied_on_by, name.label) for name in NAMES}
    # The names the upstream-head issue lists by hand, each with who relies on it.
    for required in (
        (CORE, "lerobot.scripts.lerobot_train.train.__wrapped__"),
        (CORE, "lerobot.configs.train.TrainPipelineConfig._save_pretrained"),
        (CORE, "lerobot.utils.logging_utils.MetricsTracker (metrics / AverageMeter.val)"),
        (CORE, "lerobot.datasets.utils.DatasetInfo"),
        (CORE, "lerobot.utils.logging_utils.MetricsTracker.__str__"),
        (CORE, "lerobot.scripts.lerobot_train.save_checkpoint"),
        ("flow", "lerobot.policies.diffusion.modeling_diffusion.DiffusionModel._prepare_global_conditioning"),
        ("data_cache", "lerobot.datasets.video_utils._default_decoder_cache"),
        ("data_cache", "lerobot.datasets.dataset_reader.DatasetReader().delta_indices"),
        ("long_runs", "lerobot.utils.random_utils.load_rng_state"),
        ("ema", "diffusers.training_utils.EMAModel"),
    ):
        assert required in paths, required
    kinds = {name.path: name.kind for name in NAMES}
    assert kinds[
        "lerobot.policies.diffusion.modeling_diffusion.DiffusionModel._prepare_global_conditioning"
    ] == ("private")  # a plugin's private name is marked as one
    assert kinds["lerobot.scripts.lerobot_train.init_logging"] == "seam"


def test_the_head_only_ema_field_is_relied_on_only_where_lerobot_has_it() -> None:
    ema = {n.path: n for n in NAMES if n.relied_on_by == "ema"}
    head = for_installed({"0.6.1": False, "0.6.2": True})
    assert ("ema" in ema["lerobot.configs.train.TrainPipelineConfig"].parameters) is head
    assert ("lerobot.configs.default.EMAConfig" in ema) is head


def test_every_seam_has_a_used_for_text_of_its_own() -> None:
    seams = [name for name in NAMES if name.kind == "seam"]
    assert len(seams) >= 10
    for name in seams:
        used_for = name.why.split(": ", 1)[-1]
        assert "Seam:" not in used_for and len(used_for) > 25, (name.path, name.why)


# --------------------------------------------------------------------------- the list is complete


def plugin_folders() -> dict[Path, set[str]]:
    """The package folder of each installed lerobot_ext plugin -> the plugins defined there."""
    folders: dict[Path, set[str]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        spec = importlib.util.find_spec(ep.module)
        assert spec is not None and spec.origin, ep
        folders.setdefault(Path(spec.origin).resolve().parent, set()).add(ep.name)
    return folders


def code_files() -> list[Path]:
    files = [
        *(REPO / "src").rglob("*.py"),
        *REPO.glob("plugins/*/src/**/*.py"),
    ]
    the_list = REPO / "src" / "lerobot_ext" / "upstream" / "catalogue.py"  # it imports upstream to check it
    return sorted(p.resolve() for p in files if p != the_list)


def covered(dotted: str, listed: set[str]) -> bool:
    return any(p == dotted or p.startswith((dotted + ".", dotted + "()")) for p in listed)


def test_every_upstream_import_in_the_code_is_on_the_list_of_who_makes_it() -> None:
    folders = plugin_folders()
    by_owner: dict[str, set[str]] = {}
    for name in NAMES:
        by_owner.setdefault(name.relied_on_by, set()).add(name.path)
    missing, scanned = [], 0
    for path in code_files():
        owners = next((plugins for folder, plugins in folders.items() if folder in path.parents), {CORE})
        listed = set().union(*(by_owner.get(owner, set()) for owner in owners))
        for line, dotted in upstream_imports(path):
            scanned += 1
            if not covered(dotted, listed):
                where = (
                    "src/lerobot_ext/upstream/catalogue.py"
                    if owners == {CORE}
                    else f"plugin {'/'.join(sorted(owners))}"
                )
                missing.append(
                    f"{path.relative_to(REPO)}:{line} imports {dotted}, not on the list of {where}"
                )
    assert scanned > 50  # the scan sees the code
    assert not missing, "\n".join(missing)


def test_the_coverage_scan_finds_imports_and_skips_type_checking_blocks(tmp_path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport lerobot.utils\nfrom lerobot.processor import ProcessorStep as S\n"
        "from .sibling import x\nif TYPE_CHECKING:\n    from lerobot.configs import Hidden\n"
        "def f():\n    from huggingface_hub import try_to_load_from_cache\n"
    )
    assert upstream_imports(module) == [
        (2, "lerobot.utils"),
        (3, "lerobot.processor.ProcessorStep"),
        (8, "huggingface_hub.try_to_load_from_cache"),
    ]
    listed = {"lerobot.processor.ProcessorStep", "lerobot.datasets.lerobot_dataset.LeRobotDataset().reader"}
    assert covered("lerobot.processor.ProcessorStep", listed)
    assert covered("lerobot.datasets.lerobot_dataset.LeRobotDataset", listed)
    assert not covered("lerobot.processor.ProcessorStepRegistry", listed)


# --------------------------------------------------------------------------- checks can fail


def test_a_name_that_is_gone_is_reported_with_what_is_missing(monkeypatch) -> None:
    from lerobot.policies.diffusion import modeling_diffusion

    name = next(n for n in NAMES if n.path.endswith("_prepare_global_conditioning"))
    monkeypatch.delattr(modeling_diffusion.DiffusionModel, "_prepare_global_conditioning")
    assert name.problem() == (
        "lerobot.policies.diffusion.modeling_diffusion.DiffusionModel has no attribute "
        "'_prepare_global_conditioning'"
    )


def test_a_private_behaviour_check_fails_when_upstream_changes_it(monkeypatch) -> None:
    from lerobot.utils import logging_utils

    name = next(n for n in NAMES if n.path.endswith("MetricsTracker.__str__"))
    monkeypatch.setattr(logging_utils.MetricsTracker, "__str__", lambda self: "iteration 7, loss=0.25")
    assert "no longer reads 'step:<n> ... loss:<x>'" in name.problem()


def test_the_save_pretrained_override_check_fails_when_upstream_stops_calling_it(monkeypatch) -> None:
    from lerobot.configs.train import TrainPipelineConfig

    name = next(n for n in NAMES if n.path.endswith("TrainPipelineConfig._save_pretrained"))

    def save_pretrained(self, save_directory, **kwargs):  # writes the file, past the override
        (Path(save_directory) / "train_config.json").write_text("{}")

    monkeypatch.setattr(TrainPipelineConfig, "save_pretrained", save_pretrained)
    assert name.problem() == "TrainPipelineConfig.save_pretrained no longer calls _save_pretrained"


def test_the_saved_pipeline_format_check_fails_when_the_format_changes(monkeypatch) -> None:
    from lerobot.processor import DataProcessorPipeline

    name = next(n for n in NAMES if n.note == "saved steps format")
    original = DataProcessorPipeline.save_pretrained

    def save_pretrained(self, save_directory, **kwargs):
        original(self, save_directory, **kwargs)
        saved = Path(save_directory) / "policy_preprocessor.json"
        data = json.loads(saved.read_text())
        data["steps"] = [{"type": step.get("class"), "params": step.get("config")} for step in data["steps"]]
        saved.write_text(json.dumps(data))

    monkeypatch.setattr(DataProcessorPipeline, "save_pretrained", save_pretrained)
    assert "a saved step is no longer" in name.problem()


def test_a_name_with_a_check_and_parameters_needs_both_to_hold() -> None:
    def fine() -> None:
        return None

    path = "lerobot.scripts.lerobot_train.save_checkpoint"
    assert UpstreamName(path, "", parameters=("checkpoint_dir",), check=fine).problem() is None
    moved = UpstreamName(path, "", parameters=("checkpoint_dir", "folder"), check=fine)
    assert moved.problem() == "no longer takes folder"
    assert UpstreamName(path, "", parameters=("folder",), check=lambda: "gone").problem() == "gone"


def test_instance_attributes_are_found_in_the_source_without_making_an_instance() -> None:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    assert instance_has(LeRobotDataset, "tolerance_s")  # self.tolerance_s = ... in __init__
    assert instance_has(LeRobotDataset, "hf_dataset")  # a property
    assert not instance_has(LeRobotDataset, "tolerance_ms")
    with pytest.raises(AttributeError, match=r"LeRobotDataset instances have no attribute 'nope'"):
        resolve_dotted("lerobot.datasets.lerobot_dataset.LeRobotDataset().nope")


def test_resolve_dotted_walks_modules_then_attributes() -> None:
    from lerobot.scripts import lerobot_train

    assert resolve_dotted("lerobot.scripts.lerobot_train.train") is lerobot_train.train
    with pytest.raises(AttributeError, match=r"lerobot\.scripts\.lerobot_train has no attribute 'nope'"):
        resolve_dotted("lerobot.scripts.lerobot_train.nope.deeper")


# --------------------------------------------------------------------------- doctor


def test_a_plugin_registers_the_names_it_relies_on_and_doctor_names_the_plugin(capsys) -> None:
    from lerobot_ext import hookimpl

    class Plugin:
        @hookimpl
        def register_upstream_names(self, register):
            register("lerobot.policies.act.modeling_act.ACTPolicy", "subclassed by my policy")
            register("lerobot.policies.act.modeling_act.NoSuchThing", "my lab's private import")

    host = plugins_from({"lab": Plugin()})
    diagnosis = doctor.diagnose(host)
    mine = [(n.path, p) for n, p in diagnosis.checked if n.relied_on_by == "lab"]
    assert mine == [
        ("lerobot.policies.act.modeling_act.ACTPolicy", None),
        (
            "lerobot.policies.act.modeling_act.NoSuchThing",
            "lerobot.policies.act.modeling_act has no attribute 'NoSuchThing'",
        ),
    ]
    assert not diagnosis.ok
    assert "plugin(s) lab will fail" in diagnosis.advice()
    doctor.print_diagnosis(diagnosis)
    out = capsys.readouterr().out
    assert "MOVED  name      lerobot.policies.act.modeling_act.NoSuchThing" in out
    assert "[plugin lab]" in out and "used for: my lab's private import" in out


def test_doctor_exits_1_for_a_moved_name(capsys) -> None:
    from lerobot_ext import hookimpl

    class Plugin:
        @hookimpl
        def register_upstream_names(self, register):
            register("lerobot.policies.act.modeling_act.NoSuchThing", "my lab's private import")

    assert doctor.main(host=plugins_from({"lab": Plugin()})) == 1
    assert "PROBLEM: 1 of" in capsys.readouterr().out


def test_doctor_exits_0_with_every_plugin_loaded_and_every_name_found(capsys) -> None:
    assert doctor.main(as_json=True, host=HOST) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["tested"] is True and report["failed_plugins"] == []
    assert report["lerobot"] == importlib.metadata.version("lerobot")
    assert {(e["relied_on_by"], e["path"]) for e in report["names"]} == {
        (n.relied_on_by, n.path) for n in NAMES
    }


def test_doctor_reports_a_plugin_that_failed_to_load_and_exits_1(extra_entry_points, capsys) -> None:
    error = ImportError("cannot import name 'GoneThing' from 'lerobot.policies.utils'")
    extra_entry_points("lab_policy", error=error, value="lab_policy.plugin")
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert (
        "FAILED lab_policy (lab_policy = lab_policy.plugin): ImportError: cannot import name 'GoneThing' "
        "from 'lerobot.policies.utils'"
    ) in out
    assert "PROBLEM: plugin(s) lab_policy failed to load, so their upstream names were not checked" in out
    assert "ok: " not in out


@pytest.mark.slow
def test_lerobot_ext_doctor_exits_1_when_a_plugin_cannot_import_an_upstream_name(tmp_path) -> None:
    # A third-party plugin importing something this lerobot does not have, as after an upgrade.
    site = write_plugin_distribution(
        tmp_path / "site", "lab_plugin", "from lerobot.policies.utils import GoneThing  # noqa\n"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = run_cli(["lerobot-ext", "doctor", "--json"], env=env, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["ok"] is False
    (failed,) = report["failed_plugins"]
    assert failed["name"] == "lab_plugin" and failed["entry_point"] == "lab_plugin = lab_plugin"
    assert "cannot import name 'GoneThing'" in failed["error"]
    assert all(entry["found"] for entry in report["names"])  # only the plugin is the problem


def test_doctor_says_untested_and_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(doctor, "installed_lerobot", lambda: "0.7.0")
    diagnosis = doctor.diagnose(PluginHost())
    assert not diagnosis.tested
    assert diagnosis.ok  # every name found: it will probably work
    assert "not a tested version (0.6.1, 0.6.2)" in diagnosis.advice()
    assert f"pip install 'lerobot[training,diffusion]{SUPPORTED_RANGE}'" in diagnosis.advice()


# --------------------------------------------------------------------------- versions, range, CI


def test_the_installed_lerobot_is_a_tested_version() -> None:
    assert is_tested()


def _lerobot_requirements(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    return [
        r
        for r in [*project.get("dependencies", []), *extras]
        if re.match(r"lerobot(\[[^\]]*\])?\s*[<>=!~]", r)
    ]


def test_every_declared_lerobot_range_is_exactly_the_tested_versions() -> None:
    assert SUPPORTED_RANGE == f">={min(TESTED)},<={max(TESTED)}" == ">=0.6.1,<=0.6.2"
    pyprojects = [REPO / "pyproject.toml", *sorted(REPO.glob("plugins/*/pyproject.toml"))]
    declaring = {path: _lerobot_requirements(path) for path in pyprojects}
    # Every distribution of this repository depends on lerobot (three today).
    assert len(declaring) >= 3 and all(declaring.values()), declaring
    for path, requirements in declaring.items():
        for requirement in requirements:
            assert requirement.replace(" ", "").endswith(SUPPORTED_RANGE), f"{path}: {requirement}"


def ci_test_runs(script: Path = REPO / ".ci" / "run") -> list[str]:
    """The ``LEROBOT=`` selector of each ``scripts/test.sh`` command ``.ci/run`` executes."""
    selectors = []
    for raw in script.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        for command in re.split(r"\s*(?:&&|\|\||;)\s*", line):
            words = shlex.split(command)
            env = {}
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                key, _, value = words.pop(0).partition("=")
                env[key] = value
            if words and words[0] in ("scripts/test.sh", "./scripts/test.sh"):
                selectors.append(env.get("LEROBOT", "release"))
    return selectors


def test_ci_runs_the_suite_on_every_tested_version() -> None:
    assert set(CI_SELECTORS) == set(TESTED)
    assert sorted(ci_test_runs()) == sorted(CI_SELECTORS.values())
    # scripts/setup.sh knows each selector.
    setup = (REPO / "scripts" / "setup.sh").read_text()
    for selector in CI_SELECTORS.values():
        assert re.search(rf"^\s*{selector}\)", setup, re.MULTILINE), selector
    # And the selector that made this venv installed the version it stands for.
    venv = Path(sys.prefix).name
    if venv in (".venv", ".venv-head"):
        selector = "head" if venv == ".venv-head" else "release"
        version = next(v for v, s in CI_SELECTORS.items() if s == selector)
        assert installed_lerobot().startswith(version), (venv, installed_lerobot())


@pytest.mark.skipif(
    Path(sys.prefix).parent != REPO or Path(sys.prefix).name not in (".venv", ".venv-head"),
    reason="checks the venv scripts/setup.sh made; this interpreter is another",
)
@pytest.mark.parametrize("package", ["torch", "lerobot"])
def test_setup_installs_compiled_bytecode(package) -> None:
    # Where PYTHONDONTWRITEBYTECODE is set (our machines set it), an install without .pyc files
    # makes every test subprocess compile torch and lerobot again: CI's time went from 1817 s to
    # 2415 s when uv (which does not compile by default) replaced pip.
    init = Path(importlib.util.find_spec(package).origin)
    compiled = Path(importlib.util.cache_from_source(str(init)))
    assert compiled.is_file(), f"{compiled} missing: scripts/setup.sh did not compile {package}'s bytecode"
    assert compiled.stat().st_mtime >= init.stat().st_mtime


@pytest.mark.parametrize(
    ("variable", "value", "choices"),
    [("LEROBOT", "nightly", "release, head"), ("LEROBOT_EXT_INSTALLER", "conda", "uv, pip")],
)
def test_setup_refuses_an_unknown_choice_in_one_line_before_installing(variable, value, choices) -> None:
    env = {**os.environ, variable: value}
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"{variable}={value} is not one of: {choices}"
    assert "installing" not in done.stdout and "creating" not in done.stdout


def test_the_ci_parser_reads_commands_not_comments(tmp_path) -> None:
    script = tmp_path / "run"
    script.write_text(
        "#!/usr/bin/env bash\n# LEROBOT=head scripts/test.sh (a comment)\nset -e\n"
        "scripts/test.sh -m 'not slow'\nLEROBOT=head OMP_NUM_THREADS=1 scripts/test.sh && echo done\n"
    )
    assert ci_test_runs(script) == ["release", "head"]
    script.write_text("# scripts/test.sh\n# LEROBOT=head scripts/test.sh\nscripts/test.sh\n")
    assert ci_test_runs(script) == ["release"]


def test_version_tables_pick_the_newest_row_not_above_the_version() -> None:
    table = {"0.6.1": "a", "0.6.2": "b"}
    assert [for_installed(table, v) for v in ("0.6.0", "0.6.1", "0.6.2.dev3", "0.6.2", "0.7.0")] == [
        "a", "a", "b", "b", "b",
    ]  # fmt: skip


def test_an_upstream_name_is_a_dotted_path_and_words_go_in_its_note() -> None:
    from lerobot_ext import hookimpl
    from lerobot_ext.errors import PluginHookError, PluginLoadError

    class Plugin:
        @hookimpl
        def register_upstream_names(self, register):
            register("lerobot.utils.constants (checkpoint layout)", "the layout")

    with pytest.raises((PluginLoadError, PluginHookError), match=r"a dotted path alone; put words in note="):
        plugins_from({"lab": Plugin()})
    noted = UpstreamName("lerobot.utils.constants", "the layout", note="checkpoint layout")
    assert noted.label == "lerobot.utils.constants (checkpoint layout)" and noted.problem() is None
