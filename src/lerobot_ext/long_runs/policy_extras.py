"""What each VLA policy type imports beyond lerobot's training extras, and the one line that names
the install command when something is missing (or transformers is outside lerobot's range)."""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, requires, version

from lerobot_ext import ConfigError
from lerobot_ext.long_runs.policy_reads import known_policies

INSTALL = 'pip install -e ".[vla]"'

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


def installed_vla_types() -> list[str]:
    known = known_policies()
    return [policy_type for policy_type in VLA_TYPES if policy_type in known]
