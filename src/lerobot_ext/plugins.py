"""Plugin discovery and the plugin manager (pluggy project ``lerobot_ext``).

Plugins are found through entry points in the ``lerobot_ext`` group - the same way our own
built-in features (transforms, robot adapters, profiler) and the ``flow`` policy join.

Environment:

* ``LEROBOT_EXT_PLUGINS=a,b`` loads only the plugins named ``a`` and ``b`` (entry-point names);
  set but empty loads none.
* ``LEROBOT_EXT_STRICT_PLUGINS=1`` makes a plugin that fails to import fatal; by default it is
  reported with its name and entry point, and skipped.
"""

from __future__ import annotations

import importlib.metadata
import os
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from lerobot_ext import hookspecs
from lerobot_ext.console import get_logger
from lerobot_ext.errors import PluginConflictError, PluginHookError, PluginLoadError
from lerobot_ext.registry import Registry

ENTRY_POINT_GROUP = "lerobot_ext"
ENV_ALLOW_LIST = "LEROBOT_EXT_PLUGINS"
ENV_STRICT = "LEROBOT_EXT_STRICT_PLUGINS"

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT_NAME)

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


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


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
    """The pluggy manager plus what the plugins registered.

    Build one with :func:`load_plugins`; tests build one from explicit plugin objects with
    :meth:`PluginHost.from_plugins`.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: list[PluginInfo] = []

    @property
    def hook(self) -> Any:
        return self.pm.hook

    @classmethod
    def from_plugins(cls, plugins: Mapping[str, object]) -> PluginHost:
        """A host with the given ``{name: plugin}`` registered (no entry-point discovery)."""
        host = cls()
        for name, plugin in plugins.items():
            host._register(name, plugin, PluginInfo(name, "<direct>", None, None, "loaded"))
        host.run_registration_hooks()
        return host

    def _register(self, name: str, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=name)
            # A hookimpl whose name matches no hookspec is almost always a typo; say so now
            # rather than never calling it.
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise PluginLoadError(f"plugin '{name}' ({info.entry_point}) is invalid: {exc}") from exc
        info.hooks = sorted(caller.name for caller in (self.pm.get_hookcallers(plugin) or []))
        self.infos.append(info)

    def load_entry_points(
        self,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Import and register every allowed plugin of the ``lerobot_ext`` entry-point group."""
        environ = os.environ if environ is None else environ
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        allowed = allow_list(environ)
        strict = _truthy(environ.get(ENV_STRICT))
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
            self._register(ep.name, plugin, info)
        if allowed:
            unknown = allowed - seen
            if unknown:
                log.warning(
                    "%s names plugins that are not installed: %s (installed: %s)",
                    ENV_ALLOW_LIST,
                    ", ".join(sorted(unknown)),
                    ", ".join(sorted(seen)) or "none",
                )
        self.run_registration_hooks()

    def run_registration_hooks(self) -> None:
        """Call every ``register_*`` hook once per plugin, so each name is traced to its plugin."""
        infos = {info.name: info for info in self.infos}
        for hook_name, kind in (
            ("register_policies", "policies"),
            ("register_robot_adapters", "robot_adapters"),
            ("register_transforms", "transforms"),
            ("register_upstream_names", "upstream_names"),
        ):
            caller = getattr(self.pm.hook, hook_name)
            # Registration order is plugin order, so listings and conflict messages are stable.
            for impl in caller.get_hookimpls():
                plugin_name = impl.plugin_name
                register = self.registry.register_function(kind, plugin_name)
                try:
                    # Like any hook, an implementation may take a subset of the arguments.
                    impl.function(**({"register": register} if "register" in impl.argnames else {}))
                except (PluginConflictError, PluginHookError, PluginLoadError):
                    raise
                except Exception as exc:
                    raise PluginLoadError(
                        f"plugin '{plugin_name}' failed in {hook_name}: {type(exc).__name__}: {exc}"
                    ) from exc
                if plugin_name in infos and kind != "upstream_names":
                    infos[plugin_name].registered.setdefault(kind, [])
                    infos[plugin_name].registered[kind] = self.registry.names_of(kind, plugin_name)

    def plugin_names(self) -> list[str]:
        return [info.name for info in self.infos if info.status == "loaded"]

    def is_loaded(self, name: str) -> bool:
        return name in self.plugin_names()


def call_each(host: PluginHost, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call a transforming hook implementation by implementation, in pluggy's call order.

    Unlike ``pm.hook.<name>(...)`` this keeps each result paired with the plugin that returned
    it, so a bad value or a conflict can name its plugin.
    """
    caller = getattr(host.pm.hook, hook_name)
    results = []
    # pluggy calls the most recently registered implementation first (tryfirst/trylast
    # already sorted into the list), i.e. the list in reverse.
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            raise PluginHookError(
                f"plugin '{impl.plugin_name}' implements {hook_name} as a wrapper; this hook's "
                "results are validated one by one, so wrappers are not supported here"
            )
        results.append((impl.plugin_name, impl.function(**{arg: kwargs[arg] for arg in impl.argnames})))
    return results


def load_plugins(environ: Mapping[str, str] | None = None) -> PluginHost:
    """Discover, import and register the installed plugins (see the module docstring)."""
    host = PluginHost()
    host.load_entry_points(environ=environ)
    return host
