"""Plugin discovery, loading policy and registration conflicts (fake entry points, as pytest tests its own)."""

from __future__ import annotations

import io
import json
import logging
import types
from dataclasses import dataclass

import pytest
from lerobot.configs.policies import PreTrainedConfig

from lerobot_ext import hookimpl
from lerobot_ext.cli.listing import print_plugins
from lerobot_ext.dispatch import load_plugins, plugins_from
from lerobot_ext.errors import PluginConflictError, PluginHookError, PluginLoadError
from lerobot_ext.robot_adapter import RobotAdapter
from lerobot_ext.upstream.versions import for_installed


class Adapter(RobotAdapter):
    def __init__(self, name: str) -> None:
        self.name = name


def adapter_plugin(adapter_name: str) -> types.SimpleNamespace:
    @hookimpl
    def register_robot_adapters(register):
        register(Adapter(adapter_name))

    return types.SimpleNamespace(register_robot_adapters=register_robot_adapters)


def test_builtin_features_are_plugins_of_the_same_system() -> None:
    host = load_plugins(environ={})
    loaded = set(host.names_with_status())
    assert {
        "transforms",
        "robot_adapters",
        "cameras",
        "data_cache",
        "long_runs",
        "vla_caps",
        "profiler",
        "demo",
        "validation",
        "startup_warnings",
        "self_contained",
        "convert",
        "dataset_mix",
    } <= loaded
    owners = {spec.name: spec.plugin for spec in host.registry.config_fields}
    assert owners == {
        "state_filtered_keys": "transforms",
        "action_keep_dims": "transforms",
        "force_action_keep_dims": "transforms",
        "robot_adapter": "robot_adapters",
        "camera_keys": "cameras",
        "data_cache": "data_cache",
        "auto_resume": "long_runs",
        "keep_last_checkpoints": "long_runs",
        "action_mse": "action_mse",
        "validation": "validation",
        "profile": "profiler",
        "widen_pretrained": "vla_caps",
        "dataset.mix": "dataset_mix",
        "dataset.mix_weights": "dataset_mix",
        # lerobot 0.6.2 has --ema of its own; the ema plugin adds it where lerobot has not.
        **for_installed({"0.6.1": {"ema": "ema"}, "0.6.2": {}}),
    }
    assert {"robocasa", "fourier_gr2", "modality_json"} <= set(host.registry.robot_adapters)
    assert host.registry.owner("commands", "demo-dataset") == "demo"
    assert host.registry.owner("commands", "cache") == "data_cache"
    assert host.registry.owner("commands", "compare") == "validation"
    assert host.registry.owner("commands", "convert") == "convert"


def test_good_plugin_is_loaded_and_its_registrations_traced(extra_entry_points) -> None:
    extra_entry_points("acme_robots", adapter_plugin("acme_arm"))
    host = load_plugins(environ={})
    assert "acme_robots" in host.names_with_status()
    assert host.registry.owner("robot_adapters", "acme_arm") == "acme_robots"
    info = next(i for i in host.infos if i.name == "acme_robots")
    assert info.hooks == ["register_robot_adapters"]
    assert info.registered == {"robot_adapters": ["acme_arm"]}


def test_broken_plugin_is_reported_and_skipped(extra_entry_points, caplog) -> None:
    extra_entry_points(
        "broken", error=ImportError("No module named 'torch_nonexistent'"), value="broken_pkg.plugin"
    )
    extra_entry_points("acme_robots", adapter_plugin("acme_arm"))
    with caplog.at_level(logging.WARNING, logger="lerobot_ext"):
        logging.getLogger("lerobot_ext").propagate = True
        try:
            host = load_plugins(environ={})
        finally:
            logging.getLogger("lerobot_ext").propagate = False
    message = caplog.text
    assert "plugin 'broken' (broken = broken_pkg.plugin" in message
    assert "torch_nonexistent" in message and "skipped" in message
    assert "acme_robots" in host.names_with_status()  # the others still load
    info = next(i for i in host.infos if i.name == "broken")
    assert info.status == "failed" and "torch_nonexistent" in info.error


def test_broken_plugin_is_fatal_in_strict_mode(extra_entry_points) -> None:
    extra_entry_points("broken", error=ImportError("boom"), value="broken_pkg.plugin")
    with pytest.raises(
        PluginLoadError,
        match=r"plugin 'broken' \(broken = broken_pkg.plugin.*boom.*LEROBOT_EXT_STRICT_PLUGINS=1",
    ):
        load_plugins(environ={"LEROBOT_EXT_STRICT_PLUGINS": "1"})


def test_allow_list_loads_only_the_named_plugins(extra_entry_points) -> None:
    extra_entry_points("acme_robots", adapter_plugin("acme_arm"))
    host = load_plugins(environ={"LEROBOT_EXT_PLUGINS": "acme_robots"})
    assert host.names_with_status() == ["acme_robots"]
    disabled = {i.name for i in host.infos if i.status == "disabled"}
    assert {"transforms", "robot_adapters"} <= disabled
    assert set(host.registry.robot_adapters) == {"acme_arm"}


