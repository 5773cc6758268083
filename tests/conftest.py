"""Shared fixtures: small demo datasets (written once per session) and helpers to run the CLIs."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import FakeEntryPoint


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Slow tests first (stable otherwise): pytest-xdist then ends a run on short tests instead of
    # one worker finishing a minute-long run while the other waits - the longest-first rule for
    # balancing jobs over workers. CI's whole run has a 30-minute budget.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def _quiet_environment() -> Iterator[None]:
    # Runs stay offline: no Hub access, no W&B.
    previous = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "WANDB_MODE")}
    os.environ.update({"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled"})
    yield
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _write(layout: str, root: Path, **kwargs: Any) -> Path:
    from lerobot_ext.demo import write_demo_dataset

    return write_demo_dataset(layout, root, **kwargs)


@pytest.fixture(scope="session")
def robocasa_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RoboCasa layout: 53-D state, 12-D EE-first action (dims 7-11 constant), three 32x32 cameras."""
    return _write(
        "robocasa", tmp_path_factory.mktemp("data") / "robocasa", episodes=4, frames=24, image_size=48
    )


@pytest.fixture(scope="session")
def bimodal_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No cameras: the fastest dataset a Diffusion/Flow policy can train on."""
    return _write("bimodal", tmp_path_factory.mktemp("data") / "bimodal", episodes=4, frames=20)


@pytest.fixture(scope="session")
def gr2_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write("gr2", tmp_path_factory.mktemp("data") / "gr2", episodes=3, frames=12, image_size=48)


# --------------------------------------------------------------------------- plugins in tests


@pytest.fixture
def extra_entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Add fake ``lerobot_ext`` entry points next to the installed ones."""
    extra: list[FakeEntryPoint] = []
    real = importlib.metadata.entry_points

    def entry_points(**kwargs: Any) -> Any:
        found = real(**kwargs)
        if kwargs.get("group") == "lerobot_ext":
            return [*found, *extra]
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)

    def add(name: str, obj: Any = None, error: BaseException | None = None, value: str | None = None) -> None:
        extra.append(FakeEntryPoint(name, obj, value=value, error=error))

    return add


@pytest.fixture(scope="session")
def tiny_smolvlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SmolVLM folder written offline (see lerobot_ext.demo.tiny_smolvlm)."""
    from lerobot_ext.demo.tiny_smolvlm import write_tiny_smolvlm

    return write_tiny_smolvlm(tmp_path_factory.mktemp("vlm") / "tiny_smolvlm")
