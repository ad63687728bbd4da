"""Per-frame acquisition scores from a frame detector's detections.

Zolfaghari Bengar (PhD thesis, 2021), ch. 2, ranks video frames for object-detection labels
by

- uncertainty (Sec. 2.5.2): *least confidence* and *entropy* of each detection's class
  distribution, averaged over the detections of the frame, and *margin* ``1 - (p1 - p2)``
  summed over them (following Brust et al.);
- errors (Sec. 2.3.1): the number of false positives or false negatives in the frame. The
  *oracle* counts them against the ground truth (an approximate upper bound); temporal
  coherence (Sec. 2.3.2) estimates them without ground truth (see ``tracking``).

Detections are given per frame as a mapping with ``boxes (ndarray[N, 4])``,
``labels (ndarray[N])``, ``scores (ndarray[N])`` and ``probs (ndarray[N, K + 1])`` (column 0
background), as :func:`vidal.train.detection.detect_frames` returns them (numpy arrays or CPU
tensors); ``None`` marks a frame that was not run through the detector. Only detections
scoring at least ``min_score`` count: 0.5 by default, the threshold the thesis applies to its
detections (Sec. 2.5.1).

:func:`detection_frame_scores` computes all of these for a set of videos, keyed as the
selectors of :mod:`vidal.select.detection` read them from ``FrameScores.extra``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from scipy.special import entr
from torchvision.ops import box_iou

from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.errors import VidalError

__all__ = [
    "UNCERTAINTY_AGGREGATION",
    "detection_least_confidence",
    "detection_entropy",
    "detection_margin",
    "frame_uncertainty",
    "frame_error_counts",
    "oracle_frame_errors",
    "detection_frame_scores",
]

Detections = Mapping[str, Any]
Uncertainty = Literal["least_confidence", "entropy", "margin"]

#: How each uncertainty measure turns per-detection values into a frame score (Sec. 2.5.2).
UNCERTAINTY_AGGREGATION: dict[str, str] = {
    "least_confidence": "mean",
    "entropy": "mean",
    "margin": "sum",
}


def _np(x: Any, dtype: type | None = None) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def _check_probs(probs: Any, *, include_background: bool) -> np.ndarray:
    p = _np(probs, np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise VidalError(f"probs must have shape [N, K + 1] with K >= 1, got {p.shape}")
    if not include_background:
        p = p[:, 1:]
        total = p.sum(axis=1, keepdims=True)
        p = np.divide(p, total, out=np.full_like(p, 1.0 / p.shape[1]), where=total > 0)
    return p


def detection_least_confidence(probs: Any, *, include_background: bool = True) -> np.ndarray:
    """``1 - max_c p_c`` of each detection's class distribution.

    Args:
        probs (ndarray[N, K + 1]): class probabilities, column 0 background.
        include_background: use the full ``K + 1`` distribution of the classifier; when
            False, the foreground ``K`` probabilities renormalised.

    Returns:
        float64 ``ndarray[N]``; higher is less confident.

    Example:
        >>> detection_least_confidence(np.array([[0.09, 0.9, 0.01], [0.4, 0.51, 0.09]])).round(2)
        array([0.1 , 0.49])
    """
    p = _check_probs(probs, include_background=include_background)
    return 1.0 - p.max(axis=1)


def detection_entropy(probs: Any, *, include_background: bool = True) -> np.ndarray:
    """Shannon entropy ``-sum_c p_c log p_c`` (nats) of each detection's class distribution.

    Args:
        probs (ndarray[N, K + 1]): class probabilities, column 0 background.
        include_background: as in :func:`detection_least_confidence`.

    Returns:
        float64 ``ndarray[N]``, between 0 and ``log`` of the number of classes used.

    Example:
        >>> detection_entropy(np.array([[0.0, 1.0], [0.5, 0.5]])).round(4)
        array([0.    , 0.6931])
    """
    p = _check_probs(probs, include_background=include_background)
    return entr(p).sum(axis=1)


def detection_margin(probs: Any, *, include_background: bool = True) -> np.ndarray:
    """``1 - (p1 - p2)`` with ``p1 >= p2`` the two largest class probabilities of each detection.

    Args:
        probs (ndarray[N, K + 1]): class probabilities, column 0 background.
        include_background: as in :func:`detection_least_confidence`.

    Returns:
        float64 ``ndarray[N]`` in ``[0, 1]``; higher is closer to the decision boundary.

    Example:
        >>> detection_margin(np.array([[0.1, 0.8, 0.1], [0.45, 0.5, 0.05]])).round(2)
        array([0.3 , 0.95])
    """
    p = _check_probs(probs, include_background=include_background)
    top2 = np.sort(p, axis=1)[:, -2:]  # [N, 2], ascending
    return 1.0 - (top2[:, 1] - top2[:, 0])


_METHODS: tuple[Uncertainty, ...] = ("least_confidence", "entropy", "margin")
_PER_DETECTION = {
    "least_confidence": detection_least_confidence,
    "entropy": detection_entropy,
    "margin": detection_margin,
}


def _kept(det: Detections, min_score: float) -> np.ndarray:
    scores = _np(det["scores"], np.float64).reshape(-1)
    return scores >= min_score


def frame_uncertainty(
    detections: Sequence[Detections | None],
    *,
    method: Uncertainty,
    min_score: float = 0.5,
    include_background: bool = True,
    empty: float = 0.0,
) -> np.ndarray:
    """One uncertainty score per frame from the detections of a video (thesis Sec. 2.5.2).

    Least confidence and entropy average the per-detection values over the frame's
    detections; margin sums them (:data:`UNCERTAINTY_AGGREGATION`).

    Args:
        detections: ``T`` per-frame detection mappings (``scores (ndarray[N])`` and
            ``probs (ndarray[N, K + 1])`` are used), ``None`` for frames not detected.
        method: ``"least_confidence"``, ``"entropy"`` or ``"margin"``.
        min_score: only detections with at least this score count.
        include_background: score the full ``K + 1`` class distribution (default) or the
            renormalised foreground one.
        empty: score of a frame without a counted detection (or not detected); the thesis
            does not say, 0 ranks such frames last.

    Returns:
        float64 ``ndarray[T]``; higher means "label me first".

    Example:
        >>> dets = [{"scores": np.array([0.99]), "probs": np.array([[0.01, 0.99]])},
        ...         {"scores": np.array([0.51]), "probs": np.array([[0.49, 0.51]])}, None]
        >>> frame_uncertainty(dets, method="least_confidence").round(2)
        array([0.01, 0.49, 0.  ])
    """
    if method not in _PER_DETECTION:
        raise VidalError(f"unknown uncertainty method {method!r}; known: {sorted(_PER_DETECTION)}")
    per_detection = _PER_DETECTION[method]
    reduce = np.mean if UNCERTAINTY_AGGREGATION[method] == "mean" else np.sum
    out = np.full(len(detections), float(empty), dtype=np.float64)
    for t, det in enumerate(detections):
        if det is None:
            continue
        keep = _kept(det, min_score)
        if not keep.any():
            continue
        values = per_detection(_np(det["probs"])[keep], include_background=include_background)
        out[t] = float(reduce(values))
    return out


def frame_error_counts(
    boxes: Any,
    labels: Any,
    scores: Any,
    gt_boxes: Any,
    gt_labels: Any,
    *,
    iou_thresh: float = 0.5,
    class_aware: bool = True,
) -> tuple[int, int]:
    """False positives and false negatives of one frame's detections against its ground truth.

    Thesis Sec. 2.3.1: a detection is correct when it overlaps a ground-truth box with IoU
    more than ``iou_thresh``; false positives are the detections that are not correct or
    that duplicate an already matched box, false negatives the ground-truth boxes left
    unmatched. Matching is PASCAL VOC's: detections in decreasing score order, each compared
    with the ground-truth box (of its class) it overlaps most.

    Args:
        boxes (ndarray[N, 4]): detected ``x1, y1, x2, y2`` boxes.
        labels (ndarray[N]): their classes (same indexing as ``gt_labels``).
        scores (ndarray[N]): their scores.
        gt_boxes (ndarray[G, 4]): ground-truth boxes.
        gt_labels (ndarray[G]): ground-truth classes.
        iou_thresh: IoU a match must exceed.
        class_aware: a detection matches only ground truth of its own class.

    Returns:
        ``(fp, fn)``.

    Example:
        >>> gt = np.array([[0, 0, 10, 10]], np.float32)
        >>> dets = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 60, 60]], np.float32)
        >>> frame_error_counts(dets, [0, 0, 0], [0.9, 0.8, 0.7], gt, [0])
        (2, 0)
    """
    boxes = _np(boxes, np.float32).reshape(-1, 4)
    labels = _np(labels, np.int64).reshape(-1)
    scores = _np(scores, np.float64).reshape(-1)
    gt_boxes = _np(gt_boxes, np.float32).reshape(-1, 4)
    gt_labels = _np(gt_labels, np.int64).reshape(-1)
    if not len(boxes) == len(labels) == len(scores):
        raise VidalError(
            f"boxes, labels and scores must have N rows, got {len(boxes)}, {len(labels)}, {len(scores)}"
        )
    if len(gt_boxes) != len(gt_labels):
        raise VidalError(f"gt_boxes has {len(gt_boxes)} rows but gt_labels {len(gt_labels)}")
    num_gt = len(gt_boxes)
    if len(boxes) == 0 or num_gt == 0:
        return len(boxes), num_gt
    iou = box_iou(torch.from_numpy(boxes), torch.from_numpy(gt_boxes)).numpy()  # [N, G]
    if class_aware:
        iou = np.where(labels[:, None] == gt_labels[None, :], iou, -1.0)
    matched = np.zeros(num_gt, dtype=bool)
    fp = 0
    for n in np.argsort(-scores, kind="stable"):
        g = int(np.argmax(iou[n]))
        if iou[n, g] > iou_thresh and not matched[g]:
            matched[g] = True
        else:
            fp += 1
    return fp, int(num_gt - matched.sum())


def oracle_frame_errors(
    detections: Sequence[Detections | None],
    annotation: VideoAnnotation,
    *,
    min_score: float = 0.5,
    iou_thresh: float = 0.5,
    class_aware: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth false positives and false negatives of every frame of a video.

    The oracle acquisition of thesis Sec. 2.3.1 ranks frames by these counts; it needs the
    labels it is meant to save, so it only serves as an (approximate) upper bound.

    Args:
        detections: ``T`` per-frame detection mappings (``boxes``, ``labels`` in the
            dataset's class indexing, ``scores``), ``None`` for frames not detected
            (counted 0 and 0).
        annotation: the video's ground truth, with ``T`` frames.
        min_score: only detections with at least this score count.
        iou_thresh: IoU a correct detection must exceed.
        class_aware: a detection matches only ground truth of its own class.

    Returns:
        ``(fp, fn)``, two int64 ``ndarray[T]``.
    """
    if len(detections) != annotation.num_frames:
        raise VidalError(
            f"{annotation.video_id}: {len(detections)} frames of detections for a video of "
            f"{annotation.num_frames} frames"
        )
    fp = np.zeros(annotation.num_frames, dtype=np.int64)
    fn = np.zeros(annotation.num_frames, dtype=np.int64)
    for t, det in enumerate(detections):
        if det is None:
            continue
        keep = _kept(det, min_score)
        gt = annotation.frame(t)
        fp[t], fn[t] = frame_error_counts(
            _np(det["boxes"]).reshape(-1, 4)[keep],
            _np(det["labels"]).reshape(-1)[keep],
            _np(det["scores"]).reshape(-1)[keep],
            gt.boxes,
            gt.labels,
            iou_thresh=iou_thresh,
            class_aware=class_aware,
        )
    return fp, fn


