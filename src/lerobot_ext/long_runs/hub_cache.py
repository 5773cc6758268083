"""Whether what a run reads from the Hugging Face Hub is on this machine: a folder, a folder in the
checkpoint being loaded, or the local Hub cache - never asked over the network (a check at the
start of a run must not hang on it)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lerobot_ext import is_true

# The files that show a repo is in the cache: a model's config; for a tokenizer or processor, any
# of the files transformers' tokenizers and processors are saved as (a model's config alone - a
# snapshot of its weights - does not make its tokenizer loadable).
MODEL_FILES = ("config.json",)
TOKENIZER_FILES = (
    "tokenizer_config.json",
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "processor_config.json",
)

# Repos that need access requested on their Hub page and a logged-in token to download. Which repos
# are gated cannot be asked offline; these are the ones lerobot's VLAs read by default (Google's
# Gemma terms gate every PaliGemma and Gemma repo). Others get the generic advice.
GATED_PREFIXES = ("google/paligemma", "google/gemma")


def offline() -> bool:
    return is_true(os.environ.get("HF_HUB_OFFLINE"))


def hub_cache() -> str:
    """Where huggingface_hub looks for downloaded repos (``HF_HUB_CACHE``, by default under ``HF_HOME``)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hf_home() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HOME)


def where_looked() -> str:
    cache, home = hub_cache(), hf_home()
    # HF_HUB_CACHE may be set apart from HF_HOME: say which decided it.
    where = f"under HF_HOME={home}" if Path(cache).is_relative_to(home) else f"HF_HUB_CACHE; HF_HOME={home}"
    return f"the local Hugging Face cache ({cache}, {where})"


def is_repo_id(name: str) -> bool:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def is_gated(repo: str) -> bool:
    return repo.startswith(GATED_PREFIXES)


def cached(repo: str, files: Sequence[str] = MODEL_FILES) -> str | None:
    """The cached path of the first of ``files`` the local cache holds for ``repo``, or ``None``
    (never a network call)."""
    if not is_repo_id(repo):
        return None
    from huggingface_hub import try_to_load_from_cache

    for name in files:
        found = try_to_load_from_cache(repo, name, cache_dir=hub_cache())
        if isinstance(found, str):
            return found
    return None


@dataclass(frozen=True)
class HubNeed:
    """One repo (or folder) a run reads while its policy or its processors are built."""

    #: A Hub repo id or a folder.
    name: str
    #: What is read from it, in words.
    what: str
    #: The flag that sets it (``--policy.vlm_model_name``); ``None`` where lerobot fixes it.
    flag: str | None = None
    #: Any one of these in the cache makes it available.
    files: tuple[str, ...] = MODEL_FILES
    #: The checkpoint folder a relative ``name`` is read from (the one being loaded).
    within: Path | None = None

    @property
    def label(self) -> str:
        return f"{self.flag}={self.name}" if self.flag else self.name

    def found(self) -> str | None:
        """Where it is on this machine: a folder, a folder in the checkpoint, or the cache."""
        path = Path(self.name).expanduser()
        if path.exists():
            return str(path)
        if self.within is not None and not path.is_absolute() and (self.within / path).exists():
            return str(self.within / path)
        return cached(self.name, self.files)
