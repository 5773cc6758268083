#!/usr/bin/env bash
# The main job, end to end on a fresh machine (Python 3.12 needed):
#   1. set up .venv (lerobot, lerobot-ext, the flow policy plugin),
#   2. write a small RoboCasa-layout demo dataset with lerobot's own writer,
#   3. explain its layout (lerobot-ext inspect),
#   4. train the RoboCasa users' flow command (sizes reduced for a CPU) with
#      --state_filtered_keys, --action_keep_dims and --profile, holding out a quarter of the
#      episodes (--dataset.eval_split) to measure each checkpoint and keep checkpoints/best,
#   5. compare the checkpoints on the held-out episodes (lerobot-ext compare),
#   6. load checkpoints/best like a robot would and act on a full 53-D observation.
# Everything goes under ./demo (or $DEMO_DIR). Extra arguments are passed to lerobot-train-ext.
# LEROBOT=head runs it on upstream's development head (.venv-head) instead of the release.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
venv=.venv; [ "${LEROBOT:-release}" = head ] && venv=.venv-head
export HF_HUB_OFFLINE=1 WANDB_MODE=disabled
demo=${DEMO_DIR:-demo}
data="$demo/robocasa_pnp"
run="$demo/outputs/flow"
filter="[robot0_base_pos,robot0_base_quat,robot0_base_to_eef_pos,robot0_base_to_eef_quat,robot0_joint_vel,robot0_gripper_qvel]"

if [ ! -f "$data/meta/info.json" ]; then
  $venv/bin/lerobot-ext demo-dataset --layout robocasa --root "$data" --episodes 12 --frames 40
fi

echo; echo "== lerobot-ext inspect $data"
$venv/bin/lerobot-ext inspect "$data" --summary --state_filtered_keys="$filter" --action_keep_dims=7

echo; echo "== lerobot-train-ext: the users' flow command, sized for a CPU"
rm -rf "$run"
$venv/bin/lerobot-train-ext \
  --dataset.repo_id=kitchen_pnp/demo --dataset.root="$data" \
  --policy.type=flow --policy.horizon=8 --policy.n_action_steps=7 --policy.drop_n_last_frames=0 \
  --policy.vision_backbone=resnet18 --policy.crop_shape=[56,56] \
  --policy.use_separate_rgb_encoder_per_camera=true --policy.down_dims=[64,128,256] \
  --policy.num_inference_steps=10 --policy.pretrained_backbone_weights=null --policy.device=cpu \
  --state_filtered_keys="$filter" \
  --action_keep_dims=7 --batch_size=8 --steps=60 --policy.optimizer_lr=1e-4 \
  --num_workers=2 --save_freq=30 --log_freq=20 --job_name=flow --output_dir="$run" \
  --dataset.eval_split=0.25 --eval_steps=30 \
  --policy.push_to_hub=false --wandb.enable=false --profile --profile.warmup_steps=5 "$@"

echo; echo "== the two checkpoints on the held-out episodes, and their latency (lerobot-ext compare)"
$venv/bin/lerobot-ext compare "$run"/checkpoints/0* --dataset.root="$data" --rounds 3 --chart "$run/compare.png"

echo; echo "== checkpoints/best on a full robot observation (examples/deploy_checkpoint.py)"
$venv/bin/python examples/deploy_checkpoint.py "$run/checkpoints/best/pretrained_model" "$data" --frame 10
echo; echo "profile report, steps and chart: $run/profile/"
