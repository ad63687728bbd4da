"""Frame selection for object detection in video (Zolfaghari Bengar, PhD thesis 2021, ch. 2).

Every selector here ranks frames by one per-frame number and picks them with the thesis'
*per-video sampling* and *temporal representativeness* (Sec. 2.5.2, Sec. 2.6.1: "we always
include temporal representativeness and per-video sampling for all evaluated methods"):

- **per-video sampling** -- so that long videos do not take most of the budget, selection
  goes in rounds: each round takes the best frame still allowed in every video, then ranks
  these per-video winners against each other and picks them best first until the budget is
  spent; another round follows while budget remains. No video gets a second frame before
  every video with an allowed frame has had one.
- **temporal representativeness** -- a frame within ``window`` frames (``k`` in the thesis)
  of a labeled frame or of a frame picked earlier in the same selection is not allowed
  (``k = 1`` on SYNTHIA-AL, ``k = 3`` on ImageNet-VID); ``window=0`` turns it off.

Ties are broken at random (Sec. 2.3.1: error counts are integers and tie often) by the
``rng`` passed in, so a seed reproduces a selection; videos are visited in sorted id order,
so the pool's video order does not matter. Otherwise the conventions of
:mod:`vidal.select._common` hold: budgets (``frames``, ``cost``) are upper bounds, a frame
that no longer fits the cost left is passed over, and a selection stops short of the budget
when no allowed frame is left. ``Budget.videos`` does not apply: no video-level labels.

Each criterion reads named per-frame arrays from ``FrameScores.extra``, listed in its
``requires`` (``"extra:<name>"``):
:func:`vidal.scoring.detection.detection_frame_scores` computes the detection ones,
``tracking`` the temporal-coherence estimates ``"fp"`` and ``"fn"``.

=========================  ===============================================================
name                       ranks frames by (``extra`` arrays)
=========================  ===============================================================
``tc``                     estimated false positives: Temporal Coherence (Sec. 2.3.2; ``fp``)
``tc_fn``                  estimated false negatives (``fn``)
``tc_fpfn``                estimated false positives + false negatives (``fp`` + ``fn``)
``oracle_fp``              ground-truth false positives, an upper bound (Sec. 2.3.1; ``gt_fp``)
``oracle_fn``              ground-truth false negatives (``gt_fn``)
``least_confidence_det``   mean least confidence of the detections (Sec. 2.5.2;
                           ``least_confidence``)
``entropy_det``            mean class entropy of the detections (``entropy``)
``margin_det``             summed ``1 - (p1 - p2)`` of the detections (``margin``)
``random_det``             nothing: a random frame per video, videos in random order
                           (per-video sampling, ``window=0``)
``random_tr_det``          the same with temporal representativeness: *Random+R*
=========================  ===============================================================

All use ``window=1`` (SYNTHIA-AL) except ``random_det``; for ImageNet-VID take
``get_selector("tc", window=3)``. Uniform random frames over the whole pool (the thesis'
plain *Random*) are the generic ``"random"`` selector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidal.errors import ConfigError, VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, videos_in_order
from vidal.select.base import FrameScores, Selection, check_scores

__all__ = [
    "CRITERIA",
    "DetectionSelector",
    "DETECTION_SELECTORS",
    "per_video_select",
    "temporal_window_mask",
]

#: criterion -> the ``FrameScores.extra`` arrays it sums (none: random).
CRITERIA: dict[str, tuple[str, ...]] = {
    "tc": ("fp",),
    "tc_fn": ("fn",),
    "tc_fpfn": ("fp", "fn"),
    "oracle_fp": ("gt_fp",),
    "oracle_fn": ("gt_fn",),
    "least_confidence": ("least_confidence",),
    "entropy": ("entropy",),
    "margin": ("margin",),
    "random": (),
}


def temporal_window_mask(labeled: np.ndarray, window: int) -> np.ndarray:
    """Frames within ``window`` frames of a labeled one (the labeled ones included).

    Args:
        labeled (ndarray[T]): boolean, which frames are labeled.
        window: the distance ``k``; 0 gives ``labeled`` itself.

    Returns:
        Boolean ``ndarray[T]`` (a new array).

    Example:
        >>> temporal_window_mask(np.array([0, 0, 0, 1, 0, 0, 0], bool), 1).astype(int).tolist()
        [0, 0, 1, 1, 1, 0, 0]
    """
    labeled = np.asarray(labeled, dtype=bool)
    if labeled.ndim != 1:
        raise VidalError(f"labeled must have shape [T], got {labeled.shape}")
    if window <= 0 or not labeled.any():
        return labeled.copy()
    kernel = np.ones(2 * window + 1, dtype=np.int64)
    # "full" then crop: numpy's mode="same" returns max(T, 2k + 1) values when the video is
    # shorter than the kernel
    full = np.convolve(labeled.astype(np.int64), kernel, mode="full")
    return full[window : window + len(labeled)] > 0


def per_video_select(
    values: Mapping[str, np.ndarray] | None,
    pool: LabelPool,
    budget: Budget,
    rng: np.random.Generator,
    *,
    window: int,
) -> Selection:
    """Pick frames with per-video sampling and temporal representativeness (module doc).

    Args:
        values: video id -> float ``ndarray[T]``, higher first, for every video with an
            unlabeled frame; ``None`` ranks all frames alike, so the picks are random.
        pool: the label state; labeled frames are never picked.
        budget: ``frames`` and ``cost`` limits.
        rng: breaks ties (all of them when ``values`` is None).
        window: no frame within ``window`` of a labeled frame or of another pick.

    Returns:
        The :class:`Selection`; ``scores`` hold each pick's value (none when ``values`` is
        None), ``info`` the ``window``, the number of ``rounds`` and the ``cost``.

    Raises:
        VidalError: ``values`` missing, mis-shaped or not finite for a video.

    Example:
        >>> pool = LabelPool({"a": 6, "b": 3})
        >>> values = {"a": np.array([0, 5, 4, 3, 2, 1.0]), "b": np.array([0, 0, 1.0])}
        >>> sel = per_video_select(values, pool, Budget(frames=3), np.random.default_rng(0), window=1)
        >>> {k: v.tolist() for k, v in sel.frames.items()}
        {'a': [1, 3], 'b': [2]}
    """
    if window < 0:
        raise ConfigError(f"window={window} must be >= 0")
    if values is not None:
        check_scores(FrameScores(frames=dict(values)), pool)
    ids = videos_in_order(pool)
    blocked: list[np.ndarray] = []  # per video [T]: frames not allowed
    orders: list[np.ndarray] = []  # per video: frames best first, ties in random order
    vals: list[np.ndarray] = []  # per video [T]
    for vid in ids:
        n = pool.num_frames[vid]
        v = (
            np.zeros(n)
            if values is None or vid not in values
            else np.asarray(values[vid], np.float64)
        )
        blocked.append(temporal_window_mask(pool.mask(vid), window))
        orders.append(np.lexsort((rng.random(n), -v)))
        vals.append(v)
    costs = [pool.frame_costs(vid) for vid in ids]
    taker = Taker(pool, budget, scored=values is not None)
    ptr = [0] * len(ids)

    def best(i: int) -> int | None:
        """Video ``i``'s best allowed frame that fits the cost left (advances its pointer)."""
        order = orders[i]
        while ptr[i] < len(order):
            t = int(order[ptr[i]])
            if not blocked[i][t] and costs[i][t] <= taker.cost_left:
                return t
            ptr[i] += 1  # blocked or too costly: stays so, picks and spending only grow
        return None

    rounds = 0
    while not taker.full:
        cands = [(i, t) for i in range(len(ids)) if (t := best(i)) is not None]
        if not cands:
            break
        rounds += 1
        cand_values = np.array([vals[i][t] for i, t in cands])
        for j in np.lexsort((rng.random(len(cands)), -cand_values)):
            i, t = cands[j]
            if taker.full:
                break
            if not taker.fits(costs[i][t]):
                continue  # earlier picks of this round spent the cost; next round tries again
            taker.take(ids[i], t, float(costs[i][t]), float(vals[i][t]))
            blocked[i][max(t - window, 0) : t + window + 1] = True
    return taker.selection(info={"window": window, "rounds": rounds})


