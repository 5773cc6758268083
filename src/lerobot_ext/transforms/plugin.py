"""Built-in plugin ``transforms``: ``--state_filtered_keys`` and ``--action_keep_dims``."""

from __future__ import annotations

from collections.abc import Callable

from lerobot_ext.plugins import hookimpl
from lerobot_ext.transforms.action_keep import ActionKeepTransform
from lerobot_ext.transforms.base import DataTransform
from lerobot_ext.transforms.state_filter import StateFilterTransform


@hookimpl
def register_transforms(register: Callable[[DataTransform], None]) -> None:
    register(StateFilterTransform())
    register(ActionKeepTransform())
