"""The upstream names the ``vla_caps`` plugin relies on (``lerobot-ext doctor`` checks them).

(The ``robot_adapters`` plugin needs no upstream name: it reads only the dataset description
the core gives every plugin.)
"""

from __future__ import annotations

from collections.abc import Callable

from lerobot_ext.vla_caps.widen import PROJECTIONS

# The VLA configs that pad state and action to a cap (see lerobot_ext.vla_caps.caps).
NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (
        path,
        "the policy pads state/action to these caps, raised to the dataset's width",
        ("max_state_dim", "max_action_dim"),
    )
    for path in (
        "lerobot.policies.smolvla.configuration_smolvla.SmolVLAConfig",
        "lerobot.policies.pi0.configuration_pi0.PI0Config",
        "lerobot.policies.pi05.configuration_pi05.PI05Config",
        "lerobot.policies.groot.configuration_groot.GrootConfig",
    )
)

# --widen_pretrained: the policy's model and the projections it zero-extends (see widen.py);
# the optional ones (a version or config may lack them) are not required of every version.
WIDENED: tuple[tuple[str, str], ...] = tuple(
    (path, why)
    for projections in PROJECTIONS.values()
    for path, why in (
        (f"{projections.policy_class}().model", "--widen_pretrained widens the projections of policy.model"),
        *(
            (f"{projections.model_class}().{name}", "--widen_pretrained zero-extends this nn.Linear")
            for name in projections.names()
            if name not in projections.optional
        ),
    )
)


def declare(register: Callable[..., None]) -> None:
    """Declare the names (``register_upstream_names``'s ``register``)."""
    for path, why, parameters in NAMES:
        register(path, why, parameters=parameters)
    for path, why in WIDENED:
        register(path, why)
