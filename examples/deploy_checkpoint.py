"""Load a lerobot-train-ext checkpoint the way a robot or lerobot-eval does, and act once.

Nothing here imports lerobot-ext: the checkpoint's saved processors name their steps by class
path, and lerobot's loader imports them. A VLA checkpoint (SmolVLA) carries its VLM's config,
tokenizer and processor files, so this works offline from the checkpoint folder alone. The
observation is one frame of a dataset in the robot's full layout (e.g. 53-D RoboCasa state), with
the frame's task (what a VLA is told to do); the action comes back in the robot's full layout too
(e.g. 12-D, the dims dropped by --action_keep_dims re-filled with their constants).

    python examples/deploy_checkpoint.py CHECKPOINT/pretrained_model DATASET_ROOT [--frame 0]
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.policies.factory import get_policy_class, make_pre_post_processors
from lerobot.utils.import_utils import register_third_party_plugins


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", help="a .../checkpoints/<step>/pretrained_model folder")
    parser.add_argument("dataset_root", help="a LeRobot dataset in the robot's full layout")
    parser.add_argument("--frame", type=int, default=0)
    args = parser.parse_args()

    register_third_party_plugins()  # finds lerobot_policy_* distributions such as the flow policy
    checkpoint, dataset_root = Path(args.checkpoint).resolve(), Path(args.dataset_root).resolve()
    # A self-contained VLA checkpoint names its VLM's and tokenizer's files relative to itself
    # (vlm/), and lerobot resolves a relative name against the working directory: load from there.
    with contextlib.chdir(checkpoint):
        cfg = PreTrainedConfig.from_pretrained(checkpoint)
        policy = get_policy_class(cfg.type).from_pretrained(checkpoint)
        policy.eval()
        preprocessor, postprocessor = make_pre_post_processors(cfg, pretrained_path=str(checkpoint))

    dataset = LeRobotDataset(repo_id="local/deploy", root=dataset_root, video_backend="pyav")
    frame = dataset[args.frame]
    observation = {k: v for k, v in frame.items() if k.startswith("observation.")}
    # What the robot is asked to do: a VLA (SmolVLA, pi0) tokenizes it; other policies ignore it.
    observation["task"] = frame["task"]
    batch = preprocessor(observation)
    with torch.no_grad():
        action = postprocessor(policy.select_action(batch))

    torch.set_printoptions(precision=3, sci_mode=False, linewidth=120)
    print(
        f"policy {cfg.type}: robot state {tuple(observation['observation.state'].shape)} "
        f"-> policy input {tuple(batch['observation.state'].shape)}"
    )
    print(f"action returned ({action.shape[-1]} dims, the robot's layout): {action.squeeze(0)}")
    print(f"action recorded at frame {args.frame}:              {frame['action']}")
    kept, full = policy.config.output_features["action"].shape[0], action.shape[-1]
    if kept < full:
        # Say where each part comes from: a few demo steps do not make a policy that matches the
        # recording, and without this the refilled constants look like the policy's own output.
        print(
            f"dims 0-{kept - 1} come from the policy; dims {kept}-{full - 1} are the constants "
            "recorded when the checkpoint was trained"
        )


if __name__ == "__main__":
    main()
