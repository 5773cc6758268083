"""Built-in plugin ``self_contained``: VLA checkpoints that load offline from their folder alone.

``checkpoint_writing`` copies what the saved policy names outside its folder into it (see
:mod:`lerobot_ext.self_contained.bundle`) before the checkpoint is committed; last, so that a
``pretrained_model_ema/`` another plugin writes there is covered too. lerobot 0.6.2 writes its own
``pretrained_model_ema/`` after the commit: ``on_checkpoint_saved`` covers that one.
``checkpoint_loading`` points a load at the copies (:mod:`lerobot_ext.self_contained.resolve`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lerobot_ext import LoadOverrides, get_logger, hookimpl
from lerobot_ext.self_contained.bundle import bundle_folder
from lerobot_ext.self_contained.resolve import load_overrides

log = get_logger("self_contained")


class SelfContained:
    def __init__(self) -> None:
        self.warned: set[str] = set()

    def bundle(self, checkpoint_dir: Path) -> None:
        for folder in sorted(checkpoint_dir.glob("pretrained_model*")):
            for missing in bundle_folder(folder):
                if missing not in self.warned:
                    self.warned.add(missing)
                    log.warning(
                        "the checkpoint may not be self-contained: %s - loading it may need that from "
                        "where it was (it is neither a folder nor in the local Hugging Face cache, or too "
                        "big to copy into every checkpoint)",
                        missing,
                    )

    @hookimpl(trylast=True)
    def checkpoint_writing(self, checkpoint_dir: Path, rank: int) -> None:
        if rank == 0:
            self.bundle(checkpoint_dir)

    @hookimpl
    def on_checkpoint_saved(self, checkpoint_dir: Path, rank: int) -> None:
        if rank == 0:
            self.bundle(checkpoint_dir)  # folders bundled before the commit are skipped

    @hookimpl
    def checkpoint_loading(self, policy_cfg: Any, pretrained_path: Path) -> LoadOverrides | None:
        return load_overrides(Path(pretrained_path), policy_cfg)


plugin = SelfContained()
