"""Every seam's upstream target exists in the installed lerobot; a moved one fails by name."""

from __future__ import annotations

import importlib
import types

import pytest

from lerobot_ext.errors import UpstreamChangedError
from lerobot_ext.patches import EVAL_SEAMS, METHOD_SEAMS, SEAMS, applied_seams, eval_make_policy
from lerobot_ext.plugins import PluginHost
from lerobot_ext.training import TrainingRun


@pytest.mark.parametrize("seam", [*SEAMS, *EVAL_SEAMS, eval_make_policy.INNER], ids=lambda s: s.target)
def test_seam_target_exists_in_installed_lerobot(seam):
    module, original = seam.resolve()
    assert callable(original)
    assert module is importlib.import_module(seam.module)
    assert seam.checked_against, "each seam states the upstream versions it was checked against"


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
    assert "0.6.1" in message and "pip install" in message


def test_seams_are_removed_after_the_run_even_on_error():
    module = importlib.import_module("lerobot.scripts.lerobot_train")
    originals = {seam.name: getattr(module, seam.name) for seam in SEAMS}
    run = TrainingRun(types.SimpleNamespace(), PluginHost())
    with pytest.raises(KeyError), applied_seams(run):
        assert all(getattr(module, name) is not fn for name, fn in originals.items())
        raise KeyError("boom")
    assert {seam.name: getattr(module, seam.name) for seam in SEAMS} == originals


def test_every_seam_module_says_what_it_wraps():
    import lerobot_ext.patches as patches

    modules = {seam: f"{patches.__name__}.{seam.name}" for seam in SEAMS}
    modules[eval_make_policy.SEAM] = eval_make_policy.__name__  # lerobot_eval's make_policy
    for seam, module_name in modules.items():
        module = importlib.import_module(module_name)
        assert module.SEAM is seam
        assert seam.target in (module.__doc__ or ""), f"{module.__name__} docstring should name {seam.target}"


def test_the_torch_store_api_the_profiler_uses_exists():
    # --profile under torchrun exchanges timings through the default process group's store.
    from torch.distributed import Store, distributed_c10d

    assert callable(distributed_c10d._get_default_store)
    assert all(callable(getattr(Store, name)) for name in ("set", "get", "delete_key"))
