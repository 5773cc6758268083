"""The shape of the code: layers without import cycles, the public API in ``lerobot_ext.__all__``,
one dispatch table, and checkpoints that load without the plugin system."""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from helpers import REPO, all_hookspecs

import lerobot_ext
from lerobot_ext.dispatch import HOOKS
from lerobot_ext.hookspecs import HookKind

SRC = REPO / "src" / "lerobot_ext"

# The built-in features: the packages of pyproject.toml's entry points.
FEATURE_PACKAGES = tuple(
    sorted(
        {
            target.split(":")[0].split(".")[1]
            for target in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][
                "lerobot_ext"
            ].values()
        }
    )
)

# The core's layers, in order: a module imports only modules of its own layer or of those before
# it. The facade (lerobot_ext/__init__) comes after them all; the features after the facade.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "values",
        [
            "errors", "flags", "launch", "console", "layout", "robot_adapter", "robot_layouts",
            "dataset_changes", "registrations", "config", "argv", "context", "step_timing",
            "video_backend", "dataset_view", "dataset_writer", "upstream", "upstream.versions",
            "upstream.names", "checkpoint_folders", "load_overrides",
            "dataset_versions", "dataset_sources",
        ],
    ),
    ("hookspecs", ["hookspecs"]),
    ("host", ["registry", "host"]),
    ("dispatch", ["dispatch"]),
    (
        "run",
        ["checkpoint_loading", "training", "evaluation", "pipeline_steps", "inspect_dataset", "runner", "seams", "upstream.catalogue"],
    ),
    ("commands", ["cli"]),
]  # fmt: skip


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["lerobot_ext", *parts])


MODULES = {module_name(path): path for path in SRC.rglob("*.py")}


def imported_modules(name: str) -> set[str]:
    """The project modules ``name`` imports - at the top, in functions, under TYPE_CHECKING; for
    the facade, the modules its lazy table names."""
    path = MODULES[name]
    source = path.read_text()
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            # `from pkg import module` imports the module; `from pkg import name`, pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    if name == "lerobot_ext":
        found |= set(re.findall(r'"(lerobot_ext\.[\w.]+)"', source)) & set(MODULES)
    return found


GRAPH = {name: imported_modules(name) for name in MODULES}


def layer_of(name: str) -> int | None:
    """The layer of the most specific member naming ``name`` (``upstream.catalogue`` over ``upstream``)."""
    short = name.removeprefix("lerobot_ext.")
    found = [
        (len(member), index)
        for index, (_, members) in enumerate(LAYERS)
        for member in members
        if short == member or short.startswith(member + ".")
    ]
    return max(found)[1] if found else None


def feature_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURE_PACKAGES else None


def test_every_module_is_in_a_layer_or_a_feature_package() -> None:
    homeless = [
        name
        for name in MODULES
        if name != "lerobot_ext" and layer_of(name) is None and feature_of(name) is None
    ]
    assert homeless == [], f"modules in no layer of tests/test_architecture.py: {homeless}"


def test_each_core_layer_imports_only_itself_and_the_layers_before_it() -> None:
    wrong = []
    for name, imports in GRAPH.items():
        layer = layer_of(name)
        if layer is None:
            continue
        for imported in imports:
            if imported == "lerobot_ext" or feature_of(imported) is not None:
                wrong.append(f"{name} imports {imported} (the facade or a feature: the core imports neither)")
            elif (other := layer_of(imported)) is not None and other > layer:
                wrong.append(f"{name} ({LAYERS[layer][0]}) imports {imported} ({LAYERS[other][0]})")
    assert wrong == []


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycle_counting_deferred_and_type_checking_imports() -> None:
    assert find_cycles(GRAPH) == []


