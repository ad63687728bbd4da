"""Video-AP (v-mAP): action tubes linked from frame detections, scored against ground-truth tubes.

In ACT (Kalogeiton et al., ICCV 2017) video-AP is the area under the precision-recall
curve of the predicted action tubes of a class, a tube being correct when its label is right
and its spatio-temporal overlap with a ground-truth tube reaches the threshold; the overlap
is the temporal IoU times the mean spatial IoU over the temporally shared frames
(:func:`vidal.metrics.tube_iou`). Rana & Rawat report it as v-mAP at 0.1 to 0.5 (NeurIPS
2022, Tables 2-3) and at 0.5 (CVPR 2023, Table 1): "The video-mAP reflects the average
precision at the video level, which is averaged to obtain the v-mAP score" (CVPR 2023 Sec. 4).

Conventions: tubes of a class from all videos are ranked by score (the mean score of the
detections linked into the tube); each takes the unmatched ground-truth tube of its class and
video it overlaps most when that overlap is ``>= threshold`` (ACT matching); AP is the
trapezoid area of the raw curve started at ``(recall 0, precision 1)``; classes without
ground-truth tubes are left out of the mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidal.data.annotations import VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics._checks import (
    boxes_array,
    choice,
    labels_in_range,
    mean_or_none,
    positive_int,
    thresholds,
)
from vidal.metrics.ap import AP_METHODS, MATCHING, _greedy_match, _RankedStore
from vidal.metrics.boxes import tube_iou
from vidal.metrics.detection_ap import Detections

__all__ = ["DetectedTube", "link_tubes", "VideoAPAccumulator", "VIDEO_AP_THRESHOLDS"]

#: 0.2, 0.5, 0.75 and the COCO-style range 0.5:0.05:0.95.
VIDEO_AP_THRESHOLDS: tuple[float, ...] = tuple(
    sorted({0.2, 0.75, *np.round(np.arange(0.5, 0.951, 0.05), 2).tolist()})
)


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


@dataclass
class _Link:
    """A tube being linked: its detections' frames, boxes and score total."""

    frames: list[int]
    boxes: list[list[float]]
    score_sum: float

    def add(self, t: int, box: list[float], score: float) -> None:
        self.frames.append(t)
        self.boxes.append(box)
        self.score_sum += score


def _iou(a: list[float], b: list[float], inclusive: bool) -> float:
    """IoU of two single boxes in plain floats (the per-frame linking step is scalar work)."""
    one = 1.0 if inclusive else 0.0
    w = min(a[2], b[2]) - max(a[0], b[0]) + one
    h = min(a[3], b[3]) - max(a[1], b[1]) + one
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (
        max(a[2] - a[0] + one, 0) * max(a[3] - a[1] + one, 0)
        + max(b[2] - b[0] + one, 0) * max(b[3] - b[1] + one, 0)
        - inter
    )
    return inter / union if union > 0 else 0.0


