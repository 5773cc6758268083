"""Every seam's upstream target exists in the installed lerobot; a moved one fails by name."""

from __future__ import annotations

import importlib
import os
import re
import textwrap
import types

import pytest
from helpers import TINY_DIFFUSION, dataset_flags, run_cli, training_run

from lerobot_ext.dispatch import plugins_from
from lerobot_ext.errors import UpstreamChangedError
from lerobot_ext.seams import (
    EVAL_SEAMS,
    METHOD_SEAMS,
    SEAMS,
    SeamTable,
    accelerator,
    applied_seams,
    eval_make_policy,
    update_policy,
)
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
    from lerobot_ext.seams import resume_step

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
    import lerobot_ext.seams.seam as seam_module

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
    run = training_run(plugins_from({}))
    with pytest.raises(KeyError), applied_seams(run):
        assert all(getattr(module, name) is not fn for name, fn in originals.items())
        raise KeyError("boom")
    assert {name: getattr(module, name) for name in names} == originals


def test_every_seam_module_says_what_it_wraps():
    import lerobot_ext.seams as seams

    for entry in [*SEAMS, eval_make_policy.SEAM]:
        rows = entry.rows.values() if isinstance(entry, SeamTable) else [entry]
        for seam in rows:
            module = importlib.import_module(seam.make_wrapper.__module__)
            assert module.__name__.startswith(seams.__name__)
            assert module.SEAM is entry
            assert seam.target in (module.__doc__ or ""), (
                f"{module.__name__} docstring should name {seam.target}"
            )


def _seam_modules() -> dict[types.ModuleType, set[str]]:
    """Each seam module -> the tested lerobot versions its seams declare."""
    modules: dict[types.ModuleType, set[str]] = {}
    for entry in [*SEAMS, *EVAL_SEAMS, eval_make_policy.INNER]:
        rows = entry.rows.values() if isinstance(entry, SeamTable) else [entry]
        for seam in rows:
            module = importlib.import_module(seam.make_wrapper.__module__)
            modules.setdefault(module, set()).update(seam.versions)
    # The method seams exist on every tested version (they are accelerate's and torch's).
    for module in (accelerator, update_policy):
        modules.setdefault(module, set()).update(TESTED)
    return modules


def test_every_seam_module_states_the_lerobot_versions_it_supports():
    modules = _seam_modules()
    assert len(modules) >= 10
    for module, versions in modules.items():
        found = re.search(r"Supported lerobot versions: ([^\n]+)", module.__doc__ or "")
        assert found, f"{module.__name__}: the docstring needs a line 'Supported lerobot versions: ...'"
        assert set(re.findall(r"\d+\.\d+\.\d+", found.group(1))) == versions, module.__name__


def test_a_moved_method_says_what_lerobot_requires_of_its_package(monkeypatch):
    import accelerate

    monkeypatch.delattr(accelerate.Accelerator, "end_training")
    with pytest.raises(UpstreamChangedError) as excinfo:
        accelerator.END_TRAINING.resolve_class()
    message = str(excinfo.value)
    assert "has no accelerate.Accelerator.end_training" in message
    # lerobot declares a range of accelerate (it does not pin it); the message quotes it.
    assert re.search(r"lerobot \S+ requires accelerate<2[.0]*,>=1\.14", message), message
    assert "lerobot-ext doctor" in message


# Deletes one seam's target from upstream's training script as it is imported, as an upstream
# release that renamed it would.
REMOVE_SEAM = """
import importlib.abc, importlib.util, sys

class _Remove(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "lerobot.scripts.lerobot_train":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            del module.make_train_eval_datasets

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Remove())
"""


@pytest.mark.slow
def test_a_run_whose_seam_is_gone_stops_with_one_line_naming_the_version_and_doctor(bimodal_root, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(REMOVE_SEAM))
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "run"
    args = [*dataset_flags(bimodal_root), *TINY_DIFFUSION, "--steps=2", f"--output_dir={out}"]
    result = run_cli(["lerobot-train-ext", *args], env=env, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1, output[-3000:]
    (error,) = errors
    version = installed_version("lerobot")
    assert f"lerobot {version} has no lerobot.scripts.lerobot_train.make_train_eval_datasets" in error
    assert f"{version} is a tested version, so this lerobot install differs from the release" in error
    assert "`lerobot-ext doctor`" in error
    assert not out.exists()  # stopped before anything was written


# --------------------------------------------------------------------------- upstream's call order


def test_a_second_training_iterator_in_one_run_is_an_upstream_change():
    from lerobot_ext.errors import UpstreamChangedError

    run = training_run(plugins_from({}))
    run.train_started()
    with pytest.raises(UpstreamChangedError, match=r"called cycle\(\) a second time in one run"):
        run.train_started()


def test_on_checkpoint_saved_fires_only_for_a_complete_checkpoint_folder(tmp_path):
    from lerobot_ext import hookimpl
    from lerobot_ext.errors import UpstreamChangedError

    saved = []

    @hookimpl
    def on_checkpoint_saved(step, checkpoint_dir):
        saved.append((step, checkpoint_dir.name))

    cfg = types.SimpleNamespace(output_dir=str(tmp_path), steps=10, save_checkpoint=True)
    run = training_run(
        plugins_from({"lab": types.SimpleNamespace(on_checkpoint_saved=on_checkpoint_saved)}), cfg
    )
    run.pending_checkpoint = 5
    with pytest.raises(UpstreamChangedError, match=r"000005 does not exist"):
        run.checkpoint_barrier_passed()
    for part in ("pretrained_model", "training_state"):
        (tmp_path / "checkpoints" / "000005" / part).mkdir(parents=True)
    run.pending_checkpoint = 5
    run.checkpoint_barrier_passed()
    assert saved == [(5, "000005")]


def test_init_logging_finds_the_accelerator_passed_by_position_too():
    from lerobot_ext.seams import init_logging

    def upstream_init_logging(
        log_file=None, display_pid=False, console_level="INFO", file_level="DEBUG", accelerator=None
    ):
        return None

    accelerator = types.SimpleNamespace(
        process_index=3,
        num_processes=4,
        device=types.SimpleNamespace(type="cpu"),
        end_training=lambda: None,
        wait_for_everyone=lambda: None,
        backward=lambda loss: None,
    )
    for call in (
        lambda f: f(None, False, "INFO", "DEBUG", accelerator),
        lambda f: f(accelerator=accelerator),
    ):
        run = training_run(plugins_from({}))
        call(init_logging.make_wrapper(upstream_init_logging, run))
        assert (run.rank, run.world_size) == (3, 4)
