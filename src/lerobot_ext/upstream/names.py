"""Every upstream name lerobot-ext relies on, in one list, each with a check.

The seams (``lerobot_ext.seams``) are only part of it: lerobot-ext also calls upstream's
undecorated training function, overrides ``TrainPipelineConfig._save_pretrained``, reads
``MetricsTracker`` internals, replaces a field of the dataset's ``DatasetInfo`` dataclass, reads
the checkpoint files upstream writes, filters one of lerobot's log messages, and so on. Each of
those is an :class:`UpstreamName` here.

This module holds only the core's names. Each plugin - the built-in features too, each in its
package's ``upstream_names.py`` - declares the names it relies on itself, through the
``register_upstream_names`` hook, so ``lerobot-ext doctor`` attributes them to it.
``tests/test_upstream_names.py`` checks every name on each tested lerobot version, and checks
that every upstream import in the code is on the list of the part of the code that makes it.

A path is a dotted path (the longest importable module, then attributes). ``Class().attr`` is an
attribute of the class's instances: a class attribute or property, a dataclass field, or
assigned as ``self.attr = ...`` in a method of the class or one of its bases.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.metadata
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lerobot_ext.errors import LerobotExtError

Check = Callable[[], "str | None"]
#: Who relies on a name the core (not a plugin) relies on.
CORE = "lerobot-ext"
NAME_KINDS = ("seam", "import", "name", "private", "behaviour")


@dataclass(frozen=True)
class InstanceAttribute:
    """What ``Class().attr`` resolves to: an attribute only the class's instances have."""

    cls: type
    name: str


@functools.cache  # doctor asks for many attributes of a few classes
def _assigned_in(cls: type) -> frozenset[str]:
    """Names assigned as ``self.<name>`` (or annotated) anywhere in ``cls``'s own source."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return set()
    names = set()
    for node in ast.walk(ast.parse(source)):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign | ast.AugAssign)
            else []
        )
        for target in targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                if target.value.id in ("self", "obj", "instance"):
                    names.add(target.attr)
            elif isinstance(target, ast.Name) and isinstance(node, ast.AnnAssign):
                names.add(target.id)  # a class-level annotation: a dataclass field
    return frozenset(names)


def instance_has(cls: type, name: str) -> bool:
    """Whether instances of ``cls`` have ``name`` (see the module docstring), without making one."""
    if hasattr(cls, name):
        return True
    if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
        return True
    return any(
        name in _assigned_in(klass)
        for klass in inspect.getmro(cls)
        if klass is not object and not klass.__module__.startswith(("builtins", "typing", "abc"))
    )


def resolve_dotted(path: str) -> Any:
    """The object at ``package.module.Attr.attr``: the longest importable module, then attributes.

    ``package.module.Class().attr`` checks an instance attribute (:func:`instance_has`) and
    resolves to an :class:`InstanceAttribute`; it must be the last part of the path.
    """
    parts = path.split(".")
    error: Exception | None = None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError as exc:
            error = error or exc
            continue
        for index, attribute in enumerate(parts[cut:], cut):
            where = ".".join(parts[:index])
            if attribute.endswith("()"):
                obj = getattr(obj, attribute[:-2], None)
                if not inspect.isclass(obj):
                    raise AttributeError(f"{where} has no class '{attribute[:-2]}'")
                rest = parts[index + 1 :]
                if len(rest) != 1:
                    raise ValueError(f"{path}: write an instance attribute as Class().attribute, last")
                if not instance_has(obj, rest[0]):
                    raise AttributeError(f"{where}.{obj.__name__} instances have no attribute '{rest[0]}'")
                return getattr(obj, rest[0], InstanceAttribute(obj, rest[0]))
            if not hasattr(obj, attribute):
                raise AttributeError(f"{where} has no attribute '{attribute}'")
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(f"cannot import {parts[0]}: {error}")


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    # One scan of every installed distribution's files (~0.5 s): once per process, only for doctor.
    return importlib.metadata.packages_distributions()


def distribution_of(package: str) -> str:
    """The installed distribution that provides the top-level ``package`` (or the package's name)."""
    found = _packages_distributions().get(package)
    return found[0] if found else package


def kind_of(path: str) -> str:
    """``private`` for a path with a ``_name`` part (or ``__wrapped__``-like dunder), else ``name``."""
    parts = path.replace("()", "").split(".")
    return "private" if any(part.startswith("_") for part in parts) else "name"


@dataclass(frozen=True)
class UpstreamName:
    """One upstream name (or behaviour) lerobot-ext relies on.

    ``check`` returns ``None`` when the name is as expected, else what is wrong; without one,
    the dotted ``path`` must resolve. ``parameters`` are arguments a call passes or reads by name
    (for a class: its constructor's, so a dataclass's fields), checked with or without a ``check``. ``kind`` defaults to ``private``
    for a path with a ``_private`` part, else ``name``.
    """

    path: str
    why: str
    kind: str = ""  # "seam", "name", "private", "behaviour"
    parameters: tuple[str, ...] = ()
    check: Check | None = None
    distribution: str = "lerobot"
    relied_on_by: str = CORE
    #: What of the name is relied on, when the path alone does not say (``"checkpoint layout"``).
    note: str = ""

    def __post_init__(self) -> None:
        if not self.path or any(character.isspace() for character in self.path):
            raise ValueError(
                f"upstream name {self.path!r}: the path is a dotted path alone; put words in note="
            )
        if not self.kind:
            object.__setattr__(self, "kind", kind_of(self.path))
        if self.kind not in NAME_KINDS:
            raise ValueError(f"{self.path}: kind {self.kind!r} is not one of {', '.join(NAME_KINDS)}")

    @property
    def provider(self) -> str:
        """The distribution the name comes from: ``distribution``, or for a name outside lerobot
        declared without one (a plugin's diffusers, torch, ... name) the one that installs it.
        Worked out only when asked (doctor): finding it scans every installed distribution."""
        top = self.path.split(".")[0]
        if self.distribution == "lerobot" and top != "lerobot":
            return distribution_of(top)
        return self.distribution

    @property
    def label(self) -> str:
        """The path, with its note: ``lerobot.utils.constants (checkpoint layout)``."""
        return f"{self.path} ({self.note})" if self.note else self.path

    def problem(self) -> str | None:
        """``None`` when the installed upstream has this name as lerobot-ext uses it."""
        try:
            if self.check is not None:
                found = self.check()
                if found is not None or not self.parameters:
                    return found
                target = resolve_dotted(self.path)  # a check and the parameters: both must hold
            else:
                target = resolve_dotted(self.path)
        except (LerobotExtError, AttributeError, ImportError) as exc:
            return str(exc)
        except Exception as exc:  # an import error deep in upstream is a finding, not a crash
            return f"{type(exc).__name__}: {exc}"
        if self.parameters:
            try:
                names = set(inspect.signature(target).parameters)
            except (TypeError, ValueError):
                return "its signature cannot be read"
            missing = [p for p in self.parameters if p not in names]
            if missing:
                return f"no longer takes {', '.join(missing)}"
        return None
