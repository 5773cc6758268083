"""``lerobot-eval-ext``: upstream ``lerobot-eval``, able to evaluate ``--action_keep_dims`` checkpoints.

Every ``lerobot-eval`` flag works unchanged. The one difference is the ``make_policy`` seam (see
``lerobot_ext.patches.eval_make_policy``): a checkpoint whose saved postprocessor pads its actions
back to the environment's width is built with its own, narrower action head.
"""

from __future__ import annotations

import sys

from lerobot_ext.console import get_logger
from lerobot_ext.errors import LerobotExtError
from lerobot_ext.patches import EVAL_SEAMS, seams_applied
from lerobot_ext.video_backend import quiet_torchcodec_fallback

log = get_logger("cli")


def main() -> int:
    quiet_torchcodec_fallback()
    from lerobot.scripts import lerobot_eval

    try:
        with seams_applied(EVAL_SEAMS, run=None):
            lerobot_eval.main()
    except LerobotExtError as exc:
        log.error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
