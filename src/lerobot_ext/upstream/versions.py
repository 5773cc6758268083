"""The lerobot versions lerobot-ext is tested with, and how a per-version table is read.

CI runs the whole test suite on each version in :data:`TESTED` (``.ci/run`` runs
``LEROBOT=<selector> scripts/test.sh`` for each selector of :data:`CI_SELECTORS`), and every
``pyproject.toml`` that depends on lerobot declares exactly that range (tests check both). Where upstream differs between two tested
versions, the module that depends on the difference holds a small table keyed by the first
version a value applies to; :func:`for_installed` picks the row for the installed lerobot.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

#: version -> what was tested. Every version here runs the full suite in CI (.ci/run).
TESTED: dict[str, str] = {
    "0.6.1": "release from PyPI",
    "0.6.2": "development head, commit 7427f318 (2026-08-23), wheel in shared/upstream/",
}
#: version -> the ``LEROBOT=`` value of ``scripts/setup.sh``/``scripts/test.sh`` that installs it
#: (``release``, the default, is PyPI's; ``head`` the wheel built from upstream's commit).
CI_SELECTORS: dict[str, str] = {"0.6.1": "release", "0.6.2": "head"}
#: The dependency range pyproject.toml declares: exactly the tested versions.
SUPPORTED_RANGE = f">={min(TESTED, key=Version)},<={max(TESTED, key=Version)}"
#: What to tell a user to install when the installed lerobot is not a tested one.
INSTALL_HINT = f"pip install 'lerobot[training,diffusion]{SUPPORTED_RANGE}'"
DOCTOR_HINT = "run `lerobot-ext doctor` to see everything lerobot-ext needs from it"


def installed_version(distribution: str = "lerobot") -> str:
    """The installed version of ``distribution``, or ``"not installed"``."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def requirement_of(distribution: str, of: str = "lerobot") -> str | None:
    """What the installed ``of`` declares about ``distribution``, e.g. ``accelerate<2.0.0,>=1.14.0``
    (from its metadata, extras included); ``None`` if it declares nothing or is not installed."""
    try:
        declared = requires(of) or []
    except PackageNotFoundError:
        return None
    wanted = canonicalize_name(distribution)
    found = None
    for text in declared:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != wanted:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            return f"{distribution}{requirement.specifier}"  # what every install of it requires
        found = found or f"{distribution}{requirement.specifier} (with {requirement.marker})"
    return found


def _release(text: str) -> Version:
    """``0.6.2`` for ``0.6.2``, ``0.6.2.dev3`` or ``0.6.2+local``: a development build of a
    release is compared as that release, as the head wheel calls itself 0.6.2."""
    return Version(Version(text).base_version)


@functools.cache
def installed_lerobot() -> str:
    return installed_version("lerobot")


def is_tested(text: str | None = None) -> bool:
    """Whether ``text`` (default: the installed lerobot) is a version CI runs the suite on."""
    text = installed_lerobot() if text is None else text
    try:
        return str(_release(text)) in TESTED
    except ValueError:
        return False


def status_line(text: str | None = None) -> str:
    """``lerobot 0.6.2 (tested: development head ...)`` or ``lerobot 0.7.0 (untested ...)``."""
    text = installed_lerobot() if text is None else text
    if is_tested(text):
        return f"lerobot {text} (tested: {TESTED[str(_release(text))]})"
    return f"lerobot {text} (untested: lerobot-ext is tested with {', '.join(TESTED)})"


def for_installed[T](table: Mapping[str, T], text: str | None = None) -> T:
    """The row of ``table`` ({first version it applies to: value}) for a lerobot version.

    The row with the greatest key not above the version; an older version than every key gets
    the oldest row (and will then fail by name, where the difference matters).
    """
    if not table:
        raise ValueError("empty version table")
    text = installed_lerobot() if text is None else text
    keys = sorted(table, key=Version)
    try:
        current = _release(text)
    except ValueError:
        return table[keys[-1]]
    chosen = keys[0]
    for key in keys:
        if Version(key) <= current:
            chosen = key
    return table[chosen]
