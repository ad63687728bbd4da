"""Adaptive Proximity-aware Uncertainty (APU) frame selection (Rana & Rawat, NeurIPS 2022).

ASL Eq. 2-3: every unlabeled frame ``i`` of a video scores

    U_APU(i) = lam * U(i) + (1 - lam) * D(i),    D(i) = 1 - exp(-((i - mu_j) / sigma)^2 / 2)

where ``U`` is the frame uncertainty (the ``uncertainty`` scorer, ASL Eq. 1), ``mu_j`` the
closest labeled frame of the same video (the mask ``phi`` of Eq. 2 keeps only the closest
Gaussian) and ``D = 1`` in a video with no labeled frame. Paper values: ``lam = 0.5``,
``sigma = 1.3`` (Sec. 4, "sigma = 1.3 for Eq. 2 and Eq. 4"; the paper calls sigma a
variance but divides by it as a standard deviation, which is what is implemented).

"U, D are both normalized in range (0, 1)": ``D`` already is; ``U`` is min-max normalised
over the unlabeled frames of *all* videos by default (``normalize="global"``), because global
selection is there to rank frames "based on overall dataset utility" (ASL Sec. 4.4) and a
per-video normalisation would give every video a frame of top uncertainty.
``normalize="video"`` normalises each video on its own.

Selection (ASL Sec. 3.1, "Informative frame selection"): take the frame with the highest
score over all videos, re-score with the adapted distance, repeat until the budget is spent.
Only the chosen video's ``D`` changes, and only for frames whose closest labeled frame
becomes the new pick, which all lie within the few frames where the new Gaussian is below 1
in float64 (``8.7 * sigma``). So :class:`APUSelector` keeps each video's best frame in a
heap: a pick costs ``O(log V)`` plus re-scoring that window and finding the video's new best,
and picks exactly the frames the naive re-score-everything procedure picks (ties go to the
lower video id, then the lower frame). :class:`LocalAPUSelector` is the paper's "local"
variant: each video gets an equal share of the budget ("a fixed budget b/N_v").
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, videos_in_order
from vidal.select.base import FrameScores, Selection, check_scores

__all__ = ["APUSelector", "LocalAPUSelector", "proximity_table", "nearest_distance", "proximity"]


def proximity_table(sigma: float, max_distance: int) -> np.ndarray:
    """``D(d) = 1 - exp(-(d / sigma)^2 / 2)`` for ``d = 0 .. L`` (ASL Eq. 2).

    ``L`` is the first distance at which ``D`` rounds to exactly 1.0 in float64, or
    ``max_distance`` if that comes first: every distance ``d`` has ``D(d) = table[min(d, L)]``.

    Args:
        sigma: the Gaussian's standard deviation, in frames.
        max_distance: the largest distance that can occur (longest video minus one).

    Returns:
        float64 ``ndarray[L + 1]``.

    Example:
        >>> proximity_table(1.3, 100).round(3)[:4].tolist()
        [0.0, 0.256, 0.694, 0.93]
    """
    length = int(min(max(0, max_distance), math.ceil(9.0 * sigma) + 1)) + 1
    d = np.arange(length, dtype=np.float64)
    table = 1.0 - np.exp(-0.5 * (d / sigma) ** 2)
    saturated = np.flatnonzero(table == 1.0)
    return table[: saturated[0] + 1] if len(saturated) else table


def nearest_distance(labeled: np.ndarray) -> np.ndarray:
    """Distance of every frame to the closest labeled frame.

    Args:
        labeled (ndarray[T]): boolean, True where labeled.

    Returns:
        int64 ``ndarray[T]``; ``T`` (farther than any frame) everywhere when nothing is labeled.

    Example:
        >>> nearest_distance(np.array([0, 0, 1, 0, 0, 0, 1], dtype=bool)).tolist()
        [2, 1, 0, 1, 2, 1, 0]
    """
    T = len(labeled)
    pos = np.flatnonzero(labeled)
    if len(pos) == 0:
        return np.full(T, T, dtype=np.int64)
    i = np.arange(T)
    j = np.searchsorted(pos, i)
    right = np.abs(pos[np.minimum(j, len(pos) - 1)] - i)
    left = np.abs(i - pos[np.maximum(j - 1, 0)])
    return np.minimum(left, right).astype(np.int64)


def proximity(labeled: np.ndarray, table: np.ndarray) -> np.ndarray:
    """ASL Eq. 2: ``D`` of every frame from its closest labeled frame (1 when none is labeled).

    Args:
        labeled (ndarray[T]): boolean, True where labeled.
        table (ndarray[L + 1]): :func:`proximity_table`.

    Returns:
        float64 ``ndarray[T]``.
    """
    if not labeled.any():
        return np.ones(len(labeled))
    return table[np.minimum(nearest_distance(labeled), len(table) - 1)]


def _segment_nearest(labeled: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """:func:`nearest_distance` of many videos laid end to end, in one vectorised pass.

    Args:
        labeled (ndarray[N]): boolean, the videos' labeled masks concatenated.
        start (ndarray[N]): index of the first frame of each frame's video.
        end (ndarray[N]): index of the last frame of each frame's video.

    Returns:
        int64 ``ndarray[N]``; -1 for the frames of videos without a labeled frame.
    """
    n = len(labeled)
    idx = np.arange(n)
    left = np.maximum.accumulate(np.where(labeled, idx, -1))  # last labeled at or before
    right = np.minimum.accumulate(np.where(labeled, idx, n)[::-1])[::-1]  # first at or after
    has_left, has_right = left >= start, right <= end
    far = np.iinfo(np.int64).max
    dist = np.minimum(np.where(has_left, idx - left, far), np.where(has_right, right - idx, far))
    return np.where(has_left | has_right, dist, -1)


class _APUState:
    """APU scores of every candidate video, laid end to end, updated pick by pick.

    Video ``k`` owns the slice ``bounds[k]:bounds[k + 1]`` of the flat arrays ``u``
    (normalised uncertainty), ``d`` (proximity ``D``), ``score`` (``U_APU``, ``-inf`` for
    non-candidates), ``alive`` (unlabeled, not picked, affordable) and ``cost``.
    """

    def __init__(
        self,
        scores: FrameScores,
        pool: LabelPool,
        ids: list[str],
        *,
        lam: float,
        sigma: float,
        normalize: str,
    ) -> None:
        self.lam = lam
        self.mu = 1.0 - lam
        self.ids = ids
        lengths = np.array([pool.num_frames[v] for v in ids], dtype=np.int64)
        self.bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.table = proximity_table(sigma, int(lengths.max(initial=1)))
        self.reach = len(self.table) - 1  # a pick changes D only within this distance
        self.kernel = self.table[np.abs(np.arange(-self.reach, self.reach + 1))]  # D(f + j)
        empty = [np.zeros(0)]
        labeled = np.concatenate([pool.mask(v) for v in ids] or [np.zeros(0, bool)])
        raw = np.concatenate([np.asarray(scores.frames[v], np.float64) for v in ids] or empty)
        self.cost = np.concatenate([pool.frame_costs(v) for v in ids] or empty)
        self.alive = ~labeled
        starts = self.bounds[:-1]
        if normalize == "global":
            values = raw[self.alive]
            lo = np.full(len(ids), values.min() if len(values) else 0.0)
            hi = np.full(len(ids), values.max() if len(values) else 0.0)
        else:  # every candidate video has an unlabeled frame
            lo = (
                np.minimum.reduceat(np.where(self.alive, raw, np.inf), starts)
                if ids
                else np.zeros(0)
            )
            hi = (
                np.maximum.reduceat(np.where(self.alive, raw, -np.inf), starts)
                if ids
                else np.zeros(0)
            )
        self.u_range = list(zip(lo.tolist(), hi.tolist(), strict=True))
        lo_f, hi_f = np.repeat(lo, lengths), np.repeat(hi, lengths)
        self.u = np.divide(raw - lo_f, hi_f - lo_f, out=np.zeros_like(raw), where=hi_f > lo_f)
        dist = _segment_nearest(
            labeled, np.repeat(starts, lengths), np.repeat(self.bounds[1:] - 1, lengths)
        )
        self.d = np.where(dist >= 0, self.table[np.minimum(dist, self.reach)], 1.0)
        self.score = np.where(self.alive, self.lam * self.u + self.mu * self.d, -np.inf)

    def best(self, k: int) -> tuple[float, int]:
        """Best score and frame of video ``k`` (lowest frame on ties); ``-inf`` when none."""
        a, b = self.bounds[k], self.bounds[k + 1]
        f = int(np.argmax(self.score[a:b]))
        return float(self.score[a + f]), f

    def drop_unaffordable(self, k: int, cost_left: float) -> None:
        """Stop considering the frames of video ``k`` that cost more than ``cost_left``."""
        a, b = self.bounds[k], self.bounds[k + 1]
        too_dear = self.alive[a:b] & (self.cost[a:b] > cost_left)
        self.alive[a:b][too_dear] = False
        self.score[a:b][too_dear] = -np.inf

    def frame_cost(self, k: int, f: int) -> float:
        return float(self.cost[self.bounds[k] + f])

    def pick(self, k: int, f: int) -> None:
        """Label frame ``f`` of video ``k``: only ``D`` within ``reach`` of ``f`` changes."""
        lo, hi = self.bounds[k], self.bounds[k + 1]
        g = lo + f
        self.alive[g] = False
        a, b = max(lo, g - self.reach), min(hi, g + self.reach + 1)
        near = self.kernel[a - g + self.reach : b - g + self.reach]
        self.d[a:b] = np.minimum(self.d[a:b], near)
        self.score[a:b] = np.where(
            self.alive[a:b], self.lam * self.u[a:b] + self.mu * self.d[a:b], -np.inf
        )

    def best_affordable(self, k: int, taker: Taker) -> tuple[float, int] | None:
        """Best frame of video ``k`` that fits the budget left, or None."""
        score, f = self.best(k)
        while score > -math.inf and not taker.fits(self.frame_cost(k, f)):
            self.drop_unaffordable(k, taker.cost_left)
            score, f = self.best(k)
        return None if score == -math.inf else (score, f)


@dataclass(frozen=True, kw_only=True)
class _APUOptions:
    """The options both APU selectors take (documented on :class:`APUSelector`)."""

    lam: float = 0.5
    sigma: float = 1.3
    normalize: Literal["global", "video"] = "global"
    requires: ClassVar[frozenset[str]] = frozenset({"frames"})
    stochastic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_option(0.0 <= self.lam <= 1.0, f"lam={self.lam} must be in [0, 1]")
        check_option(self.sigma > 0, f"sigma={self.sigma} must be > 0")
        check_option(
            self.normalize in ("global", "video"),
            f"normalize={self.normalize!r} must be 'global' or 'video'",
        )

    def _state(self, scores: FrameScores, pool: LabelPool) -> _APUState:
        check_scores(scores, pool)
        ids = [v for v in videos_in_order(pool) if not pool.mask(v).all()]
        return _APUState(
            scores, pool, ids, lam=self.lam, sigma=self.sigma, normalize=self.normalize
        )

    def _info(self, state: _APUState) -> dict:
        info: dict = {"lam": self.lam, "sigma": self.sigma, "normalize": self.normalize}
        if self.normalize == "global" and state.u_range:
            info["u_range"] = list(state.u_range[0])
        return info


@dataclass(frozen=True, kw_only=True)
class APUSelector(_APUOptions):
    """APU with global greedy selection and incremental re-scoring (ASL Eq. 2-3, Sec. 3.1).

    Args:
        lam: weight of uncertainty against proximity (paper: 0.5).
        sigma: standard deviation of the proximity Gaussian, in frames (paper: 1.3).
        normalize: min-max normalise ``U`` over all videos (``"global"``) or per video.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 6, "b": 6})
        >>> pool.add_frames("b", [2])
        2.0
        >>> u = {"a": np.array([0.0, 0.1, 0.9, 1.0, 0.2, 0.0]), "b": np.array([0.5, 0.4, 0.0, 0.95, 0.3, 0.2])}
        >>> sel = APUSelector()(FrameScores(frames=u), pool, Budget(frames=3), np.random.default_rng(0))
        >>> {v: f.tolist() for v, f in sel.frames.items()}
        {'a': [3], 'b': [0, 3]}
    """

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        state = self._state(scores, pool)
        taker = Taker(pool, budget)
        heap: list[tuple[float, int, int]] = []  # (-score, video index, frame): one per video
        for k in range(len(state.ids)):
            score, f = state.best(k)
            if score > -math.inf:
                heap.append((-score, k, f))
        heapq.heapify(heap)
        while heap and not taker.full:
            neg, k, f = heap[0]
            cost = state.frame_cost(k, f)
            if taker.fits(cost):
                taker.take(state.ids[k], f, cost, -neg)
                state.pick(k, f)
            else:
                state.drop_unaffordable(k, taker.cost_left)
            score, f = state.best(k)
            if score > -math.inf:
                heapq.heapreplace(heap, (-score, k, f))
            else:
                heapq.heappop(heap)
        return taker.selection(info=self._info(state))


@dataclass(frozen=True, kw_only=True)
class LocalAPUSelector(_APUOptions):
    """APU with a fixed share of the budget per video (ASL Sec. 4.4 "local selection").

    Round after round every video with a candidate left takes its best APU frame (then
    re-scores its ``D``), so the budget is shared equally (``b / N_v`` each) and what a video
    cannot use goes to the others. In the last, partial round the videos with the best
    current APU score go first. The options are :class:`APUSelector`'s.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 6, "b": 6})
        >>> u = {"a": np.array([0.0, 0.1, 0.9, 1.0, 0.2, 0.0]), "b": np.zeros(6)}
        >>> sel = LocalAPUSelector()(FrameScores(frames=u), pool, Budget(frames=2), np.random.default_rng(0))
        >>> {v: f.tolist() for v, f in sel.frames.items()}
        {'a': [3], 'b': [0]}
    """

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        state = self._state(scores, pool)
        taker = Taker(pool, budget)
        active = list(range(len(state.ids)))
        while active and not taker.full:
            bests = {k: state.best(k)[0] for k in active}
            active = sorted((k for k in active if bests[k] > -math.inf), key=lambda k: -bests[k])
            still = []
            for k in active:
                if taker.full:
                    break
                found = state.best_affordable(k, taker)
                if found is None:
                    continue
                score, f = found
                taker.take(state.ids[k], f, state.frame_cost(k, f), score)
                state.pick(k, f)
                still.append(k)
            active = still
        return taker.selection(info=self._info(state))
