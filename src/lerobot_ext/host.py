"""The plugin host: plugin discovery, the pluggy manager (project ``lerobot_ext``) and what was
registered. It calls no hook: :mod:`lerobot_ext.dispatch` does (registration hooks included).

Plugins are found through entry points in the ``lerobot_ext`` group - lerobot-ext's own
built-in features join the same way as a third party's.

Environment:

* ``LEROBOT_EXT_PLUGINS=a,b`` loads only the plugins named ``a`` and ``b`` (entry-point names);
  set but empty loads none.
* ``LEROBOT_EXT_STRICT_PLUGINS=1`` makes a plugin that fails to import fatal; by default it is
  reported with its name and entry point, and skipped.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from lerobot_ext import hookspecs
from lerobot_ext.config import ExtTrainPipelineConfig, build_config_class
from lerobot_ext.console import get_logger
from lerobot_ext.errors import PluginLoadError
from lerobot_ext.flags import is_true
from lerobot_ext.hookspecs import HookKind
from lerobot_ext.registry import Registry

ENTRY_POINT_GROUP = "lerobot_ext"
ENV_ALLOW_LIST = "LEROBOT_EXT_PLUGINS"
ENV_STRICT = "LEROBOT_EXT_STRICT_PLUGINS"
#: The entry point shown for a plugin object handed to the host directly (tests).
DIRECT = "<direct>"

log = get_logger("plugins")


@dataclass
class PluginInfo:
    """What ``lerobot-train-ext --plugins`` shows about one entry point."""

    name: str
    entry_point: str
    distribution: str | None
    version: str | None
    status: str  # "loaded", "failed", "disabled"
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entry_point": self.entry_point,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "hooks": self.hooks,
            "registered": self.registered,
        }


def allow_list(environ: Mapping[str, str]) -> set[str] | None:
    """Names allowed by ``LEROBOT_EXT_PLUGINS``; ``None`` means every installed plugin."""
    if ENV_ALLOW_LIST not in environ:
        return None
    return {name.strip() for name in environ[ENV_ALLOW_LIST].split(",") if name.strip()}


def _entry_point_text(ep: importlib.metadata.EntryPoint) -> str:
    return f"{ep.name} = {ep.value}"


def _distribution(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata.get("Name"), dist.version


class PluginHost:
    """The pluggy manager, the plugins found, and what they registered.

    Build one with :func:`lerobot_ext.dispatch.load_plugins` (entry points) or
    :func:`lerobot_ext.dispatch.plugins_from` (explicit plugin objects, for tests): those load
    the plugins here and then run the registration hooks.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: list[PluginInfo] = []
        #: The kinds of the hooks plugins added (``register_hookspecs``), by hook name.
        self.added_hook_kinds: dict[str, HookKind] = {}
        #: How the hooks are called (``lerobot_ext.dispatch.Hooks``), once the plugins are loaded.
        self.hooks: Any = None

    def add(self, name: str, plugin: object, info: PluginInfo) -> None:
        """Register one plugin object with pluggy under ``name``."""
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise PluginLoadError(f"plugin '{name}' ({info.entry_point}) is invalid: {exc}") from exc
        self.infos.append(info)

    def add_direct(self, plugins: Mapping[str, object]) -> None:
        """Register the given ``{name: plugin}`` objects (no entry-point discovery)."""
        for name, plugin in plugins.items():
            self.add(name, plugin, PluginInfo(name, DIRECT, None, None, "loaded"))

    def add_hookspecs(self, plugin_name: str, specs: object, kinds: Mapping[str, HookKind] | None) -> None:
        """Hooks a plugin adds for other plugins (``register_hookspecs``), with their kinds."""
        try:
            self.pm.add_hookspecs(specs)
        except (pluggy.PluginValidationError, ValueError, TypeError) as exc:
            raise PluginLoadError(f"plugin '{plugin_name}' registered invalid hookspecs: {exc}") from exc
        added = {
            name: caller
            for name, caller in vars(self.pm.hook).items()
            if getattr(caller, "spec", None) is not None and caller.spec.namespace is specs
        }
        kinds = dict(kinds or {})
        for name in kinds:
            if name not in added:
                raise PluginLoadError(
                    f"plugin '{plugin_name}' gave a kind to hook '{name}', which its hookspecs do not define"
                )
        for name, caller in added.items():
            kind = kinds.get(name)
            if kind is None:
                kind = HookKind.FIRST_RESULT if caller.spec.opts.get("firstresult") else HookKind.COLLECT
            if not isinstance(kind, HookKind):
                raise PluginLoadError(
                    f"plugin '{plugin_name}' gave hook '{name}' the kind {kind!r}; use a lerobot_ext.HookKind"
                )
            self.added_hook_kinds[name] = kind

    def check_hook_names(self) -> None:
        """A hookimpl whose name matches no hookspec is almost always a typo; say so now rather
        than never calling it."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or "?"
            info = next((i for i in self.infos if i.name == name), None)
            where = f" ({info.entry_point})" if info else ""
            raise PluginLoadError(f"plugin '{name}'{where} is invalid: {exc}") from exc
        for info in self.infos:
            plugin = self.pm.get_plugin(info.name)
            if plugin is not None:
                info.hooks = sorted(caller.name for caller in (self.pm.get_hookcallers(plugin) or []))

    def discover(
        self,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Import and register every allowed plugin of the ``lerobot_ext`` entry-point group."""
        environ = os.environ if environ is None else environ
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        allowed = allow_list(environ)
        strict = is_true(environ.get(ENV_STRICT))
        seen: set[str] = set()
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist_name, version = _distribution(ep)
            info = PluginInfo(ep.name, _entry_point_text(ep), dist_name, version, "loaded")
            if ep.name in seen:
                raise PluginLoadError(
                    f"two installed distributions declare the lerobot_ext plugin '{ep.name}' "
                    f"(the second is {info.entry_point} from {dist_name or 'an unknown distribution'}); "
                    "uninstall one of them"
                )
            seen.add(ep.name)
            if allowed is not None and ep.name not in allowed:
                info.status = "disabled"
                self.infos.append(info)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a plugin's import error must not take the others down
                info.status = "failed"
                info.error = f"{type(exc).__name__}: {exc}"
                message = (
                    f"plugin '{ep.name}' ({info.entry_point}"
                    f"{', from ' + dist_name + ' ' + str(version) if dist_name else ''}) "
                    f"failed to import: {info.error}"
                )
                if strict:
                    raise PluginLoadError(f"{message} (fatal because {ENV_STRICT}=1)") from exc
                log.warning("%s; skipped (set %s=1 to make this fatal)", message, ENV_STRICT)
                log.debug("".join(traceback.format_exception(exc)))
                self.infos.append(info)
                continue
            self.add(ep.name, plugin, info)
        if allowed:
            unknown = allowed - seen
            if unknown:
                log.warning(
                    "%s names plugins that are not installed: %s (installed: %s)",
                    ENV_ALLOW_LIST,
                    ", ".join(sorted(unknown)),
                    ", ".join(sorted(seen)) or "none",
                )

    def implementations(self, hook_name: str) -> list[Any]:
        """pluggy's implementations of ``hook_name``, in the order pluggy calls them (it keeps them
        sorted for calling in reverse, tryfirst ones last in its list); ``[]`` for a hook no
        loaded plugin added."""
        caller = getattr(self.pm.hook, hook_name, None)
        return list(reversed(caller.get_hookimpls())) if caller is not None else []

    def hook_names(self) -> list[str]:
        """Every hook that has a spec: lerobot-ext's and those plugins added."""
        return [
            name for name, caller in vars(self.pm.hook).items() if getattr(caller, "spec", None) is not None
        ]

    @functools.cached_property
    def config_class(self) -> type[ExtTrainPipelineConfig]:
        """``ExtTrainPipelineConfig`` with the loaded plugins' fields (``register_config_fields``)."""
        return build_config_class(self.registry.config_fields)

    def names_with_status(self, status: str = "loaded") -> list[str]:
        """Names of the plugins with ``status`` (``loaded``, ``disabled`` or ``failed``)."""
        return [info.name for info in self.infos if info.status == status]

    def not_loaded(self) -> list[str]:
        """Installed plugins that are not loaded: disabled by the allow-list, or failed to import."""
        return [info.name for info in self.infos if info.status != "loaded"]

    def is_loaded(self, name: str) -> bool:
        return name in self.names_with_status()
