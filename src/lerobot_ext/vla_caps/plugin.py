"""Built-in plugin ``vla_caps``: fit a VLA's ``max_state_dim``/``max_action_dim`` to the data.

* ``configure_policy``: a cap below the data's width is raised to it (a policy trained from
  scratch); a pretrained checkpoint's caps are fixed by its weights, so there the run is refused
  with the flags that make the data fit - unless ``--widen_pretrained=true``, which keeps the
  checkpoint's caps for loading and plans the widening;
* ``policy_made``: the planned widening, before the optimizer exists (it must see the widened
  parameters) and before any other plugin keeps the parameters (``tryfirst``: the EMA shadow);
The refusal names groups of the dataset before the transforms (``planned.original``), with the
robot adapter's names.

See :mod:`lerobot_ext.vla_caps.caps` for which policies pad to a cap and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lerobot_ext import AppliedChanges, DatasetDescription, RunContext, get_logger, hookimpl
from lerobot_ext.vla_caps import upstream_names
from lerobot_ext.vla_caps.caps import WIDEN_FLAG, narrow_caps, raised_caps
from lerobot_ext.vla_caps.widen import PROJECTIONS, widen_policy

log = get_logger("vla_caps")

# run.stash key: {"widen": {cap: width}}, from configure_policy to policy_made.
STASH = "vla_caps"


@hookimpl
def register_upstream_names(register: Callable[..., None]) -> None:
    upstream_names.declare(register)


@hookimpl
def register_config_fields(register: Callable[..., None]) -> None:
    register(
        WIDEN_FLAG,
        bool,
        False,
        help="with --policy.path at a VLA (smolvla, pi0, pi05) whose max_state_dim/max_action_dim are below "
        "the data's widths: zero-extend its state/action projections to the data instead of refusing; "
        "the pretrained dims act as before and the new dims train from zero",
    )


@hookimpl
def configure_policy(
    cfg: Any, policy_cfg: Any, dataset_meta: Any, planned: AppliedChanges | None, run: RunContext
) -> dict[str, Any] | None:
    # The run logs each change it applies ("vla_caps: policy.max_state_dim 32 -> 45"), once.
    features = dataset_meta.features
    kept = run.stash.setdefault(STASH, {})
    kept.pop("widen", None)
    narrow = narrow_caps(policy_cfg, features)
    if narrow and getattr(policy_cfg, "pretrained_path", None) and getattr(cfg, WIDEN_FLAG, False):
        if policy_cfg.type in PROJECTIONS:
            # Loaded at the checkpoint's caps (its weights fix them); policy_made widens it.
            kept["widen"] = {n.cap: n.width for n in narrow}
            return None
        log.warning(
            "--%s knows %s, not %s: refusing as without it",
            WIDEN_FLAG,
            ", ".join(sorted(PROJECTIONS)),
            policy_cfg.type,
        )
    dataset = planned.original if planned is not None else _description(dataset_meta)
    dropped = list(getattr(cfg, "state_filtered_keys", None) or []) if planned is not None else []
    adapter = planned.adapter if planned is not None else None
    return raised_caps(policy_cfg, features, dataset, adapter, dropped) or None


@hookimpl(tryfirst=True)
def policy_made(policy: Any, run: RunContext) -> None:
    # Here, not later: upstream makes the optimizer from the policy's parameters right after this,
    # and other plugins (EMA) copy them in their own policy_made.
    widen = run.stash.get(STASH, {}).pop("widen", None)
    if widen:
        log.info("%s", widen_policy(policy, widen.get("max_state_dim"), widen.get("max_action_dim")))


def _description(dataset_meta: Any) -> DatasetDescription:
    """The dataset as the metadata the hook got says (when the run's planned changes are unknown)."""
    if all(hasattr(dataset_meta, name) for name in ("robot_type", "fps", "stats")):
        return DatasetDescription.from_metadata(dataset_meta)
    return DatasetDescription(robot_type=None, fps=None, features=dict(dataset_meta.features), stats={})
