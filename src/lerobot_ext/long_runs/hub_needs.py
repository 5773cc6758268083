"""What a run will read from the Hugging Face Hub, checked before anything is built.

A VLA reads more than its weights when it is built: SmolVLA its VLM's config, processor and
tokenizer (``vlm_model_name``), pi0/pi05 the PaliGemma tokenizer upstream's processor names,
pi0_fast a text and an action tokenizer, X-VLA a BART tokenizer, GR00T its base model and its
backbone's processor; ``--policy.path``/``--policy.pretrained_path`` name a checkpoint. Offline, a
missing one used to surface as chained tracebacks after the dataset loaded and the model was built
(pi0: ~45 s and 9.4 GB first). Here they are one line, before the dataset or the model is touched,
naming every missing thing at once; and ``lerobot-ext doctor``'s section per VLA policy type.

What a policy reads is :mod:`~lerobot_ext.long_runs.policy_reads` (from upstream); whether it is
here, :mod:`~lerobot_ext.long_runs.hub_cache`; what it imports,
:mod:`~lerobot_ext.long_runs.policy_extras`. This module puts a run's needs together - the
checkpoint it loads (``--policy.path``, ``pretrained_path``, a resumed run's) and the plugins'
``checkpoint_loading`` answers for it - and words what is missing.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, LoadOverrides, RunContext
from lerobot_ext.long_runs.hub_cache import (
    MODEL_FILES,
    HubNeed,
    cached,
    hf_home,
    hub_cache,
    is_gated,
    is_repo_id,
    offline,
    where_looked,
)
from lerobot_ext.long_runs.policy_extras import (
    INSTALL,
    POLICY_EXTRAS,
    check_policy_extras,
    installed_vla_types,
    missing_extras,
)
from lerobot_ext.long_runs.policy_reads import (
    config_values,
    default_needs,
    factory_needs,
    model_needs,
    preprocessor_file,
    saved_processor_needs,
)

# --------------------------------------------------------------------------- a run's needs


def _policy_flags(flags: Mapping[str, str]) -> dict[str, str]:
    """``--policy.<field>=...`` of the command line (one level: the fields that name repos)."""
    return {
        name.removeprefix("policy."): value
        for name, value in flags.items()
        if name.startswith("policy.") and name.count(".") == 1 and name not in ("policy.path", "policy.type")
    }


def saved_config(folder: Path, flags: Mapping[str, str]) -> tuple[str | None, dict[str, Any]]:
    """The policy type and field values of checkpoint ``folder``'s ``config.json`` with the
    command line's ``--policy.<field>`` on top, as upstream will parse them (read here, since
    upstream resolves ``--policy.path`` only after the ``configure`` hooks)."""
    file = folder / "config.json"
    saved = json.loads(file.read_text()) if file.is_file() else {}
    policy_type = flags.get("policy.type") or saved.get("type")
    return policy_type, {**saved, **_policy_flags(flags)}


def checkpoint_folder(name: str) -> Path | None:
    """The local folder of checkpoint ``name``: the folder, or its snapshot in the cache."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    found = cached(name, MODEL_FILES)
    return Path(found).parent if found else None


def loading_overrides(run: RunContext, policy: Any, folder: Path) -> LoadOverrides:
    """The plugins' ``checkpoint_loading`` answers for ``folder`` (e.g. a self-contained
    checkpoint's copies, found through its manifest when the saved names are the originals, as a
    resumed run's are): the run applies the same before it builds from the folder."""
    policy_fields: dict[str, Any] = {}
    steps: dict[str, dict[str, Any]] = {}
    for _, answer in run.hooks.collect(
        "checkpoint_loading", policy_cfg=policy, pretrained_path=folder, run=run
    ):
        policy_fields.update(answer.policy)
        for step, arguments in answer.preprocessor.items():
            steps.setdefault(step, {}).update(arguments)
    return LoadOverrides(policy=policy_fields, preprocessor=steps)


@dataclass
class RunNeeds:
    """What a run reads from the Hub, worked out from its config and command line."""

    policy_type: str | None
    needs: list[HubNeed]
    #: The local checkpoint folder the run builds from, and the policy config it builds with.
    folder: Path | None = None
    policy: Any = None