def test_the_checks_see_deferred_imports_and_cycles() -> None:
    # data_cache/plugin.py imports its build module inside a function only.
    assert "lerobot_ext.data_cache.build" in GRAPH["lerobot_ext.data_cache.plugin"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# --------------------------------------------------------------------------- the public API


def non_public_imports(files: list[Path], own_package: str | None = None) -> list[str]:
    """Imports of lerobot_ext in ``files`` that are not ``from lerobot_ext import <name in __all__>``
    (``own_package``'s modules are its own business)."""
    public = set(lerobot_ext.__all__)
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                module = node.module
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                module, names = "", [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                full = f"{module}.{name}" if module else name
                if full.split(".")[0] != "lerobot_ext":
                    continue
                if own_package and (full == own_package or full.startswith(own_package + ".")):
                    continue
                if module == "lerobot_ext" and name in public:
                    continue
                bad.append(f"{path.name}:{node.lineno}: {full}")
    return bad


def test_the_built_in_plugins_import_only_the_public_api() -> None:
    bad = []
    for package in FEATURE_PACKAGES:
        bad += non_public_imports(sorted((SRC / package).rglob("*.py")), f"lerobot_ext.{package}")
    for source in sorted((REPO / "plugins").glob("*/src")):
        bad += non_public_imports(sorted(source.rglob("*.py")))
    bad += non_public_imports(sorted((REPO / "tests" / "third_party").rglob("*.py")))
    assert bad == [], "not in lerobot_ext.__all__:\n" + "\n".join(bad)


def test_the_public_api_check_sees_a_non_public_import(tmp_path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import lerobot_ext.registry\n"
        "from lerobot_ext import DatasetChange, load_plugins\n"
        "from lerobot_ext.dataset_changes import DatasetChange\n"
        "def f():\n    from lerobot_ext.transforms.steps import StateFilterStep\n"
    )
    assert [entry.split(": ", 1)[1] for entry in non_public_imports([plugin])] == [
        "lerobot_ext.registry",
        "lerobot_ext.load_plugins",
        "lerobot_ext.dataset_changes.DatasetChange",
        "lerobot_ext.transforms.steps.StateFilterStep",
    ]


def test_every_public_name_resolves_lazily_and_is_documented() -> None:
    api_page = (REPO / "docs" / "plugins" / "api.md").read_text()
    documented = set(re.findall(r"^\| `([^`]+)` \|", api_page, re.M))
    assert documented == set(lerobot_ext.__all__), "docs/plugins/api.md and lerobot_ext.__all__ differ"
    for name in lerobot_ext.__all__:
        assert getattr(lerobot_ext, name) is not None
    with pytest.raises(AttributeError, match=r"lerobot_ext\.__all__"):
        lerobot_ext.load_plugins  # noqa: B018 - internal, not public


def test_importing_the_package_imports_nothing_else() -> None:
    code = "import sys, lerobot_ext; print(sorted(m for m in sys.modules if m.startswith(('lerobot', 'pluggy'))))"
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True).replace("'", '"'))
    assert loaded == ["lerobot_ext"]


# --------------------------------------------------------------------------- one dispatch table


def test_every_hook_has_one_row_in_the_dispatch_table() -> None:
    from lerobot_ext import hookspecs

    specs = {name for name, value in vars(hookspecs).items() if hasattr(value, "lerobot_ext_spec")}
    assert specs == set(HOOKS)


