"""Cold-start selectors: frames that represent the pool in the model's latent space.

In the first cycles the model's uncertainty says little; what helps then is labels that
cover the data. Both selectors read each frame's latent feature, ``scores.extra
["frame_features"]`` (``[T, D]`` per video, from :meth:`vidal.tasks.action.ActionTask.score`):

- ``kcenter``: the greedy k-center (core-set) of Sener & Savarese (ICLR 2018, Alg. 1): each
  pick is the unlabeled frame farthest from every labeled or picked frame, which greedily
  minimises the largest distance from any frame to its nearest label (their Eq. 3).
- ``typicality``: TypiClust of Hacohen, Dekel & Weinshall (ICML 2022): k-means into as many
  clusters as labels after the round; from the largest clusters without a label, the most
  typical frame, typicality(x) = 1 / mean distance to its ``neighbours`` nearest neighbours
  in its cluster (their Eq. 4), i.e. the densest point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, videos_in_order
from vidal.select.base import FrameScores, Selection

__all__ = ["KCenterSelector", "TypicalitySelector"]


def _frame_table(
    scores: FrameScores, pool: LabelPool
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every frame with a feature: ``(ids, video_index [N], frame [N], features [N, D])``."""
    feats = scores.extra.get("frame_features")
    if feats is None and pool.num_unlabeled == 0:
        feats = {}
    elif feats is None:
        raise VidalError(
            "representativeness selectors need each frame's latent feature "
            "(extra['frame_features'], [T, D] per video)"
        )
    ids = [v for v in videos_in_order(pool) if v in feats]
    vi, fr, fs = [], [], []
    for i, v in enumerate(ids):
        f = np.asarray(feats[v], dtype=np.float64)
        if f.ndim != 2 or len(f) != pool.num_frames[v]:
            raise VidalError(
                f"frame features of video {v!r} have shape {f.shape}, expected "
                f"({pool.num_frames[v]}, D)"
            )
        if not np.isfinite(f).all():
            raise VidalError(f"frame features of video {v!r} are not finite")
        vi.append(np.full(len(f), i))
        fr.append(np.arange(len(f)))
        fs.append(f)
    if not ids:
        return ids, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 1))
    return ids, np.concatenate(vi), np.concatenate(fr), np.concatenate(fs)


