"""Frame-AP (f-mAP) of spatio-temporal action detection, as ACT defines it.

In ACT (Kalogeiton et al., "Action Tubelet Detector for Spatio-Temporal Action
Localization", ICCV 2017) frame-AP is the area under the precision-recall curve of all
per-frame detections of a class, a detection being correct when its box overlaps a
ground-truth box of that frame by IoU 0.5 or more and its label is right. Rana & Rawat
(CVPR 2023, Sec. 4) use it: "The frame-mAP reflects the average precision of detection at
the frame level for each class, which is then averaged to obtain the f-mAP".
Conventions chosen here (see :mod:`vidal.metrics.ap`):

* every detection of a class, over all frames of all videos, is ranked by score;
* ground truth are the boxes of every tube of that class on every frame it covers; a
  detection on a frame without ground truth of its class is a false positive;
* matching is ACT's (best unmatched ground truth, ``IoU >= threshold``) and AP is the
  trapezoid area of the raw curve started at ``(recall 0, precision 1)``; box areas are
  continuous by default (protocol ``"vidal"``) and ACT's inclusive ``+1`` pixel with
  ``protocol="act"`` (:mod:`vidal.metrics.protocols`);
* classes without ground truth are left out of the mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidal.data.annotations import VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics._checks import boxes_array, labels_in_range, positive_int, to_numpy, vector
from vidal.metrics._ranked import RankedAPAccumulator
from vidal.metrics.boxes import boxes_from_map

__all__ = ["Detections", "detections_from_maps", "ground_truth_detections", "FrameAPAccumulator"]


@dataclass
class Detections:
    """The frame-level detections of one video, one row per box.

    Args:
        frames (ndarray[N]): 0-based frame index of each detection.
        labels (ndarray[N]): class index.
        scores (ndarray[N]): confidence.
        boxes (ndarray[N, 4]): ``x1, y1, x2, y2`` pixels in the annotation's frame size.
    """

    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    def __post_init__(self) -> None:
        self.boxes = boxes_array(self.boxes, "boxes").astype(np.float32)
        n = len(self.boxes)
        self.frames = vector(self.frames, "frames", n, np.int64)
        self.labels = vector(self.labels, "labels", n, np.int64)
        self.scores = vector(self.scores, "scores", n, np.float64)
        if n and self.frames.min() < 0:
            raise VidalError(f"frames must be >= 0, got {self.frames.min()}")

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, keep: np.ndarray) -> Detections:
        """The rows picked by a boolean mask ``[N]`` or an index array."""
        return Detections(self.frames[keep], self.labels[keep], self.scores[keep], self.boxes[keep])

    @staticmethod
    def concatenate(parts: Sequence[Detections]) -> Detections:
        """One table of the rows of all ``parts``, in order."""
        if not parts:
            return Detections()
        return Detections(
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.boxes for p in parts]),
        )


def ground_truth_detections(video: VideoAnnotation, *, score: float = 1.0) -> Detections:
    """The ground-truth boxes of a video as detections (every tube, every frame it covers).

    Useful to check an evaluation end to end: scored against itself it gives AP 1.

    Args:
        video: the annotated video.
        score: the score given to every box.

    Returns:
        :class:`Detections` with one row per ground-truth box.
    """
    if not video.tubes:
        return Detections()
    return Detections(
        np.concatenate([tb.frames for tb in video.tubes]),
        np.concatenate([np.full(len(tb.boxes), tb.label) for tb in video.tubes]),
        np.full(sum(len(tb.boxes) for tb in video.tubes), float(score)),
        np.concatenate([tb.boxes for tb in video.tubes]),
    )


def detections_from_maps(
    prob_maps: Any,
    *,
    class_scores: Any = None,
    label: int | None = None,
    frames: Any = None,
    top_k_classes: int | None = None,
    threshold: float = 0.5,
    min_area: int = 1,
    score: str = "mean",
    image_size: tuple[int, int] | None = None,
) -> Detections:
    """Frame detections from a video's foreground maps (for capsule-style detectors).

    Each frame's map goes through :func:`boxes_from_map`. With ``label``, every box is a
    detection of that class with the box score. With ``class_scores``, every box becomes one
    detection per class (or per each of the ``top_k_classes`` best classes) with score
    ``box score x class score`` — ranking all classes lets the AP see the classifier's
    second guesses, as multi-class frame-AP evaluations do.

    Args:
        prob_maps (ndarray[T, H, W]): foreground probabilities (or booleans) per frame.
        class_scores (ndarray[K] | ndarray[T, K]): class probabilities for the video or
            for each frame.
        label: a single class for all boxes (instead of ``class_scores``).
        frames (ndarray[T]): the video frame index of each map; default ``0 .. T - 1``.
        top_k_classes: keep only this many highest-scoring classes per frame.
        threshold, min_area, score, image_size: as in :func:`boxes_from_map`.

    Returns:
        :class:`Detections`.
    """
    maps = to_numpy(prob_maps)
    if maps.ndim != 3:
        raise VidalError(f"prob_maps must have shape [T, H, W], got {maps.shape}")
    t = len(maps)
    frame_idx = np.arange(t) if frames is None else vector(frames, "frames", t, np.int64)
    if (class_scores is None) == (label is None):
        raise VidalError("pass exactly one of class_scores (ndarray[K] or [T, K]) and label (int)")
    if class_scores is not None:
        cs = to_numpy(class_scores).astype(np.float64)
        if cs.ndim == 1:
            cs = np.broadcast_to(cs, (t, len(cs)))
        if cs.ndim != 2 or len(cs) != t:
            raise VidalError(
                f"class_scores must have shape [K] or [T, K] with T = {t}, got {to_numpy(class_scores).shape}"
            )
        k = cs.shape[1]
        top = k if top_k_classes is None else min(positive_int(top_k_classes, "top_k_classes"), k)
        classes = np.argsort(-cs, axis=1, kind="stable")[:, :top]  # [T, top]
    parts = []
    for i in range(t):
        boxes, s = boxes_from_map(
            maps[i], threshold=threshold, min_area=min_area, score=score, image_size=image_size
        )
        n = len(boxes)
        if n == 0:
            continue
        if label is not None:
            parts.append(Detections(np.full(n, frame_idx[i]), np.full(n, label), s, boxes))
            continue
        cls = classes[i]
        parts.append(
            Detections(
                np.full(n * len(cls), frame_idx[i]),
                np.tile(cls, n),
                (
                    s[:, None].astype(np.float64) * cs[i, cls][None, :]
                ).ravel(),  # [n, top] -> [n * top]
                np.repeat(boxes, len(cls), axis=0),
            )
        )
    return Detections.concatenate(parts)


class FrameAPAccumulator(RankedAPAccumulator):
    """Frame-AP per class and frame-mAP, fed one video at a time.

    Args:
        num_classes: K; labels are ``0 .. K - 1``.
        iou_thresholds: the overlaps to report (f-mAP@0.5 by default).
        protocol: a name in :data:`vidal.metrics.PROTOCOLS` or a :class:`Protocol`:
            ``"vidal"`` (default: ACT matching and AP, continuous box areas) or ``"act"``
            (ACT's inclusive areas too).
        matching: ``"act"`` or ``"voc"``; overrides the protocol's.
        method: ``"trapezoid"`` (ACT), ``"voc"`` (all-point) or ``"voc11"``; overrides the
            protocol's.
        inclusive: box areas with ACT's ``+1`` pixel; overrides the protocol's.

    Example:
        >>> from vidal.data.annotations import Tube, VideoAnnotation
        >>> video = VideoAnnotation("v", 3, 32, 24, label=0, tubes=[Tube(0, 0, 0, np.tile([2, 2, 9, 9], (3, 1)))])
        >>> acc = FrameAPAccumulator(1)
        >>> acc.update(video, ground_truth_detections(video))
        >>> acc.compute()["frame_map"]
        {0.5: 1.0}
    """

    default_thresholds = (0.5,)
    default_protocol = "vidal"

    def update(self, video: VideoAnnotation, detections: Detections, *, frames: Any = None) -> None:
        """Add one video.

        Args:
            video: its ground truth (tube boxes in the video's ``width x height`` pixels).
            detections: its frame detections, in the same pixels.
            frames (ndarray[F]): when given, only these frames are evaluated (e.g. a model
                run on every 8th frame): ground truth elsewhere is ignored, and a detection
                elsewhere is an error. By default every frame of the video counts.
        """
        if not isinstance(detections, Detections):
            raise VidalError(
                f"detections must be a Detections table, got {type(detections).__name__}"
            )
        labels_in_range(detections.labels, self.num_classes, "detections.labels")
        if len(detections) and detections.frames.max() >= video.num_frames:
            raise VidalError(
                f"{video.video_id}: a detection on frame {detections.frames.max()}, "
                f"but the video has {video.num_frames} frames"
            )
        gt = ground_truth_detections(video)
        labels_in_range(gt.labels, self.num_classes, f"{video.video_id}: tube labels")
        if frames is not None:
            gt = gt.select(np.isin(gt.frames, _evaluated_frames(video, detections, frames)))
        k = self.num_classes
        self._add_boxes(  # one group per (frame, class)
            keys=detections.frames * k + detections.labels,
            labels=detections.labels,
            scores=detections.scores,
            boxes=detections.boxes.astype(np.float64),
            gt_keys=gt.frames * k + gt.labels,
            gt_labels=gt.labels,
            gt_boxes=gt.boxes.astype(np.float64),
        )

    def compute(self) -> dict[str, Any]:
        """Frame-mAP and per-class frame-AP at each threshold.

        Returns:
            A JSON-able dict: ``frame_map`` ({threshold: mean AP over the classes with ground
            truth, or ``None``}), ``per_class`` ({threshold: K values, ``None`` for a class
            without ground truth}), ``num_gt`` and ``num_detections`` (K ints), and the
            settings ``protocol``, ``matching``, ``method``, ``inclusive``.
        """
        return self._result("frame_map")


def _evaluated_frames(video: VideoAnnotation, detections: Detections, frames: Any) -> np.ndarray:
    """The distinct ``frames [F]`` asked for; raise when a detection lies on another frame."""
    wanted = np.unique(vector(frames, "frames", len(np.atleast_1d(frames)), np.int64))
    outside = ~np.isin(detections.frames, wanted)
    if outside.any():
        raise VidalError(
            f"{video.video_id}: detections on frames "
            f"{np.unique(detections.frames[outside])[:5].tolist()} not listed in frames"
        )
    return wanted
