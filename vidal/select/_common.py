"""Pieces every selector shares: canonical video order, budgets, building the Selection.

Conventions of all vidal selectors:

- Videos are visited in sorted id order and ties are broken by video id, then frame, so a
  selection depends on the pool's content and the seed, never on the order of its videos.
- A budget is an upper bound on each axis it sets (``None``: no limit). A budget larger than
  what is left takes everything that is left (no error), so the last cycle of a run and a
  fully labeled pool need no special case.
- Candidates are walked best first; one that does not fit the remaining cost is skipped (the
  remaining cost only shrinks, so it never fits later) and the walk goes on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from vidal.errors import ConfigError
from vidal.pool import Budget, LabelPool
from vidal.select.base import Selection

__all__ = ["Taker", "allocate", "videos_in_order", "check_option", "unlabeled_table"]


def videos_in_order(pool: LabelPool) -> list[str]:
    """The pool's videos in canonical (sorted id) order."""
    return sorted(pool.num_frames)


def check_option(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def unlabeled_table(
    pool: LabelPool, video_ids: list[str], frame_scores: dict[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every unlabeled frame of ``video_ids`` as flat arrays, videos in the given order.

    Returns:
        ``(video_index, frame, cost, score)``, each ``ndarray[N]`` (int64, int64, float64,
        float64); ``score`` is NaN when ``frame_scores`` is None.
    """
    parts: list[tuple[np.ndarray, ...]] = []
    for i, v in enumerate(video_ids):
        f = np.flatnonzero(~pool.mask(v))
        s = np.full(len(f), np.nan) if frame_scores is None else np.asarray(frame_scores[v])[f]
        parts.append((np.full(len(f), i, dtype=np.int64), f, pool.frame_costs(v)[f], s))
    if not parts:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    vi, fr, co, sc = (np.concatenate(col) for col in zip(*parts, strict=True))
    return vi, fr, co.astype(np.float64), sc.astype(np.float64)


class Taker:
    """Takes frames under a :class:`Budget` (frames and cost axes) and builds the Selection.

    Args:
        pool: the pool (for frame costs).
        budget: ``budget.frames`` and ``budget.cost`` bound what :meth:`take` accepts.
        scored: record the score of each frame in ``Selection.scores`` (selectors that use
            no scores leave it empty).
    """

    def __init__(self, pool: LabelPool, budget: Budget, *, scored: bool = True) -> None:
        self.pool = pool
        self.scored = scored
        self.frames_left: float = math.inf if budget.frames is None else int(budget.frames)
        self.cost_left: float = math.inf if budget.cost is None else float(budget.cost)
        self.spent = 0.0
        self._frames: dict[str, list[int]] = {}
        self._scores: dict[str, list[float]] = {}

    @property
    def full(self) -> bool:
        """No frame can be taken any more (frames budget spent or no cost left)."""
        return self.frames_left <= 0 or self.cost_left <= 0

    def fits(self, cost: float) -> bool:
        return self.frames_left >= 1 and cost <= self.cost_left

    def take(self, video_id: str, frame: int, cost: float, score: float = math.nan) -> None:
        """Record ``frame`` of ``video_id`` (the caller checked :meth:`fits`)."""
        self._frames.setdefault(video_id, []).append(int(frame))
        self._scores.setdefault(video_id, []).append(float(score))
        self.frames_left -= 1
        self.cost_left -= cost
        self.spent += cost

    def take_in_order(
        self,
        video_ids: list[str],
        video_index: np.ndarray,
        frames: np.ndarray,
        costs: np.ndarray,
        scores: np.ndarray | None = None,
    ) -> None:
        """Take candidates in the given order while they fit; skip those that do not.

        Args:
            video_ids: names of the video indices.
            video_index (ndarray[N]): int video index of each candidate.
            frames (ndarray[N]): int frame of each candidate.
            costs (ndarray[N]): float cost of each candidate.
            scores (ndarray[N] | None): the score recorded with each candidate.
        """
        n = len(frames)
        if n == 0 or self.full:
            return
        if scores is None:
            scores = np.full(n, np.nan)
        # the longest prefix that fits whole, taken at once
        prefix = int(min(self.frames_left, n))
        if math.isfinite(self.cost_left):
            prefix = min(prefix, int(np.searchsorted(np.cumsum(costs), self.cost_left, "right")))
        for i in range(prefix):
            self.take(video_ids[video_index[i]], frames[i], float(costs[i]), float(scores[i]))
        if prefix == n or self.full:
            return
        # then one by one, skipping what does not fit, while anything left could fit
        suffix_min = np.minimum.accumulate(costs[::-1])[::-1]
        for i in range(prefix, n):
            if self.full or suffix_min[i] > self.cost_left:
                break
            if costs[i] <= self.cost_left:
                self.take(video_ids[video_index[i]], frames[i], float(costs[i]), float(scores[i]))

    def selection(self, *, videos: Iterable[str] = (), info: dict | None = None) -> Selection:
        """The frames taken so far, each video's frames sorted with their scores."""
        frames: dict[str, np.ndarray] = {}
        scores: dict[str, np.ndarray] = {}
        for v in sorted(self._frames):
            f = np.asarray(self._frames[v], dtype=np.int64)
            order = np.argsort(f, kind="stable")
            frames[v] = f[order]
            if self.scored:
                scores[v] = np.asarray(self._scores[v], dtype=np.float64)[order]
        info = dict(info or {})
        info.setdefault("cost", self.spent)
        return Selection(frames=frames, videos=list(videos), scores=scores, info=info)


def allocate(total: int, weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Split ``total`` items over bins in proportion to ``weights``, each at most its cap.

    Water-filling with the largest-remainder method: bins whose share reaches their cap get
    the cap and the rest is shared again among the others; fractional parts go to the largest
    remainders (ties to the lowest index).

    Args:
        total: items to split.
        weights (ndarray[V]): non-negative weights.
        caps (ndarray[V]): non-negative int caps.

    Returns:
        int64 ``ndarray[V]``, summing to ``min(total, caps.sum())``.

    Example:
        >>> allocate(10, np.array([1.0, 1.0, 2.0]), np.array([1, 10, 10])).tolist()
        [1, 3, 6]
    """
    weights = np.asarray(weights, dtype=np.float64)
    caps = np.asarray(caps, dtype=np.int64)
    quota = np.zeros(len(caps), dtype=np.int64)
    total = int(min(total, caps.sum()))
    free = caps > 0
    while total > 0 and free.any():
        w = np.where(free, weights, 0.0)
        if w.sum() <= 0:  # no weight left: share equally among the free bins
            w = free.astype(np.float64)
        share = total * w / w.sum()
        capped = free & (share >= caps)
        if capped.any():
            quota[capped] = caps[capped]
            total -= int(caps[capped].sum())
            free &= ~capped
            continue
        base = np.floor(share).astype(np.int64)
        rest = total - int(base.sum())
        order = np.lexsort((np.arange(len(share)), -(share - base)))
        order = order[free[order]][:rest]
        base[order] += 1
        quota += base
        break
    return quota
