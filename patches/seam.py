"""What a seam is, and how the seams are put in place for one run and taken out again."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from lerobot_ext.errors import UpstreamChangedError

if TYPE_CHECKING:
    from lerobot_ext.training import TrainingRun

SUPPORTED_LEROBOT = ">=0.6.1,<0.7"


def installed_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


@dataclass(frozen=True)
class Seam:
    """An upstream module-level name that upstream looks up at call time, wrapped during a run.

    ``make_wrapper(original, run)`` returns the replacement; it must call ``original`` with the
    arguments it was given, so upstream's behaviour is unchanged unless a plugin asks otherwise.
    """

    module: str
    name: str
    checked_against: tuple[str, ...]
    make_wrapper: Callable[[Callable[..., Any], TrainingRun], Callable[..., Any]]
    distribution: str = "lerobot"

    @property
    def target(self) -> str:
        return f"{self.module}.{self.name}"

    def resolve(self) -> tuple[Any, Any]:
        """(module object, current value); :class:`UpstreamChangedError` if upstream moved it."""
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise self._moved(f"module {self.module} cannot be imported ({exc})") from exc
        if not hasattr(module, self.name):
            raise self._moved(f"{self.module} has no attribute '{self.name}'")
        return module, getattr(module, self.name)

    def _moved(self, what: str) -> UpstreamChangedError:
        return UpstreamChangedError(
            f"{self.distribution} {installed_version(self.distribution)} moved {self.target}: {what}. "
            f"lerobot-ext wraps this name and was checked against {self.distribution} "
            f"{', '.join(self.checked_against)} (supported: lerobot{SUPPORTED_LEROBOT}); "
            f"install a supported version, e.g. pip install 'lerobot[training,diffusion]{SUPPORTED_LEROBOT}'."
        )


@dataclass(frozen=True)
class MethodSeam:
    """A method of an upstream object wrapped on one instance (e.g. the run's Accelerator)."""

    cls: str  # "package.module.Class"
    name: str
    checked_against: tuple[str, ...]
    distribution: str

    @property
    def target(self) -> str:
        return f"{self.cls}.{self.name}"

    def resolve_class(self) -> type:
        module_name, _, class_name = self.cls.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise self._moved(f"{self.cls} cannot be imported ({exc})") from exc
        if not callable(getattr(cls, self.name, None)):
            raise self._moved(f"{self.cls} has no method '{self.name}'")
        return cls

    def _moved(self, what: str) -> UpstreamChangedError:
        return UpstreamChangedError(
            f"{self.distribution} {installed_version(self.distribution)} changed {self.target}: {what}. "
            f"lerobot-ext was checked against {self.distribution} {', '.join(self.checked_against)}."
        )

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
def seams_applied(seams: Sequence[Seam], run: TrainingRun | None) -> Iterator[None]:
    """Install every seam for the duration of the block; restore the originals afterwards."""
    resolved = [(seam, *seam.resolve()) for seam in seams]  # fail before changing anything
    installed: list[tuple[Any, str, Any]] = []
    try:
        for seam, module, original in resolved:
            setattr(module, seam.name, seam.make_wrapper(original, run))
            installed.append((module, seam.name, original))
        yield
    finally:
        for module, name, original in reversed(installed):
            setattr(module, name, original)
        if run is not None:  # lerobot-eval-ext has no training run and no instance seams
            for undo in reversed(run.undo_instance_seams):
                undo()
            run.undo_instance_seams.clear()
