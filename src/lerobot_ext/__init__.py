"""lerobot-ext: upstream ``lerobot-train``, extended through seams and a pluggy plugin system.

The public API: every name in :data:`__all__`, imported as ``from lerobot_ext import Name``. A
plugin - built-in or not - imports nothing else from lerobot-ext; every other module is internal
and may change. The names load lazily (PEP 562), so importing one module of the package (a
checkpoint's processor step, say) does not import the plugin system.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Each public name, and the module that defines it.
_PUBLIC: dict[str, str] = {
    # hooks and the run context
    "hookimpl": "lerobot_ext.hookspecs",
    "HookKind": "lerobot_ext.hookspecs",
    "RunContext": "lerobot_ext.context",
    "HookCaller": "lerobot_ext.context",
    # errors
    "LerobotExtError": "lerobot_ext.errors",
    "ConfigError": "lerobot_ext.errors",
    "DatasetLayoutError": "lerobot_ext.errors",
    "PluginConflictError": "lerobot_ext.errors",
    "PluginHookError": "lerobot_ext.errors",
    "UpstreamChangedError": "lerobot_ext.errors",
    # the config and its flags
    "ExtTrainPipelineConfig": "lerobot_ext.config",
    "check_name_list": "lerobot_ext.flags",
    "is_true": "lerobot_ext.flags",
    "get_logger": "lerobot_ext.console",
    # datasets
    "dataset_version": "lerobot_ext.dataset_versions",
    "check_dataset_version": "lerobot_ext.dataset_versions",
    "StoredDataset": "lerobot_ext.dataset_sources",
    "DatasetSource": "lerobot_ext.dataset_sources",
    "DatasetPart": "lerobot_ext.dataset_sources",
    "CombinedDatasets": "lerobot_ext.dataset_sources",
    # loading a saved policy
    "LoadOverrides": "lerobot_ext.load_overrides",
    "load_policy": "lerobot_ext.checkpoint_loading",
    # what the policy sees
    "DatasetChange": "lerobot_ext.dataset_changes",
    "AppliedChanges": "lerobot_ext.dataset_changes",
    "SavedCheckpoint": "lerobot_ext.dataset_changes",
    "SavedStep": "lerobot_ext.dataset_changes",
    "class_path": "lerobot_ext.dataset_changes",
    "step_signature": "lerobot_ext.dataset_changes",
    # layouts and robot adapters
    "STATE_KEY": "lerobot_ext.layout",
    "ACTION_KEY": "lerobot_ext.layout",
    "DatasetDescription": "lerobot_ext.layout",
    "Group": "lerobot_ext.layout",
    "VectorLayout": "lerobot_ext.layout",
    "vector_layout": "lerobot_ext.layout",
    "MODALITY_FILE": "lerobot_ext.layout",
    "groups_from_modality": "lerobot_ext.layout",
    "ROBOSUITE_TO_GR00T": "lerobot_ext.layout",
    "MODALITY_ALIASES": "lerobot_ext.layout",
    "conflicts": "lerobot_ext.layout",
    "RobotAdapter": "lerobot_ext.robot_adapter",
    "AdapterChoice": "lerobot_ext.robot_adapter",
    "layout_of": "lerobot_ext.robot_adapter",
    "MATCH_ROBOT_TYPE": "lerobot_ext.robot_adapter",
    "MATCH_GENERIC": "lerobot_ext.robot_adapter",
    "group_table": "lerobot_ext.robot_layouts",
    "ROBOCASA_STATE_53": "lerobot_ext.robot_layouts",
    "ROBOCASA_ACTION_EE_FIRST": "lerobot_ext.robot_layouts",
    "ROBOCASA_ACTION_BASE_FIRST": "lerobot_ext.robot_layouts",
    "gr2_state_names": "lerobot_ext.robot_layouts",
    "gr2_action_names": "lerobot_ext.robot_layouts",
    # step timing
    "Phase": "lerobot_ext.step_timing",
    "PHASES": "lerobot_ext.step_timing",
    "STEP": "lerobot_ext.step_timing",
    "BETWEEN_STEPS": "lerobot_ext.step_timing",
    "PHASE_KEYS": "lerobot_ext.step_timing",
    "synchronisation_method": "lerobot_ext.step_timing",
    # upstream
    "torchcodec_loadable": "lerobot_ext.video_backend",
    "installed_version": "lerobot_ext.upstream.versions",
    "installed_lerobot": "lerobot_ext.upstream.versions",
    "for_installed": "lerobot_ext.upstream.versions",
    "instance_has": "lerobot_ext.upstream.names",
    # checkpoint folders
    "step_checkpoints": "lerobot_ext.checkpoint_folders",
    "linked_checkpoints": "lerobot_ext.checkpoint_folders",
    # writing datasets
    "write_dataset": "lerobot_ext.dataset_writer",
    "vector_feature": "lerobot_ext.dataset_writer",
    "video_feature": "lerobot_ext.dataset_writer",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(
            f"module 'lerobot_ext' has no attribute {name!r} (the public API is lerobot_ext.__all__)"
        )
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once found, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
