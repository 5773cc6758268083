"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lerobot_ext import hookimpl
from lerobot_ext.demo import jobs
from lerobot_ext.demo.tiny_smolvlm import FLAGS as TINY_SMOLVLM_FLAGS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BIN = Path(sys.executable).parent

# The tiny jobs of lerobot_ext.demo.jobs, with the batch size the tests use.
TINY_DIFFUSION = [*jobs.TINY_DIFFUSION, "--batch_size=4"]
IMAGE_FLAGS = jobs.SMALL_IMAGES
TINY_FLOW = [
    "--policy.type=flow",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.down_dims=[16,32,64]",
    "--policy.horizon=8",
    "--policy.n_action_steps=7",
    "--policy.drop_n_last_frames=0",
    "--policy.num_inference_steps=4",
    "--policy.push_to_hub=false",
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=4",
]
# SmolVLA on the tiny SmolVLM the suite writes (the tiny_smolvlm fixture): add
# --policy.vlm_model_name=<that folder>.
TINY_SMOLVLA = [
    "--policy.type=smolvla",
    "--policy.device=cpu",
    "--policy.push_to_hub=false",
    "--policy.chunk_size=8",
    "--policy.n_action_steps=4",
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=2",
    *TINY_SMOLVLM_FLAGS,
]
TINY_ACT = [
    "--policy.type=act",
    "--policy.device=cpu",
    "--policy.pretrained_backbone_weights=null",
    "--policy.dim_model=32",
    "--policy.n_heads=2",
    "--policy.dim_feedforward=64",
    "--policy.n_encoder_layers=1",
    "--policy.n_decoder_layers=1",
    "--policy.chunk_size=8",
    "--policy.n_action_steps=8",
    "--policy.use_vae=false",
    "--policy.push_to_hub=false",
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=4",
]
# The RoboCasa users' filter, verbatim from their command (shared/CONTEXT.md).
USERS_FILTER_KEYS = [
    "robot0_base_pos",
    "robot0_base_quat",
    "robot0_base_to_eef_pos",
    "robot0_base_to_eef_quat",
    "robot0_joint_vel",
    "robot0_gripper_qvel",
]
USERS_FILTER = "[" + ",".join(USERS_FILTER_KEYS) + "]"


def dataset_flags(root: Path) -> list[str]:
    return [f"--dataset.repo_id=local/{root.name}", f"--dataset.root={root}"]


def smolvla_command(root: Path, vlm: Path, out: Path, *extra: str) -> list[str]:
    """A tiny SmolVLA run's flags: ``root``'s dataset, the tiny SmolVLM in ``vlm``, into ``out``."""
    return [*dataset_flags(root), *TINY_SMOLVLA, f"--policy.vlm_model_name={vlm}", "--seed=2",
            f"--output_dir={out}", *extra]  # fmt: skip


class FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint, loading a given object (pytest does the same)."""

    def __init__(self, name: str, obj: Any, value: str | None = None, error: BaseException | None = None):
        self.name = name
        self.value = value or f"tests:{name}"
        self.group = "lerobot_ext"
        self.dist = None
        self._obj = obj
        self._error = error

    def load(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._obj


def write_plugin_distribution(site: Path, name: str, module_source: str) -> Path:
    """Make ``name`` discoverable as a real installed plugin in subprocesses: a module plus a
    dist-info with an entry point, on a folder to put on PYTHONPATH."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{name}.py").write_text(textwrap.dedent(module_source))
    dist = site / f"{name}-0.0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text(f"[lerobot_ext]\n{name} = {name}\n")
    return site


# --------------------------------------------------------------------------- running the CLIs


def run_cli(
    args: list[str], env: dict[str, str] | None = None, timeout: int = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a console script of this venv (``args[0]``) in a subprocess, returning its output.

    A command still running after ``timeout`` seconds fails the test with where each thread of
    each of its processes stood (faulthandler's dump on SIGABRT, sent to its process group: the
    ranks under torchrun too) and the end of what it printed; then the whole group is killed, so
    no orphan keeps the test waiting on its output."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", **(env or {})}
    command = [str(BIN / args[0]), *args[1:]]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        cwd=REPO,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for sig, wait in ((signal.SIGABRT, 30), (signal.SIGKILL, None)):
                with contextlib.suppress(ProcessLookupError):  # the group already ended
                    os.killpg(process.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    stdout, stderr = process.communicate(timeout=wait)
                    break
            raise AssertionError(
                f"{' '.join(command)} still ran after {timeout} s\n--- stdout\n{stdout[-4000:]}\n"
                f"--- stderr (the stacks at the end)\n{stderr[-12000:]}"
            ) from None
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode})\n--- stdout\n{result.stdout[-4000:]}\n"
            f"--- stderr\n{result.stderr[-8000:]}"
        )
    return result


