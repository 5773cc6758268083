"""Distribution wiring: lerobot plugin discovery, the lerobot_ext pluggy hook, registration."""

import ast
import importlib
import importlib.metadata
import inspect

import pluggy
from lerobot.configs import PreTrainedConfig
from lerobot.policies.factory import make_policy_config
from lerobot.utils.import_utils import register_third_party_plugins

from lerobot_policy_flow import FlowConfig, FlowPolicy, make_flow_pre_post_processors


def test_package_registers_flow_and_exposes_public_api():
    import lerobot_policy_flow

    assert PreTrainedConfig.get_choice_class("flow") is FlowConfig
    assert FlowPolicy.config_class is FlowConfig and FlowPolicy.name == "flow"
    assert callable(make_flow_pre_post_processors)
    assert {"FlowConfig", "FlowPolicy", "make_flow_pre_post_processors"} <= set(lerobot_policy_flow.__all__)
    cfg = make_policy_config("flow", device="cpu", horizon=16, n_action_steps=8)
    assert isinstance(cfg, FlowConfig) and cfg.horizon == 16


def test_policy_accepts_make_policy_kwargs(make_config, dataset_stats):
    # lerobot's make_policy calls policy_cls(config=cfg, dataset_stats=..., dataset_meta=...).
    policy = FlowPolicy(config=make_config(), dataset_stats=dataset_stats, dataset_meta=object())
    assert policy.config.type == "flow"
    assert sum(p.numel() for p in policy.get_optim_params()) == sum(p.numel() for p in policy.parameters())


def test_distribution_metadata_matches_lerobot_plugin_convention():
    dist = importlib.metadata.distribution("lerobot_policy_flow")
    name = dist.metadata["Name"]
    # register_third_party_plugins() imports `Name` verbatim as a module name.
    assert name == "lerobot_policy_flow"
    assert importlib.import_module(name).FlowConfig is FlowConfig
    register_third_party_plugins()  # must not fail with the plugin installed
    assert "flow" in PreTrainedConfig.get_known_choices()


def test_lerobot_ext_entry_point_declared():
    eps = importlib.metadata.entry_points(group="lerobot_ext")
    flow = [ep for ep in eps if ep.name == "flow"]
    assert len(flow) == 1
    assert flow[0].value == "lerobot_policy_flow.lerobot_ext_plugin"
    assert flow[0].dist.metadata["Name"] == "lerobot_policy_flow"
    module = flow[0].load()
    assert hasattr(module, "register_policies")


def test_register_policies_hook_calls_register_with_flow_config():
    from lerobot_policy_flow import lerobot_ext_plugin

    registered = []
    lerobot_ext_plugin.register_policies(lambda name, config_class: registered.append((name, config_class)))
    assert registered == [("flow", FlowConfig)]
    assert issubclass(registered[0][1], PreTrainedConfig)


def test_register_policies_is_a_lerobot_ext_pluggy_hookimpl():
    from lerobot_policy_flow import lerobot_ext_plugin

    hookspec = pluggy.HookspecMarker("lerobot_ext")

    class Spec:
        @hookspec
        def register_policies(self, register):
            """Local stand-in for lerobot_ext's hookspec (same name and argument)."""

    pm = pluggy.PluginManager("lerobot_ext")
    pm.add_hookspecs(Spec)
    pm.register(lerobot_ext_plugin)
    registered = {}
    pm.hook.register_policies(register=lambda name, config_class: registered.__setitem__(name, config_class))
    assert registered == {"flow": FlowConfig}


def test_plugin_module_does_not_import_lerobot_ext():
    from lerobot_policy_flow import lerobot_ext_plugin

    tree = ast.parse(inspect.getsource(lerobot_ext_plugin))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module)
    assert "pluggy" in imported
    assert not any(m == "lerobot_ext" or m.startswith("lerobot_ext.") for m in imported), imported
