"""APU global selection: vidal's incremental selector against re-scoring everything per pick.

At UCF-101-24 scale: the video lengths of the real annotation file (``pyannot.pkl``, read
with :func:`vidal.data.formats.ucf101_24.read_ucf101_24`; synthetic lengths with a message
when the file is absent), random frame uncertainties, ``--initial`` of each video's frames
labeled at random, and a budget of ``--budget`` of all frames.

- fast: :class:`vidal.select.APUSelector` (a heap of per-video bests; a pick re-scores only
  the frames whose ``D`` can change), best of ``--repeats`` runs;
- naive: ASL Sec. 3.1 as written, every frame of every video re-scored after every pick
  (vectorised NumPy over the whole dataset). Its cost per pick is constant, so it is timed
  on the first ``--naive-picks`` picks and extrapolated to the budget (``--naive-full``
  runs it to the end instead); the output says which.

Both must pick the same frames: the benchmark checks the naive prefix against the fast
selector run with that prefix's budget (greedy selection is prefix-consistent).

Example:
    python tools/bench/bench_apu.py --naive-picks 200
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from _timing import load_average

from vidal.pool import Budget, LabelPool
from vidal.select import APUSelector, FrameScores
from vidal.select.apu import proximity_table

DEFAULT_ANNOTATIONS = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ucf101-24" / "pyannot.pkl"
)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--annotations", default=str(DEFAULT_ANNOTATIONS), help="UCF-101-24 pyannot.pkl")
    p.add_argument("--initial", type=float, default=0.01, help="fraction of frames labeled first")
    p.add_argument("--budget", type=float, default=0.01, help="fraction of all frames to select")
    p.add_argument("--naive-picks", type=int, default=200, help="picks to time the naive one on")
    p.add_argument("--naive-full", action="store_true", help="run the naive one to the end")
    p.add_argument("--repeats", type=int, default=3, help="runs of the fast one (best kept)")
    p.add_argument("--seed", type=int, default=0, help="seed of the scores and initial labels")
    return p


def video_lengths(path: Path, rng: np.random.Generator) -> tuple[dict[str, int], str]:
    """Video id -> number of frames, from ``path`` or synthetic; and where they came from."""
    if path.is_file():
        from vidal.data.formats.ucf101_24 import read_ucf101_24

        dataset = read_ucf101_24(path, scale_to=None)
        return {v.video_id: v.num_frames for v in dataset}, f"UCF-101-24 lengths from {path}"
    lengths = np.clip(rng.gamma(2.0, 87.0, size=3194), 20, 900).astype(int)
    message = f"{path} not found: SYNTHETIC lengths (3194 videos, gamma-distributed, mean ~174)"
    return {f"video_{i:04d}": int(n) for i, n in enumerate(lengths)}, message


class NaiveAPU:
    """Every frame of every video re-scored after every pick, vectorised over the dataset."""

    def __init__(
        self, scores: FrameScores, pool: LabelPool, *, lam: float = 0.5, sigma: float = 1.3
    ) -> None:
        self.ids = sorted(v for v in pool.num_frames if not pool.mask(v).all())
        lengths = np.array([pool.num_frames[v] for v in self.ids])
        self.start = np.repeat(np.cumsum(lengths) - lengths, lengths)  # [N] first index of video
        self.end = np.repeat(np.cumsum(lengths) - 1, lengths)  # [N] last index of video
        self.offsets = np.cumsum(lengths) - lengths
        self.labeled = np.concatenate([pool.mask(v) for v in self.ids])
        self.alive = ~self.labeled
        u = np.concatenate([np.asarray(scores.frames[v], dtype=np.float64) for v in self.ids])
        lo, hi = u[self.alive].min(), u[self.alive].max()
        self.un = (u - lo) / (hi - lo) if hi > lo else np.zeros_like(u)
        self.lam, self.mu = lam, 1.0 - lam
        self.table = proximity_table(sigma, int(lengths.max()))
        self.idx = np.arange(len(u))

    def step(self) -> tuple[str, int] | None:
        """Re-score everything, take the best frame; returns ``(video, frame)``."""
        idx, n = self.idx, len(self.idx)
        left = np.maximum.accumulate(np.where(self.labeled, idx, -1))
        right = np.minimum.accumulate(np.where(self.labeled, idx, n)[::-1])[::-1]
        dist = np.full(n, np.iinfo(np.int64).max)
        has_left, has_right = left >= self.start, right <= self.end
        dist[has_left] = idx[has_left] - left[has_left]
        dist[has_right] = np.minimum(dist[has_right], right[has_right] - idx[has_right])
        d = np.where(has_left | has_right, self.table[np.minimum(dist, len(self.table) - 1)], 1.0)
        s = np.where(self.alive, self.lam * self.un + self.mu * d, -np.inf)
        best = int(np.argmax(s))  # first maximum: lowest video (sorted ids), then frame
        if s[best] == -np.inf:
            return None
        self.labeled[best] = True
        self.alive[best] = False
        k = int(np.searchsorted(self.offsets, best, side="right")) - 1
        return self.ids[k], best - int(self.offsets[k])


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    lengths, source = video_lengths(Path(args.annotations), rng)
    pool = LabelPool(lengths)
    for v, n in lengths.items():
        k = max(1, math.ceil(args.initial * n))
        pool.add_frames(v, rng.choice(n, size=min(k, n), replace=False))
    scores = FrameScores(frames={v: rng.random(n) for v, n in lengths.items()})
    budget = int(round(args.budget * pool.total_frames))
    print(f"{source}; {load_average()}")
    print(
        f"{len(lengths)} videos, {pool.total_frames} frames; initial labels {pool.num_labeled} "
        f"({args.initial:.0%} of each video, at least 1); budget {budget} frames ({args.budget:.0%})"
    )

    selector = APUSelector()
    fast = (math.inf, math.inf)  # best (wall, cpu) seconds
    for _ in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        selection = selector(scores, pool, Budget(frames=budget), np.random.default_rng(0))
        fast = min(fast, (time.perf_counter() - wall, time.process_time() - cpu))
    print(
        f"fast global APU : {fast[0]:8.3f} s wall, {fast[1]:.3f} s CPU for "
        f"{selection.num_frames} picks (best of {args.repeats})"
    )

    naive = NaiveAPU(scores, pool)
    picks = budget if args.naive_full else min(args.naive_picks, budget)
    wall, cpu = time.perf_counter(), time.process_time()
    prefix = [naive.step() for _ in range(picks)]
    measured = (time.perf_counter() - wall, time.process_time() - cpu)
    if args.naive_full:
        naive_total = measured
        print(
            f"naive re-scoring: {measured[0]:8.3f} s wall, {measured[1]:.3f} s CPU for all "
            f"{picks} picks (measured in full)"
        )
    else:
        naive_total = (measured[0] / picks * budget, measured[1] / picks * budget)
        print(
            f"naive re-scoring: {measured[0] / picks * 1e3:8.3f} ms wall, "
            f"{measured[1] / picks * 1e3:.3f} ms CPU per pick, measured on the first {picks} "
            f"picks; EXTRAPOLATED to {budget} picks: {naive_total[0]:.1f} s wall, "
            f"{naive_total[1]:.1f} s CPU (not measured in full)"
        )
    speedup = (naive_total[0] / fast[0], naive_total[1] / fast[1])
    met = min(speedup) >= 100 and fast[0] < 2
    print(
        f"speed-up        : {speedup[0]:8.0f}x wall, {speedup[1]:.0f}x CPU   "
        f"(targets >= 100x and fast < 2 s: {'met' if met else 'NOT met'})"
    )

    check = selector(scores, pool, Budget(frames=picks), np.random.default_rng(0))
    fast_prefix = {(v, int(f)) for v, frames in check.frames.items() for f in frames}
    same = fast_prefix == {p for p in prefix if p is not None}
    print(f"same picks      : {'yes' if same else 'NO'} (first {picks} picks of both)")
    if not same:
        raise SystemExit("the fast and naive selections differ")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