def run_needs(
    policy_cfg: Any | None,
    flags: Mapping[str, str],
    resumed_from: Path | None = None,
    overrides: LoadOverrides | None = None,
) -> RunNeeds:
    """The policy type and Hub needs of a run with ``policy_cfg`` (``None`` before upstream
    resolves ``--policy.path``) and command line ``flags``; ``resumed_from``: the checkpoint
    folder a ``--resume`` continues from; ``overrides``: the plugins' ``checkpoint_loading``
    answers for that folder."""
    source: HubNeed | None = None
    # Upstream's order: --policy.path first, then the checkpoint a --resume continues from.
    if resumed_from is not None and not flags.get("policy.path"):
        folder: Path | None = resumed_from  # upstream points pretrained_path here on --resume
    else:
        path = flags.get("policy.path")
        pretrained = getattr(policy_cfg, "pretrained_path", None) if policy_cfg is not None else None
        if path:
            source = HubNeed(path, "the checkpoint the policy is loaded from", "--policy.path")
        elif pretrained:
            source = HubNeed(
                str(pretrained), "the checkpoint the policy is loaded from", "--policy.pretrained_path"
            )
        folder = checkpoint_folder(source.name) if source is not None else None
    needs = [source] if source is not None else []
    if source is not None and folder is not None and not Path(source.name).expanduser().is_dir():
        # A cached checkpoint: upstream reads its saved preprocessor too, which need not be cached
        # with its config.
        what = f"the checkpoint's saved preprocessor, {preprocessor_file()}"
        needs.append(dataclasses.replace(source, what=what, files=(preprocessor_file(),)))
    if policy_cfg is not None:
        policy_type, values = getattr(policy_cfg, "type", None), config_values(policy_cfg)
        policy = policy_cfg
    elif folder is not None:
        policy_type, values = saved_config(folder, flags)
        policy = types.SimpleNamespace(**{**values, "type": policy_type})
    else:
        return RunNeeds(None, needs)  # a checkpoint that is not here: its needs are unknown
    values.update(overrides.policy if overrides is not None else {})
    needs += model_needs(values, folder)
    saved = saved_processor_needs(folder, overrides) if folder is not None else None
    if saved is not None:
        needs += saved
    elif policy_type and (folder is not None or source is None):
        needs += factory_needs(policy_type, values)
    # else: a checkpoint on the Hub that is not cached - upstream reads its processors from there
    return RunNeeds(policy_type, needs, folder, policy)


# --------------------------------------------------------------------------- what is missing


def problem(need: HubNeed, is_offline: bool, token: str | None) -> str | None:
    """Why the run cannot get ``need``, or ``None``.

    Online and not cached, a repo is left to huggingface_hub to download when the run reads it:
    asking the Hub here would be a network call that can hang before the run starts. The one
    exception needs no network: a gated repo cannot be downloaded without a token.
    """
    if need.found() is not None:
        return None
    if not is_repo_id(need.name):
        return "no such folder" + (f" here or in {need.within}" if need.within is not None else "")
    if is_offline:
        return "neither a folder here nor in the cache"
    if is_gated(need.name) and token is None:
        return "not in the cache, gated, and no Hugging Face token is set"
    return None


def _item(need: HubNeed, whats: list[str], reason: str) -> str:
    gated = f"; gated: request access on https://huggingface.co/{need.name}" if is_gated(need.name) else ""
    return f"{need.label} ({'; '.join(dict.fromkeys(whats))}{gated}): {reason}"


def missing_message(missing: list[tuple[HubNeed, str]], is_offline: bool) -> str:
    """One line naming every missing thing, where it was looked for and what to do."""
    by_name: dict[str, tuple[HubNeed, list[str], str]] = {}
    for need, reason in missing:
        by_name.setdefault(need.name, (need, [], reason))[1].append(need.what)
    items = "; ".join(_item(need, whats, reason) for need, whats, reason in by_name.values())
    reasons = {reason for _, _, reason in by_name.values()}
    todo = []
    not_cached = [need for need, _, reason in by_name.values() if reason.startswith("neither")]
    if not_cached:
        # A name lerobot fixes (pi0's tokenizer) has no flag: the cache is the one way to give it.
        folder = ", or give the flag a local folder" if any(need.flag for need in not_cached) else ""
        todo.append(
            "download each first with HF_HUB_OFFLINE unset (`hf download <repo>`; a gated repo needs access "
            f"requested on its Hub page and `hf auth login` first){folder}"
        )
    if any("gated" in reason for reason in reasons):
        todo.append(
            "request access on the repo's Hub page, then log in (`hf auth login`, or set HF_TOKEN) - "
            "a gated repo needs access requested before it downloads"
        )
    if any(reason.startswith("no such folder") for reason in reasons):
        todo.append("give the flag an existing folder or a Hub repo id")
    state = "HF_HUB_OFFLINE is set" if is_offline else "HF_HUB_OFFLINE is not set"
    advice = "; ".join(todo)
    # A name that is no repo id was looked for as a folder only; the others in the cache too.
    if any(not reason.startswith("no such folder") for reason in reasons):
        advice = f"Looked in {where_looked()}: {advice}"
    else:
        advice = advice[0].upper() + advice[1:]
    return (
        f"{state} and this run cannot get what it reads from the Hugging Face Hub before the policy is "
        f"built: {items}. {advice}"
    )


