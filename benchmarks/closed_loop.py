"""Closed-loop evidence: flow (Euler, 10 steps) vs Diffusion Policy (DDPM 100, and DDIM 10 for
equal network calls), success rate in simulation - the SO-101 pick-and-place task.

One command does everything, side by side on one machine:

1. scripted-expert demonstrations (``lerobot-ext demo-dataset --layout so101_pickplace``), and a
   held-out set with other start states for the action-error metric; the training data is served
   from a data cache (``--data_cache``);
2. the same network (Diffusion Policy's U-Net: horizon 16, 8 action steps, 2 observation steps,
   ``down_dims=[64,128,256]``), data, batch size, learning rate and steps for flow and diffusion,
   for each training seed, through ``lerobot-train-ext`` with ``--ema.enable=true`` and
   ``--action_mse.root=<held-out>`` (two runs at a time, one torch thread each);
3. every checkpoint - live and EMA weights - evaluated with ``lerobot-eval-ext`` on the same
   evaluation episodes (``--seed``; demonstration start states never among them): flow with 10
   Euler steps, diffusion with DDPM 100 and with DDIM 10;
4. at the last checkpoint, flow's ``num_inference_steps`` sweep (1, 2, 5, 10, 20);
5. the latency of one action chunk of each sampler, measured in alternating rounds;
6. a table of success rates with standard errors (binomial, over all evaluation episodes of all
   training seeds: evaluation noise only), the same rates per training seed (the seed-to-seed
   spread the binomial error does not cover), and the verdicts: flow vs diffusion and EMA vs
   live at every checkpoint, each sweep entry vs 10 steps. A difference is called only where it
   exceeds its standard error.

7. with ``--eval_split F``: training holds out that share of the demonstrations (upstream's
   ``--dataset.eval_split``, its ``--eval_steps`` loss logged at every checkpoint), and the report
   says which signal ranks each run's checkpoints by closed-loop success best - the executed-action
   error on the held-out episodes (total, worst dim, each dim; the ``validation`` plugin's, or
   ``lerobot-ext compare``'s), the fixed-seed loss, upstream's eval loss, the training loss - as
   Spearman correlations (pooled and per training seed) and the success of the checkpoint each
   signal would pick.

    python benchmarks/closed_loop.py [--demos 100] [--steps 2000] [--save_freq 500] [--seeds 0 1]
                                     [--episodes 50] [--policies diffusion flow] [--workdir DIR]
                                     [--eval_only] [--normalize_env_state] [--report_from LOG]
                                     [--eval_split F] [--samplers LABEL ...] [--weights live ema]
                                     [--no_sweep] [--chart PNG] [--mix_split N [--mix_weights W W]]
                                     [--tag NAME [--train_flags="..."] [--eval_flags="..."]]

8. with ``--mix_split N``: the demonstrations are written as two datasets (upstream's
   ``split_dataset``: the first N episodes, the rest) and trained with ``--dataset.mix``
   (``--mix_weights``: ``--dataset.mix_weights``) - the same demonstrations as one dataset.
9. ``--tag NAME --train_flags="--policy.horizon=32"`` trains and evaluates a variant in its own
   folders (one factor at a time); ``--eval_flags`` alone evaluates the budget's own checkpoints
   another way (e.g. ``--policy.n_action_steps=4``).

A longer-training comparison is the same command with more steps, e.g. ``--steps 12000
--save_freq 4000 --workdir DIR``: the data in ``DIR`` is reused, each step budget trains in its
own folders (the learning-rate schedule is fitted to the budget, so a shorter run is not
continued), and evaluations already saved there are not run again. ``--eval_only`` evaluates and
reports the checkpoints already in ``DIR`` without training; ``--report_from LOG`` prints the
report again from the evaluation lines of an earlier run's printed output (e.g. a committed
``benchmarks/results/closed_loop.txt``), running nothing.

Needs the simulator: ``pip install -e ".[sim]" -e plugins/lerobot_env_so101_pickplace``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot_env_so101_pickplace.demonstrations import DEFAULT_NOISE as DEMO_NOISE

DEMO_LAYOUT, CENTRING_LAYOUT, OFFSET_LAYOUT = (
    "so101_pickplace",
    "so101_pickplace_centring",
    "so101_pickplace_offset",
)
# How each layout's writer names its expert (demos.log says which wrote a workdir's demonstrations).
EXPERT_LINE = {
    DEMO_LAYOUT: "scripted expert:",
    CENTRING_LAYOUT: "centring expert:",
    OFFSET_LAYOUT: "scripted expert (offset observed):",
}

BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    "MKL_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
}
NETWORK = [
    "--policy.device=cpu",
    "--policy.horizon=16",
    "--policy.n_action_steps=8",
    "--policy.n_obs_steps=2",
    "--policy.down_dims=[64,128,256]",
    "--policy.optimizer_lr=3e-4",
    "--policy.push_to_hub=false",
]
POLICIES = {
    "flow": ["--policy.type=flow", "--policy.num_inference_steps=10", "--policy.ode_solver=euler"],
    "diffusion": [
        "--policy.type=diffusion",
        "--policy.noise_scheduler_type=DDPM",
        "--policy.num_train_timesteps=100",
    ],
}
# How each trained policy is sampled at evaluation: {label: (policy, flags)}.
SAMPLERS = {
    "flow Euler 10": ("flow", ["--policy.num_inference_steps=10"]),
    "diffusion DDPM 100": (
        "diffusion",
        ["--policy.noise_scheduler_type=DDPM", "--policy.num_inference_steps=100"],
    ),
    "diffusion DDIM 10": (
        "diffusion",
        ["--policy.noise_scheduler_type=DDIM", "--policy.num_inference_steps=10"],
    ),
}
SWEEP = (1, 2, 5, 10, 20)
LOG_FREQ = 100


def run(command: list[str], log: Path) -> None:
    # Appended: a training run resumed in a later session keeps its earlier lines (step times).
    with open(log, "a") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=ENV)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{log.read_text()[-3000:]}")


# Neither policy's normalization_mapping has an ENV entry: observation.environment_state (block
# and goal positions, metres) reaches the network unnormalised. --normalize_env_state adds one.
ENV_STATE_NORMALISED = (
    '--policy.normalization_mapping={"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ACTION": "MIN_MAX", '
    '"ENV": "MIN_MAX"}'
)


@dataclass
class Evaluation:
    sampler: str
    policy: str
    seed: int
    step: int
    weights: str  # "live" or "ema"
    successes: list[bool] = field(default_factory=list)
    seconds_per_episode: float = 0.0  # lerobot-eval's eval_ep_s (evaluations run --parallel at a time)

    @property
    def rate(self) -> float:
        return sum(self.successes) / len(self.successes)


def evaluate(
    checkpoint: Path, flags: list[str], episodes: int, batch: int, out: Path
) -> tuple[list[bool], float]:
    command = [
        str(BIN / "lerobot-eval-ext"),
        f"--policy.path={checkpoint}",
        *flags,
        "--policy.device=cpu",
        "--env.type=so101_pickplace",
        f"--eval.n_episodes={episodes}",
        f"--eval.batch_size={batch}",
        "--eval.use_async_envs=false",
        "--seed=1000",
        f"--output_dir={out}",
    ]
    run(command, out.with_suffix(".log"))
    info = json.loads((out / "eval_info.json").read_text())
    successes = [bool(x) for task in info.get("per_task", []) for x in task["metrics"].get("successes", [])]
    overall = info["overall"]
    if len(successes) != episodes:  # a lerobot without per-episode results: the rate only
        successes = [True] * round(overall["pc_success"] * episodes / 100)
        successes += [False] * (episodes - len(successes))
    return successes, float(overall.get("eval_ep_s", 0.0))


def load_policy_model(path: Path, flags: list[str] = ()) -> Any:
    """A saved policy as lerobot builds it, with ``--policy.NAME=VALUE`` flags applied to its config
    (no processors: the timings below feed it normalised tensors)."""
    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class
    from lerobot.utils.import_utils import register_third_party_plugins

    register_third_party_plugins()
    torch.set_num_threads(int(ENV["OMP_NUM_THREADS"]))
    cfg = PreTrainedConfig.from_pretrained(path)
    for flag in flags:
        name, value = flag.removeprefix("--policy.").split("=")
        setattr(cfg, name, int(value) if value.isdigit() else value)
    return get_policy_class(cfg.type).from_pretrained(path, config=cfg)


def alternating_median(work: dict[str, Callable[[], None]], rounds: int, repeats: int) -> dict[str, float]:
    """Seconds per call of each piece of work, timed in alternating rounds (the order reversed every
    other round, so a drift in the machine's speed falls on all alike) after one warm-up call each;
    the median over rounds."""
    for call in work.values():
        call()
    times: dict[str, list[float]] = {label: [] for label in work}
    for round_index in range(rounds):
        order = list(work) if round_index % 2 == 0 else list(work)[::-1]
        for label in order:
            start = time.perf_counter()
            for _ in range(repeats):
                work[label]()
            times[label].append((time.perf_counter() - start) / repeats)
    return {label: statistics.median(values) for label, values in times.items()}


def env_state_width(model: Any) -> int:
    """6 (block, goal), or 9 with the offset observed (``so101_pickplace_offset``)."""
    return model.config.input_features["observation.environment_state"].shape[0]


def chunk_latency(
    checkpoints: dict[str, Path], samplers: dict[str, tuple[str, list[str]]], rounds: int = 5, calls: int = 10
) -> dict[str, float]:
    """Seconds per action chunk (batch 1), each sampler timed in alternating rounds."""
    import torch

    def chunk(model: Any) -> Callable[[], None]:
        # Each policy's own observation window (a variant may see more steps than 2).
        batch = {
            "observation.state": torch.zeros(1, model.config.n_obs_steps, 14),
            "observation.environment_state": torch.zeros(1, model.config.n_obs_steps, env_state_width(model)),
        }

        def call() -> None:
            with torch.no_grad():
                model.reset()
                model.predict_action_chunk(batch)

        return call

    work = {
        label: chunk(load_policy_model(checkpoints[policy], flags).eval())
        for label, (policy, flags) in samplers.items()
    }
    return alternating_median(work, rounds, calls)


def standard_error(successes: int, n: int) -> float:
    p = successes / n
    return math.sqrt(max(p * (1 - p), 1.0 / n) / n)  # never 0: a 0/n rate is not certain


def table_header(steps: list[int]) -> list[str]:
    """The first two lines of a markdown table with a column per checkpoint."""
    return [
        "| sampler | weights | " + " | ".join(f"step {s}" for s in steps) + " |",
        "|---|---|" + "---:|" * len(steps),
    ]


def summarise(evaluations: list[Evaluation], variants: list[tuple[str, str]], steps: list[int]) -> list[str]:
    """Success +- SE per (sampler, weights) and checkpoint, pooled over training seeds."""
    lines = table_header(steps)
    for sampler, weights in variants:
        cells = []
        for step in steps:
            wins, n = pooled(evaluations, sampler=sampler, weights=weights, step=step)
            cells.append(f"{100 * wins / n:.1f} +- {100 * standard_error(wins, n):.1f}" if n else "-")
        lines.append(f"| {sampler} | {weights} | " + " | ".join(cells) + " |")
    return lines


def pooled(evaluations: list[Evaluation], **where: object) -> tuple[int, int]:
    chosen = [e for e in evaluations if all(getattr(e, k) == v for k, v in where.items())]
    return sum(sum(e.successes) for e in chosen), sum(len(e.successes) for e in chosen)


def compare(label: str, a: tuple[int, int], b: tuple[int, int]) -> str:
    (wa, na), (wb, nb) = a, b
    if not na or not nb:
        return f"{label}: not evaluated"
    pa, pb = wa / na, wb / nb
    se = math.sqrt(standard_error(wa, na) ** 2 + standard_error(wb, nb) ** 2)
    difference = pa - pb
    # The rule calls a difference beyond one standard error; beyond two is the stronger
    # claim (about 5% of such calls are noise, against about 32% at one).
    if abs(difference) > 2 * se:
        verdict = "difference exceeds twice its standard error"
    elif abs(difference) > se:
        verdict = "difference exceeds its standard error, not twice it"
    else:
        verdict = "within one standard error: no difference called"
    return f"{label}: {100 * pa:.1f}% vs {100 * pb:.1f}%, difference {100 * difference:+.1f} +- {100 * se:.1f} points ({verdict})"


def baseline_report(evaluations: list[Evaluation], baseline_eval: Path, baseline: str, variant: str) -> None:
    """A variant (one factor changed) against the baseline's saved evaluations of the same
    checkpoints' steps, seeds and weights: each checkpoint and all of them pooled. Nothing is run
    for the baseline; a checkpoint it has not evaluated is said to be missing."""
    print(
        f"\n== {variant} against the baseline ({baseline_eval.parent}: the same budget without the variant)"
    )
    mine: list[Evaluation] = []
    theirs: list[Evaluation] = []
    for e in evaluations:
        cached = (
            baseline_eval / f"{e.sampler.replace(' ', '_')}_{baseline}_s{e.seed}_{e.step}_{e.weights}.json"
        )
        if not cached.is_file():
            print(
                f"  {e.sampler} seed {e.seed} step {e.step} {e.weights}: baseline not evaluated ({cached.name})"
            )
            continue
        other = Evaluation(e.sampler, e.policy, e.seed, e.step, e.weights)
        other.successes = json.loads(cached.read_text())["successes"]
        mine.append(e)
        theirs.append(other)
    keys = sorted({(e.sampler, e.step, e.weights) for e in mine})
    for sampler, step, weights in keys:
        where = {"sampler": sampler, "step": step, "weights": weights}
        label = f"{sampler}, step {step}, {weights}: {variant} vs baseline"
        print("  " + compare(label, pooled(mine, **where), pooled(theirs, **where)))
    for sampler in sorted({k[0] for k in keys}):
        if len([k for k in keys if k[0] == sampler]) > 1:
            label = f"{sampler}, all {len([k for k in keys if k[0] == sampler])} checkpoints pooled: {variant} vs baseline"
            print("  " + compare(label, pooled(mine, sampler=sampler), pooled(theirs, sampler=sampler)))


LOSS_LINE = re.compile(r"step:(\S+) .*?loss:([0-9.]+)")
TIMING_LINE = re.compile(r"updt_s:([0-9.]+) data_s:([0-9.]+)")


def seconds_per_step(train_log: Path) -> float | None:
    """A run's training time per step: upstream's logged update and data-wait times (averages over
    each --log_freq interval), the median over the log. Pauses between sessions, checkpointing and
    evaluation are not in it, so a curve against it does not depend on when the run was stopped."""
    if not train_log.is_file():
        return None
    times = [float(u) + float(d) for u, d in TIMING_LINE.findall(train_log.read_text(errors="replace"))]
    return statistics.median(times) if times else None


def training_step_seconds(
    checkpoints: dict[str, Path], batch_size: int, rounds: int = 12, steps: int = 5
) -> dict[str, float]:
    """Seconds per training step of each policy (forward, backward, Adam step on a batch of
    ``batch_size``), timed side by side in alternating rounds on one thread: the runs' own logs
    were written under whatever else the machine ran, so they do not compare two policies."""
    import torch

    torch.manual_seed(0)

    def step(model: Any) -> Callable[[], None]:
        cfg = model.config
        batch = {
            "observation.state": torch.randn(batch_size, cfg.n_obs_steps, 14),
            "observation.environment_state": torch.randn(batch_size, cfg.n_obs_steps, env_state_width(model)),
            "action": torch.randn(batch_size, cfg.horizon, 4),
            "action_is_pad": torch.zeros(batch_size, cfg.horizon, dtype=torch.bool),
        }
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)

        def call() -> None:
            loss, _ = model.forward(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return call

    work = {policy: step(load_policy_model(path).train()) for policy, path in checkpoints.items()}
    return alternating_median(work, rounds, steps)


def convergence(
    evaluations: list[Evaluation], sampler: str, steps: list[int], weights: str
) -> tuple[int | None, int, int]:
    """Where ``sampler``'s pooled success stopped rising: the first checkpoint that neither of the
    next two exceeds (``None`` while the last two checkpoints still rise past it), with its
    (successes, episodes) - or the last checkpoint's when it has not stopped."""
    rates = []
    for step in steps:
        wins, n = pooled(evaluations, sampler=sampler, weights=weights, step=step)
        rates.append((step, wins, n))
    rates = [r for r in rates if r[2]]
    for i in range(len(rates) - 2):
        step, wins, n = rates[i]
        if all(later_w / later_n <= wins / n for _, later_w, later_n in rates[i + 1 : i + 3]):
            return step, wins, n
    if not rates:
        return None, 0, 0
    _, wins, n = rates[-1]
    return None, wins, n


def convergence_report(
    evaluations: list[Evaluation],
    samplers: list[str],
    steps: list[int],
    weights: str,
    step_seconds: dict[str, float],
    step_source: str = "upstream's updt_s + data_s, median",
) -> None:
    """Where each sampler's curve stops rising, what it reaches, in steps and training hours, and
    the verdict on diffusion against flow at the end and at each one's plateau."""
    print(f"\n== convergence ({weights} weights): the first checkpoint that neither of the next two exceeds")
    plateaus: dict[str, tuple[int, int]] = {}
    for sampler in samplers:
        policy = sampler.split()[0]
        step, wins, n = convergence(evaluations, sampler, steps, weights)
        if not n:
            continue
        if step is not None:
            plateaus[sampler] = (wins, n)
        per_step = step_seconds.get(policy)
        hours = f", {per_step * (step or steps[-1]) / 3600:.1f} training hours" if per_step else ""
        where = (
            f"stops rising at step {step}"
            if step
            else f"not two checkpoints without a rise yet by step {steps[-1]}; at the last checkpoint"
        )
        print(f"  {sampler:<20} {where}: {100 * wins / n:.1f} +- {100 * standard_error(wins, n):.1f}%{hours}")
    for policy, per_step in sorted(step_seconds.items()):
        print(f"  {policy}: {per_step * 1e3:.0f} ms per training step ({step_source})")
    last = steps[-1]
    flow_last = pooled(evaluations, sampler="flow Euler 10", step=last, weights=weights)
    for other in ("diffusion DDPM 100", "diffusion DDIM 10"):
        other_last = pooled(evaluations, sampler=other, step=last, weights=weights)
        if flow_last[1] and other_last[1]:
            print("  " + compare(f"at step {last}: flow Euler 10 vs {other}", flow_last, other_last))
        if other in plateaus and "flow Euler 10" in plateaus:
            label = f"each at its plateau: flow Euler 10 vs {other}"
            print("  " + compare(label, plateaus["flow Euler 10"], plateaus[other]))


def write_chart(
    evaluations: list[Evaluation],
    samplers: list[str],
    steps: list[int],
    seeds: list[int],
    weights: str,
    step_seconds: dict[str, float],
    path: Path,
) -> None:
    """Success against training steps (and, with step times, training hours): pooled over seeds
    with one binomial standard error, each seed's rate as a faint dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if step_seconds else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    for sampler in samplers:
        policy = sampler.split()[0]
        points = [(step, *pooled(evaluations, sampler=sampler, step=step, weights=weights)) for step in steps]
        points = [(step, w / n, standard_error(w, n)) for step, w, n in points if n]
        if not points:
            continue
        scales = [("training steps", 1.0)]
        if step_seconds:
            scales.append(("training hours", step_seconds.get(policy, float("nan")) / 3600))
        for axis, (label, scale) in zip(axes[0], scales, strict=False):
            xs = [step * scale for step, _, _ in points]
            line = axis.errorbar(xs, [100 * r for _, r, _ in points], yerr=[100 * e for _, _, e in points],
                                 marker="o", capsize=3, label=sampler)  # fmt: skip
            for seed in seeds:
                dots = [(step * scale, pooled(evaluations, sampler=sampler, step=step, weights=weights, seed=seed))
                        for step in steps]  # fmt: skip
                axis.scatter([x for x, (w, n) in dots if n], [100 * w / n for _, (w, n) in dots if n],
                             s=10, alpha=0.3, color=line[0].get_color())  # fmt: skip
            axis.set_xlabel(label)
    for axis in axes[0]:
        axis.set_ylabel(f"success (%), {weights} weights")
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"\nchart: {path}")


def spearman(xs: list[float], ys: list[float]) -> float:
    """Rank correlation (ties get their average rank); NaN when either side is constant."""

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.mean(rx), statistics.mean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return cov / var if var else float("nan")


def per_seed(
    evaluations: list[Evaluation], variants: list[tuple[str, str]], steps: list[int], seeds: list[int]
) -> list[str]:
    """Success per training seed, side by side: the spread the binomial +- does not include."""
    lines = table_header(steps)
    for sampler, weights in variants:
        cells = []
        for step in steps:
            rates = []
            for seed in seeds:
                wins, n = pooled(evaluations, sampler=sampler, weights=weights, step=step, seed=seed)
                rates.append(f"{100 * wins / n:.0f}" if n else "-")
            cells.append(" / ".join(rates))
        lines.append(f"| {sampler} | {weights} | " + " | ".join(cells) + " |")
    return lines


PROGRESS_LINE = re.compile(
    r"^\s+(?P<sampler>(flow|diffusion) .+?)\s+seed (?P<seed>\d+) step\s+(?P<step>\d+) (?P<weights>live|ema)\s*:"
    r"\s+[\d.]+% \((?P<wins>\d+)/(?P<n>\d+)\)(, (?P<s>[\d.]+) s per episode)?"
)


def evaluations_from(output: Path) -> list[Evaluation]:
    """The evaluations a previous run printed, one progress line each (their order within an
    evaluation is not kept: the counts are)."""
    found = []
    for line in output.read_text().splitlines():
        match = PROGRESS_LINE.match(line)
        if match:
            wins, n = int(match["wins"]), int(match["n"])
            sampler = match["sampler"]
            found.append(
                Evaluation(
                    sampler,
                    sampler.split()[0],
                    int(match["seed"]),
                    int(match["step"]),
                    match["weights"],
                    [True] * wins + [False] * (n - wins),
                    float(match["s"] or 0.0),
                )
            )
    if not found:
        raise SystemExit(f"--report_from {output}: no evaluation lines in it")
    return found


def report(
    evaluations: list[Evaluation], samplers: list[str], steps: list[int], seeds: list[int], parallel: int
) -> None:
    """The tables and verdicts: pooled success +- binomial SE, per-seed success, flow vs diffusion
    and EMA vs live at every checkpoint, the sweep against 10 steps, evaluation time."""
    with_flow = "flow Euler 10" in samplers
    with_both = with_flow and "diffusion DDPM 100" in samplers
    episodes = len(evaluations[0].successes) if evaluations else 0
    seeds_text = ", ".join(map(str, seeds))
    print(
        f"\n== success rate (%), pooled over training seeds {seeds_text} x {episodes} evaluation "
        "episodes each; +- one binomial standard error of the pooled episodes (evaluation noise only: "
        "the spread between training seeds is in the next table)"
    )
    variants = [(s, w) for s in samplers for w in ("live", "ema")]
    for line in summarise(evaluations, variants, steps):
        print(line)
    print(f"\n== success rate (%) per training seed ({' / '.join(f'seed {s}' for s in seeds)})")
    for line in per_seed(evaluations, variants, steps, seeds):
        print(line)

    if with_both:
        print("\n== flow vs diffusion at every checkpoint (pooled over training seeds)")
    for weights, step in itertools.product(("ema", "live") if with_both else (), steps):
        flow = pooled(evaluations, sampler="flow Euler 10", step=step, weights=weights)
        for other in ("diffusion DDPM 100", "diffusion DDIM 10"):
            print(
                compare(
                    f"step {step}, {weights}: flow Euler 10 vs {other}",
                    flow,
                    pooled(evaluations, sampler=other, step=step, weights=weights),
                )
            )
    print("\n== EMA vs live weights at every checkpoint")
    for sampler, step in itertools.product(samplers, steps):
        print(compare(f"step {step}, {sampler}: EMA vs live", pooled(evaluations, sampler=sampler, step=step, weights="ema"),
                      pooled(evaluations, sampler=sampler, step=step, weights="live")))  # fmt: skip
    last = steps[-1]
    if with_flow:
        print(f"\n== flow num_inference_steps sweep (Euler), step {last}, EMA weights, each vs 10 steps")
    ten = pooled(evaluations, sampler="flow Euler 10", step=last, weights="ema") if with_flow else None
    for n in SWEEP if with_flow else ():
        wins, total = pooled(evaluations, sampler=f"flow Euler {n}", step=last, weights="ema")
        if not total:
            print(f"  {n:>2} steps: not evaluated")
            continue
        rates = " / ".join(
            f"{100 * w / t:.0f}" if t else "-"
            for w, t in (pooled(evaluations, sampler=f"flow Euler {n}", step=last, weights="ema", seed=seed)
                         for seed in seeds)
        )  # fmt: skip
        print(
            f"  {n:>2} steps: {100 * wins / total:5.1f} +- {100 * standard_error(wins, total):.1f}% (per seed {rates})"
        )
        if n != 10:
            # The same weights on the same start states: an unpaired standard error, conservative.
            print("    " + compare(f"Euler {n} vs Euler 10", (wins, total), ten))

    print("\n== evaluation time per episode (lerobot-eval's eval_ep_s, mean over checkpoints and seeds)")
    if not any(e.seconds_per_episode for e in evaluations):
        print("  (not recorded)")
    for sampler in [*samplers, *(f"flow Euler {n}" for n in SWEEP if with_flow and n != 10)]:
        times = [e.seconds_per_episode for e in evaluations if e.sampler == sampler and e.seconds_per_episode]
        if times:
            print(
                f"  {sampler:<20} {statistics.mean(times):6.2f} s ({len(times)} evaluations, {parallel} at a time)"
            )


EVAL_LOSS_LINE = re.compile(r"step (\d+): eval_loss=([0-9.eE+-]+|nan|inf)")


def checkpoint_signals(out: Path, steps: list[int], work: Path, tag: str) -> dict[int, dict[str, float]]:
    """Every signal a run could pick its checkpoint by, per step (lower is better for each):
    ``lerobot-ext compare``'s executed-action error on the run's held-out episodes (total, worst
    dim, each dim) and its fixed-seed loss, upstream's ``--eval_steps`` loss and the training loss
    (from the run's log), and ``--action_mse``'s error on the separately recorded held-out set."""
    cached = work / "signals" / f"{tag}.json"
    cached.parent.mkdir(exist_ok=True)
    if cached.is_file():
        return {int(k): v for k, v in json.loads(cached.read_text()).items()}
    checkpoints = [out / "checkpoints" / f"{step:06d}" for step in steps]
    records = [folder / "validation.json" for folder in checkpoints]
    if all(record.is_file() for record in records):
        # Measured by the run itself (the validation plugin): what compare would measure again.
        compared = [json.loads(record.read_text()) for record in records]
    else:
        command = [str(BIN / "lerobot-ext"), "compare", *map(str, checkpoints), f"--dataset.root={work / 'demos'}",
                   "--json", "--rounds", "1"]  # fmt: skip
        log = work / "signals" / f"{tag}.compare.log"
        log.parent.mkdir(exist_ok=True)
        run(command, log)
        compared = json.loads(log.read_text().strip().splitlines()[-1])
    text = out.with_name(out.name + ".train.log").read_text()
    # lerobot's log rounds the step (1500 is "2K"): a run logs every LOG_FREQ steps from 1, so its
    # n-th loss line is step n * LOG_FREQ (the runs here are never resumed).
    train_loss = {LOG_FREQ * (n + 1): float(loss) for n, (_, loss) in enumerate(LOSS_LINE.findall(text))}
    eval_loss = {int(step): float(loss) for step, loss in EVAL_LOSS_LINE.findall(text)}
    mse_file = out / "action_mse.csv"
    mse = (
        {int(k): float(v) for k, v in (line.split(",") for line in mse_file.read_text().splitlines()[1:])}
        if mse_file.is_file()
        else {}
    )
    signals = {}
    for entry in compared:
        step = int(entry["step"])
        values = {k: float(v) for k, v in entry.items() if k == "loss" or k.startswith("action_error")}
        values["loss (fixed seed)"] = values.pop("loss")
        values["upstream eval_loss"] = eval_loss.get(step, float("nan"))
        values["training loss"] = train_loss.get(step, float("nan"))
        if step in mse:
            values["action_mse (other held-out set)"] = mse[step]
        signals[step] = values
    cached.write_text(json.dumps(signals, indent=1))
    return signals


def selection_report(
    outputs: dict[tuple[str, int], Path],
    evaluations: list[Evaluation],
    steps: list[int],
    args: argparse.Namespace,
    work: Path,
    budget: str,
) -> None:
    """Which signal ranks a run's checkpoints by closed-loop success best (live weights): the
    Spearman correlation of success with minus the signal over every checkpoint of both seeds, per
    seed (the spread), and the success of the checkpoint each signal would pick, against the best."""
    print("\n== which signal ranks checkpoints by success? (live weights; Spearman of success with -signal)")
    for policy, sampler in (("flow", "flow Euler 10"), ("diffusion", "diffusion DDPM 100")):
        if policy not in args.policies or not any(e.sampler == sampler for e in evaluations):
            continue
        per_seed = {}
        for seed in args.seeds:
            signals = checkpoint_signals(
                outputs[(policy, seed)], steps, work, f"{policy}_{budget}_seed{seed}"
            )
            success = {}
            for step in steps:
                wins, total = pooled(evaluations, sampler=sampler, seed=seed, step=step, weights="live")
                success[step] = wins / total if total else float("nan")
            per_seed[seed] = (signals, success)
        names = list(next(iter(per_seed.values()))[0][steps[0]])
        print(f"  {policy} ({sampler}), {len(steps)} checkpoints per seed, seeds {args.seeds}:")
        print(f"    {'signal':<34} {'pooled':>7}  per seed          picked success per seed (best possible)")
        for name in names:
            xs, ys, seeds_rho, picks = [], [], [], []
            for signals, success in per_seed.values():
                values = [signals[step].get(name, float("nan")) for step in steps]
                rates = [success[step] for step in steps]
                xs += [-v for v in values]
                ys += rates
                seeds_rho.append(spearman(rates, [-v for v in values]))
                finite = [(v, step) for v, step in zip(values, steps, strict=True) if math.isfinite(v)]
                picked = min(finite)[1] if finite else None
                picks.append(
                    f"{100 * success[picked]:.0f}% ({100 * max(rates):.0f}%)" if picked is not None else "-"
                )
            rho = " / ".join(f"{r:+.2f}" for r in seeds_rho)
            print(f"    {name:<34} {spearman(ys, xs):+7.2f}  {rho:<17} {', '.join(picks)}")


def split_demonstrations(demos: Path, first: int, work: Path) -> tuple[Path, Path]:
    """The demonstrations as two datasets - episodes ``0..first-1`` and the rest - written by
    upstream's ``split_dataset`` (once; reused from ``work``)."""
    parts = (work / f"demos_first{first}", work / f"demos_after{first}")
    if all((p / "meta" / "info.json").is_file() for p in parts):
        return parts
    code = (
        "import sys, shutil; from pathlib import Path\n"
        "from lerobot.datasets.lerobot_dataset import LeRobotDataset\n"
        "from lerobot.datasets.dataset_tools import split_dataset\n"
        "demos, first, work = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])\n"
        "source = LeRobotDataset('local/demos', root=demos)\n"
        "out = work / 'split.partial'; shutil.rmtree(out, ignore_errors=True)\n"
        "episodes = list(range(source.meta.total_episodes))\n"
        "made = split_dataset(source, {'a': episodes[:first], 'b': episodes[first:]}, output_dir=out)\n"
        "for name, target in zip(('a', 'b'), sys.argv[4:]):\n"
        "    shutil.rmtree(target, ignore_errors=True); shutil.move(str(made[name].root), target)\n"
        "shutil.rmtree(out, ignore_errors=True)\n"
    )
    run([sys.executable, "-c", code, str(demos), str(first), str(work), *map(str, parts)], work / "split.log")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument(
        "--demo_layout",
        choices=list(EXPERT_LINE),
        default=DEMO_LAYOUT,
        help=f"the demonstrations' expert: {CENTRING_LAYOUT} descends only over the block's centre and "
        f"re-centres when pushed off it (the held-out set keeps the plain expert); {OFFSET_LAYOUT} observes "
        "the block's offset from the grasp point (held-out set and evaluations too)",
    )
    parser.add_argument(
        "--demo_noise",
        type=float,
        default=DEMO_NOISE,
        help="DART noise of the demonstrations (the executed motion's N(0, s) per axis, in action units); "
        "the held-out set keeps the default",
    )
    parser.add_argument("--heldout", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--save_freq", type=int, default=500)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--eval_batch", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2, help="training runs and evaluations at a time")
    parser.add_argument("--policies", nargs="+", choices=list(POLICIES), default=list(POLICIES))
    parser.add_argument("--workdir", default=None, help="keep datasets, checkpoints and logs here")
    parser.add_argument(
        "--eval_only", action="store_true", help="train nothing: evaluate the checkpoints in --workdir"
    )
    parser.add_argument(
        "--report_from",
        type=Path,
        default=None,
        help="print the tables and verdicts again from a previous run's output (no training, no evaluation)",
    )
    parser.add_argument(
        "--eval_split",
        type=float,
        default=0.0,
        help="hold out this share of the demonstrations with upstream's --dataset.eval_split (its "
        "--eval_steps loss logged at every checkpoint), for the checkpoint-selection signals",
    )
    parser.add_argument(
        "--samplers", nargs="+", choices=list(SAMPLERS), default=None, help="evaluate only these samplers"
    )
    parser.add_argument(
        "--weights",
        nargs="+",
        choices=["live", "ema"],
        default=["live", "ema"],
        help="evaluate these weights",
    )
    parser.add_argument("--no_sweep", action="store_true", help="skip flow's num_inference_steps sweep")
    parser.add_argument(
        "--chart", type=Path, default=None, help="write success against steps (and hours) here (PNG)"
    )
    parser.add_argument(
        "--tag",
        default=None,
        help="name of a variant (its folders and evaluations), for --train_flags / --eval_flags",
    )
    parser.add_argument(
        "--train_flags",
        default="",
        help='more lerobot-train-ext flags for every run of this variant, e.g. --train_flags="--policy.horizon=32" '
        "(needs --tag)",
    )
    parser.add_argument(
        "--eval_flags",
        default="",
        help='more lerobot-eval-ext flags for every evaluation, e.g. --eval_flags="--policy.n_action_steps=4" '
        "(needs --tag)",
    )
    parser.add_argument(
        "--eval_tag",
        default=None,
        help="with --tag and --train_flags: name of an evaluation variant (--eval_flags) of that trained variant",
    )
    parser.add_argument(
        "--mix_split",
        type=int,
        default=None,
        help="write the demonstrations as two datasets (the first N episodes, the rest; upstream's "
        "split_dataset) and train on them with --dataset.mix: mixing must lose nothing",
    )
    parser.add_argument(
        "--mix_weights", type=float, nargs=2, default=None, help="with --mix_split: --dataset.mix_weights"
    )
    parser.add_argument(
        "--normalize_env_state",
        action="store_true",
        help="min-max normalise observation.environment_state too (neither policy does by default). Alone "
        "it is the variant compared with the unnormalised baseline; with --tag or --baseline_workdir it is "
        "part of the recipe and the baseline is the normalised run",
    )
    parser.add_argument(
        "--baseline_workdir",
        type=Path,
        default=None,
        help="with a variant (--tag, --normalize_env_state, other --demos): compare it with the evaluations "
        "saved in this workdir (default: --workdir) of the same budget without the variant",
    )
    args = parser.parse_args()
    if args.report_from is not None:
        evaluations = evaluations_from(args.report_from)
        samplers = [label for label in SAMPLERS if any(e.sampler == label for e in evaluations)]
        steps = sorted({e.step for e in evaluations if e.sampler in samplers})
        print(f"closed loop: the report of {args.report_from}'s {len(evaluations)} evaluations")
        seeds = sorted({e.seed for e in evaluations})
        report(evaluations, samplers, steps, seeds, args.parallel)
        weights = "live" if any(e.weights == "live" for e in evaluations) else "ema"
        convergence_report(evaluations, samplers, steps, weights, {})
        if args.chart is not None:
            write_chart(evaluations, samplers, steps, seeds, weights, {}, args.chart)
        return
    if args.steps % args.save_freq:
        raise SystemExit(f"--steps {args.steps} must be a multiple of --save_freq {args.save_freq}")
    if args.eval_only and not args.workdir:
        raise SystemExit("--eval_only evaluates the checkpoints of a previous run: give its --workdir")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="closed_loop_"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # Each step budget (and data normalisation) trains and is evaluated in its own folders.
    if (args.train_flags or args.eval_flags) and not args.tag:
        raise SystemExit("--train_flags / --eval_flags change the runs: name the variant with --tag")
    train_extra, eval_extra = shlex.split(args.train_flags), shlex.split(args.eval_flags)
    # The data set-up (held-out split, mix) is part of the baseline a variant compares with; the
    # variant's own changes (tag, env-state normalisation) are not.
    setup = (
        (f"_split{args.eval_split:g}" if args.eval_split else "")
        + (f"_mix{args.mix_split}" if args.mix_split else "")
        + ("w" + "-".join(f"{w:g}" for w in args.mix_weights) if args.mix_split and args.mix_weights else "")
    )
    # Environment-state normalisation is the variant only when it is the one change; beside a
    # tagged variant or other demonstrations it is part of the recipe both sides share, so their
    # baseline is the normalised run (diffusion's fair recipe).
    envnorm_shared = args.normalize_env_state and (bool(args.tag) or args.baseline_workdir is not None)
    baseline = f"{args.steps}steps" + ("_envnorm" if envnorm_shared else "") + setup
    budget = (
        f"{args.steps}steps"
        + (f"_{args.tag}" if args.tag and train_extra else "")
        + ("_envnorm" if args.normalize_env_state else "")
        + setup
    )
    # Evaluation-only variants (--eval_flags) reuse the training of the same budget; --eval_tag
    # names one evaluated on a trained variant's checkpoints.
    if args.eval_tag and not eval_extra:
        raise SystemExit("--eval_tag names an evaluation variant: give its --eval_flags")
    if train_extra and eval_extra and not args.eval_tag:
        raise SystemExit(
            "--train_flags with --eval_flags: name the evaluation variant with --eval_tag (its evaluations "
            "are kept apart from the trained variant's own)"
        )
    evaluated = budget + (
        f"_{args.eval_tag}" if args.eval_tag else f"_{args.tag}" if args.tag and not train_extra else ""
    )
    print(
        f"closed loop: {args.demos} demonstrations, {args.steps} steps ({', '.join(args.policies)}), seeds "
        f"{args.seeds}, {args.episodes} evaluation episodes per checkpoint, torch threads {ENV['OMP_NUM_THREADS']}"
        f"{', environment_state normalised' if args.normalize_env_state else ''}; work in {work}",
        flush=True,
    )

    demos, heldout = work / "demos", work / "heldout"
    for root, count, seed in ((demos, args.demos, 0), (heldout, args.heldout, 1)):
        if not (root / "meta" / "info.json").is_file():
            if args.eval_only:
                raise SystemExit(f"--eval_only: no dataset in {root}")
            # The held-out set keeps the layout's default noise: the action error is measured on the
            # same kind of data whatever the training data's noise.
            noise_flag = ["--noise", str(args.demo_noise)] if root == demos else []
            # The held-out set has the training data's features (the offset layout's are wider).
            layout = args.demo_layout if root == demos or args.demo_layout == OFFSET_LAYOUT else DEMO_LAYOUT
            run([str(BIN / "lerobot-ext"), "demo-dataset", "--layout", layout, "--root", str(root),
                 "--episodes", str(count), "--seed", str(seed), *noise_flag, "--overwrite"], work / f"{root.name}.log")  # fmt: skip
    written_log = (work / "demos.log").read_text() if (work / "demos.log").exists() else ""
    noise = re.search(r"\(noise ([0-9.]+)\)", written_log)
    if written_log and EXPERT_LINE[args.demo_layout] not in written_log:
        raise SystemExit(
            f"{demos} was not written with --demo_layout {args.demo_layout}: use another --workdir"
        )
    if noise and float(noise[1]) != args.demo_noise:
        raise SystemExit(
            f"{demos} was written with noise {noise[1]}, not --demo_noise {args.demo_noise:g}: use another --workdir"
        )
    written = json.loads((demos / "meta" / "info.json").read_text())["total_episodes"]
    if written != args.demos:
        raise SystemExit(
            f"{demos} holds {written} demonstrations, not --demos {args.demos}: use another --workdir"
        )
    log_lines = (work / "demos.log").read_text().splitlines() if (work / "demos.log").exists() else []
    kept = next((line for line in reversed(log_lines) if "attempts kept" in line), str(demos))
    print(f"  data: {kept}", flush=True)

    # Decoded once for every run (state-only data is still Arrow lookups per item without it).
    cache = work / "demos_cache"
    if not (cache / "manifest.json").is_file() and not args.eval_only:
        command = [
            str(BIN / "lerobot-ext"),
            "cache",
            "build",
            str(demos),
            "--cache_dir",
            str(cache),
            "--overwrite",
        ]
        run(command, work / "cache.log")

    data_flags = [f"--dataset.root={demos}", f"--data_cache={cache}"]
    if args.mix_split:
        parts = split_demonstrations(demos, args.mix_split, work)
        data_flags = [
            f"--dataset.root={parts[0]}",
            f"--dataset.mix=[{parts[1]}]",
            f"--data_cache={work / 'demos_mix_cache'}",  # the second dataset's beside it: <cache>-mix1
            *(
                [f"--dataset.mix_weights=[{','.join(f'{w:g}' for w in args.mix_weights)}]"]
                if args.mix_weights
                else []
            ),
        ]
        for part, folder in zip(
            parts, (work / "demos_mix_cache", work / "demos_mix_cache-mix1"), strict=True
        ):
            if not (folder / "manifest.json").is_file() and not args.eval_only:
                command = [str(BIN / "lerobot-ext"), "cache", "build", str(part), "--cache_dir", str(folder)]
                run([*command, "--overwrite"], work / "cache.log")
        print(f"  data: trained as a mix of {parts[0].name} and {parts[1].name}", flush=True)

    def train(policy: str, seed: int) -> Path:
        out = work / f"{policy}_{budget}_seed{seed}"
        if not (out / "checkpoints" / f"{args.steps:06d}").is_dir():
            if args.eval_only:
                raise SystemExit(f"--eval_only: {out} has no checkpoint of step {args.steps}")
            command = [
                str(BIN / "lerobot-train-ext"), "--dataset.repo_id=local/demos", *data_flags,
                *POLICIES[policy], *NETWORK, f"--batch_size={args.batch_size}", f"--steps={args.steps}",
                f"--save_freq={args.save_freq}", f"--log_freq={LOG_FREQ}", f"--seed={seed}", "--num_workers=0",
                "--wandb.enable=false", f"--output_dir={out}", "--auto_resume=true", "--ema.enable=true",
                f"--action_mse.root={heldout}", f"--action_mse.every={args.save_freq}",
                *([ENV_STATE_NORMALISED] if args.normalize_env_state else []), *train_extra,
                *([f"--dataset.eval_split={args.eval_split}", f"--eval_steps={args.save_freq}"] if args.eval_split else []),
            ]  # fmt: skip
            t0 = time.perf_counter()
            run(command, out.with_name(out.name + ".train.log"))
            print(f"  trained {policy} seed {seed} in {time.perf_counter() - t0:.0f} s", flush=True)
        return out

    runs = list(itertools.product(args.policies, args.seeds))
    with ThreadPoolExecutor(args.parallel) as pool:
        outputs = dict(zip(runs, pool.map(lambda r: train(*r), runs), strict=True))

    steps = list(range(args.save_freq, args.steps + 1, args.save_freq))
    samplers = {
        label: spec
        for label, spec in SAMPLERS.items()
        if spec[0] in args.policies and (args.samplers is None or label in args.samplers)
    }
    with_flow = "flow" in args.policies
    jobs = []
    for (sampler, (policy, flags)), seed, step, weights in itertools.product(
        samplers.items(), args.seeds, steps, args.weights
    ):
        folder = (
            outputs[(policy, seed)]
            / "checkpoints"
            / f"{step:06d}"
            / ("pretrained_model" if weights == "live" else "pretrained_model_ema")
        )
        jobs.append((Evaluation(sampler, policy, seed, step, weights), folder, flags))
    for seed, n in itertools.product(args.seeds, SWEEP if with_flow and not args.no_sweep else ()):
        folder = outputs[("flow", seed)] / "checkpoints" / f"{args.steps:06d}" / "pretrained_model_ema"
        jobs.append(
            (
                Evaluation(f"flow Euler {n}", "flow", seed, args.steps, "ema"),
                folder,
                [f"--policy.num_inference_steps={n}"],
            )
        )

    def do(job: tuple[Evaluation, Path, list[str]]) -> Evaluation:
        evaluation, folder, flags = job
        tag = (
            f"{evaluation.sampler.replace(' ', '_')}_{evaluated}_s{evaluation.seed}_{evaluation.step}"
            f"_{evaluation.weights}"
        )
        cached = work / "eval" / f"{tag}.json"
        saved = cached.is_file()
        if saved:
            evaluation.successes, evaluation.seconds_per_episode = (lambda d: (d["successes"], d["s"]))(
                json.loads(cached.read_text())
            )
        else:
            cached.parent.mkdir(exist_ok=True)
            evaluation.successes, evaluation.seconds_per_episode = evaluate(
                folder,
                [
                    *flags,
                    *eval_extra,
                    *(["--env.observe_offset=true"] if args.demo_layout == OFFSET_LAYOUT else []),
                ],
                args.episodes,
                args.eval_batch,
                work / "eval" / tag,
            )
            cached.write_text(
                json.dumps({"successes": evaluation.successes, "s": evaluation.seconds_per_episode})
            )
        # Saved ones too: every output then holds each evaluation's line (what --report_from reads).
        print(
            f"  {evaluation.sampler:<20} seed {evaluation.seed} step {evaluation.step:>5} {evaluation.weights:<4}: "
            f"{100 * evaluation.rate:5.1f}% ({sum(evaluation.successes)}/{len(evaluation.successes)}), "
            f"{evaluation.seconds_per_episode:.2f} s per episode{' (saved earlier)' if saved else ''}",
            flush=True,
        )
        return evaluation

    seen: set[tuple[str, int, int, str]] = set()
    unique = []
    for job in jobs:  # the sweep's "flow Euler 10" is the main run's last EMA checkpoint
        key = (job[0].sampler, job[0].seed, job[0].step, job[0].weights)
        if key not in seen:
            seen.add(key)
            unique.append(job)
    with ThreadPoolExecutor(args.parallel) as pool:
        evaluations = list(pool.map(do, unique))

    latency = chunk_latency(
        {
            p: outputs[(p, args.seeds[0])] / "checkpoints" / f"{args.steps:06d}" / "pretrained_model"
            for p in args.policies
        },
        samplers,
    )

    report(evaluations, list(samplers), steps, args.seeds, args.parallel)
    step_seconds = {
        policy: seconds
        for policy in args.policies
        if (seconds := seconds_per_step(outputs[(policy, args.seeds[0])].with_name(
            outputs[(policy, args.seeds[0])].name + ".train.log"))) is not None
    }  # fmt: skip
    if len(args.policies) > 1:
        # Two policies' hours compare only when their steps were timed side by side.
        for policy, seconds in sorted(step_seconds.items()):
            print(f"  {policy}: {seconds * 1e3:.0f} ms per training step in its own log (not compared)")
        step_seconds = training_step_seconds(
            {p: outputs[(p, args.seeds[0])] / "checkpoints" / f"{args.steps:06d}" / "pretrained_model"
             for p in args.policies},
            args.batch_size,
        )  # fmt: skip
    weights = "live" if "live" in args.weights else "ema"
    if len(args.policies) > 1:
        source = f"timed side by side, batch {args.batch_size}, alternating rounds, one thread"
        convergence_report(evaluations, list(samplers), steps, weights, step_seconds, source)
    else:
        convergence_report(evaluations, list(samplers), steps, weights, step_seconds)
    if args.chart is not None:
        write_chart(evaluations, list(samplers), steps, args.seeds, weights, step_seconds, args.chart)
    print("\n== action chunk latency (batch 1, CPU, median of alternating rounds)")
    base = latency.get("diffusion DDPM 100")
    for label, seconds in latency.items():
        relative = f"  ({base / seconds:.2f}x faster than DDPM 100)" if base else ""
        print(f"  {label:<20} {seconds * 1e3:8.2f} ms{relative}")

    if args.eval_split:
        selection_report(outputs, evaluations, steps, args, work, budget)
    if evaluated != baseline or args.baseline_workdir is not None:
        named = " ".join(name for name in (args.tag, args.eval_tag) if name)
        variant = named or (
            "environment_state normalised"
            if args.normalize_env_state and not envnorm_shared
            else f"{args.demos} demonstrations"
            + (f" of {args.demo_layout}" if args.demo_layout != DEMO_LAYOUT else "")
            + (f", noise {args.demo_noise:g}" if args.demo_noise != DEMO_NOISE else "")
        )
        baseline_report(evaluations, (args.baseline_workdir or work) / "eval", baseline, variant)
    raw = work / f"evaluations_{evaluated}_{'_'.join(args.policies)}.json"
    raw.write_text(json.dumps([e.__dict__ for e in evaluations], indent=1))
    print(f"\nraw evaluations: {raw}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
