"""Plugin discovery and the plugin manager (pluggy project ``lerobot_ext``).

Plugins are found through entry points in the ``lerobot_ext`` group - lerobot-ext's own
built-in features join the same way as a third party's.

Public for plugins: :data:`hookimpl`, :func:`current_hooks` and :func:`current_implementations`.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from lerobot_ext import hookspecs
from lerobot_ext.console import get_logger
from lerobot_ext.errors import PluginConflictError, PluginHookError, PluginLoadError
from lerobot_ext.flags import is_true
from lerobot_ext.registry import KINDS, LISTED_KINDS, Registry

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
        host._finish_loading()
        return host

    def _register(self, name: str, plugin: object, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise PluginLoadError(f"plugin '{name}' ({info.entry_point}) is invalid: {exc}") from exc
        self.infos.append(info)

    def _add_plugin_hookspecs(self) -> None:
        """``register_hookspecs``: hooks plugins define for each other, before the others run."""
        for impl in self.impls("register_hookspecs"):

            def register(specs: object, plugin_name: str = impl.plugin_name) -> None:
                try:
                    self.pm.add_hookspecs(specs)
                except (pluggy.PluginValidationError, ValueError, TypeError) as exc:
                    raise PluginLoadError(
                        f"plugin '{plugin_name}' registered invalid hookspecs: {exc}"
                    ) from exc

            self.call_impl(impl, register=register)

    def _check_hook_names(self) -> None:
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

    def _finish_loading(self) -> None:
        global _CURRENT
        self._add_plugin_hookspecs()
        self._check_hook_names()
        self.run_registration_hooks()
        _CURRENT = self

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
        self._finish_loading()

    def run_registration_hooks(self) -> None:
        """Call every ``register_*`` hook once per plugin, so each name is traced to its plugin.

        In the same order as every other hook (pluggy's call order, tryfirst/trylast honoured).
        """
        infos = {info.name: info for info in self.infos}
        for kind in KINDS:
            hook_name = f"register_{kind}"
            for impl in self.impls(hook_name):
                plugin_name = impl.plugin_name
                register = self.registry.register_function(kind, plugin_name)
                try:
                    # Like any hook, an implementation may take a subset of the arguments.
                    self.call_impl(impl, register=register)
                except (PluginConflictError, PluginHookError, PluginLoadError):
                    raise
                except Exception as exc:
                    raise PluginLoadError(
                        f"plugin '{plugin_name}' failed in {hook_name}: {type(exc).__name__}: {exc}"
                    ) from exc
                if plugin_name in infos and kind in LISTED_KINDS:
                    infos[plugin_name].registered[kind] = self.registry.names_of(kind, plugin_name)
                    if not infos[plugin_name].registered[kind]:
                        del infos[plugin_name].registered[kind]

    def impls(self, hook_name: str) -> list[Any]:
        """The implementations of ``hook_name`` in the order pluggy calls them.

        pluggy keeps them sorted for calling in reverse (tryfirst ones last in its list), so the
        list is reversed here; every hook lerobot-ext calls one implementation at a time goes
        through this, so registration and transforming hooks share lifecycle hooks' order.
        """
        found = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                raise PluginHookError(
                    f"plugin '{impl.plugin_name}' implements {hook_name} as a wrapper; this hook's "
                    "results are validated one by one, so wrappers are not supported here"
                )
            found.append(impl)
        return found

    @staticmethod
    def call_impl(impl: Any, **kwargs: Any) -> Any:
        """Call one implementation with the arguments it names."""
        return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    @functools.cached_property
    def config_class(self) -> type:
        """``ExtTrainPipelineConfig`` with the loaded plugins' fields (``register_config_fields``)."""
        from lerobot_ext.config import build_config_class

        return build_config_class(self.registry.config_fields)

    def plugin_names(self, status: str = "loaded") -> list[str]:
        """Names of the plugins with ``status`` (``loaded``, ``disabled`` or ``failed``)."""
        return [info.name for info in self.infos if info.status == status]

    def not_loaded(self) -> list[str]:
        """Installed plugins that are not loaded: disabled by the allow-list, or failed to import."""
        return [info.name for info in self.infos if info.status != "loaded"]

    def is_loaded(self, name: str) -> bool:
        return name in self.plugin_names()


def call_each(host: PluginHost, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call a hook implementation by implementation, in pluggy's call order.

    Unlike ``pm.hook.<name>(...)`` this keeps each result paired with the plugin that returned
    it, so a bad value or a conflict can name its plugin.
    """
    return [(impl.plugin_name, host.call_impl(impl, **kwargs)) for impl in host.impls(hook_name)]


_CURRENT: PluginHost | None = None


def current_hooks() -> Any:
    """The hook caller of the plugins this process loaded last (``pm.hook``).

    For a plugin that calls a hook it (or another plugin) added with ``register_hookspecs``:
    ``current_hooks().my_hook(arg=...)`` returns the non-``None`` answers in hook order. ``None``
    before any plugin is loaded.
    """
    return _CURRENT.hook if _CURRENT is not None else None


def current_implementations(hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
    """``(plugin name, call)`` per implementation of a hook of the plugins this process loaded last.

    In the one hook order; ``call(**kwargs)`` passes the implementation the arguments it names.
    For a plugin calling a hook it added with ``register_hookspecs`` one implementation at a
    time - to name the plugin behind a bad answer or a conflict, or to hand each its own
    ``register``. An empty list before any plugin is loaded, or when no loaded plugin added
    ``hook_name``.
    """
    host = _CURRENT
    if host is None or not hasattr(host.pm.hook, hook_name):
        return []
    return [(impl.plugin_name, functools.partial(host.call_impl, impl)) for impl in host.impls(hook_name)]


def load_plugins(environ: Mapping[str, str] | None = None) -> PluginHost:
    """Discover, import and register the installed plugins (see the module docstring)."""
    host = PluginHost()
    host.load_entry_points(environ=environ)
    return host
