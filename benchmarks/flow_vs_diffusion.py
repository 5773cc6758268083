"""Flow matching (``--policy.type=flow``) against LeRobot's Diffusion Policy, side by side.

Both policies get the same backbone (ResNet18 + spatial softmax, one encoder shared by the
cameras, the same FiLM U-Net), the same data, batch size, optimizer preset and number of
updates, in one run, on CPU:

1. training step time (forward + backward + optimizer), both policies updated in turns on the
   same batches;
2. ``select_action`` latency for a new chunk at batch 1: diffusion's default (100 DDPM steps) and
   with 10 DDIM steps, against flow with its default 10 Euler steps;
3. held-out action error on the robocasa demo (last episodes held out with
   ``--dataset.eval_split``) against a predict-the-training-mean baseline;
4. mode coverage on the bimodal demo (two action modes from one observation);
5. Euler against midpoint / Heun at equal numbers of network evaluations;
6. training-time sampling ``beta`` against ``uniform`` (a third model, same seed and batches).

Training uses lerobot-train's own pieces in one process (see flow_tasks.py): the config is
parsed from lerobot-train flags, the datasets, policies, processors, optimizer and scheduler
come from LeRobot's factories and every update is ``lerobot_train.update_policy``. The CPU is
shared, so timings are measured interleaved and reported as medians and ratios.

Sizing (defaults: about 35 minutes on a shared 2-core CPU, one torch thread): an update of one
policy costs about 0.55 s at batch 8 with 64 px images (three cameras, two observation steps:
48 ResNet18 passes), so three robocasa models get 1000 updates each. The optimizer preset
(lr 1e-4, 500 warm-up steps) leaves both policies far from trained after 500 updates (both
about 5x worse than the mean-action baseline on held-out frames), so the defaults use lr 1e-3
with 50 warm-up steps, for both policies alike (diffusion also trained faster at 1e-3 than at
3e-4 in a 300-step trial). All of these are options.

    python benchmarks/flow_vs_diffusion.py [--steps 1000] [--batch-size 8] [--lr 1e-3] ...
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import ENV, dataset_flags, demo_dataset, median
from flow_tasks import (
    POLICY_FLAGS,
    CachedFrames,
    flow_conditioning,
    integrate_chunks,
    make_trainee,
    parse_train_config,
    percentile,
    sample_chunks,
    time_new_chunks,
    train_lockstep,
    with_inference,
)

MODE = 0.8  # the bimodal demo's two action values are +MODE and -MODE
MODE_TOLERANCE = 0.2
# A sampler or training setting "wins clearly" over the default when its paired held-out error is
# lower by more than CLEAR_SE standard errors (over held-out episodes) and by more than
# CLEAR_RELATIVE of the default's error. Fixed before the measurements.
CLEAR_SE = 2.0
CLEAR_RELATIVE = 0.02


def is_clear_win(difference: float, standard_error: float, reference: float) -> bool:
    """``difference`` = candidate - default (negative: the candidate's error is lower)."""
    return -difference > CLEAR_SE * standard_error and -difference > CLEAR_RELATIVE * reference


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--steps", type=int, default=1000, help="updates per policy on the robocasa demo")
    add("--bimodal-steps", type=int, default=1000, help="updates per policy on the bimodal demo")
    add("--batch-size", type=int, default=8)
    add("--episodes", type=int, default=40, help="robocasa demo episodes (the last eval-split are held out)")
    add("--frames", type=int, default=50, help="frames per robocasa demo episode")
    add("--eval-split", type=float, default=0.2)
    add("--image-size", type=int, default=64)
    add("--crop", type=int, default=56)
    add("--down-dims", default="64,128,256")
    add("--horizon", type=int, default=8)
    add("--n-action-steps", type=int, default=7)
    add("--n-obs-steps", type=int, default=2)
    add("--lr", type=float, default=1e-3, help="--policy.optimizer_lr (preset: 1e-4)")
    add(
        "--warmup",
        type=int,
        default=50,
        help="--policy.scheduler_warmup_steps (preset: 500, which would span this whole short run)",
    )
    add("--seed", type=int, default=0)
    add("--eval-seeds", type=int, default=2, help="noise draws per held-out frame")
    add("--nfe", default="2,3,4,5,8,9,10", help="network evaluations per chunk for the solver comparison")
    add("--latency-rounds", type=int, default=15)
    add("--mode-samples", type=int, default=256)
    add("--threads", type=int, default=1, help="torch intra-op threads (1: the 2-core box is shared)")
    add("--workdir", type=Path, default=None, help="where the demo datasets go (default: a temp dir)")
    return parser.parse_args()


def model_flags(args: argparse.Namespace) -> list[str]:
    return [
        *POLICY_FLAGS,
        f"--policy.n_obs_steps={args.n_obs_steps}",
        f"--policy.horizon={args.horizon}",
        f"--policy.n_action_steps={args.n_action_steps}",
        "--policy.drop_n_last_frames=0",
        "--policy.use_separate_rgb_encoder_per_camera=false",
        f"--policy.down_dims=[{args.down_dims}]",
        f"--policy.optimizer_lr={args.lr}",
        f"--policy.scheduler_warmup_steps={args.warmup}",
        f"--batch_size={args.batch_size}",
        f"--seed={args.seed}",
    ]


def job_flags(args, root: Path, steps: int, output_dir: Path, images: bool) -> list[str]:
    flags = [*dataset_flags(root), *model_flags(args), f"--steps={steps}", f"--output_dir={output_dir}"]
    if images:
        flags += [f"--dataset.eval_split={args.eval_split}", f"--policy.crop_shape=[{args.crop},{args.crop}]"]
    return flags


def show_command(name: str, flags: list[str]) -> None:
    print(f"  {name}: lerobot-train " + " ".join(shlex.quote(f) for f in flags))


# --------------------------------------------------------------------------- held-out error
def heldout_batches(trainees, frames: CachedFrames, chunk: int = 100) -> list[dict]:
    """The held-out frames in batches of ``chunk``, preprocessed (normalised) once for all policies.

    Every policy's preprocessor normalises with the same dataset stats and mapping; checked here.
    """
    batches = []
    for i in range(0, len(frames), chunk):
        raw = frames.batch(range(i, min(i + chunk, len(frames))))
        batch = trainees[0].preprocessor(dict(raw))
        for other in trainees[1:]:
            again = other.preprocessor(dict(raw))
            for key, value in batch.items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    torch.testing.assert_close(
                        again[key], value, msg=f"{other.name} normalises {key} differently"
                    )
        batches.append(batch)
    return batches


def per_frame_errors(sample, batches, varying: torch.Tensor, start: int, n_steps: int, seeds: int, base_seed):
    """(frames,) MSE between sampled and true executed actions, normalised space, padded steps out.

    ``sample(batch_index, batch, noise, seed)`` returns the executed actions; every sampler gets
    the same initial noise for the same frame and draw.
    """
    per_seed = []
    for s in range(seeds):
        errors = []
        for b_index, batch in enumerate(batches):
            truth = batch["action"][:, start : start + n_steps][..., varying]
            valid = (~batch["action_is_pad"][:, start : start + n_steps]).to(truth.dtype)
            seed = base_seed + 1000 * s + b_index
            noise = torch.randn(batch["action"].shape, generator=torch.Generator().manual_seed(seed))
            pred = sample(b_index, batch, noise, seed)[..., varying]
            sq = ((pred - truth) ** 2).mean(-1)  # (B, n_steps)
            errors.append((sq * valid).sum(1) / valid.sum(1).clamp_min(1))
        per_seed.append(torch.cat(errors))
    return torch.stack(per_seed).mean(0)


def baseline_errors(batches, mean_action: torch.Tensor, varying, start, n_steps):
    errors = []
    for batch in batches:
        truth = batch["action"][:, start : start + n_steps][..., varying]
        valid = (~batch["action_is_pad"][:, start : start + n_steps]).to(truth.dtype)
        sq = ((mean_action[varying] - truth) ** 2).mean(-1)
        errors.append((sq * valid).sum(1) / valid.sum(1).clamp_min(1))
    return torch.cat(errors)


def episode_means(values: torch.Tensor, episodes: torch.Tensor) -> torch.Tensor:
    return torch.stack([values[episodes == e].mean() for e in episodes.unique()])


def paired(a: torch.Tensor, b: torch.Tensor, episodes: torch.Tensor) -> tuple[float, float]:
    """Mean of a - b and its standard error over held-out episodes (frames of an episode correlate)."""
    diff = episode_means(a - b, episodes)
    se = float(diff.std() / len(diff) ** 0.5) if len(diff) > 1 else float("nan")
    return float(diff.mean()), se


# --------------------------------------------------------------------------- main
def main() -> None:
    args = parse_args()
    os.environ.update(ENV)  # offline, no progress bars (lerobot is imported after this)
    torch.set_num_threads(args.threads)
    nfe_grid = [int(n) for n in args.nfe.split(",")]
    wall_start = time.perf_counter()
    command = "python benchmarks/flow_vs_diffusion.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    from lerobot_policy_flow.modeling_flow import nfe_per_chunk

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        robocasa = demo_dataset(
            "robocasa",
            work / f"robocasa_e{args.episodes}_f{args.frames}_i{args.image_size}",
            episodes=args.episodes,
            frames=args.frames,
            image_size=args.image_size,
            seed=args.seed,
        )
        bimodal = demo_dataset("bimodal", work / "bimodal_e16_f40", episodes=16, frames=40, seed=args.seed)
        out = Path(tmp) / "unused_output"

        # ------------------------------------------------------------------ configuration
        flags = {
            "flow": ["--policy.type=flow", *job_flags(args, robocasa, args.steps, out / "f", True)],
            "diffusion": ["--policy.type=diffusion", *job_flags(args, robocasa, args.steps, out / "d", True)],
        }
        flags["flow-uniform"] = [*flags["flow"], "--policy.time_sampling=uniform"]
        bi_flags = {
            "flow": ["--policy.type=flow", *job_flags(args, bimodal, args.bimodal_steps, out / "bf", False)],
            "diffusion": [
                "--policy.type=diffusion",
                *job_flags(args, bimodal, args.bimodal_steps, out / "bd", False),
            ],
        }
        print(f"command: {command}")
        print(
            f"torch {torch.__version__}, {args.threads} intra-op thread(s), "
            f"{os.cpu_count()} CPU cores (shared), seed {args.seed}"
        )
        print(
            f"robocasa demo: {args.episodes} episodes x {args.frames} frames, {args.image_size} px, "
            f"3 cameras; eval_split {args.eval_split}. bimodal demo: 16 episodes x 40 frames."
        )
        print("each model is trained as this lerobot-train command would (same flags, parsed by lerobot):")
        for name, f in flags.items():
            show_command(name, f)
        for name, f in bi_flags.items():
            show_command(f"bimodal {name}", f)
        print()

        cfgs = {name: parse_train_config(f) for name, f in flags.items()}
        from lerobot.datasets.factory import make_train_eval_datasets

        train_ds, eval_ds = make_train_eval_datasets(cfgs["flow"])
        t0 = time.perf_counter()
        train_frames, eval_frames = CachedFrames(train_ds), CachedFrames(eval_ds)
        print(
            f"robocasa: {len(train_frames)} training frames (episodes {train_ds.episodes[0]}-"
            f"{train_ds.episodes[-1]}), {len(eval_frames)} held-out frames (episodes "
            f"{eval_ds.episodes[0]}-{eval_ds.episodes[-1]}); decoded once in {time.perf_counter() - t0:.0f} s"
        )
        trainees = [make_trainee(name, cfg, train_ds.meta, args.seed) for name, cfg in cfgs.items()]
        by_name = {t.name: t for t in trainees}
        params = sum(p.numel() for p in trainees[0].policy.parameters())
        params_d = sum(p.numel() for p in by_name["diffusion"].policy.parameters())
        print(f"parameters: flow {params / 1e6:.2f} M, diffusion {params_d / 1e6:.2f} M")

        # ------------------------------------------------------------------ 1. train (robocasa)
        print(f"\ntraining {', '.join(by_name)} in lockstep for {args.steps} steps (batch {args.batch_size})")
        t0 = time.perf_counter()
        train_lockstep(trainees, train_frames, train_ds, args.steps, args.batch_size, args.seed)
        train_s = time.perf_counter() - t0
        skip = min(10, args.steps // 10)  # first updates (allocator warm-up) left out
        step_ms = {t.name: 1e3 * median(t.step_s[skip:]) for t in trainees}
        paired_ratio = median(
            [
                f / d
                for f, d in zip(
                    by_name["flow"].step_s[skip:], by_name["diffusion"].step_s[skip:], strict=True
                )
            ]
        )

        # ------------------------------------------------------------------ 2. latency
        flow, diffusion = by_name["flow"].policy, by_name["diffusion"].policy
        diffusion_ddim10 = with_inference(diffusion, noise_scheduler_type="DDIM", num_inference_steps=10)
        diffusion_ddpm10 = with_inference(diffusion, num_inference_steps=10)
        first = eval_frames.batch([0])
        single = {
            k: v[:, -1]
            for k, v in first.items()
            if k.startswith("observation.") and not k.endswith("_is_pad")
        }
        latency_policies = {
            "flow, Euler, 10 steps (default)": (flow, by_name["flow"], 10),
            "diffusion, DDPM, 100 steps (default)": (diffusion, by_name["diffusion"], 100),
            "diffusion, DDIM, 10 steps": (diffusion_ddim10, by_name["diffusion"], 10),
        }
        observation = by_name["flow"].preprocessor(dict(single))
        print(f"\ntiming select_action (new chunk, batch 1), {args.latency_rounds} interleaved rounds")
        latency = time_new_chunks(
            {k: v[0] for k, v in latency_policies.items()}, observation, args.latency_rounds
        )

        # ------------------------------------------------------------------ 3, 5, 6. held-out error
        print("held-out sampling ...", flush=True)
        t0 = time.perf_counter()
        stats = train_ds.meta.stats["action"]
        varying = torch.as_tensor(stats["max"] > stats["min"]).flatten()
        start, n_steps = args.n_obs_steps - 1, args.n_action_steps
        batches = heldout_batches(trainees, eval_frames)
        episodes = torch.cat([b["episode_index"] for b in batches])
        # Mean-action baseline: the mean over training frames of the (current) action, normalised
        # by the same preprocessor as the targets.
        mean_raw = torch.stack([item["action"][start] for item in train_frames.items]).mean(0)
        probe = eval_frames.batch([0])
        probe["action"] = mean_raw.expand_as(probe["action"]).clone()
        mean_norm = by_name["flow"].preprocessor(probe)["action"][0, 0]

        def errors(policy):
            """Through the policy's own predict_action_chunk (encoder included)."""

            def sample(_, batch, noise, seed):
                return sample_chunks(policy, batch, noise, seed)

            return per_frame_errors(sample, batches, varying, start, n_steps, args.eval_seeds, args.seed)

        def ode_errors(policy, conditioning):
            """Flow samplers of one trained model: its encoder output is computed once and reused."""

            def sample(b_index, _, noise, __):
                return integrate_chunks(policy, conditioning[b_index], noise)

            return per_frame_errors(sample, batches, varying, start, n_steps, args.eval_seeds, args.seed)

        def record(table, key, compute):
            started = time.perf_counter()
            table[key] = values = compute()
            print(
                f"  {key}: MSE {float(values.mean()):.4f}  [{time.perf_counter() - started:.0f} s]",
                flush=True,
            )

        err: dict[str, torch.Tensor] = {}
        record(
            err,
            "mean action (baseline)",
            lambda: baseline_errors(batches, mean_norm, varying, start, n_steps),
        )
        uniform = by_name["flow-uniform"].policy
        rows = {  # name: (policy, U-Net calls per chunk)
            "diffusion, DDPM, 100 steps (default)": (diffusion, 100),
            "diffusion, DDIM, 10 steps": (diffusion_ddim10, 10),
            "diffusion, DDPM, 10 steps": (diffusion_ddpm10, 10),
            "flow, Euler, 10 steps (default)": (flow, 10),
            "flow (uniform t), Euler, 10 steps": (uniform, 10),
        }
        evals_per_row = {"mean action (baseline)": 0, **{name: calls for name, (_, calls) in rows.items()}}
        for name, (policy, _) in rows.items():
            record(err, name, lambda policy=policy: errors(policy))

        # Solvers at equal evaluations, for the beta- and the uniform-trained flow model.
        grid = []  # (U-Net calls, solver, steps)
        for n in nfe_grid:
            grid.append((n, "euler", n))
            if n % 2 == 0:
                grid.append((n, "midpoint", n // 2))
            if n % 2 == 1 and n > 1:
                grid.append((n, "heun", (n + 1) // 2))
        solver_err: dict[tuple[str, str, int], torch.Tensor] = {}
        defaults = {"beta": "flow, Euler, 10 steps (default)", "uniform": "flow (uniform t), Euler, 10 steps"}
        for model_name, model in (("beta", flow), ("uniform", uniform)):
            conditioning = [flow_conditioning(model, batch) for batch in batches]
            # The shortcut must reproduce predict_action_chunk (Euler, 10 steps) exactly.
            check = ode_errors(
                with_inference(model, ode_solver="euler", num_inference_steps=10), conditioning
            )
            torch.testing.assert_close(check, err[defaults[model_name]], rtol=1e-4, atol=1e-6)
            for n, solver, steps in grid:
                assert nfe_per_chunk(solver, steps) == n
                clone = with_inference(model, ode_solver=solver, num_inference_steps=steps)
                record(
                    solver_err, (model_name, solver, steps), lambda c=clone, k=conditioning: ode_errors(c, k)
                )
        eval_s = time.perf_counter() - t0

        # ------------------------------------------------------------------ 4. bimodal
        bi_cfgs = {name: parse_train_config(f) for name, f in bi_flags.items()}
        bi_train, _ = make_train_eval_datasets(bi_cfgs["flow"])
        bi_frames = CachedFrames(bi_train)
        bi_trainees = [make_trainee(name, cfg, bi_train.meta, args.seed) for name, cfg in bi_cfgs.items()]
        print(f"\nbimodal demo: training flow and diffusion in lockstep for {args.bimodal_steps} steps")
        t0 = time.perf_counter()
        train_lockstep(bi_trainees, bi_frames, bi_train, args.bimodal_steps, args.batch_size, args.seed)
        bi_s = time.perf_counter() - t0
        shared = bi_frames.batch([0] * args.mode_samples)  # the one observation all episodes share
        modes = {}
        for trainee in bi_trainees:
            batch = trainee.preprocessor(dict(shared))
            noise = torch.randn(batch["action"].shape, generator=torch.Generator().manual_seed(args.seed))
            chunks = sample_chunks(trainee.policy, batch, noise, seed=args.seed)
            raw = trainee.postprocessor(chunks)  # (N, n_action_steps, 2), action units
            chunk_mean = raw.mean(dim=(1, 2))
            modes[trainee.name] = {
                "+0.8": float(((chunk_mean - MODE).abs() < MODE_TOLERANCE).float().mean()),
                "-0.8": float(((chunk_mean + MODE).abs() < MODE_TOLERANCE).float().mean()),
                "0 (average)": float((chunk_mean.abs() < MODE_TOLERANCE).float().mean()),
                "mixed": float(((raw > 0).flatten(1).any(1) & (raw < 0).flatten(1).any(1)).float().mean()),
                "chunk mean": float(chunk_mean.mean()),
            }

    total_s = time.perf_counter() - wall_start

    # ====================================================================== results
    print("\n" + "=" * 100)
    print("## Flow matching vs Diffusion Policy (same network, data, batches and steps)\n")
    print(f"`{command}`\n")
    print(
        f"CPU, torch {torch.__version__}, {args.threads} thread(s); robocasa demo {args.episodes}x{args.frames} "
        f"frames at {args.image_size} px (crop {args.crop}), held out: last {len(eval_ds.episodes)} episodes "
        f"({len(eval_frames)} frames); ResNet18 (no pretrained weights, one encoder for 3 cameras), "
        f"U-Net down_dims [{args.down_dims}], horizon {args.horizon}, n_obs_steps {args.n_obs_steps}, "
        f"n_action_steps {args.n_action_steps}; batch {args.batch_size}, {args.steps} steps "
        f"(bimodal: {args.bimodal_steps}), Adam lr {args.lr:g} with {args.warmup} warm-up steps (cosine), "
        f"seed {args.seed}; {params / 1e6:.1f} M parameters each.\n"
    )

    print(
        "### 1. Training step (forward + backward + optimizer), both updated in turns on the same batches\n"
    )
    print("| policy | median ms/step | p10-p90 ms |")
    print("|---|---:|---:|")
    for t in trainees:
        values = t.step_s[skip:]
        print(
            f"| {t.name} | {step_ms[t.name]:.0f} | "
            f"{1e3 * percentile(values, 0.1):.0f}-{1e3 * percentile(values, 0.9):.0f} |"
        )
    print(
        f"\nflow/diffusion: {step_ms['flow'] / step_ms['diffusion']:.3f} (ratio of medians), "
        f"{paired_ratio:.3f} (median of per-step ratios); {args.steps - skip} steps each.\n"
    )

    print("### 2. `select_action` latency for a new chunk, batch 1 (interleaved rounds)\n")
    base = median(latency["diffusion, DDPM, 100 steps (default)"])
    print("| sampler | U-Net calls | median ms | p10-p90 ms | speed-up vs diffusion default |")
    print("|---|---:|---:|---:|---:|")
    for name, values in latency.items():
        print(
            f"| {name} | {latency_policies[name][2]} | {1e3 * median(values):.1f} | "
            f"{1e3 * percentile(values, 0.1):.1f}-{1e3 * percentile(values, 0.9):.1f} | "
            f"{base / median(values):.2f}x |"
        )
    speedup = base / median(latency["flow, Euler, 10 steps (default)"])
    print(
        f"\nflow (10 Euler steps) vs diffusion default (100 DDPM steps): {speedup:.2f}x faster "
        f"(target >= 8x: {'met' if speedup >= 8 else 'NOT met'}); "
        f"vs diffusion with 10 DDIM steps: "
        f"{median(latency['diffusion, DDIM, 10 steps']) / median(latency['flow, Euler, 10 steps (default)']):.2f}x.\n"
    )

    print("### 3. Held-out action error (robocasa demo, equal training steps)\n")
    print(
        f"MSE between sampled and true executed actions ({n_steps} steps from the current frame, padded "
        f"steps left out) in the normalised action space (MIN_MAX, [-1, 1]), over the "
        f"{int(varying.sum())} action dims that vary (the {int((~varying).sum())} constant ones are left "
        f"out); {len(eval_frames)} held-out frames x {args.eval_seeds} noise draws (the same initial "
        f"noise for every sampler). +- is the standard error over the {len(episodes.unique())} held-out "
        "episodes.\n"
    )
    reference = err["diffusion, DDPM, 100 steps (default)"]
    print("| model / sampler | U-Net calls | held-out MSE | / baseline | / diffusion default |")
    print("|---|---:|---:|---:|---:|")
    baseline = float(err["mean action (baseline)"].mean())
    for name, values in err.items():
        em = episode_means(values, episodes)
        print(
            f"| {name} | {evals_per_row[name]} | {float(values.mean()):.4f} +- "
            f"{float(em.std() / len(em) ** 0.5):.4f} | {float(values.mean()) / baseline:.3f} | "
            f"{float(values.mean() / reference.mean()):.3f} |"
        )
    diff, se = paired(err["flow, Euler, 10 steps (default)"], reference, episodes)
    flow_mse, diff_mse = float(err["flow, Euler, 10 steps (default)"].mean()), float(reference.mean())
    print(
        f"\nflow (10 steps) - diffusion (100 steps): {diff:+.4f} +- {se:.4f} (paired, over episodes); "
        f"target flow <= diffusion: {'met' if flow_mse <= diff_mse else 'NOT met'} "
        f"({flow_mse:.4f} vs {diff_mse:.4f}).\n"
    )

    print("### 4. Mode coverage (bimodal demo: +0.8 or -0.8 from the same observation)\n")
    print(
        f"{args.mode_samples} chunks sampled from the shared observation; a chunk counts as near a value when "
        f"the mean of its {n_steps} x 2 actions (action units) is within {MODE_TOLERANCE}; 'mixed' = the "
        "chunk has actions of both signs.\n"
    )
    print("| policy (sampler) | near +0.8 | near -0.8 | near 0 (average) | mixed | mean action |")
    print("|---|---:|---:|---:|---:|---:|")
    labels = {"flow": "flow (Euler, 10 steps)", "diffusion": "diffusion (DDPM, 100 steps)"}
    for name, m in modes.items():
        print(
            f"| {labels[name]} | {m['+0.8']:.1%} | {m['-0.8']:.1%} | {m['0 (average)']:.1%} | "
            f"{m['mixed']:.1%} | {m['chunk mean']:+.3f} |"
        )
    print()

    print("### 5. ODE solvers at equal network evaluations (flow model trained with beta t)\n")
    print("Held-out MSE as in 3; midpoint costs 2 evaluations per step, Heun 2N-1 for N steps.\n")
    print("| U-Net calls | euler | midpoint | heun |")
    print("|---:|---:|---:|---:|")
    for n in nfe_grid:
        cells = []
        for solver in ("euler", "midpoint", "heun"):
            match = [k for k in grid if k[0] == n and k[1] == solver]
            if match:
                _, _, steps = match[0]
                cells.append(f"{float(solver_err[('beta', solver, steps)].mean()):.4f} ({steps} steps)")
            else:
                cells.append("-")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print(
        f"\nPaired differences (negative: better than Euler at the same calls); a win is 'clear' when it "
        f"exceeds {CLEAR_SE} standard errors and {CLEAR_RELATIVE:.0%} of Euler's error.\n"
    )
    print("| U-Net calls | solver (steps) | solver - euler | relative | clear win |")
    print("|---:|---|---:|---:|---|")
    solver_verdicts = {}
    for n, solver, steps in grid:
        if solver == "euler":
            continue
        euler_values = solver_err[("beta", "euler", n)]
        d, s = paired(solver_err[("beta", solver, steps)], euler_values, episodes)
        clear = is_clear_win(d, s, float(euler_values.mean()))
        solver_verdicts[(n, solver)] = clear
        print(
            f"| {n} | {solver} ({steps}) | {d:+.4f} +- {s:.4f} | {d / float(euler_values.mean()):+.1%} | "
            f"{'yes' if clear else 'no'} |"
        )
    at_default = {k: v for k, v in solver_verdicts.items() if k[0] in (9, 10)}
    winners = [f"{solver} at {n} calls" for (n, solver), v in at_default.items() if v]
    print(
        "\node_solver default (Euler): "
        + (
            f"a second-order solver wins clearly at the default budget ({', '.join(winners)})."
            if winners
            else "no second-order solver wins clearly at the default budget (9-10 calls); keep euler."
        )
        + "\n"
    )

    print("### 6. Training-time sampling of t: beta (default) vs uniform (same seed, batches, steps)\n")
    print(
        "Held-out MSE as in 3. One training run per setting: the +- covers held-out episodes and noise "
        "draws, not the run-to-run spread of training.\n"
    )
    print("| sampler | U-Net calls | beta | uniform | uniform - beta (paired) |")
    print("|---|---:|---:|---:|---:|")
    for n, solver, steps in grid:
        b, u = solver_err[("beta", solver, steps)], solver_err[("uniform", solver, steps)]
        d, s = paired(u, b, episodes)
        print(
            f"| {solver}, {steps} steps | {n} | {float(b.mean()):.4f} | {float(u.mean()):.4f} | {d:+.4f} +- {s:.4f} |"
        )
    b, u = err["flow, Euler, 10 steps (default)"], err["flow (uniform t), Euler, 10 steps"]
    d, s = paired(u, b, episodes)
    if (10, "euler", 10) not in grid:
        print(
            f"| euler, 10 steps (default) | 10 | {float(b.mean()):.4f} | {float(u.mean()):.4f} | "
            f"{d:+.4f} +- {s:.4f} |"
        )
    uniform_wins = is_clear_win(d, s, float(b.mean()))
    beta_wins = is_clear_win(-d, s, float(u.mean()))
    print(
        f"\nat the default sampler (Euler, 10 steps): uniform - beta = {d:+.4f} +- {s:.4f} "
        f"({d / float(b.mean()):+.1%}); time_sampling default (beta): "
        + (
            "uniform wins clearly."
            if uniform_wins
            else ("beta wins clearly; keep beta." if beta_wins else "no clear winner; keep beta.")
        )
    )

    print(
        f"\nruntime: {total_s / 60:.1f} min in all (robocasa training {train_s / 60:.1f} min, held-out "
        f"sampling {eval_s / 60:.1f} min, bimodal training {bi_s / 60:.1f} min)"
    )


if __name__ == "__main__":
    main()
