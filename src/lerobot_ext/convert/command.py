"""``lerobot-ext convert SRC DST [--overwrite]``: a LeRobot v2.0/v2.1 dataset into a new v3.0 one.

Exit status: 0 converted and verified; 2 refused (one line: source, target, a failed upstream
step) or verified different (a line per difference; the copy is kept as ``DST.failed``); 130
interrupted (nothing written to ``DST``).
"""

from __future__ import annotations

import argparse
import json

from lerobot_ext import get_logger
from lerobot_ext.convert.conversion import VerificationFailed, convert
from lerobot_ext.convert.verify import Verification

log = get_logger("convert")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Convert a LeRobot v2.0/v2.1 dataset folder into a new v3.0 folder (lerobot 0.6 reads v3.0), "
        "offline, with upstream's converter; SRC is only read. DST is written atomically and verified "
        "against SRC (counts, every numeric column, tasks, a decoded frame per episode and camera, "
        "statistics) before it appears."
    )
    parser.add_argument("src", help="the v2.0/v2.1 dataset folder (with meta/info.json, meta/episodes.jsonl)")
    parser.add_argument("dst", help="the new v3.0 dataset folder (must not exist, unless --overwrite)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing DST dataset (swapped out only once the new one is verified)",
    )
    parser.add_argument(
        "--data-file-size-in-mb",
        "--data_file_size_in_mb",
        dest="data_file_size_in_mb",
        type=int,
        default=None,
        help="size of each converted parquet file (default: lerobot's, 100)",
    )
    parser.add_argument(
        "--video-file-size-in-mb",
        "--video_file_size_in_mb",
        dest="video_file_size_in_mb",
        type=int,
        default=None,
        help="size of each concatenated video file (default: lerobot's, 200)",
    )
    parser.add_argument(
        "--recompute-stats",
        "--recompute_stats",
        dest="recompute_stats",
        action="store_true",
        help="compute each episode's statistics from the data instead of taking meta/episodes_stats.jsonl's "
        "(always done for v2.0)",
    )
    parser.add_argument("--json", action="store_true", help="print the verification as JSON")


def _print(verification: Verification, as_json: bool) -> None:
    if as_json:
        print(json.dumps(verification.as_dict(), indent=2))
    else:
        print("\n".join(line for line in verification.lines() if not line.startswith("  PROBLEM")))


def run(args: argparse.Namespace) -> int:
    try:
        converted = convert(
            args.src,
            args.dst,
            overwrite=args.overwrite,
            data_file_size_in_mb=args.data_file_size_in_mb,
            video_file_size_in_mb=args.video_file_size_in_mb,
            recompute_stats=args.recompute_stats,
            on_verified=lambda verification: _print(verification, args.json),
        )
    except VerificationFailed as failure:
        for problem in failure.verification.problems:
            log.error("%s", problem)
        log.error("%s", failure)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted: %s was not written (its partial output is removed)", args.dst)
        return 130
    print(
        f"converted {converted.source} ({converted.version}) -> {converted.target} (v3.0) in "
        f"{converted.seconds:.1f} s; train with --dataset.root={converted.target}"
    )
    return 0
