"""The upstream names the ``ema`` plugin relies on (``lerobot-ext doctor`` checks them).

On lerobot 0.6.1 the plugin keeps the shadow itself with diffusers' ``EMAModel`` (what 0.6.2 uses
too); from 0.6.2 it leaves ``--ema.*`` to lerobot-train, which must have that field.
"""

from __future__ import annotations

from collections.abc import Callable

from lerobot_ext import for_installed

_EMA = "diffusers.training_utils.EMAModel"
# Imported by the plugin's code on every version (used where lerobot has no EMA of its own).
_SHADOW = (
    (
        _EMA,
        "on 0.6.1, the shadow of the weights, with 0.6.2's warm-up schedule",
        ("decay", "min_decay", "update_after_step", "use_ema_warmup", "inv_gamma", "power"),
    ),
    *(
        (f"{_EMA}.{method}", "updates, swaps in and saves the shadow", ())
        for method in ("step", "store", "copy_to", "restore", "state_dict", "load_state_dict")
    ),
)
_OWN_SHADOW = (
    (
        "lerobot.configs.train.TrainPipelineConfig",
        "resuming (--resume) restores the shadow from the checkpoint's training_state/ema_state.pt",
        ("resume",),
    ),
    (
        "lerobot.configs.train.TrainPipelineConfig.checkpoint_path",
        "the checkpoint a resumed run restores the shadow from",
        (),
    ),
)
# {first lerobot version: the names relied on there}
NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = _SHADOW + for_installed(
    {
        "0.6.1": _OWN_SHADOW,
        "0.6.2": (
            (
                "lerobot.configs.train.TrainPipelineConfig",
                "lerobot-train has --ema.* itself from 0.6.2, so the plugin adds no field",
                ("ema",),
            ),
            (
                "lerobot.configs.default.EMAConfig",
                "the --ema.* fields the plugin's own (0.6.1) EmaConfig mirrors",
                (
                    "enable",
                    "decay",
                    "update_after_step",
                    "inv_gamma",
                    "power",
                    "min_decay",
                    "max_decay",
                    "use_for_eval",
                ),
            ),
        ),
    }
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