def _min_distance(x: np.ndarray, centers: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``[N]`` distance of each row of ``x [N, D]`` to its nearest row of ``centers [M, D]``."""
    from scipy.spatial.distance import cdist

    if len(centers) == 0:
        return np.full(len(x), np.inf)
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        out[s : s + chunk] = cdist(x[s : s + chunk], centers).min(axis=1)
    return out


@dataclass(frozen=True, kw_only=True)
class KCenterSelector:
    """Greedy k-center over frame features (Sener & Savarese 2018); deterministic.

    With nothing labeled, the first pick is the frame farthest from the features' mean.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4})
        >>> cost = pool.add_frames("a", [0])
        >>> f = {"a": np.array([[0.0], [0.1], [5.0], [2.0]])}
        >>> sel = KCenterSelector()(FrameScores(extra={"frame_features": f}), pool,
        ...                         Budget(frames=2), np.random.default_rng(0))
        >>> sel.frames["a"].tolist()
        [2, 3]
    """

    requires: ClassVar[frozenset[str]] = frozenset({"extra:frame_features"})
    stochastic: ClassVar[bool] = False

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        ids, vi, fr, x = _frame_table(scores, pool)
        labeled = np.array([pool.mask(ids[i])[f] for i, f in zip(vi, fr, strict=True)], bool)
        taker = Taker(pool, budget)
        if labeled.all():
            return taker.selection()
        centers = x[labeled] if labeled.any() else x.mean(axis=0, keepdims=True)
        dist = _min_distance(x, centers)
        dist[labeled] = -np.inf
        costs = np.array([pool.frame_costs(ids[i])[f] for i, f in zip(vi, fr, strict=True)])
        while not taker.full:
            order = np.lexsort((fr, vi, -dist))  # farthest first, ties by video and frame
            pick = next((j for j in order if dist[j] > -np.inf and taker.fits(costs[j])), None)
            if pick is None:
                break
            taker.take(ids[vi[pick]], int(fr[pick]), float(costs[pick]), float(dist[pick]))
            dist = np.minimum(dist, _min_distance(x, x[pick : pick + 1]))
            dist[pick] = -np.inf
        return taker.selection()


@dataclass(frozen=True, kw_only=True)
class TypicalitySelector:
    """The densest frame of each of the largest clusters without a label (TypiClust).

    Args:
        neighbours: ``k`` of the typicality's k nearest neighbours (20 in the paper).
        max_clusters: most k-means clusters (the paper caps them for large pools).

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 6})
        >>> f = {"a": np.array([[0.0], [0.1], [0.2], [9.0], [9.1], [9.2]])}
        >>> sel = TypicalitySelector(neighbours=2)(FrameScores(extra={"frame_features": f}),
        ...                                        pool, Budget(frames=2), np.random.default_rng(0))
        >>> sel.frames["a"].tolist()
        [1, 4]
    """

    neighbours: int = 20
    max_clusters: int = 500
    requires: ClassVar[frozenset[str]] = frozenset({"extra:frame_features"})
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_option(self.neighbours >= 1, f"neighbours={self.neighbours} must be >= 1")
        check_option(self.max_clusters >= 1, f"max_clusters={self.max_clusters} must be >= 1")

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        ids, vi, fr, x = _frame_table(scores, pool)
        labeled = np.array([pool.mask(ids[i])[f] for i, f in zip(vi, fr, strict=True)], bool)
        costs = np.array([pool.frame_costs(ids[i])[f] for i, f in zip(vi, fr, strict=True)])
        taker = Taker(pool, budget)
        if (~labeled).sum() == 0:
            return taker.selection()
        wanted = _frames_wanted(budget, costs[~labeled], int((~labeled).sum()))
        k = int(min(labeled.sum() + wanted, self.max_clusters, len(x)))
        clusters = _kmeans(x, k, rng)
        sizes = np.bincount(clusters, minlength=k)
        covered = np.bincount(clusters[labeled], minlength=k)
        for c in sorted(range(k), key=lambda c: (covered[c], -sizes[c], c)):
            if taker.full:
                break
            members = np.flatnonzero((clusters == c) & ~labeled)
            typical = _typicality(x[clusters == c], x[members], self.neighbours)
            for j in members[np.argsort(-typical, kind="stable")]:
                if taker.fits(costs[j]):
                    taker.take(ids[vi[j]], int(fr[j]), float(costs[j]), float(typical.max()))
                    break
        return taker.selection()


def _frames_wanted(budget: Budget, costs: np.ndarray, unlabeled: int) -> int:
    """Frames this round takes: the frames budget, else what the cost budget buys on average."""
    if budget.frames is not None:
        return int(min(budget.frames, unlabeled))
    if budget.cost is not None:
        return int(min(unlabeled, max(1, budget.cost // max(float(costs.mean()), 1e-12))))
    return unlabeled


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ cluster index of each row of ``x [N, D]`` (scipy's ``kmeans2``)."""
    from scipy.cluster.vq import kmeans2

    if k <= 1:
        return np.zeros(len(x), dtype=np.int64)
    _, labels = kmeans2(x, k, minit="++", seed=rng, iter=20)
    return labels.astype(np.int64)


def _typicality(cluster: np.ndarray, members: np.ndarray, neighbours: int) -> np.ndarray:
    """``[M]`` inverse mean distance of each member to its nearest ``neighbours`` in ``cluster``."""
    from scipy.spatial.distance import cdist

    if len(cluster) < 2:
        return np.ones(len(members))
    d = np.sort(cdist(members, cluster), axis=1)[:, 1 : neighbours + 1]  # without itself
    return 1.0 / (d.mean(axis=1) + 1e-12)
