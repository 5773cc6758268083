"""What a run's ``checkpoints/`` folder holds: step checkpoints and the links that name them.

Upstream writes ``checkpoints/<step>/`` (six digits) and points ``checkpoints/last`` at the newest;
lerobot-ext's save makes each step folder appear complete or not at all (``<step>.partial/``
until then), and plugins add links of their own (the ``validation`` plugin's ``best``).
"""

from __future__ import annotations

from pathlib import Path


def step_checkpoints(checkpoints: Path) -> list[Path]:
    """Complete step checkpoints (``000123/``), oldest first; partial saves and links are not counted."""
    checkpoints = Path(checkpoints)
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if p.is_dir() and not p.is_symlink() and p.name.isdigit()]
    return sorted(found, key=lambda p: int(p.name))


def linked_checkpoints(checkpoints: Path) -> dict[str, Path]:
    """``{link name: the folder it resolves to}`` for every link in ``checkpoints/`` that points at
    an existing folder (``last``, ``best``, and any a user or plugin made)."""
    checkpoints = Path(checkpoints)
    if not checkpoints.is_dir():
        return {}
    return {p.name: p.resolve() for p in checkpoints.iterdir() if p.is_symlink() and p.resolve().is_dir()}
