"""Calling the hooks: one table (:data:`HOOKS`) says, for every hook, how its implementations are
called (its :class:`~lerobot_ext.hookspecs.HookKind`), what each may return and when it is called.

Every hook lerobot-ext calls goes through :class:`Hooks`, one implementation at a time, so that a
bad answer names its plugin: this module holds the only "returned ... from <hook>" error. Loading
the plugins ends here too (:func:`load_plugins`): the host finds and registers them, then this
module refuses implementations the table cannot call (wrappers; an ordered hook's implementation
without an order) and runs the registration hooks.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lerobot_ext.dataset_changes import DatasetChange
from lerobot_ext.dataset_sources import CombinedDatasets, DatasetSource
from lerobot_ext.errors import LerobotExtError, PluginHookError, PluginLoadError
from lerobot_ext.hookspecs import ORDER_ATTRIBUTE, HookKind
from lerobot_ext.host import PluginHost
from lerobot_ext.load_overrides import LoadOverrides
from lerobot_ext.registry import LISTED_REGISTRATIONS, REGISTRATIONS
from lerobot_ext.robot_adapter import AdapterChoice


def _processor_steps(change: DatasetChange) -> str | None:
    """A change's steps must be lerobot ``ProcessorStep``s (they are saved in the checkpoint)."""
    from lerobot.processor import ProcessorStep

    for step in (*change.preprocessor_steps, *change.postprocessor_steps):
        if not isinstance(step, ProcessorStep):
            return f"step {step!r}, which is not a lerobot.processor.ProcessorStep,"
    return None


def _context_manager(answer: Any) -> str | None:
    return None if isinstance(answer, contextlib.AbstractContextManager) else repr(answer)


@dataclass(frozen=True)
class HookCall:
    """How one hook is called.

    ``returns``: the type(s) an answer other than ``None`` must have (``None``: only ``None`` is
    allowed; for a chain, the type of the value it passes on, unless given). ``chained``: for a
    chain, the argument each answer replaces for the next implementation, and ``fold`` how an
    answer becomes that argument (default: the answer itself). ``ordered``: implementations
    declare ``@hookimpl(order=N)``. ``check``: what else is wrong with an answer, or ``None``.
    ``called``: when it is called, in the words of the hook reference (docs/plugins/hooks.md).
    """

    kind: HookKind
    called: str
    returns: type | tuple[type, ...] | None = None
    expected: str = "None"
    chained: str | None = None
    fold: Callable[[Any, Any], Any] | None = None
    ordered: bool = False
    check: Callable[[Any], str | None] | None = None


def _replace_dataset(dataset: Any, change: DatasetChange) -> Any:
    import dataclasses

    return dataclasses.replace(dataset, features=change.features, stats=change.stats)


def _dataset_sources(answer: Any) -> str | None:
    wrong = [type(item).__name__ for item in answer if not isinstance(item, DatasetSource)]
    return f"a list holding {', '.join(wrong)}, not only DatasetSource" if wrong else None


