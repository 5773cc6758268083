"""Built-in plugin ``convert``: the ``lerobot-ext convert`` command (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable

from lerobot_ext import hookimpl
from lerobot_ext.convert import command, upstream_names


class ConvertPlugin:
    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    @hookimpl
    def register_commands(self, register: Callable[..., None]) -> None:
        register(
            "convert",
            "convert a LeRobot v2.0/v2.1 dataset into a new, verified v3.0 one (offline; SRC is only read)",
            command.configure,
            command.run,
        )


plugin = ConvertPlugin()
