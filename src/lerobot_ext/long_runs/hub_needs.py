"""What a policy will fetch from the Hugging Face Hub, or import, checked before anything is built.

A VLA reads more than its weights: SmolVLA reads its VLM's config, processor and tokenizer
(``vlm_model_name``) when the policy is built and when its processors are. Offline, a missing one
used to surface as chained tracebacks after the dataset loaded (and, for the bigger models, after
minutes of building); a missing policy extra as an ImportError deep in transformers. Here each is
one line, before the dataset or the model is touched.
"""

from __future__ import annotations

import importlib.util
import os
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, is_true

# Config fields that name a Hub repo (or a local folder) a policy reads when it is built.
HUB_FIELDS = {
    "vlm_model_name": "the VLM whose config, processor and tokenizer the policy and its preprocessor read",
}
# What each policy type imports beyond lerobot's training extras: {type: (lerobot extra, modules)}.
POLICY_EXTRAS = {
    "smolvla": ("smolvla", ("transformers", "num2words")),
    "pi0": ("pi", ("transformers",)),
    "pi05": ("pi", ("transformers",)),
}
INSTALL = 'pip install -e ".[vla]"'


def offline() -> bool:
    return is_true(os.environ.get("HF_HUB_OFFLINE"))


def hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def check_offline_hub_fields(policy_cfg: Any) -> None:
    """With ``HF_HUB_OFFLINE``, every Hub repo a policy config names must be in the local cache."""
    if policy_cfg is None or not offline():
        return
    missing = []
    for field, what in HUB_FIELDS.items():
        value = getattr(policy_cfg, field, None)
        if not value or Path(str(value)).expanduser().exists() or cached(str(value)):
            continue
        missing.append(f"--policy.{field}={value} ({what})")
    if missing:
        raise ConfigError(
            f"HF_HUB_OFFLINE is set and {'; '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in the "
            f"local Hugging Face cache ({hub_cache()}, under HF_HOME): download it first (`hf download "
            f"<repo>` with HF_HUB_OFFLINE unset; a gated repo needs access requested on its Hub page first), "
            "or point the flag at a local folder"
        )


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
    _, modules = POLICY_EXTRAS.get(policy_type, ("", ()))
    problems = [module for module in modules if importlib.util.find_spec(module) is None]
    if "transformers" in modules and "transformers" not in problems:
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
