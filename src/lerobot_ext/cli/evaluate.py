"""``lerobot-eval-ext``: upstream ``lerobot-eval`` with lerobot-ext's plugins.

Every ``lerobot-eval`` flag works unchanged. The plugins are loaded (policy types included), and
the ``make_policy`` seam (see ``lerobot_ext.seams.eval_make_policy``) asks them through
``env_policy_features`` which features a checkpoint's policy has - e.g. a narrower action head
than the environment's, for a checkpoint whose saved postprocessor pads back to the robot's width.
"""

from __future__ import annotations

import sys

from lerobot_ext.console import exit_code, setup_console_logging
from lerobot_ext.context import RunContext
from lerobot_ext.dispatch import hooks_of, load_plugins
from lerobot_ext.runner import run_evaluation
from lerobot_ext.video_backend import quiet_torchcodec_fallback


def main() -> int:
    setup_console_logging()

    def evaluate() -> None:
        quiet_torchcodec_fallback()
        hooks = hooks_of(load_plugins())
        run_evaluation(RunContext("eval", hooks, argv=list(sys.argv[1:])), hooks)

    return exit_code(evaluate)


if __name__ == "__main__":
    sys.exit(main())
