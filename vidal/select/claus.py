"""CLAUS hybrid video + frame selection (Rana & Rawat, CVPR 2023, Sec. 3.1; supp. Alg. 1).

1. *Intra-sample ranking* (Alg. 1 lines 7-12): in each candidate video, repeatedly take the
   frame of highest score and scale the scores of the frames within ``window`` of it by their
   distance factor; the first ``A_t`` frames taken are the video's ranked frames. The paper
   names neither the distance nor the window; vidal uses ASL's proximity
   ``D(d) = 1 - exp(-(d / sigma)^2 / 2)`` (ASL Eq. 2, ``sigma = 1.3``, so a pick's own score
   drops to 0) and ``window = 5`` (the spacing of the Aghdam et al. baseline in the same
   papers). Scores are expected to be non-negative (uncertainties).
2. *Video score* (Eq. 1): ``V_score = (1 / A_t) sum_{i <= A_t} U_i``, the mean of the
   unsuppressed scores of the ``A_t`` ranked frames. ``A_t`` is the fraction ``A%`` of the
   video's frames to label (``frame_fraction``, at least 1; CVPR Sec. 3 "annotate A% of
   frames from the subset"; supp. Sec. 5.1 labels 5% of the frames of each chosen video).
3. *Inter-sample selection with clusters* (Sec. 3.1 "Diverse sample selection", Alg. 1 lines
   15-26): candidates are the videos without a video label that have an unlabeled frame
   (``N_U`` of them). Each gets a cluster: the nearest of ``scores.centers`` when given,
   else k-means (k-means++ initialisation from ``rng``, ``clusters`` centers, default
   ``K = 5``) on ``scores.features``. Videos are taken best ``V_score`` first while their
   cluster has taken fewer than ``n_c * B_v / N_U`` videos, ``B_v = budget.videos``.
4. *Frames* (Alg. 1 line 23): each chosen video's ranked frames, best first, while they fit
   ``budget.frames`` / ``budget.cost``.

Algorithm 1 loops "while c_v <= B_v or c_a <= B_a"; here selection stops as soon as either
budget is spent, so no video is chosen without frames and no frame outside a chosen video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, videos_in_order
from vidal.select.apu import proximity_table
from vidal.select.base import FrameScores, Selection, check_scores

__all__ = ["CLAUSSelector", "rank_frames", "kmeans"]


def rank_frames(
    scores: np.ndarray, candidates: np.ndarray, count: int, *, window: int, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Frames of one video in CLAUS order: best first, neighbours of each pick scaled down.

    Args:
        scores (ndarray[T]): frame scores (>= 0).
        candidates (ndarray[T]): boolean, True for frames that may be taken.
        count: ``A_t``, how many frames to rank.
        window: frames either side of a pick whose score is multiplied by ``table[distance]``.
        table (ndarray[L + 1]): distance factor by distance (:func:`~vidal.select.apu.proximity_table`).

    Returns:
        ``(frames, at_pick)``: int64 ``ndarray[n]`` and float64 ``ndarray[n]`` the score each
        frame had when taken, ``n = min(count, candidates.sum())``.

    Example:
        >>> t = proximity_table(1.3, 10)
        >>> rank_frames(np.array([1.0, 0.9, 0.5, 0.8]), np.ones(4, bool), 2, window=5, table=t)[0].tolist()
        [0, 3]
    """
    s = np.where(candidates, np.asarray(scores, dtype=np.float64), -np.inf)
    reach = len(table) - 1
    n = int(min(count, candidates.sum()))
    frames = np.zeros(n, dtype=np.int64)
    at_pick = np.zeros(n)
    for k in range(n):
        f = int(np.argmax(s))
        frames[k], at_pick[k] = f, s[f]
        a, b = max(0, f - window), min(len(s), f + window + 1)
        s[a:b] *= table[np.minimum(np.abs(np.arange(a, b) - f), reach)]
        s[f] = -np.inf
    return frames, at_pick


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, *, iters: int = 50) -> np.ndarray:
    """Cluster labels of the rows of ``x`` by Lloyd's k-means with k-means++ seeding.

    Args:
        x (ndarray[N, D]): points.
        k: clusters ``K`` (at most ``N`` are used).
        rng: source of the seeding.
        iters: most Lloyd iterations (stops early when labels settle).

    Returns:
        int64 ``ndarray[N]`` in ``0 .. K-1`` (ties go to the lower center index).

    Example:
        >>> x = np.array([[0.0], [0.1], [5.0], [5.2]])
        >>> labels = kmeans(x, 2, np.random.default_rng(0))
        >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
        True
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    k = min(k, n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    centers = [x[int(rng.integers(n))]]
    d2 = ((x - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        i = int(rng.choice(n, p=d2 / total)) if total > 0 else int(rng.integers(n))
        centers.append(x[i])
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(1))
    c = np.stack(centers)  # [K, D]
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(iters):
        new = _nearest(x, c)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                c[j] = x[members].mean(0)
    return labels


def _nearest(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``centers (ndarray[K, D])`` for each row of ``x (ndarray[N, D])``."""
    d2 = (x**2).sum(1)[:, None] - 2.0 * x @ centers.T + (centers**2).sum(1)[None, :]  # [N, K]
    return np.argmin(d2, axis=1).astype(np.int64)


