"""Baseline selectors of the ASL and CLAUS papers: random, equidistant, top-k, video-level.

Rana & Rawat (NeurIPS 2022, Sec. 4.1; CVPR 2023, Sec. 4.2) compare against random and
equidistant frame selection, Gal et al.'s uncertainty sampling and Aghdam et al.'s entropy
sampling ("[Aghdam et al.] ignores nearest 5 frames for each selection"), and whole-video
("sample") selection. Score and select stay apart: Gal et al. is the ``uncertainty`` scorer
with :class:`TopKSelector`, Aghdam et al. the ``entropy`` scorer with
:class:`TopKSpacedSelector`, the sample baseline any scorer with :class:`VideoSelector`.

All selectors follow the conventions of :mod:`vidal.select._common` (budgets are upper
bounds, ties go to the lower video id then the lower frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidal.pool import Budget, LabelPool
from vidal.select._common import (
    Taker,
    allocate,
    check_option,
    unlabeled_table,
    videos_in_order,
)
from vidal.select.base import FrameScores, Selection, check_scores

__all__ = [
    "RandomSelector",
    "EquidistantSelector",
    "RandomSpacedSelector",
    "TopKSelector",
    "TopKSpacedSelector",
    "VideoSelector",
]


@dataclass(frozen=True, kw_only=True)
class RandomSelector:
    """Unlabeled frames drawn uniformly at random over all videos.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 10, "b": 10})
        >>> sel = RandomSelector()(FrameScores(), pool, Budget(frames=3), np.random.default_rng(0))
        >>> sel.num_frames
        3
    """

    requires: ClassVar[frozenset[str]] = frozenset()
    stochastic: ClassVar[bool] = True

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=False)
        ids = videos_in_order(pool)
        vi, fr, co, _ = unlabeled_table(pool, ids)
        order = rng.permutation(len(fr))
        taker = Taker(pool, budget, scored=False)
        taker.take_in_order(ids, vi[order], fr[order], co[order])
        return taker.selection()


def _equidistant(unlabeled: np.ndarray, count: int) -> np.ndarray:
    """``count`` of the sorted ``unlabeled`` frames, evenly spread (centred in equal bins)."""
    if count <= 0:
        return unlabeled[:0]
    n = len(unlabeled)
    return unlabeled[((np.arange(count) + 0.5) * n / count).astype(np.int64)]


@dataclass(frozen=True, kw_only=True)
class EquidistantSelector:
    """Frames evenly spread over each video's unlabeled frames.

    The frame budget is split across videos in proportion to their length (largest
    remainder, capped by each video's unlabeled frames and shared again when a cap binds);
    inside a video the chosen frames are evenly spaced among its unlabeled frames. Under a
    cost budget, the largest total number of frames whose equidistant choice fits is taken
    (binary search).

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 12, "b": 6})
        >>> sel = EquidistantSelector()(FrameScores(), pool, Budget(frames=3), np.random.default_rng(0))
        >>> {v: f.tolist() for v, f in sel.frames.items()}
        {'a': [3, 9], 'b': [3]}
    """

    requires: ClassVar[frozenset[str]] = frozenset()
    stochastic: ClassVar[bool] = False

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=False)
        ids = videos_in_order(pool)
        unlabeled = [np.flatnonzero(~pool.mask(v)) for v in ids]
        caps = np.array([len(u) for u in unlabeled], dtype=np.int64)
        lengths = np.array([pool.num_frames[v] for v in ids], dtype=np.float64)
        most = int(caps.sum())
        if budget.frames is not None:
            most = min(most, int(budget.frames))

        def choose(total: int) -> list[np.ndarray]:
            quota = allocate(total, lengths, caps)
            return [_equidistant(u, int(q)) for u, q in zip(unlabeled, quota, strict=True)]

        def cost(chosen: list[np.ndarray]) -> float:
            return float(
                sum(pool.frame_costs(v)[f].sum() for v, f in zip(ids, chosen, strict=True))
            )

        chosen = choose(most)
        if budget.cost is not None and cost(chosen) > budget.cost:
            lo, hi = 0, most  # choose(lo) fits; choose(hi) does not
            chosen = choose(0)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                attempt = choose(mid)
                if cost(attempt) <= budget.cost:
                    lo, chosen = mid, attempt
                else:
                    hi = mid
        taker = Taker(pool, Budget(), scored=False)
        for v, frames in zip(ids, chosen, strict=True):
            costs = pool.frame_costs(v)
            for f in frames:
                taker.take(v, int(f), float(costs[f]))
        return taker.selection()


def _walk_spaced(
    taker: Taker,
    ids: list[str],
    order: np.ndarray,
    table: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    blocked: list[np.ndarray],
    window: int,
) -> None:
    """Take candidates in ``order``, skipping any within ``window`` frames of a taken one."""
    vi, fr, co, sc = table
    for i in order:
        if taker.full:
            break
        v, f = int(vi[i]), int(fr[i])
        if blocked[v][f] or not taker.fits(co[i]):
            continue
        taker.take(ids[v], f, float(co[i]), float(sc[i]))
        blocked[v][max(0, f - window) : f + window + 1] = True


def _near_labeled(pool: LabelPool, ids: list[str], window: int) -> list[np.ndarray]:
    """Per video, boolean ``[T]``: within ``window`` frames of a labeled frame."""
    out = []
    for v in ids:
        labeled = pool.mask(v)
        near = labeled.copy()
        for d in range(1, window + 1):
            near[d:] |= labeled[:-d]
            near[:-d] |= labeled[d:]
        out.append(near)
    return out


@dataclass(frozen=True, kw_only=True)
class RandomSpacedSelector:
    """Random frames with temporal representativeness: none within ``window`` of a label.

    Frames are drawn in random order; a frame within ``window`` frames of a labeled frame or
    of a frame already drawn is passed over. When every frame left is that close, the
    selection stops short of the budget.

    Args:
        window: no pick within ``window`` frames of a labeled or already picked frame.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 30})
        >>> pool.add_frames("a", [15])
        2.0
        >>> sel = RandomSpacedSelector(window=5)(FrameScores(), pool, Budget(frames=3), np.random.default_rng(0))
        >>> bool(np.all(np.diff(np.sort(np.r_[sel.frames["a"], 15])) > 5))
        True
    """

    window: int = 5
    requires: ClassVar[frozenset[str]] = frozenset()
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_option(self.window >= 0, f"window={self.window} must be >= 0")

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=False)
        ids = videos_in_order(pool)
        table = unlabeled_table(pool, ids)
        taker = Taker(pool, budget, scored=False)
        order = rng.permutation(len(table[1]))
        _walk_spaced(taker, ids, order, table, _near_labeled(pool, ids, self.window), self.window)
        return taker.selection()


def _best_first(table: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Order of the candidates: score descending, then video index, then frame."""
    vi, fr, _, sc = table
    return np.lexsort((fr, vi, -sc))


