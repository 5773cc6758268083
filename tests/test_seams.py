"""Every seam's upstream target exists in the installed lerobot; a moved one fails by name."""

from __future__ import annotations

import importlib
import types

import pytest

from lerobot_ext.errors import UpstreamChangedError
from lerobot_ext.patches import EVAL_SEAMS, METHOD_SEAMS, SEAMS, SeamTable, applied_seams, eval_make_policy
from lerobot_ext.plugins import PluginHost
from lerobot_ext.training import TrainingRun
from lerobot_ext.upstream.versions import TESTED, for_installed, installed_version


def installed_release() -> str:
    from packaging.version import Version

    return Version(installed_version("lerobot")).base_version


@pytest.mark.parametrize("entry", [*SEAMS, *EVAL_SEAMS, eval_make_policy.INNER], ids=lambda s: s.target)
def test_seam_target_exists_in_installed_lerobot(entry):
    seam = entry.current()
    module, original = seam.resolve()
    assert callable(original)
    assert module is importlib.import_module(seam.module)
    # Each seam states the tested versions it applies to, and the installed one is among them.
    assert set(seam.versions) <= set(TESTED)
    assert installed_release() in seam.versions


def test_a_seam_table_picks_the_row_for_each_tested_version():
    from lerobot_ext.patches import resume_step

    rows = {version: resume_step.SEAM.rows for version in TESTED}
    picked = {version: for_installed(rows[version], version).name for version in TESTED}
    assert picked == {"0.6.1": "load_training_state", "0.6.2": "resume_before_prepare"}
    # A later, untested release gets the newest row (and fails by name if upstream moved it).
    assert for_installed(resume_step.SEAM.rows, "0.7.0").name == "resume_before_prepare"


@pytest.mark.parametrize("seam", METHOD_SEAMS, ids=lambda s: s.target)
def test_method_seam_target_exists(seam):
    cls = seam.resolve_class()
    assert callable(getattr(cls, seam.name))


def test_a_moved_upstream_name_is_a_named_error(monkeypatch):
    seam = next(s for s in SEAMS if s.name == "make_train_eval_datasets")
    module = importlib.import_module(seam.module)
    monkeypatch.delattr(module, seam.name)
    with pytest.raises(UpstreamChangedError) as excinfo:
        seam.resolve()
    message = str(excinfo.value)
    assert "lerobot.scripts.lerobot_train.make_train_eval_datasets" in message
    assert installed_version("lerobot") in message and "lerobot-ext doctor" in message


def test_a_moved_name_on_an_untested_version_says_so_and_what_to_install(monkeypatch):
    seam = next(s for s in SEAMS if s.current().name == "cycle").current()
    module = importlib.import_module(seam.module)
    monkeypatch.delattr(module, seam.name)
    import lerobot_ext.patches.seam as seam_module

    monkeypatch.setattr(seam_module, "installed_version", lambda _dist: "0.7.0")
    with pytest.raises(UpstreamChangedError) as excinfo:
        seam.resolve()
    message = str(excinfo.value)
    assert "lerobot 0.7.0 has no lerobot.scripts.lerobot_train.cycle" in message
    assert "not a version lerobot-ext is tested with (0.6.1, 0.6.2)" in message
    assert "pip install 'lerobot[training,diffusion]>=0.6.1,<=0.6.2'" in message
    assert "lerobot-ext doctor" in message


def test_a_seam_whose_upstream_signature_lost_an_argument_is_a_named_error(monkeypatch):
    seam = next(s for s in SEAMS if s.current().name == "save_checkpoint").current()
    module = importlib.import_module(seam.module)
    monkeypatch.setattr(module, seam.name, lambda path, step: None)
    with pytest.raises(UpstreamChangedError, match="no longer takes checkpoint_dir"):
        seam.resolve()


def test_seams_are_removed_after_the_run_even_on_error():
    module = importlib.import_module("lerobot.scripts.lerobot_train")
    names = [seam.current().name for seam in SEAMS]
    originals = {name: getattr(module, name) for name in names}
    run = TrainingRun(types.SimpleNamespace(), PluginHost())
    with pytest.raises(KeyError), applied_seams(run):
        assert all(getattr(module, name) is not fn for name, fn in originals.items())
        raise KeyError("boom")
    assert {name: getattr(module, name) for name in names} == originals


def test_every_seam_module_says_what_it_wraps():
    import lerobot_ext.patches as patches

    for entry in [*SEAMS, eval_make_policy.SEAM]:
        rows = entry.rows.values() if isinstance(entry, SeamTable) else [entry]
        for seam in rows:
            module = importlib.import_module(seam.make_wrapper.__module__)
            assert module.__name__.startswith(patches.__name__)
            assert module.SEAM is entry
            assert seam.target in (module.__doc__ or ""), (
                f"{module.__name__} docstring should name {seam.target}"
            )
