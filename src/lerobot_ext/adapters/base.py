"""Deprecated home of the robot adapter contract; use :mod:`lerobot_ext.robot_adapter`.

Plugins written against lerobot-ext 0.1.0 import ``RobotAdapter``, ``AdapterChoice`` and
``layout_of`` from here (the 0.1.0 README said to). The contract moved to the core so that the
core does not depend on the adapters plugin; this module keeps those plugins working and says
where the names live now. It will be removed in 0.3.0.
"""

from __future__ import annotations

import warnings

from lerobot_ext import MATCH_GENERIC, MATCH_ROBOT_TYPE, AdapterChoice, RobotAdapter, layout_of

warnings.warn(
    "lerobot_ext.adapters.base is deprecated: import RobotAdapter, AdapterChoice and layout_of "
    "from lerobot_ext.robot_adapter",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["MATCH_GENERIC", "MATCH_ROBOT_TYPE", "AdapterChoice", "RobotAdapter", "layout_of"]
