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
ground-truth tubes are left out of the mean. Box areas are continuous and every tube counts
by default (protocol ``"vidal"``); ACT's protocol (``"act"``) takes inclusive areas and first
drops, per class and video, tubes overlapping a better one by more than 0.3
(:func:`tube_nms`). Tubes come from frame detections through
:func:`vidal.metrics.link_tubes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vidal.data.annotations import VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics._checks import labels_in_range
from vidal.metrics._ranked import RankedAPAccumulator
from vidal.metrics.ap import _greedy_match
from vidal.metrics.boxes import tube_iou
from vidal.metrics.linking import DetectedTube

__all__ = ["tube_nms", "VideoAPAccumulator", "VIDEO_AP_THRESHOLDS"]

#: 0.2, 0.5, 0.75 and the COCO-style range 0.5:0.05:0.95.
VIDEO_AP_THRESHOLDS: tuple[float, ...] = tuple(
    sorted({0.2, 0.75, *np.round(np.arange(0.5, 0.951, 0.05), 2).tolist()})
)


def tube_nms(
    tubes: Sequence[DetectedTube], iou_threshold: float, *, inclusive: bool = False
) -> list[DetectedTube]:
    """Per-class non-maximum suppression of one video's tubes (ACT's step before video-AP).

    Tubes of each class are visited by decreasing score (stable on ties); a tube is kept
    unless its spatio-temporal IoU (:func:`vidal.metrics.tube_iou`) with a kept tube of its
    class exceeds ``iou_threshold``. ACT applies this at 0.3 (protocol ``"act"``).

    Args:
        tubes: the predicted tubes of one video.
        iou_threshold: overlap above which the lower-scoring tube is dropped.
        inclusive: box areas with the ``+1`` pixel.

    Returns:
        The kept tubes, by decreasing score.

    Example:
        >>> box = np.array([[0, 0, 10, 10]])
        >>> tubes = [DetectedTube(0, 0.9, [0], box), DetectedTube(0, 0.8, [0], box + [2, 0, 2, 0])]
        >>> [t.score for t in tube_nms(tubes, 0.3)]  # IoU 80/120 with the first: dropped
        [0.9]
    """
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise VidalError(f"iou_threshold must lie in [0, 1], got {iou_threshold!r}")
    order = sorted(range(len(tubes)), key=lambda i: -tubes[i].score)
    kept: list[DetectedTube] = []
    for i in order:
        tube = tubes[i]
        if all(
            old.label != tube.label
            or old.frames[-1] < tube.frames[0]  # no shared span: IoU 0
            or tube.frames[-1] < old.frames[0]
            or tube_iou(old, tube, inclusive=inclusive) <= iou_threshold
            for old in kept
        ):
            kept.append(tube)
    return kept


class VideoAPAccumulator(RankedAPAccumulator):
    """Video-AP per class and video-mAP, fed one video at a time.

    Args:
        num_classes: K; labels are ``0 .. K - 1``.
        iou_thresholds: spatio-temporal overlaps to report; default
            :data:`VIDEO_AP_THRESHOLDS` (0.2, 0.5, 0.75 and 0.5:0.95).
        protocol: a name in :data:`vidal.metrics.PROTOCOLS` or a :class:`Protocol`:
            ``"vidal"`` (default: ACT matching and AP, continuous areas, no tube NMS) or
            ``"act"`` (inclusive areas, and each video's tubes through :func:`tube_nms` at 0.3
            before matching).
        matching: ``"act"`` or ``"voc"``; overrides the protocol's.
        method: ``"trapezoid"`` (ACT), ``"voc"`` or ``"voc11"``; overrides the protocol's.
        inclusive: box areas with ACT's ``+1`` pixel; overrides the protocol's.

    Example:
        >>> from vidal.data.annotations import Tube, VideoAnnotation
        >>> video = VideoAnnotation("v", 3, 32, 24, label=0, tubes=[Tube(0, 0, 0, np.tile([2, 2, 9, 9], (3, 1)))])
        >>> acc = VideoAPAccumulator(1, iou_thresholds=(0.5,))
        >>> acc.update(video, [DetectedTube(0, 0.9, [0, 1, 2], np.tile([2, 2, 9, 9], (3, 1)))])
        >>> acc.compute()["video_map"]
        {0.5: 1.0}
    """

    default_thresholds = VIDEO_AP_THRESHOLDS
    default_protocol = "vidal"

    def update(self, video: VideoAnnotation, tubes: Sequence[DetectedTube]) -> None:
        """Add one video.

        Args:
            video: its ground-truth tubes.
            tubes: its predicted tubes (e.g. from :func:`vidal.metrics.link_tubes`), in the same pixels;
                under a protocol with tube NMS, only those :func:`tube_nms` keeps count.
        """
        for tube in tubes:
            if not isinstance(tube, DetectedTube):
                raise VidalError(f"tubes must hold DetectedTube, got {type(tube).__name__}")
        if self.protocol.tube_nms is not None:
            tubes = tube_nms(tubes, self.protocol.tube_nms, inclusive=self.inclusive)
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
        self._add(labels, scores, tp, gt_labels)

    def compute(self) -> dict[str, Any]:
        """Video-mAP and per-class video-AP at each threshold.

        Returns:
            A JSON-able dict: ``video_map`` ({threshold: mean AP over the classes with
            ground-truth tubes, or ``None``}), ``video_map_50_95`` (mean of ``video_map`` over
            0.5:0.05:0.95 when all ten thresholds are evaluated, else ``None``), ``per_class``
            ({threshold: K values, ``None`` for a class without ground truth}), ``num_gt``
            and ``num_detections`` (K ints), and the settings ``protocol``, ``matching``,
            ``method``, ``inclusive``.
        """
        result = self._result("video_map")
        video_map = result["video_map"]
        coco = [round(0.5 + 0.05 * i, 2) for i in range(10)]
        range_map = None
        if all(th in video_map for th in coco) and all(video_map[th] is not None for th in coco):
            range_map = float(np.mean([video_map[th] for th in coco]))
        return {"video_map": video_map, "video_map_50_95": range_map, **result}
