"""A checkpoint trained with the transforms acts on the robot's full observation, in a fresh process.

The deploy side is what ``lerobot-eval`` or a robot script does: ``register_third_party_plugins()``
and ``make_pre_post_processors(policy_cfg, pretrained_path=...)``, with lerobot-ext installed but
never imported by the script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
from helpers import (
    IMAGE_FLAGS,
    REPO,
    TINY_ACT,
    TINY_DIFFUSION,
    TINY_FLOW,
    TINY_SMOLVLA,
    USERS_FILTER,
    context_of,
    dataset_flags,
    load_weights,
    train_in_process,
)

CAMERAS = ("robot0_agentview_left", "robot0_agentview_right", "robot0_eye_in_hand")

DEPLOY = """
import json, sys
import torch
ext_before = any(m == "lerobot_ext" or m.startswith("lerobot_ext.") for m in sys.modules)
from lerobot.utils.import_utils import register_third_party_plugins
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.factory import get_policy_class, make_pre_post_processors

path = sys.argv[1]
register_third_party_plugins()
ext_after_plugins = any(m == "lerobot_ext" or m.startswith("lerobot_ext.") for m in sys.modules)
cfg = PreTrainedConfig.from_pretrained(path)
policy = get_policy_class(cfg.type).from_pretrained(path)
policy.eval()
pre, post = make_pre_post_processors(cfg, pretrained_path=path)
torch.manual_seed(0)
# What a robot gives every policy: its observation and the task it is doing (a VLA tokenizes it).
observation = {"observation.state": torch.randn(53), "task": "pick the object and place it in the microwave"}
for cam in __CAMERAS__:
    observation[f"observation.images.{cam}"] = torch.rand(3, 48, 48)
batch = pre(observation)
with torch.no_grad():
    action = post(policy.select_action(batch))
error = None
try:
    pre({**observation, "observation.state": torch.randn(30)})
except ValueError as exc:
    error = str(exc)
print(json.dumps({
    "ext_imported_before_loading": ext_before or ext_after_plugins,
    "state_into_policy": list(batch["observation.state"].shape),
    "action": action.tolist(),
    "wrong_width_error": error,
}))
""".replace("__CAMERAS__", repr(CAMERAS))

POLICIES = {
    "diffusion": [*TINY_DIFFUSION, *IMAGE_FLAGS],
    "flow": [*TINY_FLOW, *IMAGE_FLAGS],
    "act": TINY_ACT,
    "smolvla": TINY_SMOLVLA,  # + --policy.vlm_model_name=<the tiny SmolVLM the suite writes>
}


# The flow run keeps an EMA shadow too - lerobot's own from 0.6.2, the lerobot-ext `ema` plugin's on
# 0.6.1 (the same flag and checkpoint layout): its separately saved pretrained_model_ema/ must
# carry the transform steps just like pretrained_model/.
EMA = {"flow": ["--ema.enable=true"]}


def deploy(checkpoint) -> dict:
    # Run from inside the checkpoint folder: a self-contained VLA checkpoint names its VLM's files
    # relative to itself, and stock lerobot resolves such a name against the working directory.
    result = subprocess.run(
        [sys.executable, "-c", DEPLOY, str(checkpoint)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=checkpoint,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_checkpoint_takes_full_observation_and_returns_full_action(policy, robocasa_root, tmp_path, request):
    out = tmp_path / "run"
    vlm = (
        [f"--policy.vlm_model_name={request.getfixturevalue('tiny_smolvlm')}"] if policy == "smolvla" else []
    )
    args = [
        *dataset_flags(robocasa_root),
        *POLICIES[policy],
        *vlm,
        "--steps=2",
        f"--output_dir={out}",
        f"--state_filtered_keys={USERS_FILTER}",
        "--action_keep_dims=7",
        *EMA.get(policy, []),
    ]
    assert train_in_process(args) == 0
    models = ["pretrained_model", *(["pretrained_model_ema"] if policy in EMA else [])]
    if policy in EMA:  # a real shadow, not a copy of the live weights
        live = load_weights(out / "checkpoints" / "last")
        shadow = load_weights(out / "checkpoints" / "last", "pretrained_model_ema")
        assert live.keys() == shadow.keys() and any(not live[k].equal(shadow[k]) for k in live)
    for model in models:
        result = deploy(out / "checkpoints" / "last" / model)
        assert result["ext_imported_before_loading"] is False
        assert result["state_into_policy"] == [1, 30]
        (action,) = result["action"]
        assert len(action) == 12
        assert action[7:] == [0.0, 0.0, 0.0, 0.0, -1.0]  # the recorded constants, exactly
        assert any(abs(a) > 1e-6 for a in action[:7])  # the kept dims come from the policy
        assert "expects the robot's full 53-dim state" in result["wrong_width_error"]
    # The README's deploy example, for every policy type (a VLA needs the frame's task too).
    example = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "deploy_checkpoint.py"),
            str(out / "checkpoints" / "last" / "pretrained_model"),
            str(robocasa_root),
            "--frame=3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert example.returncode == 0, example.stderr[-4000:]
    assert f"policy {policy}: robot state (53,) -> policy input (1, 30)" in example.stdout
    assert "dims 0-6 come from the policy; dims 7-11 are the constants" in example.stdout


def _robocasa_env_config():
    """What a RoboCasa gym env declares: the robot's full 53-D state and 12-D action."""
    from lerobot.configs.types import FeatureType, PolicyFeature

    features = {
        "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(53,)),
        "action": PolicyFeature(type=FeatureType.ACTION, shape=(12,)),
        **{cam: PolicyFeature(type=FeatureType.VISUAL, shape=(48, 48, 3)) for cam in CAMERAS},
    }
    features_map = {
        "agent_pos": "observation.state",
        "action": "action",
        **{cam: f"observation.images.{cam}" for cam in CAMERAS},
    }
    # make_policy reads only these two attributes of the env config.
    return types.SimpleNamespace(features=features, features_map=features_map)