@dataclass(frozen=True, kw_only=True)
class CLAUSSelector:
    """Clustering-aware uncertainty scoring: hybrid selection of videos and their frames.

    Args:
        frame_fraction: ``A%``, the fraction of a chosen video's frames to label (and to
            average for its score), at least one frame.
        window: frames either side of a ranked frame whose score is scaled down.
        sigma: standard deviation, in frames, of the distance factor.
        clusters: ``K`` for k-means when ``scores.centers`` is absent; 1 turns clustering
            off (the "without cluster" ablation, supp. Table 3) and needs no features.
        kmeans_iters: most k-means iterations.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 20, "b": 20, "c": 20})
        >>> s = FrameScores(frames={v: np.linspace(0, w, 20) for v, w in zip("abc", [1, 3, 2])},
        ...                 features={"a": np.zeros(2), "b": np.zeros(2), "c": np.ones(2)})
        >>> sel = CLAUSSelector(clusters=2)(s, pool, Budget(videos=2), np.random.default_rng(0))
        >>> sel.videos, {v: f.tolist() for v, f in sel.frames.items()}
        (['b', 'c'], {'b': [19], 'c': [19]})
    """

    frame_fraction: float = 0.05
    window: int = 5
    sigma: float = 1.3
    clusters: int = 5
    kmeans_iters: int = 50
    requires: ClassVar[frozenset[str]] = frozenset({"frames", "features"})
    stochastic: ClassVar[bool] = True
    picks_videos: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_option(
            0.0 < self.frame_fraction <= 1.0,
            f"frame_fraction={self.frame_fraction} must be in (0, 1]",
        )
        check_option(self.window >= 0, f"window={self.window} must be >= 0")
        check_option(self.sigma > 0, f"sigma={self.sigma} must be > 0")
        check_option(self.clusters >= 1, f"clusters={self.clusters} must be >= 1")
        check_option(self.kmeans_iters >= 1, f"kmeans_iters={self.kmeans_iters} must be >= 1")

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=False)
        candidates = [
            v
            for v in videos_in_order(pool)
            if v not in pool.labeled_videos and not pool.mask(v).all()
        ]
        for v in candidates:
            if v not in scores.frames:
                raise VidalError(f"no frame scores for video {v!r}")
        labels, how = self._clusters(scores, candidates, rng)
        table = proximity_table(
            self.sigma, max((pool.num_frames[v] for v in candidates), default=1)
        )

        ranked: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        video_score: dict[str, float] = {}
        for v in candidates:
            count = max(1, math.ceil(self.frame_fraction * pool.num_frames[v]))
            u = np.asarray(scores.frames[v], dtype=np.float64)
            frames, at_pick = rank_frames(u, ~pool.mask(v), count, window=self.window, table=table)
            ranked[v] = (frames, at_pick)
            video_score[v] = float(u[frames].mean())

        n_u = len(candidates)
        videos_budget = n_u if budget.videos is None else min(int(budget.videos), n_u)
        k = int(labels.max()) + 1 if n_u else 0
        sizes = np.bincount(labels, minlength=k)
        quota = sizes * videos_budget / n_u if n_u else sizes.astype(np.float64)
        taken = np.zeros(k, dtype=np.int64)

        order, extra = self._video_order(
            scores, pool, candidates, video_score, labels, np.ceil(quota), videos_budget
        )
        taker = Taker(pool, budget)
        chosen: list[str] = []
        for i in order:
            if len(chosen) >= videos_budget or taker.full:
                break
            c = labels[i]
            if taken[c] >= quota[c]:
                continue
            v = candidates[i]
            chosen.append(v)
            taken[c] += 1
            costs = pool.frame_costs(v)
            for f, s in zip(*ranked[v], strict=True):
                if taker.fits(costs[f]):
                    taker.take(v, int(f), float(costs[f]), float(s))
        cluster_of = dict(zip(candidates, labels.tolist(), strict=True))
        info = {
            "assignment": how,
            "cluster_sizes": sizes.tolist(),
            "quota": quota.tolist(),
            "taken": taken.tolist(),
            "clusters": {v: cluster_of[v] for v in chosen},
            "video_scores": {v: video_score[v] for v in chosen},
            **extra,
        }
        return taker.selection(videos=chosen, info=info)

    def _video_order(
        self,
        scores: FrameScores,
        pool: LabelPool,
        candidates: list[str],
        video_score: dict[str, float],
        labels: np.ndarray,
        caps: np.ndarray,
        videos_budget: int,
    ) -> tuple[list[int], dict]:
        """Candidate indices in the order videos are tried (best ``V_score`` first), and
        anything to add to ``Selection.info``; the walk applies the cluster quotas, at most
        ``caps[c]`` videos from cluster ``c`` (``labels (ndarray[N_U])``)."""
        return sorted(range(len(candidates)), key=lambda i: -video_score[candidates[i]]), {}

    def _clusters(
        self, scores: FrameScores, candidates: list[str], rng: np.random.Generator
    ) -> tuple[np.ndarray, str]:
        """Cluster label of each candidate and how it was found."""
        if not candidates or (scores.centers is None and self.clusters == 1):
            return np.zeros(len(candidates), dtype=np.int64), "none"
        missing = [v for v in candidates if v not in scores.features]
        if missing:
            raise VidalError(
                f"CLAUS needs a latent feature per candidate video (scores.features); "
                f"missing for {missing[:3]}{' ...' if len(missing) > 3 else ''}"
            )
        x = np.stack([np.asarray(scores.features[v], dtype=np.float64).ravel() for v in candidates])
        if not np.isfinite(x).all():
            bad = candidates[int(np.flatnonzero(~np.isfinite(x).all(1))[0])]
            raise VidalError(f"feature of video {bad!r} is not finite")
        if scores.centers is not None:
            centers = np.asarray(scores.centers, dtype=np.float64)
            if (
                centers.ndim != 2
                or centers.shape[1] != x.shape[1]
                or not np.isfinite(centers).all()
            ):
                raise VidalError(
                    f"scores.centers must be finite [K, {x.shape[1]}], got shape {centers.shape}"
                )
            return _nearest(x, centers), "centers"
        return kmeans(x, self.clusters, rng, iters=self.kmeans_iters), "kmeans"
