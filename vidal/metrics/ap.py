"""Average precision from ranked detections, and greedy matching of detections to ground truth.

Two protocols are in use in the papers vidal follows, and both are offered by name:

* ``"act"`` — the frame-AP / video-AP of ACT (Kalogeiton et al., "Action Tubelet Detector
  for Spatio-Temporal Action Localization", ICCV 2017), used by the action detection papers
  (Rana & Rawat, NeurIPS 2022 Sec. 4 and CVPR 2023 Sec. 4: "the frame-mAP reflects the
  average precision of detection at the frame level for each class"). Detections of a class
  are ranked by score; each is a true positive when its best IoU with a *not yet matched*
  ground truth reaches the threshold (``IoU >= threshold``), and that ground truth is then
  used up. The precision-recall curve starts at ``(recall 0, precision 1)`` and AP is the
  area under the raw (not interpolated) curve by the trapezoid rule.
* ``"voc"`` — PASCAL VOC (Everingham et al., IJCV 2010, Sec. 4.2: "the area of overlap
  ... must exceed 50%"; "multiple detections of the same object ... are counted as false
  positives"), used for ImageNet-VID in Zolfaghari Bengar (PhD thesis 2021, ch. 2: "AP
  averaged over all classes using a detection threshold of IoU > 0.5"). Each detection is
  compared with the ground truth it overlaps most; it is a true positive when that IoU
  exceeds the threshold (``IoU > threshold``) and that ground truth is not matched yet,
  otherwise a false positive (a duplicate). AP is the all-point interpolated area: the
  precision at each recall is replaced by the highest precision at any recall at or above
  it, and the resulting step function is integrated (VOC 2010 onwards). The 11-point
  variant of VOC 2007 is ``method="voc11"``.
"""

from __future__ import annotations

import numpy as np

from vidal.errors import VidalError
from vidal.metrics._checks import boxes_array, choice, vector
from vidal.metrics.boxes import box_iou

__all__ = ["AP_METHODS", "MATCHING", "precision_recall", "average_precision", "match_detections"]

#: Ways to turn a precision-recall curve into one number.
AP_METHODS = ("trapezoid", "voc", "voc11")
#: Ways to match ranked detections to ground truth.
MATCHING = ("act", "voc")


