"""The empirical ceiling: the best of several candidate batches, judged by what they teach.

Error-greedy oracles are no upper bound (:mod:`vidal.select.oracle`). The ceiling instead asks
the question a selector answers, with the answer key: at each cycle it draws ``candidates``
batches (from random and from the other ``proposers``), fine-tunes a copy of the model
briefly on each (``scores.lookahead``, set by the loop from
:meth:`vidal.tasks.action.ActionTask.lookahead`) and keeps the batch whose held-out metric
is highest. Its gain over random is the **headroom** a selector can hope to win at this scale,
and ``(selector - random) / (ceiling - random)`` the share a selector recovers
(:func:`vidal.experiment.stats.summarize`).

Cost: ``candidates`` look-aheads per cycle, each ``steps`` training steps and one evaluation
of the test set (30 steps and 6 candidates by default). Measured in ``tools/study_headroom.py``
(24 synthetic videos, the default model, one CPU core): a cycle takes about 50 s with the
ceiling (80 s with UCF-101-24's longer tubes) against about 20 s with random or an oracle. It
sees the test set and takes the best of noisy gains, so it is optimistic: a reference, never
a method.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import check_option
from vidal.select.base import FrameScores, Selection

__all__ = ["CeilingSelector"]


@dataclass(frozen=True, kw_only=True)
class CeilingSelector:
    """Best of ``candidates`` batches by ``scores.lookahead`` (see the module docstring).

    Args:
        candidates: batches tried per cycle.
        proposers: selector names taking turns to propose a batch; a deterministic one
            proposes once, random ones propose with a fresh random stream each turn.

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 10})
        >>> best = lambda sel: float(sel.frames.get("a", np.zeros(0)).sum())  # later is better
        >>> s = FrameScores(lookahead=best)
        >>> sel = CeilingSelector(candidates=20)(s, pool, Budget(frames=2), np.random.default_rng(0))
        >>> sel.frames["a"].tolist(), sel.info["gain"] == max(g for _, g in sel.info["tried"])
        ([7, 9], True)
    """

    candidates: int = 6
    proposers: tuple[str, ...] = ("random",)
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_option(self.candidates >= 1, f"candidates={self.candidates} must be >= 1")
        check_option(len(self.proposers) >= 1, "proposers must name at least one selector")
        for name in self.proposers:
            check_option(name != "ceiling", "the ceiling cannot propose to itself")

    @property
    def requires(self) -> frozenset[str]:
        """``"lookahead"`` and whatever its proposers read."""
        from vidal.select import get_selector

        needs = {"lookahead"}
        for name in self.proposers:
            needs |= set(getattr(get_selector(name), "requires", ()))
        return frozenset(needs)

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        if pool.num_unlabeled == 0:
            return Selection()
        if scores.lookahead is None:
            raise VidalError(
                "the ceiling needs a look-ahead (scores.lookahead): run it in a simulated "
                "campaign (`vidal run`), whose loop trains each candidate batch"
            )
        tried: list[tuple[float, str, Selection]] = []
        seen: set[str] = set()
        for proposer, selection in self._proposals(scores, pool, budget, rng):
            key = json.dumps(selection.to_json()["frames"], sort_keys=True) + str(selection.videos)
            if key in seen or not selection.num_frames:
                continue
            seen.add(key)
            tried.append((scores.lookahead(selection), proposer, selection))
        if not tried:
            return Selection()
        gains = [g for g, _, _ in tried]
        best = int(np.nanargmax(gains)) if not np.isnan(gains).all() else 0
        gain, proposer, selection = tried[best]
        selection.info.update(
            {"proposer": proposer, "gain": gain, "tried": [[p, g] for g, p, _ in tried]}
        )
        return selection

    def _proposals(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Iterator[tuple[str, Selection]]:
        """``(proposer, selection)`` for up to ``candidates`` batches, proposers in turn."""
        from vidal.select import get_selector

        made, turn, stale = 0, 0, 0
        while made < self.candidates and stale < len(self.proposers):
            name = self.proposers[turn % len(self.proposers)]
            selector = get_selector(name)
            turn += 1
            if turn > len(self.proposers) and not getattr(selector, "stochastic", True):
                stale += 1  # a deterministic proposer gives the same batch again
                continue
            stale = 0
            made += 1
            yield name, selector(scores, pool, budget, np.random.default_rng(rng.integers(1 << 62)))
