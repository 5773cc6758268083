"""The processor step ``--camera_keys`` saves in a checkpoint's preprocessor.

Saved by class path (``lerobot_ext.cameras.steps.DropObservationsStep``); lerobot's loader imports
it by itself, so a deploy script that never imported lerobot-ext still rebuilds it. This module
must stay cheap to import and free of side effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lerobot.configs import PipelineFeatureType, PolicyFeature
from lerobot.processor import ProcessorStep, TransitionKey


@dataclass
class DropObservationsStep(ProcessorStep):
    """Remove observations the policy was not trained on (e.g. cameras it does not use).

    A robot sends every camera it has; the policy gets the ones it was built for.
    """

    keys: list[str] = field(default_factory=list)

    def __call__(self, transition: dict) -> dict:
        observation = transition.get(TransitionKey.OBSERVATION)
        if not observation or not any(key in observation for key in self.keys):
            return transition
        out = dict(transition)
        out[TransitionKey.OBSERVATION] = {k: v for k, v in observation.items() if k not in self.keys}
        return out

    def get_config(self) -> dict[str, Any]:
        return {"keys": list(self.keys)}

    def transform_features(
        self, features: dict[PipelineFeatureType, dict[str, PolicyFeature]]
    ) -> dict[PipelineFeatureType, dict[str, PolicyFeature]]:
        observation = {
            k: v for k, v in features.get(PipelineFeatureType.OBSERVATION, {}).items() if k not in self.keys
        }
        return {**features, PipelineFeatureType.OBSERVATION: observation}
