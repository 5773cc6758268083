"""The demo layouts ``lerobot-ext demo-dataset --layout`` knows: this package's own and those other
plugins add through ``register_demo_layouts``, each with the options its writer takes.

A writer says what it takes by naming it: ``write(root, episodes, seed, overwrite)`` takes
``--episodes``, ``--seed`` and ``--overwrite``, and the command refuses ``--frames`` for it
rather than ignore it. A ``**kwargs`` parameter receives nothing. An option whose default here is
``None`` (``noise``) is passed only when given, so that a writer that takes it keeps its own
default: the right noise depends on the task's units.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lerobot_ext import ConfigError, HookCaller, PluginConflictError, PluginHookError

ACTION_ORDERS = ("ee-first", "base-first")
#: Every option a layout's writer may name, with its default.
OPTIONS: dict[str, Any] = {
    "episodes": 8,
    "frames": 40,
    "image_size": 64,
    "seed": 0,
    "action_order": "ee-first",
    "depth": False,
    "overwrite": False,
    "noise": None,  # the writer's own default (its units are the task's)
}
# The smallest value each numeric option may take, and what that means.
_MINIMUM = {
    "episodes": (1, "at least 1 episode"),
    "frames": (2, "at least 2 frames per episode"),
    "image_size": (8, "at least 8 pixels"),
    "seed": (0, "a seed >= 0 (numpy's generators take no negative seed)"),
    "noise": (0, "a standard deviation >= 0"),
}
#: The plugin that owns this package's layouts.
BUILT_IN = "demo"


def flag(option: str) -> str:
    """The command-line spelling of an option: ``--image-size`` for ``image_size``."""
    return "--" + option.replace("_", "-")


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse an option value no layout can write, naming the value and what it needs."""
    for option, (minimum, needs) in _MINIMUM.items():
        value = options.get(option)
        if value is not None and not value >= minimum:  # (NaN is not >= anything)
            raise ConfigError(f"{flag(option)} {value}: need {needs}")
    order = options.get("action_order")
    if order is not None and order not in ACTION_ORDERS:
        raise ConfigError(f"{flag('action_order')} {order}: choose one of {', '.join(ACTION_ORDERS)}")


@dataclass(frozen=True)
class Layout:
    """One demo layout: its writer, the options the writer names, and who registered it."""

    name: str
    write: Callable[..., Path]
    help: str
    plugin: str
    takes: tuple[str, ...]

    def options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The writer's arguments: each option it takes, as given or its default. An option given
        that it does not take is a ``ConfigError`` naming it and the options it takes."""
        refused = [option for option in given if option not in self.takes]
        if refused:
            takes = ", ".join(flag(option) for option in self.takes) or "no option"
            raise ConfigError(
                f"{flag(refused[0])}: the {self.name} layout does not take it (it takes {takes}); "
                "leave it out"
            )
        return {
            option: given.get(option, OPTIONS[option])
            for option in self.takes
            if option in given or OPTIONS[option] is not None
        }

    def write_dataset(self, root: str | Path, given: Mapping[str, Any]) -> Path:
        """Write this layout to ``root`` with the options ``given`` and return the folder.

        An option left out - ``None``, or ``False`` for a flag (``0`` is a value given) - gets its
        default; a value no layout can write, or an option this layout does not take, is a
        ``ConfigError``."""
        given = {option: value for option, value in given.items() if value is not None and value is not False}
        check_options(given)
        return self.write(Path(root), **self.options(given))


def _layout(name: Any, write: Any, help_: Any, plugin: str) -> Layout:
    if not isinstance(name, str) or not name or not callable(write) or not isinstance(help_, str):
        raise PluginHookError(
            f"plugin '{plugin}' registered demo layout {name!r}; expected register(name, write, help)"
        )
    try:
        every = list(inspect.signature(write).parameters.values())
    except (TypeError, ValueError) as exc:  # a callable whose signature cannot be read
        raise PluginHookError(
            f"plugin '{plugin}' registered demo layout '{name}' with a writer whose signature cannot be "
            f"read ({exc}); register a function write(root, ...)"
        ) from exc
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not every or every[0].kind not in positional:
        raise PluginHookError(
            f"plugin '{plugin}' registered demo layout '{name}' with a writer that takes no root first; "
            "register a function write(root, ...): the dataset folder comes first"
        )
    parameters = every[1:]  # the first is the root
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    required = [
        p.name
        for p in parameters
        if p.kind in named and p.default is inspect.Parameter.empty and p.name not in OPTIONS
    ]
    if required:
        raise PluginHookError(
            f"plugin '{plugin}' registered demo layout '{name}' whose writer requires {required}, which "
            f"lerobot-ext demo-dataset cannot pass; it passes the root and {', '.join(OPTIONS)}"
        )
    takes = tuple(p.name for p in parameters if p.kind in named and p.name in OPTIONS)
    return Layout(name, write, help_, plugin, takes)


_HELP = {
    "robocasa": "RoboCasa PandaOmron: 53-D state, 12-D action, three cameras",
    "gr2": "Fourier GR2: 45-D state, 37-D action with joint names, one camera (--depth: and its depth video)",
    "bimodal": "two action modes from one observation, no camera (for generative policies)",
}


#: The layouts this package writes itself, each from the module of that name (``write``).
BUILT_IN_LAYOUTS = tuple(_HELP)


def built_in_layouts() -> dict[str, Layout]:
    """The layouts this package writes itself."""
    import importlib

    return {
        name: _layout(name, importlib.import_module(f"lerobot_ext.demo.{name}").write, _HELP[name], BUILT_IN)
        for name in BUILT_IN_LAYOUTS
    }


def all_layouts(hooks: HookCaller) -> dict[str, Layout]:
    """This package's layouts and every loaded plugin's (``register_demo_layouts``), by name.

    Two registrations of one name are a ``PluginConflictError`` naming both plugins.
    """
    found = built_in_layouts()

    def make_register(plugin: str) -> Callable[..., None]:
        def register(name: str, write: Callable[..., Path], help: str = "") -> None:
            layout = _layout(name, write, help, plugin)
            if name in found:
                raise PluginConflictError(
                    f"demo layout '{name}' is registered by two plugins: '{found[name].plugin}' and "
                    f"'{plugin}'. Uninstall one, or load only one of them with LEROBOT_EXT_PLUGINS."
                )
            found[name] = layout

        return register

    hooks.register("register_demo_layouts", make_register)
    return found