@dataclass(frozen=True, kw_only=True)
class TopKSelector:
    """The highest-scoring unlabeled frames over all videos (Gal et al. with uncertainty).

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4})
        >>> s = FrameScores(frames={"a": np.array([0.1, 0.9, 0.8, 0.2])})
        >>> TopKSelector()(s, pool, Budget(frames=2), np.random.default_rng(0)).frames["a"].tolist()
        [1, 2]
    """

    requires: ClassVar[frozenset[str]] = frozenset({"frames"})
    stochastic: ClassVar[bool] = False

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool)
        ids = videos_in_order(pool)
        vi, fr, co, sc = table = unlabeled_table(pool, ids, scores.frames)
        order = _best_first(table)
        taker = Taker(pool, budget)
        taker.take_in_order(ids, vi[order], fr[order], co[order], sc[order])
        return taker.selection()


@dataclass(frozen=True, kw_only=True)
class TopKSpacedSelector:
    """Highest-scoring frames, ignoring the ``window`` frames either side of each pick.

    Aghdam et al.'s baseline as the ASL/CLAUS papers run it, with the ``entropy`` scorer:
    "ignores nearest 5 frames for each selection".

    Args:
        window: frames either side of a pick that can no longer be picked.
        exclude_labeled: also pass over frames within ``window`` of an already labeled frame.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 8})
        >>> s = FrameScores(frames={"a": np.array([0.1, 0.9, 0.8, 0.2, 0.3, 0.4, 0.5, 0.0])})
        >>> TopKSpacedSelector(window=2)(s, pool, Budget(frames=2), np.random.default_rng(0)).frames["a"].tolist()
        [1, 6]
    """

    window: int = 5
    exclude_labeled: bool = False
    requires: ClassVar[frozenset[str]] = frozenset({"frames"})
    stochastic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_option(self.window >= 0, f"window={self.window} must be >= 0")

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool)
        ids = videos_in_order(pool)
        table = unlabeled_table(pool, ids, scores.frames)
        if self.exclude_labeled:
            blocked = _near_labeled(pool, ids, self.window)
        else:
            blocked = [pool.mask(v).copy() for v in ids]
        taker = Taker(pool, budget)
        _walk_spaced(taker, ids, _best_first(table), table, blocked, self.window)
        return taker.selection()


@dataclass(frozen=True, kw_only=True)
class VideoSelector:
    """Whole videos by mean frame score; every unlabeled frame of a chosen video.

    ASL Sec. 4.4 "sample selection": the frame scores "averaged over all frames in a video
    to get the video level score". Videos with an unlabeled frame are candidates, taken best
    first while all their unlabeled frames fit the frames and cost budgets (a video that does
    not fit is passed over) and ``budget.videos`` allows. Chosen videos are also listed in
    ``Selection.videos``, best first, for a video-level label.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 3, "b": 2})
        >>> s = FrameScores(frames={"a": np.array([0.1, 0.2, 0.3]), "b": np.array([0.9, 0.8])})
        >>> sel = VideoSelector()(s, pool, Budget(videos=1), np.random.default_rng(0))
        >>> sel.videos, sel.frames["b"].tolist()
        (['b'], [0, 1])
    """

    requires: ClassVar[frozenset[str]] = frozenset({"frames"})
    stochastic: ClassVar[bool] = False
    picks_videos: ClassVar[bool] = True

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool)
        candidates = [v for v in videos_in_order(pool) if not pool.mask(v).all()]
        means = {v: float(np.mean(scores.frames[v])) for v in candidates}
        candidates.sort(key=lambda v: -means[v])  # stable: ties keep id order
        videos_left = math.inf if budget.videos is None else int(budget.videos)
        taker = Taker(pool, budget)
        chosen: list[str] = []
        for v in candidates:
            if videos_left <= 0 or taker.full:
                break
            frames = np.flatnonzero(~pool.mask(v))
            costs = pool.frame_costs(v)[frames]
            if len(frames) > taker.frames_left or costs.sum() > taker.cost_left:
                continue
            s = np.asarray(scores.frames[v])
            for f, c in zip(frames, costs, strict=True):
                taker.take(v, int(f), float(c), float(s[f]))
            chosen.append(v)
            videos_left -= 1
        return taker.selection(videos=chosen, info={"video_scores": {v: means[v] for v in chosen}})