@pytest.mark.slow
def test_lerobot_eval_ext_builds_an_action_keep_dims_checkpoint_for_the_full_width_env(
    robocasa_root, tmp_path
):
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.scripts import lerobot_eval

    from lerobot_ext.dispatch import hooks_of, load_plugins, plugins_from
    from lerobot_ext.evaluation import EvaluationRun
    from lerobot_ext.seams import EVAL_SEAMS, seams_applied

    def evaluation_run(host):
        return EvaluationRun(context_of(host, "eval"), hooks_of(host))

    out = tmp_path / "run"
    args = [*dataset_flags(robocasa_root), *TINY_DIFFUSION, *IMAGE_FLAGS, "--steps=1", f"--output_dir={out}"]
    assert train_in_process([*args, f"--state_filtered_keys={USERS_FILTER}", "--action_keep_dims=7"]) == 0
    checkpoint = out / "checkpoints" / "last" / "pretrained_model"

    def build():
        cfg = PreTrainedConfig.from_pretrained(checkpoint)
        cfg.pretrained_path = checkpoint
        return lerobot_eval.make_policy(cfg=cfg, env_cfg=_robocasa_env_config())

    # Stock lerobot-eval puts the env's 12-D action on a checkpoint whose head is 7-D.
    with pytest.raises(RuntimeError, match="size mismatch"):
        build()
    # The seam asks the plugins (env_policy_features): without the transforms plugin, upstream decides.
    with (
        seams_applied(EVAL_SEAMS, evaluation_run(plugins_from({}))),
        pytest.raises(RuntimeError, match="size mismatch"),
    ):
        build()
    with seams_applied(EVAL_SEAMS, evaluation_run(load_plugins(environ={}))):
        policy = build()
    assert policy.config.output_features["action"].shape == (7,)
    assert lerobot_eval.make_policy is not EVAL_SEAMS[0].make_wrapper  # seam removed again
    assert lerobot_eval.make_policy.__name__ == "make_policy" and not hasattr(
        lerobot_eval.make_policy, "__wrapped__"
    )
