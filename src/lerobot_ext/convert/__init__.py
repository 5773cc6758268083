"""Built-in plugin ``convert``: datasets from older LeRobot releases.

``lerobot-ext convert SRC DST`` turns a LeRobot v2.0/v2.1 dataset into a new v3.0 one (what
lerobot 0.6 reads) with upstream's converter, offline, writing ``DST`` atomically and verifying it
against ``SRC`` before it appears. ``versions.check_dataset_version`` is the one-line refusal of a
v2.x folder wherever a dataset is named, with the command that converts it.
"""