_EVERY_PROCESS = "every process"
#: Every hook of ``lerobot_ext.hookspecs``: how it is called.
HOOKS: dict[str, HookCall] = {
    # register
    "register_hookspecs": HookCall(
        HookKind.REGISTER, "once per process, after plugins load, before the other registrations"
    ),
    "register_policies": HookCall(HookKind.REGISTER, "once per process, after plugins load"),
    "register_robot_adapters": HookCall(HookKind.REGISTER, "once per process, after plugins load"),
    "register_config_fields": HookCall(
        HookKind.REGISTER, "once per process, after plugins load, before parsing"
    ),
    "register_commands": HookCall(HookKind.REGISTER, "once per process, after plugins load"),
    "register_upstream_names": HookCall(HookKind.REGISTER, "once per process, after plugins load"),
    "doctor_report": HookCall(
        HookKind.COLLECT,
        "once, by lerobot-ext doctor",
        returns=dict,
        expected='a dict {"title": str, "lines": [str, ...], "data": ...} or None',
    ),
    # the config
    "configure": HookCall(
        HookKind.CHAIN,
        "once per process, after parsing, before upstream's validate()",
        expected="None or the config it was given",
        chained="cfg",
    ),
    "configure_policy": HookCall(
        HookKind.COLLECT,
        "once per process, right before make_policy, with the changed dataset",
        returns=dict,
        expected="a dict {field: value} or None",
    ),
    "step_phase_timing": HookCall(
        HookKind.COLLECT, "once per process, before training", returns=bool, expected="a bool or None"
    ),
    # the data
    "select_robot_adapter": HookCall(
        HookKind.FIRST_RESULT,
        "when the dataset is loaded, and by inspect",
        returns=AdapterChoice,
        expected="an AdapterChoice(adapter, reason) or None",
    ),
    "transform_dataset": HookCall(
        HookKind.CHAIN,
        "when the dataset is loaded, and by inspect",
        returns=DatasetChange,
        expected="a lerobot_ext.DatasetChange or None",
        chained="dataset",
        fold=_replace_dataset,
        ordered=True,
        check=_processor_steps,
    ),
    "check_checkpoint": HookCall(
        HookKind.NOTIFY, "when the run starts from a local checkpoint, before its weights load"
    ),
    "checkpoint_loading": HookCall(
        HookKind.COLLECT,
        "before a policy is built from a saved folder (a resumed or fine-tuned run, lerobot-eval-ext, load_policy)",
        returns=LoadOverrides,
        expected="a lerobot_ext.LoadOverrides or None",
    ),
    "more_datasets": HookCall(
        HookKind.COLLECT,
        "once per process, when upstream has loaded the primary dataset",
        returns=list,
        expected="a list of lerobot_ext.DatasetSource or None",
        check=_dataset_sources,
    ),
    "combine_datasets": HookCall(
        HookKind.FIRST_RESULT,
        "once per process, when more_datasets gave datasets, after their wrap_dataset",
        returns=CombinedDatasets,
        expected="a lerobot_ext.CombinedDatasets or None",
    ),
    "compare_datasets": HookCall(
        HookKind.COLLECT,
        "by inspect with several datasets",
        returns=list,
        expected="a list of str or None",
    ),
    "make_sampler": HookCall(
        HookKind.FIRST_RESULT,
        "once per process, where upstream builds the training sampler",
        returns=object,
        expected="a sampler like upstream's EpisodeAwareSampler, or None",
    ),
    "wrap_dataset": HookCall(
        HookKind.CHAIN,
        "for the training (and held-out) dataset, of each dataset of the run",
        expected="None or the dataset to use",
        returns=object,
        chained="dataset",
    ),
    "datasets_ready": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, after wrap_dataset, before the policy is built"
    ),
    "env_policy_features": HookCall(
        HookKind.FIRST_RESULT,
        "lerobot-eval-ext, building a checkpoint's policy for an environment",
        returns=dict,
        expected="a dict of features or None",
    ),
    # the run
    "policy_made": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, once the policy is built, before the first step"
    ),
    "processors_made": HookCall(HookKind.NOTIFY, f"{_EVERY_PROCESS}, once the pre/post-processors exist"),
    "before_first_batch": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, after on_train_start, before the first batch is fetched"
    ),
    "first_batch_ready": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, after the first batch, before the first update"
    ),
    "optimizer_ready": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, after first_batch_ready, before the first update"
    ),
    "request_stop": HookCall(
        HookKind.COLLECT, f"{_EVERY_PROCESS}, after every step", returns=str, expected="a str or None"
    ),
    "around_evaluation": HookCall(
        HookKind.COLLECT,
        "the evaluating process, around each in-training env evaluation",
        expected="a context manager (e.g. from @contextlib.contextmanager) or None",
        check=_context_manager,
    ),
    "on_train_start": HookCall(HookKind.NOTIFY, f"{_EVERY_PROCESS}, before the first step"),
    "on_step_end": HookCall(HookKind.NOTIFY, f"{_EVERY_PROCESS}, after each optimisation step"),
    "on_phase_start": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, at each phase boundary, when timings were asked for"
    ),
    "on_step_phases": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, after on_step_end, when timings were asked for"
    ),
    "checkpoint_writing": HookCall(
        HookKind.NOTIFY,
        "every process that saves, once upstream wrote <step>.partial/, before it is committed",
    ),
    "on_checkpoint_saved": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, once the checkpoint is complete on disk"
    ),
    "on_train_end": HookCall(
        HookKind.NOTIFY, f"{_EVERY_PROCESS}, after the last step, process group still alive"
    ),
    "on_exception": HookCall(HookKind.NOTIFY, f"{_EVERY_PROCESS} that saw the exception"),
}


def _implementation_order(impl: Any) -> int | None:
    return getattr(impl.function, ORDER_ATTRIBUTE, None)


