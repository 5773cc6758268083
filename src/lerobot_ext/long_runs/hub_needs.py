"""What a run will read from the Hugging Face Hub, or import, checked before anything is built.

A VLA reads more than its weights when it is built: SmolVLA its VLM's config, processor and
tokenizer (``vlm_model_name``), pi0/pi05 the PaliGemma tokenizer upstream's processor names,
pi0_fast a text and an action tokenizer, X-VLA a BART tokenizer, GR00T its base model and its
backbone's processor; ``--policy.path``/``--policy.pretrained_path`` name a checkpoint. Offline, a
missing one used to surface as chained tracebacks after the dataset loaded and the model was built
(pi0: ~45 s and 9.4 GB first); a missing policy extra as an ImportError deep in transformers. Here
they are one line, before the dataset or the model is touched, naming every missing thing at once.

What is read comes from upstream wherever upstream says it: the config fields in
:data:`MODEL_FIELDS` for the model; for the processors, the step arguments upstream's own
``make_<type>_pre_post_processors`` passes (read from its source, so a tokenizer upstream hard-codes
is found without a copy of its name here) or, for a run that loads a checkpoint, the steps of the
checkpoint's ``policy_preprocessor.json``.

A name is available when it is a folder (as given, or relative to the checkpoint folder being
loaded - a self-contained checkpoint names its copies so - or where a plugin's
``checkpoint_loading`` answer points), or when the local Hugging Face cache holds its files.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import os
import textwrap
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, LoadOverrides, RunContext, is_true

INSTALL = 'pip install -e ".[vla]"'

# Config fields naming a Hub repo (or a folder) the *model* reads when it is built. The
# processors' reads are not listed: they are found in upstream's processor code (processor_reads).
MODEL_FIELDS = {
    "vlm_model_name": "the VLM whose config, processor and tokenizer the policy reads",
    "base_model_path": "the base model whose config and weights the policy loads",
}
# Built from a checkpoint, GR00T loads the checkpoint in place of its base model (its
# from_pretrained sets base_model_path to the checkpoint): the base model is not read then.
REPLACED_BY_CHECKPOINT = frozenset({"base_model_path"})
# Processor-step arguments (and step dataclass fields) that name a tokenizer or processor the
# step loads: TokenizerProcessorStep's tokenizer_name, ActionTokenizerProcessorStep's
# action_tokenizer_name and paligemma_tokenizer_name, GR00T's VLM encode step's model_name.
STEP_READS = ("tokenizer_name", "model_name")

# The files that show a repo is in the cache: a model's config; for a tokenizer or processor, any
# of the files transformers' tokenizers and processors are saved as (a model's config alone - a
# snapshot of its weights - does not make its tokenizer loadable).
MODEL_FILES = ("config.json",)
TOKENIZER_FILES = (
    "tokenizer_config.json",
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "processor_config.json",
)

# Repos that need access requested on their Hub page and a logged-in token to download. Which repos
# are gated cannot be asked offline; these are the ones lerobot's VLAs read by default (Google's
# Gemma terms gate every PaliGemma and Gemma repo). Others get the generic advice.
GATED_PREFIXES = ("google/paligemma", "google/gemma")

# What each policy type imports beyond lerobot's training extras: {type: (lerobot extra,
# distributions)}; a distribution is found by its import name (IMPORT_NAMES where they differ).
POLICY_EXTRAS = {
    "smolvla": ("smolvla", ("transformers", "num2words")),
    "pi0": ("pi", ("transformers",)),
    "pi05": ("pi", ("transformers",)),
    "pi0_fast": ("pi", ("transformers", "scipy")),
    "xvla": ("xvla", ("transformers",)),
    "groot": ("groot", ("transformers", "peft", "diffusers", "dm-tree")),
}
IMPORT_NAMES = {"dm-tree": "tree"}
# The VLA policy types `lerobot-ext doctor` reports (those the installed lerobot has).
VLA_TYPES = tuple(POLICY_EXTRAS)


def offline() -> bool:
    return is_true(os.environ.get("HF_HUB_OFFLINE"))


def hub_cache() -> str:
    """Where huggingface_hub looks for downloaded repos (``HF_HUB_CACHE``, by default under ``HF_HOME``)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hf_home() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HOME)


def where_looked() -> str:
    cache, home = hub_cache(), hf_home()
    # HF_HUB_CACHE may be set apart from HF_HOME: say which decided it.
    where = f"under HF_HOME={home}" if Path(cache).is_relative_to(home) else f"HF_HUB_CACHE; HF_HOME={home}"
    return f"the local Hugging Face cache ({cache}, {where})"


def is_repo_id(name: str) -> bool:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def is_gated(repo: str) -> bool:
    return repo.startswith(GATED_PREFIXES)