@dataclass(frozen=True, kw_only=True)
class DetectionSelector:
    """A thesis ch. 2 selector: rank frames by ``criterion``, pick per video with a window.

    Args:
        criterion: a key of :data:`CRITERIA`: ``"tc"``, ``"tc_fn"``, ``"tc_fpfn"``,
            ``"oracle_fp"``, ``"oracle_fn"``, ``"least_confidence"``, ``"entropy"``,
            ``"margin"`` or ``"random"``.
        window: temporal representativeness ``k``: no frame within ``window`` of a labeled
            frame or another pick (1 for SYNTHIA-AL, 3 for ImageNet-VID, 0 for none).

    Called as ``selector(scores, pool, budget, rng) -> Selection``, it ranks by the sum of
    the ``scores.extra`` arrays :data:`CRITERIA` names (see :attr:`requires`).

    Example:
        >>> pool = LabelPool({"a": 4, "b": 4})
        >>> fp = {"a": np.array([0, 2, 0, 0.0]), "b": np.array([1, 0, 0, 3.0])}
        >>> tc = DetectionSelector(criterion="tc", window=1)
        >>> sel = tc(FrameScores(extra={"fp": fp}), pool, Budget(frames=2), np.random.default_rng(0))
        >>> {k: v.tolist() for k, v in sel.frames.items()}
        {'a': [1], 'b': [3]}
    """

    criterion: str
    window: int = 1
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ConfigError(
                f"unknown detection criterion {self.criterion!r}; known: {sorted(CRITERIA)}"
            )
        if self.window < 0:
            raise ConfigError(f"window={self.window} must be >= 0")

    @property
    def requires(self) -> frozenset[str]:
        """What it reads from :class:`FrameScores`: ``"extra:<name>"`` for each array."""
        return frozenset(f"extra:{k}" for k in CRITERIA[self.criterion])

    def frame_values(self, scores: FrameScores) -> dict[str, np.ndarray] | None:
        """video id -> float ``ndarray[T]`` this criterion ranks (None for random)."""
        keys = CRITERIA[self.criterion]
        if not keys:
            return None
        values: dict[str, np.ndarray] = {}
        extra = [scores.extra.get(k, {}) for k in keys]  # a missing one fails in check_scores
        for vid in set.intersection(*(set(e) for e in extra)):
            arrays = [np.asarray(e[vid], dtype=np.float64) for e in extra]
            if len({a.shape for a in arrays}) > 1:
                raise VidalError(f"extra arrays {list(keys)} of video {vid!r} differ in shape")
            values[vid] = np.sum(arrays, axis=0)
        return values

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=False)
        values = self.frame_values(scores)
        try:
            selection = per_video_select(values, pool, budget, rng, window=self.window)
        except VidalError as e:
            raise VidalError(f"FrameScores.extra {list(CRITERIA[self.criterion])}: {e}") from e
        selection.info["criterion"] = self.criterion
        return selection


#: Detection selectors by name, merged into ``vidal.select.SELECTORS``.
DETECTION_SELECTORS: dict[str, DetectionSelector] = {
    "tc": DetectionSelector(criterion="tc"),
    "tc_fn": DetectionSelector(criterion="tc_fn"),
    "tc_fpfn": DetectionSelector(criterion="tc_fpfn"),
    "oracle_fp": DetectionSelector(criterion="oracle_fp"),
    "oracle_fn": DetectionSelector(criterion="oracle_fn"),
    "least_confidence_det": DetectionSelector(criterion="least_confidence"),
    "entropy_det": DetectionSelector(criterion="entropy"),
    "margin_det": DetectionSelector(criterion="margin"),
    "random_det": DetectionSelector(criterion="random", window=0),
    "random_tr_det": DetectionSelector(criterion="random"),
}