class Hooks:
    """Calls the hooks of one :class:`~lerobot_ext.host.PluginHost` as :data:`HOOKS` says (and, for a
    hook a plugin added, as the plugin said when it added it)."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        # Once loading is done the implementations never change: on_step_end and request_stop
        # run every step, so their lists are worked out once.
        self._settled: dict[str, list[Any]] | None = None

    # ------------------------------------------------------------------ the table

    def call_of(self, name: str) -> HookCall:
        """How ``name`` is called; a hook a plugin added is called as its kind says."""
        found = HOOKS.get(name)
        if found is not None:
            return found
        kind = self.host.added_hook_kinds.get(name)
        if kind is None:
            raise PluginHookError(f"no loaded plugin defines the hook '{name}'")
        return HookCall(kind, "as the plugin that added it says", returns=object, expected="anything")

    def implementations(self, name: str) -> list[Any]:
        """The implementations of ``name`` in calling order: pluggy's, or for an ordered hook by
        each implementation's declared ``order``."""
        if self._settled is not None and name in self._settled:
            return self._settled[name]
        found = self.host.implementations(name)
        if self.call_of(name).ordered:
            found.sort(key=lambda impl: _implementation_order(impl) or 0)
        if self._settled is not None:
            self._settled[name] = found
        return found

    def _expect(self, name: str, *kinds: HookKind) -> HookCall:
        call = self.call_of(name)
        if call.kind not in kinds:
            raise TypeError(f"hook '{name}' is a {call.kind} hook, not {' or '.join(kinds)}")
        return call

    # ------------------------------------------------------------------ calling

    @staticmethod
    def _call(impl: Any, kwargs: Mapping[str, Any]) -> Any:
        """One implementation, with the arguments it names (pluggy passes only those too)."""
        return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})

    def _validated(self, name: str, call: HookCall, impl: Any, answer: Any, returns: Any) -> Any:
        if answer is None:
            return None
        what, expected = None, call.expected
        if returns is None:
            what, expected = repr(answer), "None"
        elif not isinstance(answer, returns):
            what = type(answer).__name__
        elif call.check is not None:
            what = call.check(answer)
        if what is not None:
            raise PluginHookError(
                f"plugin '{impl.plugin_name}' returned {what} from {name}; expected {expected}"
            )
        return answer

    def notify(self, name: str, **kwargs: Any) -> None:
        """Every implementation, with the same arguments; each must return ``None``."""
        call = self._expect(name, HookKind.NOTIFY)
        for impl in self.implementations(name):
            self._validated(name, call, impl, self._call(impl, kwargs), None)

    def collect(self, name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Every implementation; each answer other than ``None``, with its plugin, in call order."""
        call = self._expect(name, HookKind.COLLECT)
        answers = []
        for impl in self.implementations(name):
            answer = self._validated(name, call, impl, self._call(impl, kwargs), call.returns or object)
            if answer is not None:
                answers.append((impl.plugin_name, answer))
        return answers

    def first(self, name: str, **kwargs: Any) -> tuple[str, Any] | None:
        """Implementations in order until one answers: ``(plugin, answer)``, or ``None``."""
        call = self._expect(name, HookKind.FIRST_RESULT)
        for impl in self.implementations(name):
            answer = self._validated(name, call, impl, self._call(impl, kwargs), call.returns or object)
            if answer is not None:
                return impl.plugin_name, answer
        return None

    def chain(self, name: str, **kwargs: Any) -> tuple[Any, list[tuple[str, Any]]]:
        """Each implementation gets the value the previous one left in the chained argument:
        ``(the last value, [(plugin, answer), ...])``."""
        call = self._expect(name, HookKind.CHAIN)
        assert call.chained is not None, name
        kwargs = dict(kwargs)
        answers = []
        for impl in self.implementations(name):
            value = kwargs[call.chained]
            returns = call.returns or type(value)
            answer = self._validated(name, call, impl, self._call(impl, kwargs), returns)
            if answer is None:
                continue
            answers.append((impl.plugin_name, answer))
            kwargs[call.chained] = call.fold(value, answer) if call.fold is not None else answer
        return kwargs[call.chained], answers

    def register(self, name: str, make_register: Callable[[str], Callable[..., None]]) -> None:
        """Each implementation gets its own ``register`` (``make_register(plugin name)``).

        An error other than lerobot-ext's own is a :class:`PluginLoadError` naming the plugin.
        """
        call = self._expect(name, HookKind.REGISTER)
        for impl in self.implementations(name):
            try:
                answer = self._call(impl, {"register": make_register(impl.plugin_name)})
            except LerobotExtError:
                raise
            except Exception as exc:
                raise PluginLoadError(
                    f"plugin '{impl.plugin_name}' failed in {name}: {type(exc).__name__}: {exc}"
                ) from exc
            self._validated(name, call, impl, answer, None)

    # ------------------------------------------------------------------ loading

    def check_implementations(self) -> None:
        """Refuse, when the plugins load, what a call could not do: a wrapper implementation
        (each implementation is called on its own), and an ordered hook's implementation without
        an order, or with another's."""
        for name in self.host.hook_names():
            ordered = self.call_of(name).ordered
            seen: dict[int, str] = {}
            for impl in self.host.implementations(name):
                if impl.hookwrapper or impl.wrapper:
                    raise PluginLoadError(
                        f"plugin '{impl.plugin_name}' implements {name} as a wrapper; lerobot-ext calls each "
                        "implementation on its own (so that an error names its plugin): write a plain "
                        "implementation, with tryfirst/trylast to place it"
                    )
                if not ordered:
                    continue
                order = _implementation_order(impl)
                if order is None:
                    raise PluginLoadError(
                        f"plugin '{impl.plugin_name}' implements {name} without an order; its steps are saved "
                        f"in checkpoints in this hook's order: declare it with @hookimpl(order=N) (lower runs "
                        f"first; taken: {_taken(seen)})"
                    )
                if order in seen:
                    raise PluginLoadError(
                        f"plugins '{seen[order]}' and '{impl.plugin_name}' both implement {name} with order={order}; "
                        "their order would depend on their names: give one another order"
                    )
                seen[order] = impl.plugin_name

    def run_registrations(self) -> None:
        """Every ``register_*`` hook, once per plugin, in hook order (``register_hookspecs`` first,
        so other plugins may implement the hooks it adds)."""

        def hookspecs_register(plugin: str) -> Callable[..., None]:
            def register(specs: object, kinds: Mapping[str, HookKind] | None = None) -> None:
                self.host.add_hookspecs(plugin, specs, kinds)

            return register

        self.check_implementations()  # before any is called
        self.register("register_hookspecs", hookspecs_register)
        self.host.check_hook_names()
        self.check_implementations()
        infos = {info.name: info for info in self.host.infos}
        registry = self.host.registry
        for registration in REGISTRATIONS:
            self.register(
                f"register_{registration}",
                lambda plugin, r=registration: registry.register_function(r, plugin),
            )
            if registration not in LISTED_REGISTRATIONS:
                continue
            for plugin, info in infos.items():
                names = registry.names_of(registration, plugin)
                if names:
                    info.registered[registration] = names
        self._settled = {}  # loading is done: from now on the implementations never change


def _taken(seen: Mapping[int, str]) -> str:
    return ", ".join(f"{order} by {plugin}" for order, plugin in sorted(seen.items())) or "none yet"


def _loaded(host: PluginHost) -> PluginHost:
    hooks = Hooks(host)
    hooks.run_registrations()
    host.hooks = hooks
    return host


def load_plugins(
    environ: Mapping[str, str] | None = None, entry_points: Iterable[Any] | None = None
) -> PluginHost:
    """Discover, import and register the installed plugins, then run the registration hooks.

    ``LEROBOT_EXT_PLUGINS=a,b`` loads only the plugins named ``a`` and ``b`` (entry-point names;
    set but empty loads none); ``LEROBOT_EXT_STRICT_PLUGINS=1`` makes a plugin that fails to
    import fatal (by default it is reported and skipped).
    """
    host = PluginHost()
    host.discover(entry_points=entry_points, environ=environ)
    return _loaded(host)


def plugins_from(plugins: Mapping[str, object]) -> PluginHost:
    """A host with the given ``{name: plugin}`` objects (no entry-point discovery), loaded."""
    host = PluginHost()
    host.add_direct(plugins)
    return _loaded(host)


def hooks_of(host: PluginHost) -> Hooks:
    """The :class:`Hooks` of a loaded host."""
    return host.hooks  # type: ignore[no-any-return]


def accepts_context(function: Callable[..., Any]) -> bool:
    """Whether a command's ``configure`` or ``run`` takes a second argument, the
    :class:`~lerobot_ext.context.RunContext` (``register_commands``)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)
