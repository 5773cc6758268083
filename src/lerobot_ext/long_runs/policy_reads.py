"""What each policy type reads from the Hub when it is built, taken from upstream: the config fields
in :data:`MODEL_FIELDS` for the model; for the processors, the step arguments upstream's own
``make_<type>_pre_post_processors`` passes (read from its source, so a tokenizer upstream
hard-codes is found without a copy of its name here) or, for a run that loads a checkpoint, the
steps of the checkpoint's ``policy_preprocessor.json``."""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lerobot_ext import LoadOverrides
from lerobot_ext.long_runs.hub_cache import MODEL_FILES, TOKENIZER_FILES, HubNeed

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


def known_policies() -> dict[str, type]:
    """Every policy config class by type (lerobot.policies registers them when imported)."""
    import lerobot.policies  # noqa: F401
    from lerobot.configs.policies import PreTrainedConfig

    return PreTrainedConfig.get_known_choices()


def _config_class(policy_type: str) -> type | None:
    return known_policies().get(policy_type)


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


def config_values(policy_cfg: Any) -> dict[str, Any]:
    """A policy config's fields and values (a dataclass, or a namespace in tests)."""
    if dataclasses.is_dataclass(policy_cfg):
        return {f.name: getattr(policy_cfg, f.name) for f in dataclasses.fields(policy_cfg)}
    return dict(vars(policy_cfg))


def default_needs(policy_type: str) -> list[HubNeed]:
    """What ``policy_type`` reads from the Hub with upstream's defaults (a fresh run)."""
    config_class = _config_class(policy_type)
    assert config_class is not None, policy_type
    # device="cpu": the default asks torch for an accelerator and logs that there is none.
    values = config_values(config_class(device="cpu"))
    return model_needs(values, None) + factory_needs(policy_type, values)