# What a robot's script does with a checkpoint (argv[1]): lerobot alone, no lerobot-ext import.
LOAD_CHECKPOINT = """
import json, sys, torch
from lerobot.utils.import_utils import register_third_party_plugins
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.factory import get_policy_class, make_pre_post_processors
path = sys.argv[1]
register_third_party_plugins()
cfg = PreTrainedConfig.from_pretrained(path)
policy = get_policy_class(cfg.type).from_pretrained(path).eval()
pre, post = make_pre_post_processors(cfg, pretrained_path=path)
"""


def deploy_checkpoint(checkpoint: Path, body: str, env: dict[str, str] | None = None) -> Any:
    """Run ``LOAD_CHECKPOINT`` + ``body`` in a fresh process; ``body`` prints one JSON line."""
    result = subprocess.run(
        [sys.executable, "-c", LOAD_CHECKPOINT + textwrap.dedent(body), str(checkpoint)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


def train_in_process(args: list[str]) -> int:
    """``lerobot-train-ext`` in this process (faster than a subprocess: no second import of torch).

    Restores ``sys.argv``, which upstream's parser reads and lerobot-train-ext sets, and the root
    logger's handlers, which upstream's ``init_logging`` replaces.
    """
    import logging

    from lerobot_ext.cli.train import main

    saved, handlers = sys.argv, list(logging.root.handlers)
    sys.argv = ["lerobot-train-ext"]
    try:
        return main(args)
    finally:
        sys.argv = saved
        # Upstream's init_logging puts a handler on sys.stderr as it is now - pytest's capsys
        # stream in a test that uses it, closed after it: later tests' log lines would fail.
        logging.root.handlers[:] = handlers


def load_weights(checkpoint: Path, model: str = "pretrained_model") -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(checkpoint / model / "model.safetensors"))


def same_tensors(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """The same names, and every tensor equal bit for bit."""
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def same_weights(a: Path, b: Path) -> bool:
    """Two checkpoints' policy weights are bit-identical."""
    return same_tensors(load_weights(a), load_weights(b))


@functools.cache
def all_hookspecs() -> dict[str, Callable[..., object]]:
    """Every hook of the installed plugins: lerobot_ext.hookspecs' and those a plugin adds with
    register_hookspecs (the profiler's profile_advice, the demo plugin's register_demo_layouts)."""
    from lerobot_ext.dispatch import load_plugins

    host = load_plugins(environ={})  # every installed plugin
    return {
        name: caller.spec.function
        for name, caller in vars(host.pm.hook).items()
        if getattr(caller, "spec", None) is not None
    }


def context_of(host: Any, command: str = "train", **fields: Any) -> Any:
    """A :class:`~lerobot_ext.context.RunContext` for ``host``'s hooks, as a command would make it."""
    from lerobot_ext.context import RunContext
    from lerobot_ext.dispatch import hooks_of

    return RunContext(command, hooks_of(host), config_class=host.config_class, **fields)


def training_run(host: Any, cfg: Any = None) -> Any:
    """A :class:`~lerobot_ext.training.TrainingRun` of ``host``'s hooks, outside upstream's loop."""
    import types

    from lerobot_ext.dispatch import hooks_of
    from lerobot_ext.training import TrainingRun

    return TrainingRun(cfg if cfg is not None else types.SimpleNamespace(), context_of(host), hooks_of(host))


class StopAt:
    """A plugin that asks the run to stop after ``step`` (``request_stop``): the run checkpoints
    that step and ends as a preempted one would; set ``step = None`` to let the next run go on."""

    def __init__(self, step: int | None) -> None:
        self.step = step

    @hookimpl
    def request_stop(self, step):
        return "test stop" if step == self.step else None
