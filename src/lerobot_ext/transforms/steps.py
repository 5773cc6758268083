"""Processor steps the built-in ``transforms`` plugin adds to a policy's pre/post-processors.

They are saved in ``policy_preprocessor.json``/``policy_postprocessor.json`` by class path
(``lerobot_ext.transforms.steps.<Class>``), not by registry name: lerobot's loader imports a
class path by itself, so a deploy script or ``lerobot-eval`` that never imported lerobot-ext
still rebuilds them. This module must stay cheap to import and free of side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from lerobot.configs import PipelineFeatureType, PolicyFeature
from lerobot.processor import ProcessorStep, TransitionKey

STATE_KEY = "observation.state"


def _take_last_dim(value: Any, index: torch.Tensor, numpy_index: np.ndarray) -> Any:
    if isinstance(value, torch.Tensor):
        return value.index_select(-1, index.to(value.device))
    return np.take(np.asarray(value), numpy_index, axis=-1)


def _with_feature_shape(feature: PolicyFeature, width: int) -> PolicyFeature:
    return PolicyFeature(type=feature.type, shape=(*tuple(feature.shape)[:-1], width))


@dataclass
class StateFilterStep(ProcessorStep):
    """Keep dims ``keep`` of the robot's full ``observation.state`` and drop ``drop_features``.

    ``input_width`` is the full width the robot sends; anything else is refused with a message,
    so a mismatched robot or an already-filtered observation cannot slip through.
    """

    keep: list[int] = field(default_factory=list)
    input_width: int = 0
    drop_features: list[str] = field(default_factory=list)
    dropped_groups: list[str] = field(default_factory=list)
    key: str = STATE_KEY

    def __post_init__(self) -> None:
        self._index = torch.tensor(self.keep, dtype=torch.long)
        self._numpy_index = np.asarray(self.keep, dtype=np.int64)

    def __call__(self, transition: dict) -> dict:
        observation = transition.get(TransitionKey.OBSERVATION)
        if not observation:
            return transition
        observation = dict(observation)
        for name in self.drop_features:
            observation.pop(name, None)
        value = observation.get(self.key)
        if value is not None and self.keep:
            width = value.shape[-1]
            if width != self.input_width:
                raise ValueError(
                    f"{self.key} has {width} dims, but this policy's state filter expects the robot's "
                    f"full {self.input_width}-dim state (it drops {', '.join(self.dropped_groups) or 'some dims'} "
                    f"and keeps {len(self.keep)}). Feed the unfiltered observation."
                )
            observation[self.key] = _take_last_dim(value, self._index, self._numpy_index)
        out = dict(transition)
        out[TransitionKey.OBSERVATION] = observation
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            "keep": list(self.keep),
            "input_width": self.input_width,
            "drop_features": list(self.drop_features),
            "dropped_groups": list(self.dropped_groups),
            "key": self.key,
        }

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        observation = {
            k: v
            for k, v in features.get(PipelineFeatureType.OBSERVATION, {}).items()
            if k not in self.drop_features
        }
        if self.key in observation and self.keep:
            observation[self.key] = _with_feature_shape(observation[self.key], len(self.keep))
        return {**features, PipelineFeatureType.OBSERVATION: observation}


@dataclass
class ActionSliceStep(ProcessorStep):
    """Keep action dims ``0..keep_dims-1`` of training batches (a no-op at inference: no action)."""

    keep_dims: int = 0
    input_width: int = 0

    def __call__(self, transition: dict) -> dict:
        action = transition.get(TransitionKey.ACTION)
        if action is None or not isinstance(action, torch.Tensor):
            return transition
        if action.shape[-1] != self.input_width:
            raise ValueError(
                f"action has {action.shape[-1]} dims; this transform keeps dims 0..{self.keep_dims - 1} "
                f"of the dataset's {self.input_width}-dim action. Feed it the full {self.input_width}-dim "
                "action of the dataset it was set up for; for a dataset with another action width, train "
                "with an --action_keep_dims that fits it (`lerobot-ext inspect <dataset>` lists its dims)."
            )
        out = dict(transition)
        out[TransitionKey.ACTION] = action[..., : self.keep_dims]
        return out

    def get_config(self) -> dict[str, Any]:
        return {"keep_dims": self.keep_dims, "input_width": self.input_width}

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        actions = dict(features.get(PipelineFeatureType.ACTION, {}))
        if "action" in actions:
            actions["action"] = _with_feature_shape(actions["action"], self.keep_dims)
        return {**features, PipelineFeatureType.ACTION: actions}


@dataclass
class ActionPadStep(ProcessorStep):
    """Append the dropped action dims, filled with their recorded constant values (their means,
    for dims dropped with --force_action_keep_dims)."""

    fill_values: list[float] = field(default_factory=list)
    output_width: int = 0

    def __post_init__(self) -> None:
        self._fill = torch.tensor(self.fill_values, dtype=torch.float32)

    def __call__(self, transition: dict) -> dict:
        action = transition.get(TransitionKey.ACTION)
        if action is None or not self.fill_values:
            return transition
        kept = self.output_width - len(self.fill_values)
        if action.shape[-1] != kept:
            raise ValueError(
                f"the policy returned {action.shape[-1]} action dims; expected {kept} to pad back to "
                f"the robot's {self.output_width}. Load the policy with the policy_postprocessor.json "
                "saved in the same checkpoint folder; a postprocessor from another run pads for another "
                "policy's output."
            )
        fill = self._fill.to(device=action.device, dtype=action.dtype).expand(
            *action.shape[:-1], len(self.fill_values)
        )
        out = dict(transition)
        out[TransitionKey.ACTION] = torch.cat([action, fill], dim=-1)
        return out

    def get_config(self) -> dict[str, Any]:
        return {"fill_values": [float(v) for v in self.fill_values], "output_width": self.output_width}

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        actions = dict(features.get(PipelineFeatureType.ACTION, {}))
        if "action" in actions:
            actions["action"] = _with_feature_shape(actions["action"], self.output_width)
        return {**features, PipelineFeatureType.ACTION: actions}
