"""What a seam is, how a seam is chosen for the installed lerobot, and how seams are put in place
for one run and taken out again.

Each seam module in this package states, in a line of its docstring, the lerobot versions it
supports (``Supported lerobot versions: 0.6.1, 0.6.2.``); ``tests/test_seams.py`` checks that the
line agrees with the versions its :class:`Seam` objects declare.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lerobot_ext.errors import UpstreamChangedError
from lerobot_ext.training import TrainingRun
from lerobot_ext.upstream.versions import (
    DOCTOR_HINT,
    INSTALL_HINT,
    TESTED,
    for_installed,
    installed_version,
    is_tested,
    requirement_of,
)

ALL_TESTED = tuple(TESTED)


def upstream_changed(distribution: str, target: str, what: str) -> UpstreamChangedError:
    """The error for an upstream name that is not where lerobot-ext expects it.

    It names the installed version, says whether that version is one lerobot-ext is tested
    with, and points to ``lerobot-ext doctor``.
    """
    installed = installed_version(distribution)
    if distribution != "lerobot":
        # lerobot does not pin these (it declares a range); the method was checked with the
        # versions the tested lerobot releases install, and doctor shows the installed one.
        requirement = requirement_of(distribution)
        tested = (
            f"lerobot {installed_version('lerobot')} requires {requirement}"
            if requirement
            else f"lerobot {installed_version('lerobot')} does not declare {distribution}"
        )
    elif is_tested(installed):
        tested = (
            f"{installed} is a tested version, so this lerobot install differs from the release "
            "(reinstall it)"
        )
    else:
        tested = (
            f"lerobot {installed} is not a version lerobot-ext is tested with ({', '.join(TESTED)}); "
            f"install one: {INSTALL_HINT}"
        )
    return UpstreamChangedError(
        f"{distribution} {installed} has no {target} ({what}), which lerobot-ext relies on. {tested}; "
        f"{DOCTOR_HINT}."
    )


@dataclass(frozen=True)
class Seam:
    """An upstream module-level name that upstream looks up at call time, wrapped during a run.

    ``make_wrapper(original, run)`` returns the replacement; it must call ``original`` with the
    arguments it was given, so upstream's behaviour is unchanged unless a plugin asks otherwise.
    ``parameters`` are the upstream arguments the wrapper reads by name: they are part of what
    lerobot-ext relies on, and checked with the name. ``versions`` are the tested lerobot
    versions this target exists on (see :class:`SeamTable` for one that differs). ``why`` is what
    lerobot-ext uses the seam for (``lerobot-ext doctor -v`` shows it).
    """

    module: str
    name: str
    make_wrapper: Callable[[Callable[..., Any], TrainingRun], Callable[..., Any]]
    parameters: tuple[str, ...] = ()
    versions: tuple[str, ...] = ALL_TESTED
    distribution: str = "lerobot"
    # Required: doctor -v shows it, and a seam nobody can explain should not exist.
    why: str = field(kw_only=True)

    @property
    def target(self) -> str:
        return f"{self.module}.{self.name}"

    def resolve(self) -> tuple[Any, Any]:
        """(module object, current value); :class:`UpstreamChangedError` if upstream moved it."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise upstream_changed(
                self.distribution, self.target, f"cannot import {self.module}: {exc}"
            ) from exc
        if not hasattr(module, self.name):
            raise upstream_changed(self.distribution, self.target, f"{self.module} has no '{self.name}'")
        value = getattr(module, self.name)
        missing = _missing_parameters(value, self.parameters)
        if missing:
            raise upstream_changed(self.distribution, self.target, f"it no longer takes {', '.join(missing)}")
        return module, value

    def current(self) -> Seam:
        return self


@dataclass(frozen=True)
class SeamTable:
    """One role played by different upstream names in different lerobot versions.

    ``rows`` maps the first lerobot version a seam applies to, to that seam; the installed
    version picks its row (:func:`lerobot_ext.upstream.versions.for_installed`).
    """

    role: str
    rows: Mapping[str, Seam]

    def current(self) -> Seam:
        return for_installed(self.rows)

    @property
    def target(self) -> str:
        return self.current().target


def _missing_parameters(function: Any, parameters: Sequence[str]) -> list[str]:
    if not parameters:
        return []
    try:
        names = set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return list(parameters)
    return [name for name in parameters if name not in names]


@dataclass(frozen=True)
class MethodSeam:
    """A method of an upstream object wrapped on one instance (e.g. the run's Accelerator).

    ``distribution`` is the package that defines the class (lerobot requires a range of it, see
    :func:`lerobot_ext.upstream.versions.requirement_of`); ``why`` is what the wrapper is for.
    """

    cls: str  # "package.module.Class"
    name: str
    distribution: str
    why: str

    @property
    def target(self) -> str:
        return f"{self.cls}.{self.name}"

    def resolve_class(self) -> type:
        module_name, _, class_name = self.cls.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise upstream_changed(
                self.distribution, self.target, f"{self.cls} cannot be imported: {exc}"
            ) from exc
        if not callable(getattr(cls, self.name, None)):
            raise upstream_changed(self.distribution, self.target, f"{self.cls} has no method '{self.name}'")
        return cls

    def wrap(
        self, obj: Any, make_wrapper: Callable[[Callable[..., Any]], Callable[..., Any]]
    ) -> Callable[[], None]:
        """Replace ``obj.<name>`` by ``make_wrapper(original)``; returns the undo function."""
        original = getattr(obj, self.name)
        setattr(obj, self.name, make_wrapper(original))

        def undo() -> None:
            with contextlib.suppress(AttributeError):
                delattr(obj, self.name)  # the instance attribute; the class method shows again

        return undo


@contextlib.contextmanager
def seams_applied(seams: Sequence[Seam | SeamTable], run: TrainingRun | None) -> Iterator[None]:
    """Install every seam for the duration of the block; restore the originals afterwards."""
    chosen = [seam.current() for seam in seams]
    resolved = [(seam, *seam.resolve()) for seam in chosen]  # fail before changing anything
    installed: list[tuple[Any, str, Any]] = []
    try:
        for seam, module, original in resolved:
            setattr(module, seam.name, seam.make_wrapper(original, run))  # type: ignore[arg-type]
            installed.append((module, seam.name, original))
        yield
    finally:
        for module, name, original in reversed(installed):
            setattr(module, name, original)
        if run is not None:  # lerobot-eval-ext has no training run and no instance seams
            for undo in reversed(run.undo_instance_seams):
                undo()
            run.undo_instance_seams.clear()
