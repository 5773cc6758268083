"""A lab's calibration plugin for lerobot-ext (test fixture): ``--state_offsets`` and ``--action_offsets``."""
