"""What plugins registered: policy types, robot adapters and data transforms, each with its owner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext.errors import PluginConflictError, PluginHookError

KINDS = ("policies", "robot_adapters", "transforms")
LABELS = {"policies": "policy type", "robot_adapters": "robot adapter", "transforms": "transform"}


def _upstream_owner(config_class: type) -> str:
    module = config_class.__module__
    if module.startswith("lerobot."):
        return f"lerobot (built-in, {module}.{config_class.__name__})"
    return f"{module}.{config_class.__name__}"


class Registry:
    """Names registered through the ``register_*`` hooks, in registration order."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, tuple[str, Any]]] = {kind: {} for kind in KINDS}
        #: Upstream names the plugins rely on (``register_upstream_names``); several plugins may
        #: rely on one name, so these are a list, not claimed names.
        self.upstream_names: list[Any] = []

    # ----------------------------------------------------------------- registering

    def register_function(self, kind: str, plugin_name: str) -> Callable[..., None]:
        """The ``register`` callable handed to ``plugin_name``'s ``register_<kind>`` hook."""
        if kind == "upstream_names":

            def register_upstream_name(path: str, why: str, parameters: tuple[str, ...] = ()) -> None:
                self.add_upstream_name(plugin_name, path, why, parameters)

            return register_upstream_name
        if kind == "policies":

            def register_policy(name: str, config_class: type) -> None:
                self.add_policy(plugin_name, name, config_class)

            return register_policy

        def register_object(obj: Any) -> None:
            self.add_object(kind, plugin_name, obj)

        return register_object

    def _claim(self, kind: str, plugin_name: str, name: str, value: Any) -> None:
        existing = self._entries[kind].get(name)
        if existing is not None:
            other_plugin, _ = existing
            raise PluginConflictError(
                f"{LABELS[kind]} '{name}' is registered by two plugins: '{other_plugin}' and '{plugin_name}'. Uninstall one, "
                "or load only one of them with LEROBOT_EXT_PLUGINS."
            )
        self._entries[kind][name] = (plugin_name, value)

    def add_policy(self, plugin_name: str, name: str, config_class: type) -> None:
        from lerobot.configs.policies import PreTrainedConfig

        if not isinstance(name, str) or not name.isidentifier():
            raise PluginHookError(
                f"plugin '{plugin_name}' registered a policy named {name!r}; a policy type name "
                "must be a Python identifier such as 'flow'"
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

    def add_object(self, kind: str, plugin_name: str, obj: Any) -> None:
        base = _base_class(kind)
        if not isinstance(obj, base):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered {obj!r} as a {LABELS[kind]}, but "
                f"it is not an instance of {base.__module__}.{base.__name__}"
            )
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginHookError(f"plugin '{plugin_name}' registered {obj!r} without a `name`")
        self._claim(kind, plugin_name, name, obj)

    def add_upstream_name(self, plugin_name: str, path: str, why: str, parameters: tuple[str, ...]) -> None:
        from lerobot_ext.upstream.names import UpstreamName

        if not isinstance(path, str) or not path or not isinstance(why, str):
            raise PluginHookError(
                f"plugin '{plugin_name}' registered upstream name {path!r} ({why!r}); expected "
                "register('package.module.Name', 'what the plugin uses it for')"
            )
        self.upstream_names.append(
            UpstreamName(path, why, parameters=tuple(parameters), relied_on_by=plugin_name)
        )

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
    def transforms(self) -> list[Any]:
        return [value for _, value in self.items("transforms")]


def _base_class(kind: str) -> type:
    if kind == "robot_adapters":
        from lerobot_ext.adapters.base import RobotAdapter

        return RobotAdapter
    if kind == "transforms":
        from lerobot_ext.transforms.base import DataTransform

        return DataTransform
    raise ValueError(f"unknown registration kind {kind!r}")
