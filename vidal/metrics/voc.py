"""VOC average precision for per-frame object detection (ImageNet-VID, SYNTHIA-AL).

The protocol of Zolfaghari Bengar (PhD thesis 2021, ch. 2, "Evaluation"): "Detections are
processed using Non-Maxima Suppression and thresholded by score, rejecting all detections
below 0.5. We use AP averaged over all classes using a detection threshold of IoU > 0.5."
Each frame is an image; AP is computed per class over all frames (PASCAL VOC, Everingham et
al. 2010) and averaged over the classes that have ground truth (ImageNet-VID style mAP).
Matching and the AP integral are described in :mod:`vidal.metrics.ap`; the protocols
``"voc10"`` (all-point AP, the default) and ``"voc07"`` (11-point AP) in
:mod:`vidal.metrics.protocols`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torchvision

from vidal.errors import VidalError
from vidal.metrics._checks import boxes_array, labels_in_range, to_numpy, vector
from vidal.metrics._ranked import RankedAPAccumulator
from vidal.metrics.protocols import Protocol

__all__ = ["DetectionAPAccumulator", "postprocess_detections", "voc_ap"]


class DetectionAPAccumulator(RankedAPAccumulator):
    """Per-class AP of frame-level detections, fed one frame (image) at a time.

    The default protocol is ``"voc10"`` (VOC matching, ``IoU > 0.5``, all-point AP,
    continuous box areas); ``protocol="voc07"`` gives the 11-point AP and ``"act"`` ACT's
    frame-AP rules (see :mod:`vidal.metrics.protocols`). Only true/false positive flags and
    scores are kept, so memory grows with the number of detections, not of frames.

    Args:
        num_classes: K; labels are ``0 .. K - 1``. With torchvision detectors, whose label 0
            is the background, pass ``K + 1``: class 0 never has ground truth and is left
            out of the mean.
        iou_threshold: overlap for a match.
        protocol: a name in :data:`vidal.metrics.PROTOCOLS` or a :class:`Protocol`; default
            ``"voc10"``.
        matching: ``"voc"`` or ``"act"``; overrides the protocol's.
        method: ``"voc"`` (all-point), ``"voc11"`` or ``"trapezoid"``; overrides the protocol's.
        inclusive: box areas with the ``+1`` pixel of the VOC devkit; overrides the protocol's.

    Example:
        >>> acc = DetectionAPAccumulator(2)
        >>> acc.update(np.array([[0, 0, 10, 10]]), np.array([1]), np.array([0.9]),
        ...            np.array([[0, 0, 10, 10]]), np.array([1]))
        >>> acc.compute()["map"]
        1.0
    """

    default_protocol = "voc10"

    def __init__(
        self,
        num_classes: int,
        *,
        iou_threshold: float = 0.5,
        protocol: str | Protocol | None = None,
        matching: str | None = None,
        method: str | None = None,
        inclusive: bool | None = None,
    ) -> None:
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise VidalError(f"iou_threshold must lie in [0, 1], got {iou_threshold!r}")
        self.iou_threshold = float(iou_threshold)
        super().__init__(
            num_classes,
            iou_thresholds=(self.iou_threshold,),
            protocol=protocol,
            matching=matching,
            method=method,
            inclusive=inclusive,
        )

    def update(
        self,
        pred_boxes: Any,
        pred_labels: Any,
        pred_scores: Any,
        gt_boxes: Any,
        gt_labels: Any,
    ) -> None:
        """Add one frame.

        Args:
            pred_boxes (ndarray[N, 4]): detected ``x1, y1, x2, y2`` boxes (numpy or torch).
            pred_labels (ndarray[N]): their class indices.
            pred_scores (ndarray[N]): their scores.
            gt_boxes (ndarray[M, 4]): ground-truth boxes of the frame.
            gt_labels (ndarray[M]): their class indices.
        """
        pb = boxes_array(pred_boxes, "pred_boxes")
        pl = vector(pred_labels, "pred_labels", len(pb), np.int64)
        ps = vector(pred_scores, "pred_scores", len(pb), np.float64)
        gb = boxes_array(gt_boxes, "gt_boxes")
        gl = vector(gt_labels, "gt_labels", len(gb), np.int64)
        labels_in_range(pl, self.num_classes, "pred_labels")
        labels_in_range(gl, self.num_classes, "gt_labels")
        self._add_boxes(  # one group per class
            keys=pl, labels=pl, scores=ps, boxes=pb, gt_keys=gl, gt_labels=gl, gt_boxes=gb
        )

    def compute(self) -> dict[str, Any]:
        """The AP of each class and their mean.

        Returns:
            A JSON-able dict: ``map`` (mean AP over the classes with ground truth, ``None``
            when no class has any), ``per_class`` (K values, ``None`` for a class without
            ground truth: its AP is undefined and it is excluded from the mean, even if it
            has detections), ``num_gt`` and ``num_detections`` (K ints each), and the
            settings ``iou_threshold``, ``protocol``, ``matching``, ``method``, ``inclusive``.
        """
        result = self._result("map")
        result["map"] = result["map"][self.iou_threshold]
        result["per_class"] = result["per_class"][self.iou_threshold]
        return {**result, "iou_threshold": self.iou_threshold}


def postprocess_detections(
    boxes: Any,
    labels: Any,
    scores: Any,
    *,
    nms_iou: float | None = 0.5,
    score_threshold: float | None = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class non-maximum suppression, then a score threshold (thesis ch. 2, "Evaluation").

    NMS runs per class with ``torchvision.ops.batched_nms`` (a box is suppressed when it
    overlaps a higher-scoring box of its class by IoU ``> nms_iou``); then detections
    with ``score < score_threshold`` are dropped. The thesis does not state its NMS overlap;
    0.5 is torchvision's Faster R-CNN default.

    Args:
        boxes (ndarray[N, 4]): detected boxes (numpy or torch).
        labels (ndarray[N]): their class indices.
        scores (ndarray[N]): their scores.
        nms_iou: NMS overlap threshold; ``None`` skips NMS.
        score_threshold: minimum score kept; ``None`` keeps all.

    Returns:
        boxes (ndarray[N', 4]) float32, labels (ndarray[N']) int64, scores (ndarray[N'])
        float32, by decreasing score.
    """
    b = boxes_array(boxes, "boxes")
    lab = vector(labels, "labels", len(b), np.int64)
    s = vector(scores, "scores", len(b), np.float64)
    keep = np.argsort(-s, kind="stable")
    if nms_iou is not None and len(b):
        kept = torchvision.ops.batched_nms(
            torch.from_numpy(b), torch.from_numpy(s), torch.from_numpy(lab), float(nms_iou)
        )
        keep = kept.numpy()
    if score_threshold is not None:
        keep = keep[s[keep] >= score_threshold]
    return b[keep].astype(np.float32), lab[keep], s[keep].astype(np.float32)


