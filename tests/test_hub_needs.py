"""What a run reads from the Hugging Face Hub, checked before anything is built (``long_runs``'
``hub_needs``): each refusal is one line, exit 2, before a dataset or a model exists, with nothing
written; and ``lerobot-ext doctor``'s line per installed VLA policy type. No model is built here."""

from __future__ import annotations

import io
import json
import types
from importlib.metadata import metadata
from pathlib import Path

import pytest
from helpers import context_of, train_in_process

from lerobot_ext import ConfigError, LoadOverrides, hookimpl
from lerobot_ext.cli import doctor
from lerobot_ext.dispatch import load_plugins, plugins_from
from lerobot_ext.host import PluginHost
from lerobot_ext.long_runs import first_hour, hub_cache, hub_needs, policy_extras, policy_reads
from lerobot_ext.long_runs import plugin as long_runs

PALIGEMMA_TOKENIZER = "google/paligemma-3b-pt-224"
SMOLVLM = "HuggingFaceTB/SmolVLM2-500M-Video-Instruct"


@pytest.fixture
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face home and cache, offline: huggingface_hub reads its constants once,
    at import, so they are set too."""
    from huggingface_hub import constants

    home = tmp_path / "hf_home"
    cache = home / "hub"
    cache.mkdir(parents=True)
    for name, value in (("HF_HOME", home), ("HF_HUB_CACHE", cache)):
        monkeypatch.setenv(name, str(value))
        monkeypatch.setattr(constants, name, str(value))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def put_in_cache(home: Path, repo: str, *files: str) -> None:
    """``repo`` in the cache as ``hf download`` leaves it (refs/main -> a snapshot holding ``files``)."""
    folder = home / "hub" / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")


@pytest.fixture
def nothing_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Upstream's dataset and policy factories, recording any call: a refused run makes none."""
    from lerobot.scripts import lerobot_train

    calls: list[str] = []
    for name in ("make_train_eval_datasets", "make_policy"):
        real = getattr(lerobot_train, name)

        def record(*args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(lerobot_train, name, record)
    return calls


def refused(args: list[str], out: Path, capsys: pytest.CaptureFixture[str], calls: list[str]) -> str:
    """Run lerobot-train-ext with ``args``: exit 2, one error line, nothing built or written."""
    assert train_in_process([*args, "--dataset.repo_id=lab/never_read", f"--output_dir={out}"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "HF_HUB_OFFLINE is" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert calls == [] and not out.exists()
    return lines[0]


def check(policy_cfg=None, flags=None, resumed_from=None, run=None) -> None:
    hub_needs.check_run_needs(policy_cfg, flags or {}, resumed_from, run)


def policy(policy_type: str, **fields):
    import lerobot.policies  # noqa: F401 - registers the policy types
    from lerobot.configs.policies import PreTrainedConfig

    return PreTrainedConfig.get_known_choices()[policy_type](device="cpu", **fields)


# --------------------------------------------------------------------------- refused runs


def test_pi0_offline_without_the_paligemma_tokenizer_is_one_line_before_anything_is_built(
    hf_home, tmp_path, capsys, nothing_built
):
    line = refused(["--policy.type=pi0", "--policy.device=cpu", "--policy.push_to_hub=false"],
                   tmp_path / "run", capsys, nothing_built)  # fmt: skip
    # The tokenizer upstream's pi0 processor hard-codes, read from its source.
    assert policy_reads.processor_reads("pi0") == (("tokenizer_name", None, PALIGEMMA_TOKENIZER),)
    assert "HF_HUB_OFFLINE is set and this run cannot get what it reads from the Hugging Face Hub" in line
    assert (
        f"{PALIGEMMA_TOKENIZER} (the tokenizer pi0's preprocessor loads, fixed by lerobot; gated: request access "
        f"on https://huggingface.co/{PALIGEMMA_TOKENIZER}): neither a folder here nor in the cache"
    ) in line
    assert f"Looked in the local Hugging Face cache ({hf_home / 'hub'}, under HF_HOME={hf_home})" in line
    assert "`hf download <repo>`" in line and "gated repo needs access requested" in line


def test_a_hub_policy_path_offline_and_not_cached_is_one_line(hf_home, tmp_path, capsys, nothing_built):
    line = refused(["--policy.path=lab/never_downloaded_policy"], tmp_path / "run", capsys, nothing_built)
    assert (
        "--policy.path=lab/never_downloaded_policy (the checkpoint the policy is loaded from): neither a folder "
        "here nor in the cache"
    ) in line
    assert str(hf_home / "hub") in line
    # Its config alone in the cache (as `hf download lab/x config.json` leaves it) is not enough.
    put_in_cache(hf_home, "lab/never_downloaded_policy", "config.json")
    with pytest.raises(
        ConfigError,
        match=r"\(the checkpoint's saved preprocessor, policy_preprocessor.json\): neither a folder here nor in the cache",
    ):
        check(flags={"policy.path": "lab/never_downloaded_policy"})


def test_a_pretrained_path_and_the_vlm_it_needs_are_named_in_one_line(
    hf_home, tmp_path, capsys, nothing_built
):
    args = ["--policy.type=smolvla", "--policy.device=cpu", "--policy.push_to_hub=false",
            "--policy.pretrained_path=lab/smolvla_finetuned"]  # fmt: skip
    line = refused(args, tmp_path / "run", capsys, nothing_built)
    assert "--policy.pretrained_path=lab/smolvla_finetuned (the checkpoint the policy is loaded from)" in line
    assert f"--policy.vlm_model_name={SMOLVLM} (the VLM whose config, processor and tokenizer" in line


def test_a_vlm_folder_that_does_not_exist_is_refused_online_too(
    hf_home, tmp_path, monkeypatch, capsys, nothing_built
):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    missing = tmp_path / "no" / "vlm"
    args = ["--policy.type=smolvla", "--policy.device=cpu", "--policy.push_to_hub=false",
            f"--policy.vlm_model_name={missing}"]  # fmt: skip
    line = refused(args, tmp_path / "run", capsys, nothing_built)
    assert "lerobot-ext: HF_HUB_OFFLINE is not set and this run cannot get" in line
    assert f"--policy.vlm_model_name={missing} (the VLM whose config" in line and "): no such folder" in line
    assert line.endswith("): no such folder. Give the flag an existing folder or a Hub repo id")


# --------------------------------------------------------------------------- what counts as available


def test_smolvlas_vlm_is_available_as_a_folder_or_cached_with_its_tokenizer(hf_home, tmp_path):
    with pytest.raises(ConfigError, match=rf"--policy.vlm_model_name={SMOLVLM} \(the VLM"):
        check(policy("smolvla"))
    vlm = tmp_path / "vlm"
    vlm.mkdir()
    check(policy("smolvla", vlm_model_name=str(vlm)))
    # The model's config alone (a snapshot of its weights) is not its tokenizer.
    put_in_cache(hf_home, SMOLVLM, "config.json")
    with pytest.raises(ConfigError) as excinfo:
        check(policy("smolvla"))
    assert "the tokenizer smolvla's preprocessor loads" in str(excinfo.value)
    assert "the VLM whose config" not in str(excinfo.value)
    (next((hf_home / "hub").glob("models--*/snapshots/*")) / "tokenizer_config.json").write_text("{}")
    check(policy("smolvla"))


def test_pi0_with_the_tokenizer_cached_passes_and_every_vla_default_is_named(hf_home):
    put_in_cache(hf_home, PALIGEMMA_TOKENIZER, "tokenizer_config.json", "tokenizer.model")
    check(policy("pi0"))
    check(policy("pi05"))
    with pytest.raises(ConfigError) as excinfo:  # its Hub needs alone (an extra may be missing here)
        hub_needs.check_hub_needs(hub_needs.run_needs(policy("pi0_fast"), {}).needs)
    message = str(excinfo.value)
    assert "--policy.action_tokenizer_name=lerobot/fast-action-tokenizer" in message
    assert PALIGEMMA_TOKENIZER not in message  # its text tokenizer is cached
    with pytest.raises(
        ConfigError, match=r"--policy.tokenizer_name=facebook/bart-large \(the tokenizer xvla's"
    ):
        check(policy("xvla"))


def make_checkpoint(folder: Path, config: dict, steps: list[dict]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "policy_preprocessor.json").write_text(
        json.dumps({"name": "policy_preprocessor", "steps": steps})
    )
    return folder


def tokenizer_step(name: str) -> dict:
    return {"registry_name": "tokenizer_processor", "config": {"tokenizer_name": name, "max_length": 48}}


def test_a_self_contained_checkpoint_names_its_copies_relative_to_itself_and_passes(
    hf_home, tmp_path, monkeypatch
):
    checkpoint = make_checkpoint(
        tmp_path / "run" / "checkpoints" / "000010" / "pretrained_model",
        {"type": "smolvla", "vlm_model_name": "vlm"},
        [
            {"registry_name": "rename_observations_processor", "config": {"rename_map": {}}},
            tokenizer_step("vlm"),
        ],
    )
    monkeypatch.chdir(tmp_path)  # "vlm" is not a folder here: only in the checkpoint
    with pytest.raises(ConfigError) as excinfo:
        check(flags={"policy.path": str(checkpoint)})
    message = str(excinfo.value)
    assert "--policy.vlm_model_name=vlm (the VLM" in message
    assert "the tokenizer the tokenizer_processor step of policy_preprocessor.json loads)" in message
    (checkpoint / "vlm").mkdir()
    check(flags={"policy.path": str(checkpoint)})
    # A --policy.pretrained_path folder, or the checkpoint a --resume continues from, the same.
    check(policy("smolvla", vlm_model_name="vlm", pretrained_path=checkpoint))
    check(policy("smolvla", vlm_model_name="vlm"), resumed_from=checkpoint)


def test_a_checkpoints_own_tokenizer_replaces_upstreams_default(hf_home, tmp_path):
    # pi0's preprocessor saved with its tokenizer copied into the checkpoint: PaliGemma's, which is
    # not cached, is not needed.
    checkpoint = make_checkpoint(
        tmp_path / "pretrained_model", {"type": "pi0"}, [tokenizer_step("tokenizer")]
    )
    (checkpoint / "tokenizer").mkdir()
    check(flags={"policy.path": str(checkpoint)})
    # Built afresh, the same policy needs upstream's.
    with pytest.raises(ConfigError, match=PALIGEMMA_TOKENIZER):
        check(policy("pi0"))


def test_checkpoint_loading_answers_are_where_a_saved_name_is_found(hf_home, tmp_path):
    # A resumed run's saved config still names the VLM's Hub id; a plugin knows the checkpoint's copy.
    checkpoint = make_checkpoint(
        tmp_path / "pretrained_model", {"type": "smolvla"}, [tokenizer_step(SMOLVLM)]
    )
    copy = checkpoint / "vlm"
    copy.mkdir()
    asked = []

    class Copies:
        @hookimpl
        def checkpoint_loading(self, policy_cfg, pretrained_path):
            asked.append((policy_cfg.vlm_model_name, pretrained_path))
            return LoadOverrides(
                policy={"vlm_model_name": str(copy)},
                preprocessor={"tokenizer_processor": {"tokenizer_name": str(copy)}},
            )

    with pytest.raises(ConfigError, match=SMOLVLM):
        check(policy("smolvla"), resumed_from=checkpoint)
    run = context_of(plugins_from({"copies": Copies()}))
    check(policy("smolvla"), resumed_from=checkpoint, run=run)
    assert asked == [(SMOLVLM, checkpoint)]
    # Asked only for a name not found as saved: the run asks once more as it loads the folder.
    (checkpoint / "policy_preprocessor.json").write_text(json.dumps({"steps": [tokenizer_step("vlm")]}))
    check(policy("smolvla", vlm_model_name=str(copy)), resumed_from=checkpoint, run=run)
    check(policy("smolvla", vlm_model_name="vlm", pretrained_path=checkpoint), run=run)
    assert len(asked) == 1


def test_online_only_a_gated_repo_without_a_token_is_refused(hf_home, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    check(policy("smolvla"))  # not cached: huggingface_hub downloads it when the run reads it
    with pytest.raises(ConfigError) as excinfo:
        check(policy("pi0"))
    message = str(excinfo.value)
    assert message.startswith("HF_HUB_OFFLINE is not set and this run cannot get")
    assert "not in the cache, gated, and no Hugging Face token is set" in message
    assert "request access on the repo's Hub page, then log in (`hf auth login`, or set HF_TOKEN)" in message
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_token")
    check(policy("pi0"))


def test_resume_reads_the_checkpoint_its_config_path_names(tmp_path):
    saved = tmp_path / "pretrained_model" / "train_config.json"
    saved.parent.mkdir()
    saved.write_text("{}")
    resuming = types.SimpleNamespace(resume=True)
    assert first_hour.resumed_checkpoint(resuming, [f"--config_path={saved}"]) == saved.parent
    assert first_hour.resumed_checkpoint(resuming, [f"--config_path={saved.parent}"]) == saved.parent
    assert first_hour.resumed_checkpoint(resuming, ["--config_path=lab/run_on_the_hub"]) is None
    assert (
        first_hour.resumed_checkpoint(types.SimpleNamespace(resume=False), [f"--config_path={saved}"]) is None
    )


# --------------------------------------------------------------------------- extras


def test_a_missing_distribution_is_found_by_its_import_name(monkeypatch):
    real = policy_extras.importlib.util.find_spec
    monkeypatch.setattr(
        policy_extras.importlib.util, "find_spec", lambda name: None if name == "tree" else real(name)
    )
    assert "dm-tree" in policy_extras.missing_extras("groot")
    with pytest.raises(
        ConfigError, match=r"--policy.type=groot needs .*dm-tree.*: pip install -e \"\.\[vla\]\""
    ):
        policy_extras.check_policy_extras("groot")


# --------------------------------------------------------------------------- lerobot-ext doctor


def test_doctor_has_a_line_per_installed_vla_policy_type(hf_home):
    put_in_cache(hf_home, PALIGEMMA_TOKENIZER, "tokenizer_config.json")
    section = long_runs.doctor_report()
    assert "HF_HUB_OFFLINE is set" in section["title"] and str(hf_home / "hub") in section["title"]
    installed = policy_extras.installed_vla_types()
    assert {"smolvla", "pi0", "pi05"} <= set(installed)
    assert [line.split()[0] for line in section["lines"]] == installed
    line = dict(zip(installed, section["lines"], strict=True))
    assert line["pi0"].startswith("pi0       lerobot[pi]: ")
    assert line["pi0"].endswith(f"reads from the Hub: {PALIGEMMA_TOKENIZER} cached (gated)")
    assert line["smolvla"].endswith(f"reads from the Hub: {SMOLVLM} NOT CACHED")
    smolvla = next(p for p in section["data"]["policies"] if p["type"] == "smolvla")
    assert smolvla["hub"][0]["repo"] == SMOLVLM and smolvla["hub"][0]["cached"] is False
    # As doctor prints it.
    diagnosis = doctor.diagnose(PluginHost())
    diagnosis.sections = [("long_runs", section)]
    out = io.StringIO()
    doctor.print_diagnosis(diagnosis, out)
    printed = out.getvalue().splitlines()
    at = printed.index(f"{section['title']}  [plugin long_runs]")
    assert printed[at + 1 : at + 1 + len(installed)] == [f"  {text}" for text in section["lines"]]


def test_lerobot_ext_doctor_reports_the_vla_policies(hf_home, capsys):
    host = load_plugins(environ={})
    assert "long_runs" in [impl.plugin_name for impl in host.hooks.implementations("doctor_report")]
    installed = policy_extras.installed_vla_types()
    doctor.main(host=host)
    printed = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(printed) if line.startswith("VLA policies: "))
    assert printed[at].endswith("[plugin long_runs]")
    assert [line.split()[0] for line in printed[at + 1 : at + 1 + len(installed)]] == installed
    doctor.main(as_json=True, host=host)
    report = json.loads(capsys.readouterr().out)
    section = next(s for s in report["sections"] if s["plugin"] == "long_runs")
    assert [p["type"] for p in section["data"]["policies"]] == installed


# --------------------------------------------------------------------------- upstream's facts


def test_what_the_vla_policies_read_is_still_found_in_upstream():
    # An upstream change that moves a tokenizer out of reach of processor_reads fails here.
    reads = {
        policy_type: policy_reads.processor_reads(policy_type)
        for policy_type in policy_extras.installed_vla_types()
    }
    assert all(reads.values()), reads
    # pi0/pi05's fixed tokenizer is gated: if upstream picks another, GATED_PREFIXES needs a look.
    for policy_type in ("pi0", "pi05"):
        fixed = [name for _, field, name in reads[policy_type] if field is None]
        assert fixed and all(hub_cache.is_gated(name) for name in fixed), reads[policy_type]
    extras = set(metadata("lerobot").get_all("Provides-Extra"))
    assert {extra for extra, _ in policy_extras.POLICY_EXTRAS.values()} <= extras