def test_empty_allow_list_loads_none() -> None:
    host = load_plugins(environ={"LEROBOT_EXT_PLUGINS": ""})
    assert host.names_with_status() == []
    assert host.registry.config_fields == [] and host.registry.robot_adapters == {}


def test_two_plugins_registering_one_name_is_an_error_naming_both(extra_entry_points) -> None:
    extra_entry_points("first_vendor", adapter_plugin("shared_arm"))
    extra_entry_points("second_vendor", adapter_plugin("shared_arm"))
    with pytest.raises(PluginConflictError) as excinfo:
        load_plugins(environ={})
    message = str(excinfo.value)
    assert "robot adapter 'shared_arm'" in message
    assert "'first_vendor'" in message and "'second_vendor'" in message


@dataclass
class OtherDiffusionConfig(PreTrainedConfig):
    pass


def test_policy_name_taken_by_upstream_is_a_conflict_naming_lerobot() -> None:
    @hookimpl
    def register_policies(register):
        register("diffusion", OtherDiffusionConfig)

    with pytest.raises(PluginConflictError, match=r"'diffusion'.*lerobot \(built-in.*plugin 'shadow'"):
        plugins_from({"shadow": types.SimpleNamespace(register_policies=register_policies)})


def test_registered_policy_becomes_a_policy_type() -> None:
    @dataclass
    class ToyPolicyConfig(PreTrainedConfig):
        pass

    @hookimpl
    def register_policies(register):
        register("lerobot_ext_test_toy", ToyPolicyConfig)

    host = plugins_from({"toy": types.SimpleNamespace(register_policies=register_policies)})
    assert host.registry.policies == {"lerobot_ext_test_toy": ToyPolicyConfig}
    assert PreTrainedConfig.get_choice_class("lerobot_ext_test_toy") is ToyPolicyConfig


def test_wrong_registration_type_names_the_plugin() -> None:
    @hookimpl
    def register_robot_adapters(register):
        register("not an adapter")

    with pytest.raises(
        PluginHookError, match=r"plugin 'sloppy' registered 'not an adapter' as a robot adapter"
    ):
        plugins_from({"sloppy": types.SimpleNamespace(register_robot_adapters=register_robot_adapters)})


def test_misspelled_hook_is_rejected_at_load(extra_entry_points) -> None:
    @hookimpl
    def on_step_ennd(step):  # typo: no such hook
        pass

    extra_entry_points("typo", types.SimpleNamespace(on_step_ennd=on_step_ennd))
    with pytest.raises(PluginLoadError, match=r"plugin 'typo'.*on_step_ennd"):
        load_plugins(environ={})


def test_listing_table_and_json(extra_entry_points) -> None:
    extra_entry_points("acme_robots", adapter_plugin("acme_arm"))
    extra_entry_points("broken", error=ImportError("boom"), value="broken_pkg.plugin")
    host = load_plugins(environ={})
    table = io.StringIO()
    print_plugins(host, out=table)
    lines = table.getvalue().splitlines()
    assert lines[0].split()[:5] == ["NAME", "VERSION", "STATUS", "PROVIDES", "HOOKS"]
    acme = next(line for line in lines if line.startswith("acme_robots"))
    assert "robot_adapters: acme_arm" in acme and "register_robot_adapters" in acme
    assert any(line.startswith("broken") and "failed (ImportError: boom)" in line for line in lines)
    transforms = next(line for line in lines if line.startswith("transforms"))
    assert "0.1.0" in transforms  # the version of the distribution that declares it

    as_json = io.StringIO()
    print_plugins(host, as_json=True, out=as_json)
    data = json.loads(as_json.getvalue())
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["acme_robots"]["registered"] == {"robot_adapters": ["acme_arm"]}
    assert by_name["broken"]["status"] == "failed"
    assert by_name["transforms"]["distribution"] == "lerobot-ext"


def test_a_registration_hook_may_take_no_arguments(extra_entry_points) -> None:
    calls = []

    @hookimpl
    def register_robot_adapters():
        calls.append("called")  # e.g. a plugin that only needs to import its module

    extra_entry_points("side_effects", types.SimpleNamespace(register_robot_adapters=register_robot_adapters))
    host = load_plugins(environ={})
    assert calls == ["called"]
    assert next(i for i in host.infos if i.name == "side_effects").status == "loaded"


def test_the_0_1_adapter_import_path_still_works_and_says_where_to_go() -> None:
    # Plugins written against 0.1.0's README import the adapter contract from adapters.base.
    import importlib
    import sys

    import lerobot_ext.robot_adapter as contract

    sys.modules.pop("lerobot_ext.adapters.base", None)
    with pytest.warns(DeprecationWarning, match="lerobot_ext.robot_adapter"):
        old = importlib.import_module("lerobot_ext.adapters.base")
    assert old.RobotAdapter is contract.RobotAdapter
    assert old.AdapterChoice is contract.AdapterChoice
    assert old.layout_of is contract.layout_of