def voc_ap(
    predictions: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]],
    *,
    num_classes: int,
    iou_threshold: float = 0.5,
    nms_iou: float | None = 0.5,
    score_threshold: float | None = 0.5,
    protocol: str | Protocol = "voc10",
    method: str | None = None,
    inclusive: bool | None = None,
) -> dict[str, Any]:
    """Detection mAP over frames under a named protocol, the thesis' NMS and score threshold first.

    Args:
        predictions: one mapping per frame with ``boxes (Tensor[N, 4])``, ``labels
            (Tensor[N])``, ``scores (Tensor[N])`` — the output format of torchvision
            detectors; numpy arrays work too.
        targets: one mapping per frame with ``boxes (Tensor[M, 4])`` and ``labels (Tensor[M])``.
        num_classes: K (see :class:`DetectionAPAccumulator` for torchvision's background 0).
        iou_threshold: overlap for a match (``IoU > iou_threshold`` under VOC matching).
        nms_iou: see :func:`postprocess_detections`; ``None`` skips NMS.
        score_threshold: see :func:`postprocess_detections`; ``None`` keeps all.
        protocol: ``"voc10"`` (all-point AP, default), ``"voc07"`` (11-point), or any name in
            :data:`vidal.metrics.PROTOCOLS`.
        method: ``"voc"`` (all-point), ``"voc11"`` or ``"trapezoid"``; overrides the protocol's.
        inclusive: box areas with the ``+1`` pixel; overrides the protocol's.

    Returns:
        The dict of :meth:`DetectionAPAccumulator.compute`.

    Example:
        >>> pred = [{"boxes": np.array([[0, 0, 10, 10]]), "labels": np.array([1]), "scores": np.array([0.9])}]
        >>> voc_ap(pred, [{"boxes": np.array([[1, 0, 10, 10]]), "labels": np.array([1])}], num_classes=2)["map"]
        1.0
    """
    if len(predictions) != len(targets):
        raise VidalError(
            f"predictions and targets must list the same frames, got {len(predictions)} and {len(targets)}"
        )
    acc = DetectionAPAccumulator(
        num_classes,
        iou_threshold=iou_threshold,
        protocol=protocol,
        method=method,
        inclusive=inclusive,
    )
    for i, (pred, target) in enumerate(zip(predictions, targets, strict=True)):
        _check_keys(pred, ("boxes", "labels", "scores"), f"predictions[{i}]")
        _check_keys(target, ("boxes", "labels"), f"targets[{i}]")
        boxes, labels, scores = postprocess_detections(
            pred["boxes"],
            pred["labels"],
            pred["scores"],
            nms_iou=nms_iou,
            score_threshold=score_threshold,
        )
        acc.update(boxes, labels, scores, to_numpy(target["boxes"]), to_numpy(target["labels"]))
    return acc.compute()


def _check_keys(mapping: Mapping[str, Any], keys: Sequence[str], name: str) -> None:
    for key in keys:
        if key not in mapping:
            raise VidalError(f"{name} has no {key!r} (keys: {sorted(mapping)})")
