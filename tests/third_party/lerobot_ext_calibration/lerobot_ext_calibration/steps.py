"""The processor steps saved in the checkpoint. They import lerobot only: a robot that loads the
checkpoint needs neither lerobot-ext nor the plugin's hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from lerobot.processor import ProcessorStep, TransitionKey


@dataclass
class StateOffsetStep(ProcessorStep):
    """Add the calibration ``offsets`` to ``observation.state`` (first in the preprocessor)."""

    offsets: list[float] = field(default_factory=list)

    def __call__(self, transition: dict) -> dict:
        observation = transition.get(TransitionKey.OBSERVATION)
        if not observation or "observation.state" not in observation:
            return transition
        state = observation["observation.state"]
        offsets = torch.as_tensor(self.offsets, dtype=state.dtype, device=state.device)
        return {
            **transition,
            TransitionKey.OBSERVATION: {**observation, "observation.state": state + offsets},
        }

    def get_config(self) -> dict[str, Any]:
        return {"offsets": [float(v) for v in self.offsets]}

    def transform_features(self, features):
        return features


@dataclass
class ActionOffsetStep(ProcessorStep):
    """Subtract the calibration ``offsets`` from the policy's action (last in the postprocessor):
    the policy acts in calibrated coordinates, the robot takes commands in its raw ones."""

    offsets: list[float] = field(default_factory=list)

    def __call__(self, transition: dict) -> dict:
        action = transition.get(TransitionKey.ACTION)
        if not isinstance(action, torch.Tensor):
            return transition
        offsets = torch.as_tensor(self.offsets, dtype=action.dtype, device=action.device)
        return {**transition, TransitionKey.ACTION: action - offsets}

    def get_config(self) -> dict[str, Any]:
        return {"offsets": [float(v) for v in self.offsets]}

    def transform_features(self, features):
        return features
