"""Reference selectors that know the truth: the model's true error on every frame.

In a simulated campaign the ground truth of every frame is known, so one can pick the frames
the current model gets most wrong (``extra["gt_error"]``, ``1 - IoU`` of its prediction with
the truth, :meth:`vidal.tasks.action.ActionTask.score`). These are references, never methods:
error-greedy picking is also **not** an upper bound -- it piles labels on hopeless frames and
few videos -- which is why three variants exist and why :class:`vidal.select.ceiling.
CeilingSelector` measures the headroom instead.

- ``oracle_iou``: the unlabeled frames with the largest true error (top-k);
- ``oracle_iou_spaced``: the same, no two within ``window`` frames of each other;
- ``oracle_iou_video``: round-robin over videos, each turn the worst frame of the next video
  (videos by their worst frame), so labels spread over videos.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, videos_in_order
from vidal.select.base import FrameScores, Selection
from vidal.select.baselines import TopKSelector, TopKSpacedSelector

__all__ = ["OracleErrorSelector", "ORACLE_SELECTORS"]

CRITERIA = ("top", "spaced", "per_video")


@dataclass(frozen=True, kw_only=True)
class OracleErrorSelector:
    """Frames by the current model's true error, ``scores.extra["gt_error"]``.

    Args:
        criterion: ``"top"``, ``"spaced"`` or ``"per_video"`` (see the module docstring).
        window: ``spaced``: frames either side of a pick that can no longer be picked.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4, "b": 4})
        >>> err = {"a": np.array([0.9, 0.8, 0.7, 0.1]), "b": np.array([0.0, 0.2, 0.3, 0.1])}
        >>> s = FrameScores(extra={"gt_error": err})
        >>> rng = np.random.default_rng(0)
        >>> top = OracleErrorSelector()(s, pool, Budget(frames=2), rng)
        >>> {v: f.tolist() for v, f in top.frames.items()}
        {'a': [0, 1]}
        >>> spread = OracleErrorSelector(criterion="per_video")(s, pool, Budget(frames=2), rng)
        >>> {v: f.tolist() for v, f in spread.frames.items()}
        {'a': [0], 'b': [2]}
    """

    criterion: str = "top"
    window: int = 2
    requires: ClassVar[frozenset[str]] = frozenset({"extra:gt_error"})
    stochastic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_option(
            self.criterion in CRITERIA, f"criterion={self.criterion!r}: one of {list(CRITERIA)}"
        )
        check_option(self.window >= 0, f"window={self.window} must be >= 0")

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        if pool.num_unlabeled == 0:
            return Selection()
        if "gt_error" not in scores.extra:
            raise VidalError(
                "oracle selectors need the true error of every frame (extra['gt_error']): "
                "a simulated campaign on annotated data"
            )
        as_frames = FrameScores(frames=scores.extra["gt_error"])
        if self.criterion == "top":
            return TopKSelector()(as_frames, pool, budget, rng)
        if self.criterion == "spaced":
            return TopKSpacedSelector(window=self.window)(as_frames, pool, budget, rng)
        return _round_robin(as_frames, pool, budget)


def _round_robin(scores: FrameScores, pool: LabelPool, budget: Budget) -> Selection:
    """Each turn the worst unlabeled frame of the next video; videos by their worst frame."""
    queues = {}
    for v in videos_in_order(pool):
        free = np.flatnonzero(~pool.mask(v))
        if len(free):
            err = np.asarray(scores.frames[v], dtype=np.float64)[free]
            if not np.isfinite(err).all():
                raise VidalError(f"true errors of video {v!r} are not finite")
            order = np.argsort(-err, kind="stable")
            queues[v] = (list(free[order]), list(err[order]))
    videos = sorted(queues, key=lambda v: -queues[v][1][0])  # stable: ties by id
    taker = Taker(pool, budget)
    while videos and not taker.full:
        for v in list(videos):
            frames, errs = queues[v]
            cost = float(pool.frame_costs(v)[frames[0]])
            if taker.fits(cost):
                taker.take(v, int(frames[0]), cost, float(errs[0]))
            frames.pop(0), errs.pop(0)
            if not frames:
                videos.remove(v)
            if taker.full:
                break
    return taker.selection()


ORACLE_SELECTORS = {
    "oracle_iou": OracleErrorSelector(),
    "oracle_iou_spaced": dataclasses.replace(OracleErrorSelector(), criterion="spaced"),
    "oracle_iou_video": dataclasses.replace(OracleErrorSelector(), criterion="per_video"),
}
