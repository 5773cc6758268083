"""What plugins registered - policy types, robot adapters, config fields, commands, upstream
names - each with the plugin that registered it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from lerobot_ext.config import upstream_groups
from lerobot_ext.errors import PluginConflictError, PluginHookError
from lerobot_ext.registrations import Command, ConfigField
from lerobot_ext.robot_adapter import RobotAdapter
from lerobot_ext.upstream.names import UpstreamName

# Each registration has a hook `register_<registration>`, called in this order.
REGISTRATIONS = ("policies", "robot_adapters", "config_fields", "commands", "upstream_names")
# The registrations `--plugins` lists under each plugin.
LISTED_REGISTRATIONS = ("policies", "robot_adapters", "config_fields", "commands")
LABELS = {
    "policies": "policy type",
    "robot_adapters": "robot adapter",
    "config_fields": "config field (flag)",
    "commands": "lerobot-ext command",
}
# lerobot-ext's own commands; a plugin cannot take these names.
CORE_COMMANDS = ("plugins", "doctor", "inspect")


def _upstream_owner(config_class: type) -> str:
    module = config_class.__module__
    if module.startswith("lerobot."):
        return f"lerobot (built-in, {module}.{config_class.__name__})"
    return f"{module}.{config_class.__name__}"


class Registry:
    """Names registered through the ``register_*`` hooks, in registration order."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, tuple[str, Any]]] = {kind: {} for kind in LISTED_REGISTRATIONS}
        #: Upstream names the plugins rely on (``register_upstream_names``); several plugins may
        #: rely on one name, so these are a list, not claimed names.
        self.upstream_names: list[Any] = []

    # ----------------------------------------------------------------- registering

    def register_function(self, kind: str, plugin_name: str) -> Callable[..., None]:
        """The ``register`` callable handed to ``plugin_name``'s ``register_<kind>`` hook."""
        if kind == "policies":

            def register_policy(name: str, config_class: type) -> None:
                self.add_policy(plugin_name, name, config_class)

            return register_policy
        if kind == "config_fields":

            def register_config_field(name: str, type: Any, default: Any = None, help: str = "") -> None:
                self.add_config_field(plugin_name, name, type, default, help)

            return register_config_field
        if kind == "commands":

            def register_command(
                name: str, help: str, configure: Callable[[Any], None], run: Callable[[Any], int | None]
            ) -> None:
                self.add_command(plugin_name, name, help, configure, run)

            return register_command
        if kind == "upstream_names":

            def register_upstream_name(
                path: str,
                why: str,
                parameters: tuple[str, ...] = (),
                check: Callable[[], str | None] | None = None,
                note: str = "",
            ) -> None:
                self.add_upstream_name(plugin_name, path, why, parameters, check, note)

            return register_upstream_name

        def register_object(obj: Any) -> None:
            self.add_object(kind, plugin_name, obj)

        return register_object

    def _claim(self, kind: str, plugin_name: str, name: str, value: Any) -> None:
        existing = self._entries[kind].get(name)
        if existing is not None:
            other_plugin, _ = existing
            raise PluginConflictError(
                f"{LABELS[kind]} '{name}' is registered by two plugins: '{other_plugin}' and '{plugin_name}'. "
                "Uninstall one, or load only one of them with LEROBOT_EXT_PLUGINS."
            )
        self._entries[kind][name] = (plugin_name, value)

    def add_policy(self, plugin_name: str, name: str, config_class: type) -> None:
        from lerobot.configs.policies import PreTrainedConfig

        if not isinstance(name, str) or not name.isidentifier():
            raise PluginHookError(
                f"plugin '{plugin_name}' registered a policy named {name!r}; a policy type name "
                "must be a Python identifier such as 'my_policy'"
            )
        if not (isinstance(config_class, type) and issubclass(config_class, PreTrainedConfig)):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered policy '{name}' with {config_class!r}, which is "
                "not a subclass of lerobot.configs.policies.PreTrainedConfig"
            )
        known = PreTrainedConfig.get_known_choices()
        upstream = known.get(name)
        if upstream is not None and upstream is not config_class:
            raise PluginConflictError(
                f"policy type '{name}' is registered by two owners: {_upstream_owner(upstream)} "
                f"and plugin '{plugin_name}' ({config_class.__module__}.{config_class.__name__}). "
                "Pick another name for the plugin's policy."
            )
        self._claim("policies", plugin_name, name, config_class)
        if upstream is None:
            PreTrainedConfig.register_subclass(name, config_class)

    def add_config_field(self, plugin_name: str, name: str, type_: Any, default: Any, help_: str) -> None:
        from lerobot.configs.train import TrainPipelineConfig

        group, dot, leaf = name.partition(".") if isinstance(name, str) else ("", "", "")
        if dot:
            self._check_group_field(plugin_name, name, group, leaf)
        elif not isinstance(name, str) or not name.isidentifier():
            raise PluginHookError(
                f"plugin '{plugin_name}' registered a config field named {name!r}; a flag name must "
                "be a Python identifier such as 'my_flag', or 'group.name' to add to one of "
                "lerobot-train's groups ('dataset.my_flag')"
            )
        elif name in {f.name for f in dataclasses.fields(TrainPipelineConfig)}:
            raise PluginConflictError(
                f"config field '{name}' is registered by plugin '{plugin_name}', but lerobot-train "
                f"already has --{name}. Pick another name for the plugin's flag."
            )
        if not isinstance(help_, str):
            raise PluginHookError(
                f"plugin '{plugin_name}' gave config field '{name}' a help that is not a str"
            )
        self._claim("config_fields", plugin_name, name, ConfigField(name, type_, default, help_, plugin_name))

    @staticmethod
    def _check_group_field(plugin_name: str, name: str, group: str, leaf: str) -> None:
        """``group.leaf`` must add a new field to one of upstream's plain config groups."""
        groups = upstream_groups()
        if group not in groups or not leaf.isidentifier():
            raise PluginHookError(
                f"plugin '{plugin_name}' registered a config field named {name!r}; a dotted flag name "
                f"must be 'group.name' with group one of lerobot-train's groups ({', '.join(sorted(groups))})"
            )
        if leaf in {f.name for f in dataclasses.fields(groups[group])}:
            raise PluginConflictError(
                f"config field '{name}' is registered by plugin '{plugin_name}', but lerobot-train "
                f"already has --{name}. Pick another name for the plugin's flag."
            )

    def add_command(
        self,
        plugin_name: str,
        name: str,
        help_: str,
        configure: Callable[[Any], None],
        run: Callable[[Any], int | None],
    ) -> None:
        if not isinstance(name, str) or not name or not callable(configure) or not callable(run):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered command {name!r}; expected "
                "register(name, help, configure(parser), run(args))"
            )
        if name in CORE_COMMANDS:
            raise PluginConflictError(
                f"lerobot-ext command '{name}' is registered by plugin '{plugin_name}', but lerobot-ext "
                "has that command itself. Pick another name."
            )
        self._claim("commands", plugin_name, name, Command(name, help_, configure, run, plugin_name))

    def add_upstream_name(
        self,
        plugin_name: str,
        path: str,
        why: str,
        parameters: tuple[str, ...],
        check: Callable[[], str | None] | None = None,
        note: str = "",
    ) -> None:
        if not isinstance(path, str) or not path or not isinstance(why, str) or not isinstance(note, str):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered upstream name {path!r} ({why!r}); expected "
                "register('package.module.Name', 'what the plugin uses it for')"
            )
        if check is not None and not callable(check):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered upstream name {path!r} with check={check!r}; expected "
                "a function returning None when the name is as the plugin uses it, else what is wrong"
            )
        kind = "behaviour" if check is not None else ""
        try:
            name = UpstreamName(
                path,
                why,
                kind=kind,
                parameters=tuple(parameters),
                check=check,
                relied_on_by=plugin_name,
                note=note,
            )
        except ValueError as exc:
            raise PluginHookError(f"plugin '{plugin_name}' registered upstream name {path!r}: {exc}") from exc
        self.upstream_names.append(name)

    def add_object(self, kind: str, plugin_name: str, obj: Any) -> None:
        if not isinstance(obj, RobotAdapter):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered {obj!r} as a {LABELS[kind]}, but "
                f"it is not an instance of {RobotAdapter.__module__}.{RobotAdapter.__name__}"
            )
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginHookError(f"plugin '{plugin_name}' registered {obj!r} without a `name`")
        self._claim(kind, plugin_name, name, obj)

    # ----------------------------------------------------------------- reading

    def names_of(self, kind: str, plugin_name: str) -> list[str]:
        return [name for name, (owner, _) in self._entries[kind].items() if owner == plugin_name]

    def owner(self, kind: str, name: str) -> str | None:
        entry = self._entries[kind].get(name)
        return entry[0] if entry else None

    def items(self, kind: str) -> list[tuple[str, Any]]:
        return [(name, value) for name, (_, value) in self._entries[kind].items()]

    @property
    def policies(self) -> dict[str, type]:
        return dict(self.items("policies"))

    @property
    def robot_adapters(self) -> dict[str, Any]:
        return dict(self.items("robot_adapters"))

    @property
    def config_fields(self) -> list[ConfigField]:
        return [value for _, value in self.items("config_fields")]

    @property
    def commands(self) -> dict[str, Command]:
        return dict(self.items("commands"))
