"""Label-dispersion selection (Zolfaghari Bengar, PhD thesis 2021, ch. 3, Sec. 3.3.1).

"We then select the samples with highest dispersion to be annotated": the frames of highest
``Dispersion(x) = 1 - f_x / T`` (Eq. 3.1-3.2), recorded during training by
:class:`vidal.scoring.dispersion.DispersionRecorder` and read from
``scores.extra["dispersion"]``.

Dispersion takes only ``T`` values (multiples of ``1/T``), so many frames tie; the thesis
does not say how ties go. :class:`DispersionSelector` breaks them at random from the seed
(``ties="random"``, so no part of a video is favoured), or by ``scores.frames`` (e.g.
MC-dropout uncertainty) with ``ties="frames"``. APU and CLAUS take dispersion in place of
uncertainty through ``recorder.scores()`` (dispersion as ``frames``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, unlabeled_table, videos_in_order
from vidal.select.base import FrameScores, Selection, check_scores

__all__ = ["DispersionSelector"]


@dataclass(frozen=True, kw_only=True)
class DispersionSelector:
    """The unlabeled frames of highest label dispersion over all videos (thesis Sec. 3.3.1).

    Args:
        ties: ``"random"`` orders frames of equal dispersion at random (from ``rng``);
            ``"frames"`` by ``scores.frames`` descending (then video id, then frame).

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4})
        >>> s = FrameScores(extra={"dispersion": {"a": np.array([0.0, 0.5, 0.2, 0.5])}})
        >>> sel = DispersionSelector()(s, pool, Budget(frames=2), np.random.default_rng(0))
        >>> sel.frames["a"].tolist()
        [1, 3]
    """

    ties: Literal["random", "frames"] = "random"
    requires: ClassVar[frozenset[str]] = frozenset({"extra:dispersion"})
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_option(
            self.ties in ("random", "frames"), f"ties={self.ties!r} must be 'random' or 'frames'"
        )

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        dispersion = scores.extra.get("dispersion", {})
        if not dispersion and pool.num_unlabeled:
            raise VidalError(
                "the dispersion selector needs scores.extra['dispersion'] "
                "(record it with vidal.scoring.dispersion.DispersionRecorder)"
            )
        check_scores(FrameScores(frames=dispersion), pool)
        if self.ties == "frames":
            check_scores(scores, pool)
        ids = videos_in_order(pool)
        vi, fr, co, d = unlabeled_table(pool, ids, dispersion)
        if self.ties == "frames":
            second = unlabeled_table(pool, ids, scores.frames)[3]
            order = np.lexsort((fr, vi, -second, -d))
        else:
            order = np.lexsort((rng.permutation(len(d)), -d))
        taker = Taker(pool, budget)
        taker.take_in_order(ids, vi[order], fr[order], co[order], d[order])
        return taker.selection(info={"ties": self.ties})
