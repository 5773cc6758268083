"""Finding a self-contained checkpoint's copies when it is loaded, from any working directory.

Upstream resolves a relative ``vlm_model_name`` or ``tokenizer_name`` against the current
directory; the copies are relative to the checkpoint folder. A resumed run's saved training
config still names the original source (``bundled_files.json`` says which copy holds it), and
upstream builds a resumed policy from that config: both names lead to the copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lerobot_ext import LoadOverrides
from lerobot_ext.self_contained.bundle import CONFIG_FIELDS, MANIFEST, PROCESSOR_FILES, STEP_ARGUMENTS


def manifest_of(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def bundled_copy(folder: Path, name: Any, manifest: dict[str, Any] | None = None) -> Path | None:
    """The folder inside the checkpoint ``folder`` that holds ``name``'s files, or ``None``:
    ``name`` is that folder's relative path, or the source it was copied from."""
    if not isinstance(name, str) or not name:
        return None
    manifest = manifest_of(folder) if manifest is None else manifest
    if not Path(name).is_absolute() and name in manifest and (folder / name).is_dir():
        return (folder / name).resolve()
    for copy, entry in manifest.items():
        if entry.get("source") == name and (folder / copy).is_dir():
            return (folder / copy).resolve()
    return None


def step_overrides(folder: Path, file_name: str, manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    path = folder / file_name
    if not path.is_file():
        return {}
    overrides: dict[str, dict[str, str]] = {}
    for step in json.loads(path.read_text()).get("steps", []):
        for argument in STEP_ARGUMENTS:
            copy = bundled_copy(folder, (step.get("config") or {}).get(argument), manifest)
            if copy is not None:
                key = step.get("registry_name") or str(step.get("class", "")).rsplit(".", 1)[-1]
                overrides.setdefault(key, {})[argument] = str(copy)
    return overrides


def load_overrides(folder: Path, policy_cfg: Any) -> LoadOverrides | None:
    """Point the policy config and the saved processor steps at the checkpoint's own copies."""
    manifest = manifest_of(folder)
    if not manifest:
        return None
    policy: dict[str, Any] = {}
    for field in CONFIG_FIELDS:
        copy = bundled_copy(folder, getattr(policy_cfg, field, None), manifest)
        if copy is not None:
            policy[field] = str(copy)
            if getattr(policy_cfg, "load_vlm_weights", False):
                policy["load_vlm_weights"] = False  # the copy has no weights; model.safetensors has them
    preprocessor, postprocessor = (step_overrides(folder, name, manifest) for name in PROCESSOR_FILES)
    overrides = LoadOverrides(policy=policy, preprocessor=preprocessor, postprocessor=postprocessor)
    return overrides or None