def precision_recall(scores: np.ndarray, is_tp: np.ndarray, num_gt: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each detection, detections ranked by decreasing score.

    Ties keep their input order (a stable sort), so results are reproducible.

    Args:
        scores (ndarray[N]): detection scores.
        is_tp (ndarray[N]): whether each detection is a true positive.
        num_gt: number of ground-truth instances (positives); must be >= 1.

    Returns:
        precision (ndarray[N]) and recall (ndarray[N]), float64, in ranking order.

    Example:
        >>> p, r = precision_recall(np.array([0.9, 0.8]), np.array([True, False]), 2)
        >>> p.tolist(), r.tolist()
        ([1.0, 0.5], [0.5, 0.5])
    """
    s = vector(scores, "scores", len(np.atleast_1d(scores)), np.float64)
    tp = vector(is_tp, "is_tp", len(s), bool)
    if num_gt < 1:
        raise VidalError(f"num_gt must be >= 1 for a precision-recall curve, got {num_gt}")
    order = np.argsort(-s, kind="stable")
    tp_cum = np.cumsum(tp[order])
    fp_cum = np.cumsum(~tp[order])
    return tp_cum / (tp_cum + fp_cum), tp_cum / float(num_gt)


def average_precision(
    scores: np.ndarray, is_tp: np.ndarray, num_gt: int, *, method: str = "trapezoid"
) -> float | None:
    """Area under the precision-recall curve of ranked detections.

    * ``"trapezoid"`` (ACT): the curve ``(0, 1), (r_1, p_1), ..., (r_N, p_N)`` integrated
      with the trapezoid rule, ``sum_i (r_i - r_{i-1}) (p_i + p_{i-1}) / 2``.
    * ``"voc"`` (VOC 2010+ all-point): with ``r_0 = 0`` and ``p_{N+1} = 0``, take the
      envelope ``q_i = max_{j >= i} p_j`` and sum ``(r_i - r_{i-1}) q_i``.
    * ``"voc11"`` (VOC 2007): the mean over ``t in {0, 0.1, ..., 1}`` of the highest
      precision at recall ``>= t`` (0 when recall never reaches ``t``).

    Args:
        scores (ndarray[N]): detection scores.
        is_tp (ndarray[N]): whether each detection is a true positive.
        num_gt: number of ground-truth instances.
        method: ``"trapezoid"``, ``"voc"`` or ``"voc11"``.

    Returns:
        AP in ``[0, 1]``; 0 when there are positives but no detections; ``None`` when
        ``num_gt == 0`` (AP is undefined: such a class is left out of any mean).

    Example:
        >>> average_precision(np.array([0.9, 0.8]), np.array([True, False]), 2)
        0.5
    """
    choice(method, "method", AP_METHODS)
    if num_gt < 0:
        raise VidalError(f"num_gt must be >= 0, got {num_gt}")
    if num_gt == 0:
        return None
    if len(np.atleast_1d(scores)) == 0:
        return 0.0
    precision, recall = precision_recall(scores, is_tp, num_gt)
    if method == "trapezoid":
        p = np.concatenate([[1.0], precision])
        r = np.concatenate([[0.0], recall])
        return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))
    if method == "voc":
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        r = np.concatenate([[0.0], recall])
        return float(np.sum(np.diff(r) * envelope))
    points = np.linspace(0.0, 1.0, 11)
    reached = recall[None, :] >= points[:, None] - 1e-12  # [11, N]
    best = np.where(reached, precision[None, :], 0.0).max(axis=1)
    return float(best.mean())


def match_detections(
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_boxes: np.ndarray,
    *,
    iou_threshold: float = 0.5,
    matching: str = "act",
    inclusive: bool = False,
) -> np.ndarray:
    """Greedy matching of one frame's detections of one class to its ground truth.

    Detections are visited by decreasing score (stable on ties); each ground truth is matched
    at most once. ``matching="act"``: a detection takes the unmatched ground truth it overlaps
    most if that IoU is ``>= iou_threshold``. ``matching="voc"``: a detection looks at the
    ground truth it overlaps most among all; it is a true positive if that IoU is
    ``> iou_threshold`` and the ground truth is still free, a duplicate (false positive)
    otherwise. Because matching never crosses frames, matching frame by frame and ranking
    all detections afterwards gives the same true positives as one global pass.

    Args:
        det_boxes (ndarray[N, 4]): detected boxes.
        det_scores (ndarray[N]): their scores.
        gt_boxes (ndarray[M, 4]): ground-truth boxes of the same class and frame.
        iou_threshold: overlap needed for a match.
        matching: ``"act"`` or ``"voc"`` (see the module docstring).
        inclusive: box areas with the ``+1`` pixel.

    Returns:
        ndarray[N] bool, in the input order: whether each detection is a true positive.

    Example:
        >>> gt = np.array([[0, 0, 10, 10]])
        >>> match_detections(np.array([[0, 0, 10, 10], [0, 0, 10, 9]]), np.array([0.5, 0.9]), gt).tolist()
        [False, True]
    """
    choice(matching, "matching", MATCHING)
    d = boxes_array(det_boxes, "det_boxes")
    s = vector(det_scores, "det_scores", len(d), np.float64)
    g = boxes_array(gt_boxes, "gt_boxes")
    is_tp = np.zeros(len(d), dtype=bool)
    if len(d) == 0 or len(g) == 0:
        return is_tp
    ious = box_iou(d, g, inclusive=inclusive)  # [N, M]
    taken = np.zeros(len(g), dtype=bool)
    for i in np.argsort(-s, kind="stable"):
        if matching == "act":
            row = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(row))
            if row[j] >= iou_threshold:
                is_tp[i] = taken[j] = True
        else:
            j = int(np.argmax(ious[i]))
            if ious[i, j] > iou_threshold and not taken[j]:
                is_tp[i] = taken[j] = True
        if taken.all():
            break
    return is_tp
