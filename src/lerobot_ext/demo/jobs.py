"""Training flags sized for the demo datasets on a CPU (used by the tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable

# A tiny Diffusion Policy: small U-Net, horizon 8 like the RoboCasa users', no downloads.
TINY_DIFFUSION = [
    "--policy.type=diffusion",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.use_group_norm=true",
    "--policy.down_dims=[16,32,64]",
    "--policy.diffusion_step_embed_dim=16",
    "--policy.horizon=8",
    "--policy.n_action_steps=7",
    "--policy.drop_n_last_frames=0",
    "--policy.push_to_hub=false",
    "--wandb.enable=false",
    "--num_workers=0",
]
# For 48x48 demo cameras: a 40x40 crop still gives the ResNet a 2x2 feature map; one shared encoder.
SMALL_IMAGES = ["--policy.crop_shape=[40,40]", "--policy.use_separate_rgb_encoder_per_camera=false"]


def list_flag(name: str, values: Iterable[str]) -> str:
    """``--name=[a,b]``, the list syntax lerobot's parser reads."""
    return f"--{name}=[{','.join(values)}]"
