"""Putting the files a saved policy reads from outside its folder into the folder.

A SmolVLA checkpoint's ``config.json`` names its VLM (``vlm_model_name``) and its
``policy_preprocessor.json`` names the tokenizer (``tokenizer_name``, the VLM's too); pi0's and
pi05's preprocessor names PaliGemma's tokenizer. Upstream reads those when it rebuilds the policy
- the VLM's config and processor files, the tokenizer's files - from a local folder or the Hub:
a robot given the checkpoint folder alone, offline, cannot load it. The weights are not needed
(they are all in the checkpoint's ``model.safetensors``), so we copy every other top-level file of
the named folder (or Hub snapshot, from the local cache) into the checkpoint, point the saved
files at the copy by a path relative to the checkpoint folder, and write what we did to
``bundled_files.json``: its ``source`` is the name the files came from, which a resumed run's
saved training config still uses.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from lerobot_ext import get_logger

log = get_logger("self_contained")

MANIFEST = "bundled_files.json"
#: Policy config fields that name a folder or Hub repo read when the policy is built, and the
#: name of the folder its files are copied to.
CONFIG_FIELDS = {"vlm_model_name": "vlm"}
#: Saved processor step arguments that name a tokenizer folder or Hub repo.
STEP_ARGUMENTS = {"tokenizer_name": "tokenizer"}
PROCESSOR_FILES = ("policy_preprocessor.json", "policy_postprocessor.json")
# Weights (and their shard indexes): already in the checkpoint's model.safetensors.
WEIGHT_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".h5",
    ".msgpack",
    ".onnx",
    ".gguf",
    ".npz",
)
WEIGHT_INDEX = ".index.json"
# A tokenizer is tens of MB at most (Gemma's tokenizer.json: ~35 MB). A bigger file next to it is
# something else (a training log, an array): copied into every checkpoint it would fill the disk of
# a run that saves for days, so it is left out and named.
LARGEST_FILE = 100 * 2**20


def is_weights(name: str) -> bool:
    return name.endswith(WEIGHT_SUFFIXES) or name.endswith(WEIGHT_INDEX)


def source_folder(name: str) -> Path | None:
    """Where the files ``name`` stands for are on this machine: a folder, or a Hub repo's snapshot
    in the local cache (never downloaded here: the run that saves has read them already)."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not a repo id, or not in the cache: nothing to copy
        return None


def copy_small_files(source: Path, destination: Path) -> tuple[list[str], list[str]]:
    """Every top-level file of ``source`` but weights into ``destination`` (following the Hub
    cache's links), through a temporary folder so a crash leaves no half copy. Returns the names
    copied, and those left out for their size (over :data:`LARGEST_FILE`)."""
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    candidates = sorted(p.name for p in source.iterdir() if p.is_file() and not is_weights(p.name))
    too_big = [name for name in candidates if (source / name).stat().st_size > LARGEST_FILE]
    names = [name for name in candidates if name not in too_big]
    for name in names:
        shutil.copy2(source / name, partial / name)
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    return names, too_big


def write_json(path: Path, data: Any) -> None:
    """Replace ``path`` in one rename: a crash leaves the old file or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=4) + "\n")
    os.replace(temporary, path)


class Bundle:
    """The copies made into one ``pretrained_model/`` folder, one per distinct source name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries: dict[str, dict[str, Any]] = {}  # copy folder name -> {source, files, used_by}
        self.by_source: dict[str, str] = {}
        self.missing: list[str] = []

    def copy_of(self, name: str, default_folder: str, used_by: str) -> str | None:
        """The relative folder holding ``name``'s files (copied on first use), or ``None``."""
        if (self.folder / name).is_dir() and not Path(name).is_absolute():
            return None  # already relative to this folder
        if name not in self.by_source:
            source = source_folder(name)
            if source is None:
                self.missing.append(f"{used_by}={name}")
                return None
            target = default_folder
            suffix = 2
            while target in self.entries:
                target, suffix = f"{default_folder}_{suffix}", suffix + 1
            files, too_big = copy_small_files(source, self.folder / target)
            self.missing.extend(
                f"{source / big} (over {LARGEST_FILE >> 20} MiB, not copied)" for big in too_big
            )
            self.entries[target] = {"source": name, "files": files, "used_by": []}
            self.by_source[name] = target
        target = self.by_source[name]
        self.entries[target]["used_by"].append(used_by)
        return target


def bundle_folder(folder: Path) -> list[str]:
    """Make the saved policy in ``folder`` self-contained; returns what could not be found."""
    config_file = folder / "config.json"
    if not config_file.is_file() or (folder / MANIFEST).is_file():
        return []
    config = json.loads(config_file.read_text())
    bundle = Bundle(folder)
    config_changed = False
    for field, default_folder in CONFIG_FIELDS.items():
        value = config.get(field)
        if isinstance(value, str) and value:
            copy = bundle.copy_of(value, default_folder, f"config.json:{field}")
            if copy is not None:
                config[field] = copy
                config_changed = True
                if config.get("load_vlm_weights"):
                    # The VLM's weights are in model.safetensors; the copy has none to load.
                    config["load_vlm_weights"] = False
    processors: dict[Path, Any] = {}
    for file_name in PROCESSOR_FILES:
        path = folder / file_name
        if not path.is_file():
            continue
        saved = json.loads(path.read_text())
        for step in saved.get("steps", []):
            arguments = step.get("config") or {}
            for argument, default_folder in STEP_ARGUMENTS.items():
                value = arguments.get(argument)
                if isinstance(value, str) and value:
                    key = step.get("registry_name") or str(step.get("class", "")).rsplit(".", 1)[-1]
                    copy = bundle.copy_of(value, default_folder, f"{file_name}:{key}.{argument}")
                    if copy is not None:
                        arguments[argument] = copy
                        processors[path] = saved
    # The copies exist before any file names them, and the manifest is written last.
    if config_changed:
        write_json(config_file, config)
    for path, saved in processors.items():
        write_json(path, saved)
    if bundle.entries:
        write_json(folder / MANIFEST, bundle.entries)
    return bundle.missing
