"""``lerobot-eval-ext``: upstream ``lerobot-eval``, able to evaluate ``--action_keep_dims`` checkpoints.

Every ``lerobot-eval`` flag works unchanged. The one difference is the ``make_policy`` seam (see
``lerobot_ext.patches.eval_make_policy``): a checkpoint whose saved postprocessor pads its actions
back to the environment's width is built with its own, narrower action head.
"""

from __future__ import annotations

import sys

from lerobot_ext.console import exit_code
from lerobot_ext.patches import EVAL_SEAMS, seams_applied
from lerobot_ext.video_backend import quiet_torchcodec_fallback


def main() -> int:
    quiet_torchcodec_fallback()
    from lerobot.scripts import lerobot_eval

    def evaluate() -> None:
        with seams_applied(EVAL_SEAMS, run=None):
            lerobot_eval.main()

    return exit_code(evaluate)


if __name__ == "__main__":
    sys.exit(main())