def detection_frame_scores(
    detections: Mapping[str, Sequence[Detections | None]],
    *,
    dataset: VideoDataset | None = None,
    min_score: float = 0.5,
    include_background: bool = True,
    iou_thresh: float = 0.5,
) -> dict[str, dict[str, np.ndarray]]:
    """Every detection score of every frame, ready for ``FrameScores.extra``.

    Args:
        detections: video id -> its ``T`` per-frame detections (``None`` where not run).
        dataset: the ground truth; when given, the oracle counts are added.
        min_score: only detections with at least this score count.
        include_background: see :func:`frame_uncertainty`.
        iou_thresh: see :func:`oracle_frame_errors`.

    Returns:
        name -> video id -> float64 ``ndarray[T]``, with names ``"least_confidence"``,
        ``"entropy"``, ``"margin"`` and, with ``dataset``, ``"gt_fp"`` and ``"gt_fn"``.
        The temporal-coherence estimates ``"fp"`` and ``"fn"`` come from ``tracking``.

    Example:
        >>> dets = {"v": [{"scores": np.array([0.6]), "probs": np.array([[0.4, 0.6]])}, None]}
        >>> extra = detection_frame_scores(dets)
        >>> sorted(extra), extra["margin"]["v"].round(2).tolist()
        (['entropy', 'least_confidence', 'margin'], [0.8, 0.0])
    """
    extra: dict[str, dict[str, np.ndarray]] = {name: {} for name in _METHODS}
    if dataset is not None:
        extra["gt_fp"], extra["gt_fn"] = {}, {}
    for vid, dets in detections.items():
        for name in _METHODS:
            extra[name][vid] = frame_uncertainty(
                dets, method=name, min_score=min_score, include_background=include_background
            )
        if dataset is not None:
            fp, fn = oracle_frame_errors(
                dets, dataset[vid], min_score=min_score, iou_thresh=iou_thresh
            )
            extra["gt_fp"][vid] = fp.astype(np.float64)
            extra["gt_fn"][vid] = fn.astype(np.float64)
    return extra