def _interpolate(frames: list[int], boxes: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous frames ``first .. last`` and boxes linearly interpolated over skipped frames."""
    f = np.asarray(frames, dtype=np.int64)
    b = np.asarray(boxes, dtype=np.float64)  # [n, 4]
    full = np.arange(f[0], f[-1] + 1)
    if len(full) == len(f):
        return full, b
    return full, np.stack([np.interp(full, f, b[:, k]) for k in range(4)], axis=1)


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
    its last detection).

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
    tubes: list[DetectedTube] = []
    for c in np.unique(detections.labels):
        det = detections.select(detections.labels == c)
        order = np.lexsort((-det.scores, det.frames))  # by frame, then by decreasing score
        frames = det.frames[order].tolist()
        boxes = det.boxes[order].astype(np.float64).tolist()
        scores = det.scores[order].tolist()
        uniq, starts = np.unique(det.frames[order], return_index=True)
        ends = [*starts[1:].tolist(), len(frames)]
        active: list[_Link] = []
        closed: list[_Link] = []
        for t, start, end in zip(uniq.tolist(), starts.tolist(), ends, strict=True):
            rows = range(start, end if top_k is None else min(end, start + top_k))
            still: list[_Link] = []
            for link in active:
                (still if t - link.frames[-1] - 1 <= max_gap else closed).append(link)
            active = sorted(still, key=lambda lk: -lk.score_sum / len(lk.frames))
            taken: set[int] = set()
            for link in active:
                for j in rows:  # by decreasing score: the first that overlaps enough wins
                    if j not in taken and _iou(link.boxes[-1], boxes[j], inclusive) >= link_iou:
                        taken.add(j)
                        link.add(t, boxes[j], scores[j])
                        break
            for j in rows:
                if j not in taken:
                    active.append(_Link([t], [boxes[j]], scores[j]))
        for link in closed + active:
            if link.frames[-1] - link.frames[0] + 1 < min_length:
                continue
            full, interp = _interpolate(link.frames, link.boxes)
            tubes.append(DetectedTube(int(c), link.score_sum / len(link.frames), full, interp))
    tubes.sort(key=lambda tb: -tb.score)
    return tubes


class VideoAPAccumulator:
    """ACT video-AP per class and video-mAP, fed one video at a time.

    Args:
        num_classes: K; labels are ``0 .. K - 1``.
        iou_thresholds: spatio-temporal overlaps to report; default
            :data:`VIDEO_AP_THRESHOLDS` (0.2, 0.5, 0.75 and 0.5:0.95).
        matching: ``"act"`` (default) or ``"voc"``.
        method: ``"trapezoid"`` (default, ACT), ``"voc"`` or ``"voc11"``.
        inclusive: box areas with ACT's ``+1`` pixel.

    Example:
        >>> from vidal.data.annotations import Tube, VideoAnnotation
        >>> video = VideoAnnotation("v", 3, 32, 24, label=0, tubes=[Tube(0, 0, 0, np.tile([2, 2, 9, 9], (3, 1)))])
        >>> acc = VideoAPAccumulator(1, iou_thresholds=(0.5,))
        >>> acc.update(video, [DetectedTube(0, 0.9, [0, 1, 2], np.tile([2, 2, 9, 9], (3, 1)))])
        >>> acc.compute()["video_map"]
        {0.5: 1.0}
    """

    def __init__(
        self,
        num_classes: int,
        *,
        iou_thresholds: Sequence[float] | float = VIDEO_AP_THRESHOLDS,
        matching: str = "act",
        method: str = "trapezoid",
        inclusive: bool = False,
    ) -> None:
        self.num_classes = positive_int(num_classes, "num_classes")
        self.iou_thresholds = thresholds(iou_thresholds, "iou_thresholds")
        self.matching = choice(matching, "matching", MATCHING)
        self.method = choice(method, "method", AP_METHODS)
        self.inclusive = bool(inclusive)
        self._store = _RankedStore(self.num_classes, self.iou_thresholds, self.method)

    def update(self, video: VideoAnnotation, tubes: Sequence[DetectedTube]) -> None:
        """Add one video.

        Args:
            video: its ground-truth tubes.
            tubes: its predicted tubes (e.g. from :func:`link_tubes`), in the same pixels.
        """
        for tube in tubes:
            if not isinstance(tube, DetectedTube):
                raise VidalError(f"tubes must hold DetectedTube, got {type(tube).__name__}")
        labels = np.array([tb.label for tb in tubes], dtype=np.int64)
        labels_in_range(labels, self.num_classes, "tube labels")
        gt_labels = np.array([tb.label for tb in video.tubes], dtype=np.int64)
        labels_in_range(gt_labels, self.num_classes, f"{video.video_id}: ground-truth tube labels")
        scores = np.array([tb.score for tb in tubes], dtype=np.float64)
        tp = np.zeros((len(self.iou_thresholds), len(tubes)), dtype=bool)
        for c in np.unique(labels):
            det = np.flatnonzero(labels == c)
            gt = [tb for tb in video.tubes if tb.label == c]
            ious = np.array(
                [[tube_iou(tubes[int(i)], g, inclusive=self.inclusive) for g in gt] for i in det]
            ).reshape(len(det), len(gt))
            for k, th in enumerate(self.iou_thresholds):
                tp[k, det] = _greedy_match(ious, scores[det], th, self.matching)
        self._store.add(labels, scores, tp, gt_labels)

    def compute(self) -> dict[str, Any]:
        """Video-mAP and per-class video-AP at each threshold.

        Returns:
            A JSON-able dict: ``video_map`` ({threshold: mean AP over the classes with
            ground-truth tubes, or ``None``}), ``video_map_50_95`` (mean of ``video_map`` over
            0.5:0.05:0.95 when all ten thresholds are evaluated, else ``None``), ``per_class``
            ({threshold: K values, ``None`` for a class without ground truth}), ``num_gt``
            and ``num_detections`` (K ints), ``matching``, ``method``.
        """
        per_class = self._store.per_class()
        video_map = {th: mean_or_none(v) for th, v in per_class.items()}
        coco = [round(0.5 + 0.05 * i, 2) for i in range(10)]
        range_map = None
        if all(th in video_map for th in coco) and all(video_map[th] is not None for th in coco):
            range_map = float(np.mean([video_map[th] for th in coco]))
        return {
            "video_map": video_map,
            "video_map_50_95": range_map,
            "per_class": per_class,
            "num_gt": self._store.num_gt.tolist(),
            "num_detections": self._store.num_detections(),
            "matching": self.matching,
            "method": self.method,
        }