def cached(repo: str, files: Sequence[str] = MODEL_FILES) -> str | None:
    """The cached path of the first of ``files`` the local cache holds for ``repo``, or ``None``
    (never a network call)."""
    if not is_repo_id(repo):
        return None
    from huggingface_hub import try_to_load_from_cache

    for name in files:
        found = try_to_load_from_cache(repo, name, cache_dir=hub_cache())
        if isinstance(found, str):
            return found
    return None


@dataclass(frozen=True)
class HubNeed:
    """One repo (or folder) a run reads while its policy or its processors are built."""

    #: A Hub repo id or a folder.
    name: str
    #: What is read from it, in words.
    what: str
    #: The flag that sets it (``--policy.vlm_model_name``); ``None`` where lerobot fixes it.
    flag: str | None = None
    #: Any one of these in the cache makes it available.
    files: tuple[str, ...] = MODEL_FILES
    #: The checkpoint folder a relative ``name`` is read from (the one being loaded).
    within: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.flag}={self.name}" if self.flag else self.name

    def found(self) -> str | None:
        """Where it is on this machine: a folder, a folder in the checkpoint, or the cache."""
        path = Path(self.name).expanduser()
        if path.exists():
            return str(path)
        if self.within is not None and not path.is_absolute() and (self.within / path).exists():
            return str(self.within / path)
        return cached(self.name, self.files)


# --------------------------------------------------------------------------- what upstream reads


def _known_policies() -> dict[str, type]:
    """Every policy config class by type (lerobot.policies registers them when imported)."""
    import lerobot.policies  # noqa: F401
    from lerobot.configs.policies import PreTrainedConfig

    return PreTrainedConfig.get_known_choices()


def _config_class(policy_type: str) -> type | None:
    return _known_policies().get(policy_type)


def _step_defaults(step: Any) -> dict[str, str]:
    """A processor step class's defaults for the fields that name what it loads."""
    if not (isinstance(step, type) and dataclasses.is_dataclass(step)):
        return {}
    return {
        f.name: f.default
        for f in dataclasses.fields(step)
        if f.name.endswith(STEP_READS) and isinstance(f.default, str)
    }


@functools.cache
def processor_reads(policy_type: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """What upstream's processors for ``policy_type`` load, read from the source of its
    ``make_<type>_pre_post_processors``: ``(step argument, config field, fixed name)`` per read -
    ``config field`` when the factory passes ``config.<field>``, ``fixed name`` when it passes a
    literal or a module constant (pi0's PaliGemma tokenizer) or leaves a step's default."""
    config_class = _config_class(policy_type)
    if config_class is None:
        return ()
    # Upstream's own convention (lerobot.policies.factory._make_processors_from_policy_config).
    module_name = config_class.__module__.replace("configuration_", "processor_")
    try:
        if importlib.util.find_spec(module_name) is None:
            return ()
        module = importlib.import_module(module_name)
    except ImportError:  # an extra the processors import is missing: check_policy_extras says which
        return ()
    factory = getattr(module, f"make_{policy_type}_pre_post_processors", None)
    try:
        source = textwrap.dedent(inspect.getsource(factory)) if factory is not None else ""
    except (OSError, TypeError):  # no source to read (a compiled module): nothing found
        return ()
    if not source:
        return ()
    function = ast.parse(source).body[0]
    if not isinstance(function, ast.FunctionDef):
        return ()
    config_name = function.args.args[0].arg if function.args.args else "config"

    def read(node: ast.expr) -> tuple[str | None, str | None] | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return None, node.value
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == config_name
        ):
            return node.attr, None
        if isinstance(node, ast.Name) and isinstance(getattr(module, node.id, None), str):
            return None, getattr(module, node.id)
        return None  # computed at run time: not knowable here

    reads: list[tuple[str, str | None, str | None]] = []
    for call in (node for node in ast.walk(function) if isinstance(node, ast.Call)):
        given = {kw.arg: kw.value for kw in call.keywords if kw.arg and kw.arg.endswith(STEP_READS)}
        step = getattr(module, call.func.id, None) if isinstance(call.func, ast.Name) else None
        for argument, default in _step_defaults(step).items():
            if argument not in given:
                reads.append((argument, None, default))
        for argument, node in given.items():
            found = read(node)
            if found is not None:
                reads.append((argument, *found))
    return tuple(dict.fromkeys(reads))


def _what_step_loads(argument: str, where: str) -> str:
    kind = "processor" if argument == "model_name" or argument.startswith("action_") else "tokenizer"
    return f"the {kind} {where}"


def factory_needs(policy_type: str, values: Mapping[str, Any]) -> list[HubNeed]:
    """What ``policy_type``'s processors, built afresh from a config with ``values``, load."""
    needs = []
    for argument, field, fixed in processor_reads(policy_type):
        name = values.get(field) if field else fixed
        if not isinstance(name, str) or not name:
            continue
        where = f"{policy_type}'s preprocessor loads" + ("" if field else ", fixed by lerobot")
        needs.append(
            HubNeed(
                name,
                _what_step_loads(argument, where),
                f"--policy.{field}" if field else None,
                TOKENIZER_FILES,
            )
        )
    return needs