def missing(needs: Iterable[HubNeed]) -> list[tuple[HubNeed, str]]:
    """Each of ``needs`` the run cannot get, with why."""
    is_offline = offline()
    token = None
    if not is_offline:
        from huggingface_hub import get_token  # the environment or the token file: no network

        token = get_token()
    return [(need, reason) for need in needs if (reason := problem(need, is_offline, token)) is not None]


def check_hub_needs(needs: Iterable[HubNeed]) -> None:
    """Refuse the run, in one line, when it cannot get one of ``needs``."""
    found = missing(needs)
    if found:
        raise ConfigError(missing_message(found, offline()))


def check_run_needs(
    policy_cfg: Any | None,
    flags: Mapping[str, str],
    resumed_from: Path | None = None,
    run: RunContext | None = None,
) -> None:
    """What a run imports and reads from the Hub, before the dataset or the model is built."""
    found = run_needs(policy_cfg, flags, resumed_from)
    check_policy_extras(found.policy_type)
    if run is not None and found.folder is not None and missing(found.needs):
        # Only for a name not found as saved: the plugins' checkpoint_loading may know where it is.
        # (The run asks them again when it loads the folder; asking here only then leaves a run
        # whose checkpoint names only what is here with the one answer per load it had.)
        overrides = loading_overrides(run, found.policy, found.folder)
        found = run_needs(policy_cfg, flags, resumed_from, overrides)
    check_hub_needs(found.needs)


# --------------------------------------------------------------------------- lerobot-ext doctor


def doctor_lines() -> tuple[list[str], list[dict[str, Any]]]:
    """One line per installed VLA policy type - its extras, and each Hub repo it reads by
    default, cached or not - and the same as data, for ``lerobot-ext doctor``."""
    lines, data = [], []
    for policy_type in installed_vla_types():
        extra = POLICY_EXTRAS[policy_type][0]
        problems = missing_extras(policy_type)
        extras = "extras ok" if not problems else f"MISSING {', '.join(problems)} ({INSTALL})"
        repos: dict[str, dict[str, Any]] = {}
        for need in default_needs(policy_type):
            entry = repos.setdefault(
                need.name, {"repo": need.name, "flag": need.flag, "reads": [], "cached": True, "gated": False}
            )
            entry["reads"].append(need.what)
            entry["cached"] = entry["cached"] and need.found() is not None
            entry["gated"] = is_gated(need.name)
        hub = ", ".join(
            f"{repo} {'cached' if entry['cached'] else 'NOT CACHED'}" + (" (gated)" if entry["gated"] else "")
            for repo, entry in repos.items()
        )
        lines.append(f"{policy_type:<9} lerobot[{extra}]: {extras}; reads from the Hub: {hub or 'nothing'}")
        data.append(
            {"type": policy_type, "extra": extra, "missing_extras": problems, "hub": list(repos.values())}
        )
    return lines, data


def doctor_section() -> dict[str, Any]:
    """The ``doctor_report`` answer: a title, its lines, and the data for ``--json``."""
    lines, data = doctor_lines()
    state = (
        "set: nothing is downloaded" if offline() else "not set: what is not cached downloads on first use"
    )
    title = (
        f"VLA policies: extras, and what each reads from the Hub by default, looked for in {where_looked()}; "
        f"HF_HUB_OFFLINE is {state}"
    )
    return {
        "title": title,
        "lines": lines,
        "data": {"hub_cache": hub_cache(), "hf_home": hf_home(), "offline": offline(), "policies": data},
    }