def test_the_hook_reference_gives_each_hook_its_kind_from_the_table() -> None:
    page = (REPO / "docs" / "plugins" / "hooks.md").read_text()
    rows = {m.group(1): m.group(2).strip() for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", page, re.M)}
    assert {name: rows.get(name) for name in HOOKS} == {name: str(call.kind) for name, call in HOOKS.items()}
    for name, spec in all_hookspecs().items():
        arguments = ", ".join(p for p in inspect.signature(spec).parameters if p != "self")
        assert f"`{name}({arguments})" in page, f"docs/plugins/hooks.md does not show {name}({arguments})"
        assert (spec.__doc__ or "").strip(), f"{name} has no docstring (the contract)"


def test_every_non_registration_hook_takes_the_run_context() -> None:
    for name, call in HOOKS.items():
        parameters = inspect.signature(all_hookspecs()[name]).parameters
        assert ("run" in parameters) == (call.kind is not HookKind.REGISTER), name


def test_the_only_returned_from_message_is_in_the_dispatch_module() -> None:
    pattern = re.compile(r"returned \{[^}]*\}[^\"']* from ")
    places = [
        str(path.relative_to(REPO)) for path in sorted(SRC.rglob("*.py")) if pattern.search(path.read_text())
    ]
    assert places == ["src/lerobot_ext/dispatch.py"]


# --------------------------------------------------------------------------- light checkpoints

# A robot loads a checkpoint's processors with lerobot alone; the step classes lerobot-ext saves
# must not bring the plugin system with them.
LOAD_PROCESSORS = """
import json, sys
from lerobot.processor import DataProcessorPipeline
path = sys.argv[1]
pre = DataProcessorPipeline.from_pretrained(path, config_filename="policy_preprocessor.json")
post = DataProcessorPipeline.from_pretrained(path, config_filename="policy_postprocessor.json")
heavy = ("pluggy", "lerobot_ext.host", "lerobot_ext.dispatch", "lerobot_ext.hookspecs", "lerobot_ext.registry")
print(json.dumps({
    "steps": [type(s).__name__ for s in (*pre.steps, *post.steps)],
    "loaded": sorted(m for m in sys.modules if m in heavy),
}))
"""


def load_processors_in_a_fresh_process(folder: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PROCESSORS, str(folder)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_checkpoints_processors_load_without_the_plugin_system(tmp_path) -> None:
    from lerobot.processor import DataProcessorPipeline

    from lerobot_ext.cameras.steps import DropObservationsStep
    from lerobot_ext.transforms.steps import ActionPadStep, ActionSliceStep, StateFilterStep

    pre = DataProcessorPipeline(
        steps=[
            StateFilterStep(keep=[0, 2], input_width=3),
            DropObservationsStep(keys=["observation.images.b"]),
        ],
        name="policy_preprocessor",
    )
    post = DataProcessorPipeline(
        steps=[
            ActionSliceStep(keep_dims=1, input_width=2),
            ActionPadStep(fill_values=[0.0, 1.0], output_width=2),
        ],
        name="policy_postprocessor",
    )
    pre.save_pretrained(tmp_path)
    post.save_pretrained(tmp_path)
    found = load_processors_in_a_fresh_process(tmp_path)
    assert found["steps"] == ["StateFilterStep", "DropObservationsStep", "ActionSliceStep", "ActionPadStep"]
    assert found["loaded"] == []


@pytest.mark.slow
def test_processors_saved_by_the_previous_release_load_by_their_class_paths() -> None:
    # Written by lerobot-ext at 07652dc (before the seams moved and the core was split):
    # scripts/demo.sh's checkpoint, its pipelines and their state files.
    folder = REPO / "tests" / "data" / "checkpoint_07652dc"
    saved = json.loads((folder / "policy_preprocessor.json").read_text())
    assert any(step.get("class", "").startswith("lerobot_ext.") for step in saved["steps"])
    found = load_processors_in_a_fresh_process(folder)
    assert "StateFilterStep" in found["steps"] and "ActionPadStep" in found["steps"]
    assert found["loaded"] == []


def test_renaming_entry_points_leaves_the_saved_steps_as_they_were(robocasa_root) -> None:
    # transform_dataset runs in declared order (@hookimpl(order=N)), not in entry-point name order:
    # the steps a checkpoint saves do not depend on what the plugins are called.
    from lerobot_ext.cameras import plugin as cameras
    from lerobot_ext.dataset_changes import step_signature
    from lerobot_ext.dispatch import hooks_of, plugins_from
    from lerobot_ext.inspect_dataset import inspect_config, inspect_context, load_description
    from lerobot_ext.training import planned_changes
    from lerobot_ext.transforms import plugin as transforms

    flags = ["--state_filtered_keys=[robot0_base_pos,robot0_joint_vel]", "--camera_keys=[robot0_eye_in_hand]"]

    def saved_steps(names: tuple[str, str]) -> list[str]:
        hooks = hooks_of(plugins_from(dict(zip(names, (transforms, cameras), strict=True))))
        context = inspect_context(hooks, flags)
        cfg = inspect_config(hooks, context, robocasa_root)
        applied = planned_changes(hooks, cfg, context, load_description(robocasa_root)[0])
        return [step_signature(step) for step in (*applied.preprocessor_steps, *applied.postprocessor_steps)]

    as_named = saved_steps(("transforms", "cameras"))
    assert [signature.split("(")[0] for signature in as_named] == ["StateFilterStep", "DropObservationsStep"]
    assert saved_steps(("zz_transforms", "aa_cameras")) == as_named
    assert saved_steps(("aa_transforms", "zz_cameras")) == as_named


def test_an_ordered_hook_refuses_an_implementation_without_an_order_or_with_anothers() -> None:
    import types

    from lerobot_ext import hookimpl
    from lerobot_ext.dispatch import plugins_from
    from lerobot_ext.errors import PluginLoadError

    def change(dataset):
        return None

    with pytest.raises(PluginLoadError, match=r"plugin 'lab' implements transform_dataset without an order"):
        plugins_from({"lab": types.SimpleNamespace(transform_dataset=hookimpl(change))})

    def change_too(dataset):
        return None

    twins = {
        "lab_a": types.SimpleNamespace(transform_dataset=hookimpl(order=5)(change)),
        "lab_b": types.SimpleNamespace(transform_dataset=hookimpl(order=5)(change_too)),
    }
    with pytest.raises(PluginLoadError, match=r"both implement transform_dataset with order=5"):
        plugins_from(twins)


def test_wrapper_implementations_are_refused_when_the_plugin_loads() -> None:
    import types

    from lerobot_ext import hookimpl
    from lerobot_ext.dispatch import plugins_from
    from lerobot_ext.errors import PluginLoadError

    def on_step_end(step):
        yield

    with pytest.raises(PluginLoadError, match=r"plugin 'timer' implements on_step_end as a wrapper"):
        plugins_from({"timer": types.SimpleNamespace(on_step_end=hookimpl(wrapper=True)(on_step_end))})


# --------------------------------------------------------------------------- the run context


def test_inspect_gives_the_hooks_the_flags_it_was_given(robocasa_root) -> None:
    import types

    from lerobot_ext import hookimpl
    from lerobot_ext.dispatch import hooks_of, plugins_from
    from lerobot_ext.inspect_dataset import inspect_with_flags

    seen = []

    @hookimpl
    def register_config_fields(register):
        register("lab_gain", float, 1.0)

    @hookimpl
    def configure(run):
        seen.append((run.command, run.flags))

    host = plugins_from(
        {"lab": types.SimpleNamespace(register_config_fields=register_config_fields, configure=configure)}
    )
    inspect_with_flags(hooks_of(host), robocasa_root, ["--lab_gain", "2.5"])
    assert seen == [("inspect", {"lab_gain": "2.5"})]


def test_parsing_a_config_leaves_sys_argv_as_it_was(monkeypatch) -> None:
    from helpers import context_of

    from lerobot_ext.dispatch import plugins_from

    monkeypatch.setattr(sys, "argv", ["lerobot-train-ext", "--untouched"])
    run = context_of(plugins_from({}))
    cfg = run.parse_config(["--dataset.repo_id=a/b"])
    assert cfg.dataset.repo_id == "a/b"
    assert sys.argv == ["lerobot-train-ext", "--untouched"]
    # The run hands upstream the command line of the config it trains, and only while upstream runs.
    assert run.parsed_argv == ["--dataset.repo_id=a/b"]
