"""The generic adapter: any dataset that ships a GR00T-style ``meta/modality.json``."""

from __future__ import annotations

from lerobot_ext import MATCH_GENERIC, DatasetDescription, RobotAdapter


class ModalityJsonAdapter(RobotAdapter):
    """Group names come straight from meta/modality.json (the layout resolver reads it anyway);
    this adapter makes such datasets recognised, and explains what it found."""

    name = "modality_json"
    description = "any dataset with a GR00T-style meta/modality.json"

    def match_score(self, dataset: DatasetDescription) -> int:
        return MATCH_GENERIC if dataset.modality else 0

    def notes(self, dataset: DatasetDescription) -> list[str]:
        if not dataset.modality:
            return []
        sections = ", ".join(
            f"{key} ({len(value)} groups)"
            for key, value in dataset.modality.items()
            if isinstance(value, dict)
        )
        return [f"meta/modality.json: {sections}"]
