"""What plugins register through the ``register_*`` hooks, as values: a flag, a command."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConfigField:
    """A flag a plugin adds to ``lerobot-train-ext`` (``register_config_fields``)."""

    name: str
    type: Any
    default: Any
    help: str
    plugin: str

    @property
    def is_group(self) -> bool:
        return isinstance(self.type, type) and dataclasses.is_dataclass(self.type)


@dataclass(frozen=True)
class Command:
    """A ``lerobot-ext`` subcommand a plugin adds (``register_commands``).

    ``run`` takes the parsed arguments, and the :class:`~lerobot_ext.context.RunContext` too when
    it names a second parameter.
    """

    name: str
    help: str
    configure: Callable[[Any], None]
    run: Callable[..., int | None]
    plugin: str
