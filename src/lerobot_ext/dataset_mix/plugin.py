"""Built-in plugin ``dataset_mix``: ``--dataset.mix`` and ``--dataset.mix_weights`` (see the package docstring)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lerobot_ext import (
    CombinedDatasets,
    ConfigError,
    DatasetPart,
    DatasetSource,
    RunContext,
    get_logger,
    hookimpl,
)
from lerobot_ext.dataset_mix import loading, upstream_names
from lerobot_ext.dataset_mix.agreement import disagreements
from lerobot_ext.dataset_mix.item_layout import item_layout, needs_layout, probe
from lerobot_ext.dataset_mix.mixed_dataset import MixedDataset
from lerobot_ext.dataset_mix.sampler import DrawCounter, WeightedMixSampler, frame_positions
from lerobot_ext.dataset_mix.statistics import union_stats

log = get_logger("dataset_mix")

#: run.stash keys: the training mix and the sampler that counts its draws.
MIX = "dataset_mix.train"
COUNTER = "dataset_mix.counter"
ASKED = "dataset_mix.asked"


class DatasetMixPlugin:
    @hookimpl
    def register_upstream_names(self, register: Callable[..., None]) -> None:
        upstream_names.declare(register)

    @hookimpl
    def register_config_fields(self, register: Callable[..., None]) -> None:
        register(
            "dataset.mix",
            list[str],
            [],
            help="more datasets to train on with --dataset.repo_id/--dataset.root: local folders or Hub repo "
            "ids, e.g. [/data/recording2,owner/dataset3]; every --dataset.* option applies to each",
        )
        register(
            "dataset.mix_weights",
            list[float] | None,
            None,
            help="each dataset's share of the samples, the run's own first, e.g. [3,1] (default: their "
            "frame counts, as one concatenated dataset)",
        )

    @hookimpl
    def configure(self, cfg: Any) -> None:
        loading.check_entries(cfg)

    @hookimpl
    def more_datasets(self, cfg: Any) -> list[DatasetSource] | None:
        if not cfg.dataset.mix:
            return None
        return loading.load_sources(cfg)

    @hookimpl
    def compare_datasets(self, parts: list[DatasetPart]) -> list[str]:
        found = disagreements(parts)
        primary = parts[0].label
        if not found:
            try:  # what the run would refuse of a dataset stored in another layout, without data
                for part in parts[1:]:
                    if needs_layout(parts[0], part):
                        probe(parts[0])
                        probe(part)
            except ConfigError as error:
                return ["not mixable as the flags stand:", str(error)]
        if not found:
            others = ", ".join(part.label for part in parts[1:])
            verb = "gives" if len(parts) == 2 else "give"
            fps = parts[0].planned.dataset.fps
            return [f"mixable: {others} {verb} the policy what {primary} gives it, at {fps} fps"]
        return [
            f"not mixable as the flags stand ({len(found)} difference(s)):",
            *(d.line(primary) for d in found),
        ]

    @hookimpl
    def combine_datasets(
        self, cfg: Any, parts: list[DatasetPart], run: RunContext
    ) -> CombinedDatasets | None:
        if not cfg.dataset.mix:
            return None
        found = disagreements(parts)
        if found:
            more = (
                f" ({len(found) - 1} more difference(s): `lerobot-ext inspect {' '.join(p.label for p in parts)}` "
                "lists them)"
                if len(found) > 1
                else ""
            )
            raise ConfigError(found[0].line(parts[0].label) + more)
        layouts = [None, *(item_layout(parts[0], part) for part in parts[1:])]
        for part, layout in zip(parts, layouts, strict=True):
            if layout is not None:
                log.info(
                    "%s: items rebuilt in %s's stored layout (%s)",
                    part.label,
                    parts[0].label,
                    ", ".join(layout.vectors) or "keys",
                )
        started = time.perf_counter()
        stats = union_stats(parts)
        labels = [part.label for part in parts]
        train = MixedDataset([part.source.train for part in parts], labels, layouts)
        with_eval = [i for i, part in enumerate(parts) if part.source.eval is not None]
        held_out = (
            MixedDataset(
                [parts[i].source.eval for i in with_eval],
                [labels[i] for i in with_eval],
                [layouts[i] for i in with_eval],
            )
            if with_eval
            else None
        )
        planned = dataclasses.replace(
            parts[0].planned, dataset=dataclasses.replace(parts[0].planned.dataset, stats=stats)
        )
        run.stash[MIX] = train
        if run.rank == 0:
            weights = cfg.dataset.mix_weights
            total = len(train)
            for i, part in enumerate(parts):
                frames = len(part.source.train)
                share = (
                    f"weight {weights[i] / sum(weights):.1%}"
                    if weights
                    else "drawn as one concatenated dataset"
                )
                log.info(
                    "--dataset.mix: %s: %s frames of %s episodes (%.1f%% of the frames; %s)",
                    part.label,
                    frames,
                    train.episode_counts[i],
                    100 * frames / total,
                    share,
                )
            log.info(
                "--dataset.mix: %s datasets, %s frames; statistics of all of them together (%.1f s)",
                len(parts),
                total,
                time.perf_counter() - started,
            )
        return CombinedDatasets(train, held_out, planned)

    @hookimpl
    def make_sampler(self, cfg: Any, arguments: dict[str, Any], run: RunContext) -> Any:
        mix: MixedDataset | None = run.stash.get(MIX)
        if mix is None:
            return None
        starts = np.asarray(mix.meta.episodes["dataset_from_index"])
        stops = np.asarray(mix.meta.episodes["dataset_to_index"])
        which = np.repeat(np.arange(len(mix.datasets)), mix.episode_counts)
        drop = int(arguments.get("drop_n_last_frames") or 0)
        positions = [
            frame_positions(starts[which == i], stops[which == i], drop) for i in range(len(mix.datasets))
        ]
        weights = cfg.dataset.mix_weights
        if weights is None:
            # One concatenated dataset: upstream's own sampler over every dataset's episodes.
            from lerobot.datasets import EpisodeAwareSampler

            sampler: Any = EpisodeAwareSampler(**arguments)
            weights = [len(p) for p in positions]
        else:
            empty = [mix.labels[i] for i, p in enumerate(positions) if len(p) == 0]
            if empty:
                raise ConfigError(
                    f"--dataset.mix: {', '.join(empty)} has no frame to draw: every episode is at most "
                    f"drop_n_last_frames={drop} frames long; mix datasets with longer episodes"
                )
            sampler = WeightedMixSampler(
                positions,
                weights,
                seed=int(arguments.get("seed") or 0),
                shuffle=bool(arguments.get("shuffle", True)),
            )
        run.stash[ASKED] = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        counter = DrawCounter(sampler, mix.dataset_of, len(mix.datasets))
        run.stash[COUNTER] = counter
        return counter

    @hookimpl
    def on_checkpoint_saved(self, cfg: Any, step: int, rank: int, run: RunContext) -> None:
        if rank == 0:
            self._report(cfg, run, f"step {step}")

    @hookimpl
    def on_train_end(self, cfg: Any, step: int, rank: int, run: RunContext) -> None:
        if rank == 0:
            self._report(cfg, run, f"end of run, step {step}")

    @hookimpl(optionalhook=True)
    def profile_notes(self, cfg: Any, run: RunContext) -> list[str] | None:
        line = self.drawn_line(run)
        return [line] if line else None

    def _report(self, cfg: Any, run: RunContext, when: str) -> None:
        line = self.drawn_line(run)
        if line:
            log.info("%s (%s)", line, when)

    @staticmethod
    def drawn_line(run: RunContext) -> str | None:
        """The share of the samples drawn from each dataset so far, against what was asked."""
        counter: DrawCounter | None = run.stash.get(COUNTER)
        mix: MixedDataset | None = run.stash.get(MIX)
        if counter is None or mix is None or counter.drawn.sum() == 0:
            return None
        drawn = counter.drawn / counter.drawn.sum()
        asked = run.stash[ASKED]
        parts = ", ".join(
            f"{label} {share:.1%} (asked {want:.1%})"
            for label, share, want in zip(mix.labels, drawn, asked, strict=True)
        )
        return f"--dataset.mix: samples drawn ({int(counter.drawn.sum())}): {parts}"


plugin = DatasetMixPlugin()
