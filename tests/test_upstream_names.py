"""Every upstream name lerobot-ext (and its loaded plugins) relies on is found in the installed
lerobot; CI runs this on each tested version. ``lerobot-ext doctor`` reports the same list."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from helpers import REPO, run_cli

from lerobot_ext.cli import doctor
from lerobot_ext.plugins import PluginHost, load_plugins
from lerobot_ext.upstream import names as upstream
from lerobot_ext.upstream.names import UpstreamName, resolve_dotted
from lerobot_ext.upstream.versions import SUPPORTED_RANGE, TESTED, for_installed, is_tested

HOST = load_plugins()
NAMES = upstream.all_names(HOST)


@pytest.mark.parametrize("name", NAMES, ids=lambda n: n.path)
def test_every_upstream_name_is_found_in_the_installed_lerobot(name: UpstreamName) -> None:
    assert name.problem() is None


def test_the_list_covers_the_seams_the_private_names_and_the_plugins_names() -> None:
    paths = {name.path for name in NAMES}
    # The names the upstream-head issue lists by hand must be on it.
    for required in (
        "lerobot.scripts.lerobot_train.train.__wrapped__",
        "lerobot.policies.diffusion.modeling_diffusion.DiffusionModel._prepare_global_conditioning",
        "lerobot.utils.logging_utils.MetricsTracker.metrics / AverageMeter.val",
        "lerobot.datasets.utils.DatasetInfo",
        "lerobot.utils.logging_utils.MetricsTracker.__str__",
        "lerobot.scripts.lerobot_train.save_checkpoint",
    ):
        assert required in paths, required
    flow = [n for n in NAMES if n.relied_on_by == "flow"]
    assert flow and all(n.kind == "name" for n in flow)


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


def test_resolve_dotted_walks_modules_then_attributes() -> None:
    from lerobot.scripts import lerobot_train

    assert resolve_dotted("lerobot.scripts.lerobot_train.train") is lerobot_train.train
    with pytest.raises(AttributeError, match=r"lerobot\.scripts\.lerobot_train has no attribute 'nope'"):
        resolve_dotted("lerobot.scripts.lerobot_train.nope.deeper")


def test_a_plugin_registers_the_names_it_relies_on_and_doctor_names_the_plugin(capsys) -> None:
    from lerobot_ext import hookimpl

    class Plugin:
        @hookimpl
        def register_upstream_names(self, register):
            register("lerobot.policies.act.modeling_act.ACTPolicy", "subclassed by my policy")
            register("lerobot.policies.act.modeling_act.NoSuchThing", "my lab's private import")

    host = PluginHost.from_plugins({"lab": Plugin()})
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


def test_doctor_says_untested_and_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(doctor, "installed_lerobot", lambda: "0.7.0")
    diagnosis = doctor.diagnose(PluginHost())
    assert not diagnosis.tested
    assert diagnosis.ok  # every name found: it will probably work
    assert "not a tested version (0.6.1, 0.6.2)" in diagnosis.advice()
    assert f"pip install 'lerobot[training,diffusion]{SUPPORTED_RANGE}'" in diagnosis.advice()


@pytest.mark.slow
def test_lerobot_ext_doctor_exits_0_on_the_installed_lerobot() -> None:
    result = run_cli(["lerobot-ext", "doctor", "--json"])
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["tested"] is True
    assert report["lerobot"] == __import__("importlib.metadata").metadata.version("lerobot")
    assert {entry["path"] for entry in report["names"]} == {n.path for n in NAMES}
    assert all(entry["found"] for entry in report["names"])


def test_the_installed_lerobot_is_a_tested_version() -> None:
    assert is_tested()


def test_the_declared_dependency_range_is_exactly_the_tested_versions() -> None:
    assert SUPPORTED_RANGE == ">=0.6.1,<=0.6.2"
    pyprojects = [REPO / "pyproject.toml", REPO / "plugins" / "lerobot_policy_flow" / "pyproject.toml"]
    for path in pyprojects:
        project = tomllib.loads(path.read_text())["project"]
        extras = [r for group in project.get("optional-dependencies", {}).values() for r in group]
        requirements = [*project["dependencies"], *extras]
        lerobot = [r for r in requirements if re.match(r"lerobot\b(\[|>|<|=| |$)", r)]
        assert lerobot, path
        for requirement in lerobot:
            assert requirement.endswith(SUPPORTED_RANGE), f"{path}: {requirement}"


def test_ci_runs_the_suite_on_every_tested_version() -> None:
    ci = (REPO / ".ci" / "run").read_text() + (REPO / "scripts" / "test.sh").read_text()
    assert "lerobot-head" in ci and "0.6.1" in ci
    assert set(TESTED) == {"0.6.1", "0.6.2"}


def test_version_tables_pick_the_newest_row_not_above_the_version() -> None:
    table = {"0.6.1": "a", "0.6.2": "b"}
    assert [for_installed(table, v) for v in ("0.6.0", "0.6.1", "0.6.2.dev3", "0.6.2", "0.7.0")] == [
        "a", "a", "b", "b", "b",
    ]  # fmt: skip
