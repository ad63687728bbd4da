"""The active-learning experiment: initial labels, then cycles of train -> score -> select -> label.

Every cycle leaves its state in ``run_dir/cycle_XXX/`` (pool at the start of the cycle,
checkpoint, metrics, scores, selection), each written atomically, and a cycle's files are
written in that order, so an interrupted run resumes from the last file written without
losing or repeating a label. Randomness for cycle ``k`` comes from ``(seed, k, stream)``
(:mod:`vidal.seeding`; streams: initial labels, selection, training, scoring), so a resumed
run makes exactly the choices an uninterrupted one makes.

With several processes (``torchrun``, :mod:`vidal.distributed`) every rank runs the same
loop: training is data-parallel, scoring and evaluation are sharded by video, rank 0 alone
selects and writes the cycle's files, and every rank reads them back after a barrier. Which
files exist is what rank 0 sees (broadcast), so all ranks resume from the same point.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidal import seeding
from vidal._io import atomic_write, atomic_write_json
from vidal.config import BudgetConfig
from vidal.distributed import World
from vidal.errors import VidalError
from vidal.oracle import SimulatedOracle
from vidal.pool import LabelPool
from vidal.select.base import FrameScores, Selection, Selector

__all__ = ["ActiveLoop", "initial_selection", "save_scores", "load_scores"]


#: Random streams of a cycle (see :func:`vidal.seeding.rng`).
INITIAL_LABELS, SELECTION, TRAINING, SCORING, LOOKAHEAD = range(5)


def initial_selection(
    pool: LabelPool, fraction: float, rng: np.random.Generator, *, videos_fraction: float = 1.0
) -> Selection:
    """Random initial labels: ``fraction`` of the frames, at least one frame per chosen video.

    ASL (Sec. 4) starts from 1% of frames labeled at random in every video
    (``videos_fraction=1``); CLAUS (Sec. 3.1) starts from a random subset of videos with
    class labels and A% of their frames (``videos_fraction < 1``: the chosen videos are also
    returned for a video-level label).
    """
    if not 0 <= fraction <= 1:
        raise VidalError(f"initial fraction {fraction} must be in [0, 1]")
    if not 0 < videos_fraction <= 1:
        raise VidalError(f"initial videos fraction {videos_fraction} must be in (0, 1]")
    ids = list(pool.num_frames)
    chosen_videos: list[str] = []
    if videos_fraction < 1 and ids:
        n = max(1, int(round(videos_fraction * len(ids))))
        chosen_videos = [ids[i] for i in sorted(rng.choice(len(ids), size=n, replace=False))]
        ids = chosen_videos
    total = int(round(fraction * sum(pool.num_frames[v] for v in ids)))
    frames: dict[str, list[int]] = {}
    for vid in ids:
        n = pool.num_frames[vid]
        if n and fraction > 0:
            frames[vid] = [int(rng.integers(n))]
    left = total - sum(len(f) for f in frames.values())
    if left > 0:
        offsets = np.cumsum([0] + [pool.num_frames[v] for v in ids])
        taken = np.zeros(offsets[-1], dtype=bool)
        for i, vid in enumerate(ids):
            for t in frames.get(vid, []):
                taken[offsets[i] + t] = True
        extra = rng.choice(
            np.flatnonzero(~taken), size=min(left, int((~taken).sum())), replace=False
        )
        video_of = np.searchsorted(offsets, extra, side="right") - 1
        for g, i in zip(extra.tolist(), video_of.tolist(), strict=True):
            frames.setdefault(ids[i], []).append(g - int(offsets[i]))
    return Selection(
        frames={k: np.array(sorted(v), dtype=np.int64) for k, v in frames.items()},
        videos=chosen_videos,
    )


def save_scores(path: Path, scores: FrameScores) -> None:
    """Save per-frame scores and features as a compressed .npz (atomically)."""
    arrays = {f"frames/{k}": np.asarray(v) for k, v in scores.frames.items()}
    arrays |= {f"features/{k}": np.asarray(v) for k, v in scores.features.items()}
    for name, per_video in scores.extra.items():
        arrays |= {f"extra/{name}/{k}": np.asarray(v) for k, v in per_video.items()}
    if scores.centers is not None:
        arrays["centers"] = np.asarray(scores.centers)
    if scores.skipped:
        arrays["skipped"] = np.asarray([json.dumps(scores.skipped)])

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]

    atomic_write(path, write)


def load_scores(path: Path) -> FrameScores:
    out = FrameScores()
    with np.load(path) as z:
        for key in z.files:
            kind, _, rest = key.partition("/")
            if kind == "frames":
                out.frames[rest] = z[key]
            elif kind == "features":
                out.features[rest] = z[key]
            elif kind == "extra":
                name, _, vid = rest.partition("/")
                out.extra.setdefault(name, {})[vid] = z[key]
            elif kind == "centers":
                out.centers = z[key]
            elif kind == "skipped":
                out.skipped = json.loads(str(z[key][0]))
    return out


if TYPE_CHECKING:
    from vidal.tasks import Task


class ActiveLoop:
    """A simulated active-learning campaign.

    Composes a task (model family), a selector and an oracle; the loop never asks which
    selector it has.

    Args:
        task: builds, trains, scores and evaluates models.
        selector: chooses what to label next.
        pool: the label pool at the start (usually empty).
        oracle: reveals labels.
        run_dir: where every cycle's state is written.
        budget: how much each cycle labels.
        cycles: number of train/evaluate cycles (selection happens between them).
        seed: the experiment's seed.
        fine_tune: start each cycle from the previous cycle's weights (the papers do).
        log: where progress lines go (``print`` by default; ``None`` for silence); rank 0
            alone logs.
        world: the processes running the loop together (one by default).
    """

    def __init__(
        self,
        task: Task,
        selector: Selector,
        pool: LabelPool,
        oracle: SimulatedOracle,
        run_dir: str | os.PathLike,
        *,
        budget: BudgetConfig = BudgetConfig(),
        cycles: int = 3,
        seed: int = 0,
        fine_tune: bool = True,
        log: Callable[[str], None] | None = print,
        world: World | None = None,
    ) -> None:
        if cycles < 1:
            raise VidalError(f"cycles must be >= 1, got {cycles}")
        self.task = task
        self.selector = selector
        self.pool = pool
        self.oracle = oracle
        self.run_dir = Path(run_dir)
        self.budget = budget
        self.cycles = cycles
        self.seed = seed
        self.fine_tune = fine_tune
        self.world = world if world is not None else World()
        self.log = log if log is not None and self.world.is_main else (lambda _msg: None)

    def _cycle_dir(self, k: int) -> Path:
        return self.run_dir / f"cycle_{k:03d}"

    def _rng(self, k: int, stream: int) -> np.random.Generator:
        return seeding.rng(self.seed, k, stream)

    def _exists(self, *paths: Path) -> list[bool]:
        """Whether each file exists, as rank 0 sees it (so every rank takes the same branch)."""
        return self.world.broadcast([p.exists() for p in paths])

    def _write(self, write: Callable[[], object]) -> None:
        """Run ``write`` on rank 0 alone; every rank goes on once it is done."""
        if self.world.is_main:
            write()
        self.world.barrier()

    def run(self) -> list[dict]:
        """Run (or resume) every cycle; returns the per-cycle results."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pool_path = self._cycle_dir(0) / "pool.json"
        if self._exists(pool_path)[0]:
            self.pool = LabelPool.load(pool_path)
        else:
            sel = initial_selection(
                self.pool,
                self.budget.initial,
                self._rng(0, INITIAL_LABELS),
                videos_fraction=self.budget.initial_videos,
            )
            self.oracle.label(sel, self.pool)
            self.pool.history.append(
                {"cycle": 0, "frames": sel.num_frames, "how": "initial random"}
            )
            self._write(lambda: self.pool.save(pool_path))
        results = []
        model = None
        for k in range(self.cycles):
            d = self._cycle_dir(k)
            self.pool = LabelPool.load(d / "pool.json")
            metrics, model = self._run_cycle(k, d, model)
            results.append(metrics)
            self._write(lambda: self._write_results(results))
        return results

    def _run_cycle(self, k: int, d: Path, previous: Any) -> tuple[dict, Any]:
        """Train (or resume) and evaluate cycle ``k``, then select for the next; returns the
        cycle's metrics and its model."""
        ckpt, metrics_path = d / "checkpoint.pt", d / "metrics.json"
        t0 = time.perf_counter()
        has_ckpt, has_metrics = self._exists(ckpt, metrics_path)
        if has_ckpt and has_metrics:
            model = self.task.load_checkpoint(ckpt)
            metrics = json.loads(metrics_path.read_text())
            self.log(f"cycle {k}: resumed (trained and evaluated before)")
        else:
            if has_ckpt:
                model = self.task.load_checkpoint(ckpt)
                train_stats: dict = {"resumed": True}
            else:
                if previous is None and k > 0 and self.fine_tune:
                    previous = self.task.load_checkpoint(self._cycle_dir(k - 1) / "checkpoint.pt")
                model = (
                    previous
                    if (previous is not None and self.fine_tune)
                    else self.task.build_model(seed=self.seed)
                )
                self.log(
                    f"cycle {k}: training on {self.pool.num_labeled} labeled frames "
                    f"({100 * self.pool.fraction_labeled:.2f}%)"
                )
                train_stats = self.task.train(
                    model, self.pool, seed=seeding.seed(self.seed, k, TRAINING)
                )
                self._write(lambda: self.task.save_checkpoint(model, ckpt))
            evaluation = self.task.evaluate(model)
            metrics = {
                "cycle": k,
                "labeled_frames": self.pool.num_labeled,
                "labeled_fraction": self.pool.fraction_labeled,
                "labeled_videos": len(self.pool.labeled_videos),
                "spent_cost": self.pool.spent,
                "cost_fraction": self.pool.spent / max(self.pool.total_cost, 1e-12),
                "train": train_stats,
                "metrics": evaluation,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            self._write(lambda: atomic_write_json(metrics_path, metrics))
        primary = metrics["metrics"].get(self.task.primary_metric)
        shown = "n/a" if primary is None else f"{primary:.4f}"
        self.log(f"cycle {k}: {self.task.primary_metric} = {shown}")
        if k + 1 < self.cycles:
            self._select_and_label(k, d, model)
        return metrics, model

    def _select_and_label(self, k: int, d: Path, model: Any) -> None:
        next_pool = self._cycle_dir(k + 1) / "pool.json"
        sel_path = d / "selection.json"
        has_next, has_selection = self._exists(next_pool, sel_path)
        if has_next:
            return
        if not has_selection:
            scores = self._scores(k, d, model)  # every rank scores its share
            self._write(lambda: self._select(k, sel_path, model, scores))
        selection = Selection.from_json(json.loads(sel_path.read_text()))
        cost = self.oracle.label(selection, self.pool)
        self.pool.history.append(
            {
                "cycle": k + 1,
                "frames": selection.num_frames,
                "videos": len(selection.videos),
                "cost": cost,
            }
        )
        self.log(
            f"cycle {k}: selected {selection.num_frames} frames, {len(selection.videos)} videos"
        )
        self._write(lambda: self.pool.save(next_pool))

    def _select(self, k: int, sel_path: Path, model: Any, scores: FrameScores) -> None:
        """Rank 0: choose cycle ``k``'s frames from ``scores`` and write ``selection.json``."""
        requires = getattr(self.selector, "requires", True)
        if isinstance(requires, frozenset) and "lookahead" in requires:  # the ceiling
            scores.lookahead = self.task.lookahead(  # type: ignore[attr-defined]
                model, self.pool, seed=seeding.seed(self.seed, k, LOOKAHEAD)
            )
        budget = self.budget.for_pool(self.pool)
        candidates = self.pool
        if scores.skipped:
            for vid, why in scores.skipped.items():
                self.log(f"cycle {k}: video {vid} left out of selection: {why}")
            candidates = self.pool.without(scores.skipped)
        selection = self.selector(scores, candidates, budget, self._rng(k, SELECTION))
        atomic_write_json(sel_path, selection.to_json())

    def _scores(self, k: int, d: Path, model: Any) -> FrameScores:
        """Cycle ``k``'s scores (complete on rank 0): saved, computed by every rank (and
        saved), or none for score-free selectors."""
        requires = getattr(self.selector, "requires", True)
        scores_path = d / "scores.npz"
        if self._exists(scores_path)[0]:
            return load_scores(scores_path) if self.world.is_main else FrameScores()
        if requires:
            scores = self.task.score(model, self.pool, seed=seeding.seed(self.seed, k, SCORING))
            if self.world.is_main:
                save_scores(scores_path, scores)
            return scores
        # random, equidistant, ...: no model pass, only the videos to leave out
        if not self.world.is_main:
            return FrameScores()
        return FrameScores(skipped=self.task.unreadable(self.pool))

    def _write_results(self, results: list[dict]) -> None:
        atomic_write_json(self.run_dir / "results.json", {"seed": self.seed, "cycles": results})
