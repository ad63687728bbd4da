"""Action tubes from frame detections: greedy online linking per class.

The linking of Singh et al. ("Online Real-time Multiple Spatiotemporal Action Localisation
and Prediction", ICCV 2017) and of ACT (Kalogeiton et al., ICCV 2017) for one-frame
tubelets; :mod:`vidal.metrics.video_ap` scores the tubes against the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidal.errors import VidalError
from vidal.metrics._checks import boxes_array, positive_int
from vidal.metrics.boxes import _iou
from vidal.metrics.detection_ap import Detections

__all__ = ["DetectedTube", "link_tubes"]


@dataclass
class DetectedTube:
    """A predicted action tube.

    Args:
        label: class index.
        score: tube confidence (the mean of its detections' scores).
        frames (ndarray[L]): strictly increasing 0-based frame indices.
        boxes (ndarray[L, 4]): ``x1, y1, x2, y2`` box at each frame.
    """

    label: int
    score: float
    frames: np.ndarray
    boxes: np.ndarray

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        self.boxes = boxes_array(self.boxes, "boxes").astype(np.float32)
        if len(self.frames) == 0 or len(self.frames) != len(self.boxes):
            raise VidalError(
                f"a tube needs one box per frame and at least one frame, got {len(self.frames)} frames and {len(self.boxes)} boxes"
            )
        if (np.diff(self.frames) <= 0).any():
            raise VidalError("tube frames must be strictly increasing")
        if not np.isfinite(self.score):
            raise VidalError(f"tube score must be finite, got {self.score!r}")
        self.label, self.score = int(self.label), float(self.score)


def link_tubes(
    detections: Detections,
    *,
    link_iou: float = 0.2,
    max_gap: int = 5,
    min_length: int = 1,
    top_k: int | None = None,
    inclusive: bool = False,
) -> list[DetectedTube]:
    """Greedy online linking of one video's frame detections into action tubes, per class.

    The linking of Singh et al. ("Online Real-time Multiple Spatiotemporal Action
    Localisation and Prediction", ICCV 2017) and Kalogeiton et al. (ACT, ICCV 2017),
    applied to single-frame detections. For each class separately, frames are visited in
    order; at each frame that has detections of the class:

    1. the frame's detections (its ``top_k`` best when set) are the candidates;
    2. tubes whose last detection lies more than ``max_gap`` frames back (more than
       ``max_gap`` frames skipped) are closed;
    3. the remaining tubes, by decreasing current score (mean detection score), each take the
       highest-scoring candidate not yet taken whose IoU with the tube's last box is
       ``>= link_iou``;
    4. each candidate left starts a new tube.

    Finally, tubes spanning fewer than ``min_length`` frames are dropped; boxes on skipped
    frames are linearly interpolated, so every tube is contiguous; the tube score is the mean
    score of its detections. No temporal trimming is applied (a tube spans from its first to
    its last detection). :meth:`Protocol.link_options` gives these settings for a named
    protocol (ACT's: ``top_k=10``, ``max_gap=0``, inclusive areas).

    Args:
        detections: one video's frame detections.
        link_iou: overlap needed to extend a tube.
        max_gap: frames a tube may skip and still be extended (in video frames: a model run
            on every 8th frame needs ``max_gap >= 7``).
        min_length: shortest tube kept, in frames.
        top_k: candidates per frame and class (all when ``None``).
        inclusive: box areas with the ``+1`` pixel.

    Returns:
        The tubes, by decreasing score.

    Example:
        >>> det = Detections([0, 1, 2], [0, 0, 0], [0.9, 0.7, 0.8], np.tile([0, 0, 10, 10], (3, 1)))
        >>> [(t.label, round(t.score, 2), t.frames.tolist()) for t in link_tubes(det)]
        [(0, 0.8, [0, 1, 2])]
    """
    if not isinstance(detections, Detections):
        raise VidalError(f"detections must be a Detections table, got {type(detections).__name__}")
    if max_gap < 0:
        raise VidalError(f"max_gap must be >= 0, got {max_gap!r}")
    min_length = positive_int(min_length, "min_length")
    if top_k is not None:
        top_k = positive_int(top_k, "top_k")
    linker = _Linker(
        detections, link_iou=link_iou, max_gap=max_gap, top_k=top_k, inclusive=inclusive
    )
    tubes: list[DetectedTube] = []
    for c, links in linker.run().items():
        for link in links:
            if link.frames[-1] - link.frames[0] + 1 < min_length:
                continue
            full, boxes = _interpolate(link.frames, linker.boxes[link.rows])
            tubes.append(DetectedTube(c, link.score_sum / len(link.frames), full, boxes))
    tubes.sort(key=lambda tb: -tb.score)
    return tubes


@dataclass
class _Link:
    """A tube being linked: its detections' frames, rows in the linker's table, score total."""

    frames: list[int]
    rows: list[int]
    score_sum: float

    def add(self, t: int, row: int, score: float) -> None:
        self.frames.append(t)
        self.rows.append(row)
        self.score_sum += score


def _interpolate(frames: list[int], boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous frames ``first .. last``, boxes ``[n, 4]`` linearly interpolated over skipped frames."""
    f = np.asarray(frames, dtype=np.int64)
    full = np.arange(f[0], f[-1] + 1)
    if len(full) == len(f):
        return full, boxes
    return full, np.stack([np.interp(full, f, boxes[:, k]) for k in range(4)], axis=1)


class _Linker:
    """Steps 1-4 of :func:`link_tubes`, for every class at once, one frame at a time.

    Classes never interact; visiting them side by side lets one vectorised IoU serve every
    (tube, candidate) pair of a frame. A class's tubes are only looked at (closed, ranked,
    extended) at the frames where that class has detections.
    """

    def __init__(
        self, det: Detections, *, link_iou: float, max_gap: int, top_k: int | None, inclusive: bool
    ) -> None:
        order = np.lexsort((-det.scores, det.labels, det.frames))  # frame, class, best first
        self.frames, self.labels = det.frames[order], det.labels[order]
        self.boxes = det.boxes[order].astype(np.float64)  # [N, 4]
        self.scores = det.scores[order].tolist()
        self.link_iou, self.max_gap, self.top_k = link_iou, max_gap, top_k
        self.inclusive = inclusive
        classes = np.unique(self.labels).tolist()
        self.active: dict[int, list[_Link]] = {c: [] for c in classes}
        self.closed: dict[int, list[_Link]] = {c: [] for c in classes}

    def run(self) -> dict[int, list[_Link]]:
        """Class -> its tubes (closed ones first), classes in increasing order."""
        n = len(self.frames)
        if n == 0:
            return {}
        new_group = np.ones(n, dtype=bool)
        new_group[1:] = (np.diff(self.frames) != 0) | (np.diff(self.labels) != 0)
        starts = np.flatnonzero(new_group).tolist()  # one group per (frame, class)
        ends = [*starts[1:], n]
        groups: list[tuple[int, int, int]] = []  # (class, first row, row after the candidates)
        for start, end in zip(starts, ends, strict=True):
            stop = end if self.top_k is None else min(end, start + self.top_k)
            groups.append((int(self.labels[start]), start, stop))
            if end == n or self.frames[end] != self.frames[start]:  # the frame's last group
                self._step(int(self.frames[start]), groups)
                groups = []
        return {c: self.closed[c] + self.active[c] for c in self.active}

    def _step(self, t: int, groups: list[tuple[int, int, int]]) -> None:
        """Close, rank and extend the tubes of the classes detected on frame ``t``; start new ones."""
        for c, _, _ in groups:
            still: list[_Link] = []
            for link in self.active[c]:
                (still if t - link.frames[-1] - 1 <= self.max_gap else self.closed[c]).append(link)
            self.active[c] = sorted(still, key=lambda lk: -lk.score_sum / len(lk.frames))
        fits = self._fits(groups)
        at = 0  # where the current tube's flags start in fits
        for c, start, stop in groups:
            free = list(range(start, stop))  # candidates not taken, best first
            for link in self.active[c]:
                j = next((j for j in free if fits[at + j - start]), None)  # the best that fits
                at += stop - start
                if j is not None:
                    free.remove(j)
                    link.add(t, j, self.scores[j])
            self.active[c] += [_Link([t], [j], self.scores[j]) for j in free]

    def _fits(self, groups: list[tuple[int, int, int]]) -> list[bool]:
        """Whether each ranked tube's last box overlaps each candidate of its class by ``link_iou``.

        Returns:
            Flat flags: for each group in order, for each of its ranked tubes, one flag per
            candidate row ``start .. stop - 1``.
        """
        last = [link.rows[-1] for c, _, _ in groups for link in self.active[c]]  # [L]
        if not last:
            return []
        tubes = np.array([len(self.active[c]) for c, _, _ in groups])  # [P]
        first = np.repeat([start for _, start, _ in groups], tubes)  # [L] first candidate row
        count = np.repeat([stop - start for _, start, stop in groups], tubes)  # [L]
        offset = np.cumsum(count) - count  # [L] where each tube's flags start
        cand = np.arange(count.sum()) + np.repeat(first - offset, count)  # [S] candidate rows
        ious = _iou(self.boxes[np.repeat(last, count)], self.boxes[cand], self.inclusive)  # [S]
        return (ious >= self.link_iou).tolist()
