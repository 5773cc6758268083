"""What the ``startup_warnings`` plugin looks for. Each check returns the warning's text, or ``None``.

* A VLA whose VLM is built with random weights (SmolVLA's ``load_vlm_weights=false``, upstream's
  default for ``--policy.type=smolvla``) and frozen (``train_expert_only``): the action expert
  trains against features of a random network, and nothing fails.
* Task text a policy tokenizes: episodes without one, and text longer than the tokenizer's
  ``max_length``, which is cut without a word.
* Depth cameras in a policy's image features: an RGB backbone reads a depth map as if it were
  colour.
* An environment-state input the policy does not normalise (no ``ENV`` entry in its
  ``normalization_mapping``, as in Diffusion Policy's and flow's defaults): positions in metres
  reach the network as they are. Normalising it won 22 points of closed-loop success for
  Diffusion Policy in the SO-101 benchmark (BENCHMARKS.md section 7), so the fix is named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lerobot.configs.types import FeatureType


def frozen_random_vlm(policy_cfg: Any) -> str | None:
    if policy_cfg.pretrained_path or getattr(policy_cfg, "load_vlm_weights", True):
        return None
    if not getattr(policy_cfg, "train_expert_only", False):
        return None
    name = getattr(policy_cfg, "vlm_model_name", "the VLM")
    return (
        f"{policy_cfg.type}: the VLM ({name}) is built with random weights (--policy.load_vlm_weights=false) "
        "and frozen (--policy.train_expert_only=true): the action expert learns from features of a random "
        "network. To fine-tune a pretrained policy: --policy.path=<checkpoint>; to start from the VLM's "
        "weights: --policy.load_vlm_weights=true; to train the VLM too: --policy.train_expert_only=false"
    )


def task_text(
    episode_tasks: Sequence[Sequence[str]], count_tokens: Callable[[str], int], max_length: int, policy: str
) -> list[str]:
    """Warnings about the episodes' task text, given how the policy's tokenizer counts tokens."""
    missing = [
        i for i, tasks in enumerate(episode_tasks) if not tasks or not any(str(t).strip() for t in tasks)
    ]
    lengths = {}
    for tasks in episode_tasks:
        for task in tasks:
            if str(task).strip() and task not in lengths:
                lengths[task] = count_tokens(task)
    long_episodes = [
        i for i, tasks in enumerate(episode_tasks) if any(lengths.get(t, 0) > max_length for t in tasks)
    ]
    found = []
    if missing:
        found.append(
            f"{policy}: {len(missing)} of {len(episode_tasks)} episodes have no task text (e.g. episode "
            f"{missing[0]}); the policy is told to do nothing in particular there. Record the task, or "
            "set it in the dataset's meta/tasks"
        )
    if long_episodes:
        longest = max(lengths.values())
        found.append(
            f"{policy}: the task text of {len(long_episodes)} of {len(episode_tasks)} episodes is longer "
            f"than the tokenizer's {max_length} tokens (up to {longest}) and is cut; "
            f"--policy.tokenizer_max_length={longest} keeps all of it"
        )
    return found


def depth_into_rgb(depth_keys: Iterable[str], image_features: Iterable[str], policy: str) -> str | None:
    depth = sorted(set(depth_keys) & set(image_features))
    if not depth:
        return None
    rgb = [key for key in image_features if key not in depth]
    keep = f"--camera_keys=[{','.join(k.removeprefix('observation.images.') for k in rgb)}]" if rgb else None
    return (
        f"{policy}: {', '.join(depth)} {'is a depth camera' if len(depth) == 1 else 'are depth cameras'}, "
        "fed to the policy's RGB image backbone as if it were colour"
        + (f"; leave it out with {keep}" if keep else "")
    )


def unnormalised_env_state(policy_cfg: Any) -> str | None:
    """An ``ENV`` input feature with no ``ENV`` entry in the policy's ``normalization_mapping``
    (lerobot's normaliser passes a feature type it has no mode for through unchanged). An explicit
    entry, ``IDENTITY`` included, is the user's choice and is not warned about."""
    mapping = getattr(policy_cfg, "normalization_mapping", None)
    if mapping is None or FeatureType.ENV.name in mapping:
        return None
    env = [
        (key, tuple(feature.shape))
        for key, feature in (getattr(policy_cfg, "input_features", None) or {}).items()
        if feature.type is FeatureType.ENV
    ]
    if not env:
        return None
    modes = {name: getattr(mode, "value", mode) for name, mode in mapping.items()}
    flag = json.dumps({**modes, "ENV": "MIN_MAX"})
    named = ", ".join(f"{key} ({'x'.join(map(str, shape))})" for key, shape in env)
    return (
        f"{policy_cfg.type}: {named} reaches the network unnormalised (its normalization_mapping has no ENV "
        "entry); normalising it raised diffusion's closed-loop success well beyond the error in lerobot-ext's "
        f"SO-101 benchmark (BENCHMARKS.md section 7). Add it with --policy.normalization_mapping='{flag}'"
    )
