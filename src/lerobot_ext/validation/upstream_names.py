"""The upstream names the ``validation`` plugin relies on (``lerobot-ext doctor`` checks them)."""

from __future__ import annotations

from collections.abc import Callable

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "lerobot.configs.default.DatasetConfig.eval_split",
        "the held-out episodes the validation measures on (upstream builds them)",
        (),
    ),
    ("lerobot.configs.train.TrainPipelineConfig.eval_steps", "how often the validation measures", ()),
    (
        "lerobot.policies.pretrained.PreTrainedPolicy.predict_action_chunk",
        "the actions the policy would execute",
        ("batch",),
    ),
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