def _registered_step(entry: Mapping[str, Any]) -> Any:
    from lerobot.processor import ProcessorStepRegistry

    try:
        return ProcessorStepRegistry.get(entry["registry_name"]) if "registry_name" in entry else None
    except KeyError:  # a plugin's step whose plugin is not loaded: its saved config alone
        return None


def preprocessor_file() -> str:
    """The file a checkpoint's preprocessor is saved in (``policy_preprocessor.json``)."""
    from lerobot.utils.constants import POLICY_PREPROCESSOR_DEFAULT_NAME

    return f"{POLICY_PREPROCESSOR_DEFAULT_NAME}.json"


def saved_processor_needs(folder: Path, overrides: LoadOverrides | None = None) -> list[HubNeed] | None:
    """What the preprocessor saved in checkpoint ``folder`` loads (its steps' saved arguments,
    else the step's default; a ``checkpoint_loading`` override wins); ``None`` without one."""
    path = folder / preprocessor_file()
    if not path.is_file():
        return None
    needs = []
    for entry in json.loads(path.read_text()).get("steps", []):
        key = entry.get("registry_name") or str(entry.get("class", "")).rsplit(".", 1)[-1]
        arguments = {
            **_step_defaults(_registered_step(entry)),
            **(entry.get("config") or {}),
            **(overrides.preprocessor.get(key, {}) if overrides else {}),
        }
        for argument, name in arguments.items():
            if argument.endswith(STEP_READS) and isinstance(name, str) and name:
                what = _what_step_loads(argument, f"the {key} step of {path.name} loads")
                needs.append(HubNeed(name, what, None, TOKENIZER_FILES, within=folder))
    return needs


def model_needs(values: Mapping[str, Any], checkpoint: Path | None) -> list[HubNeed]:
    return [
        HubNeed(values[field], what, f"--policy.{field}", MODEL_FILES, within=checkpoint)
        for field, what in MODEL_FIELDS.items()
        if isinstance(values.get(field), str)
        and values[field]
        and not (checkpoint is not None and field in REPLACED_BY_CHECKPOINT)
    ]


# --------------------------------------------------------------------------- a run's needs


def _values(policy_cfg: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(policy_cfg):
        return {f.name: getattr(policy_cfg, f.name) for f in dataclasses.fields(policy_cfg)}
    return dict(vars(policy_cfg))


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
        policy_type, values = getattr(policy_cfg, "type", None), _values(policy_cfg)
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


# --------------------------------------------------------------------------- extras


def transformers_range() -> str | None:
    """The transformers versions lerobot's extras require, e.g. ``>=5.4.0,<5.6.0``."""
    try:
        requirements = requires("lerobot") or []
    except PackageNotFoundError:
        return None
    for requirement in requirements:
        name = requirement.split(";")[0].strip()
        if name.startswith("transformers") and name[len("transformers") :][:1] in "<>=!~":
            return name[len("transformers") :].strip()
    return None


def missing_extras(policy_type: str) -> list[str]:
    """What ``policy_type`` needs that is not installed (or installed outside lerobot's range)."""
    _, distributions = POLICY_EXTRAS.get(policy_type, ("", ()))
    problems = [
        name
        for name in distributions
        if importlib.util.find_spec(IMPORT_NAMES.get(name, name.replace("-", "_"))) is None
    ]
    if "transformers" in distributions and "transformers" not in problems:
        from packaging.specifiers import SpecifierSet

        allowed = transformers_range()
        installed = version("transformers")
        if allowed and installed not in SpecifierSet(allowed, prereleases=True):
            problems.append(f"transformers{allowed} (installed: {installed})")
    return problems


def check_policy_extras(policy_type: str | None) -> None:
    problems = missing_extras(policy_type or "")
    if problems:
        extra = POLICY_EXTRAS[policy_type][0]  # type: ignore[index]
        raise ConfigError(
            f"--policy.type={policy_type} needs {', '.join(problems)}: {INSTALL} "
            f"(or pip install 'lerobot[{extra}]')"
        )


# --------------------------------------------------------------------------- lerobot-ext doctor


def installed_vla_types() -> list[str]:
    known = _known_policies()
    return [policy_type for policy_type in VLA_TYPES if policy_type in known]


def default_needs(policy_type: str) -> list[HubNeed]:
    """What ``policy_type`` reads from the Hub with upstream's defaults (a fresh run)."""
    config_class = _config_class(policy_type)
    assert config_class is not None, policy_type
    # device="cpu": the default asks torch for an accelerator and logs that there is none.
    values = _values(config_class(device="cpu"))
    return model_needs(values, None) + factory_needs(policy_type, values)


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
