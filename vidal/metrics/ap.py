"""Average precision from ranked detections, and greedy matching of detections to ground truth.

Two matching rules and AP integrals are in use in the papers vidal follows; both are offered
by name here, and :mod:`vidal.metrics.protocols` bundles them (with the box-area convention
and the tube settings) into the named protocols of published tables:

* ``"act"`` — the frame-AP / video-AP of ACT (Kalogeiton et al., "Action Tubelet Detector
  for Spatio-Temporal Action Localization", ICCV 2017), used by the action detection papers
  (Rana & Rawat, NeurIPS 2022 Sec. 4 and CVPR 2023 Sec. 4: "The frame-mAP reflects the
  average precision of detection at the frame level for each class"). Detections of a class
  are ranked by score; each is a true positive when its best IoU with a *not yet matched*
  ground truth reaches the threshold (``IoU >= threshold``), and that ground truth is then
  used up. The precision-recall curve starts at ``(recall 0, precision 1)`` and AP is the
  area under the raw (not interpolated) curve by the trapezoid rule.
* ``"voc"`` — PASCAL VOC (Everingham et al., IJCV 2010: a detection is correct when its
  overlap with a ground-truth box exceeds 50%; further detections of an already detected
  object are false positives), used for ImageNet-VID in Zolfaghari Bengar (PhD thesis 2021,
  ch. 2: "We use AP averaged over all classes using a detection threshold of IoU > 0.5").
  Each detection is compared with the ground truth it overlaps most; it is a true positive
  when that IoU exceeds the threshold (``IoU > threshold``) and that ground truth is not
  matched yet, otherwise a false positive (a duplicate). AP is the all-point interpolated area: the
  precision at each recall is replaced by the highest precision at any recall at or above
  it, and the resulting step function is integrated (VOC 2010 onwards). The 11-point
  variant of VOC 2007 is ``method="voc11"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidal.errors import VidalError
from vidal.metrics._checks import boxes_array, choice, vector
from vidal.metrics.boxes import _iou, box_iou

__all__ = [
    "AP_METHODS",
    "MATCHING",
    "precision_recall",
    "average_precision",
    "match_detections",
    "match_ious",
]

#: Ways to turn a precision-recall curve into one number.
AP_METHODS = ("trapezoid", "voc", "voc11")
#: Ways to match ranked detections to ground truth.
MATCHING = ("act", "voc")


def precision_recall(
    scores: np.ndarray, is_tp: np.ndarray, num_gt: int
) -> tuple[np.ndarray, np.ndarray]:
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
    if len(d) == 0 or len(g) == 0:
        return np.zeros(len(d), dtype=bool)
    ious = box_iou(d, g, inclusive=inclusive)  # [N, M]
    return match_ious(ious, s, iou_threshold=iou_threshold, matching=matching)


def match_ious(
    ious: np.ndarray, scores: np.ndarray, *, iou_threshold: float = 0.5, matching: str = "act"
) -> np.ndarray:
    """The greedy matching of :func:`match_detections` on precomputed overlaps.

    Used for boxes and for tubes alike (video-AP matches tubes by :func:`tube_iou`).

    Args:
        ious (ndarray[N, M]): overlap of each detection with each ground truth.
        scores (ndarray[N]): detection scores, visited in decreasing order (stable).
        iou_threshold: overlap needed for a match.
        matching: ``"act"`` (``>=``, best unmatched ground truth) or ``"voc"`` (``>``, best
            ground truth overall, duplicates are false positives).

    Returns:
        ndarray[N] bool in the input order: whether each detection is a true positive.
    """
    choice(matching, "matching", MATCHING)
    ious = np.asarray(ious, dtype=np.float64)
    n = len(np.atleast_1d(scores))
    if ious.ndim != 2 or ious.shape[0] != n:
        raise VidalError(
            f"ious must have shape [N, M] with N = len(scores) = {n}, got {ious.shape}"
        )
    s = vector(scores, "scores", n, np.float64)
    return _greedy_match(ious, s, float(iou_threshold), matching)


def _greedy_match(
    ious: np.ndarray, scores: np.ndarray, threshold: float, matching: str
) -> np.ndarray:
    """:func:`match_ious` without argument checks (internal fast path).

    Args:
        ious (ndarray[N, M]): float overlaps.
        scores (ndarray[N]): float scores.
        threshold: overlap needed for a match.
        matching: ``"act"`` or ``"voc"``.

    Returns:
        ndarray[N] bool true-positive flags in the input order.
    """
    n, m = ious.shape
    is_tp = np.zeros(n, dtype=bool)
    if n == 0 or m == 0:
        return is_tp
    if n == 1:  # one detection: its best ground truth decides
        best = ious[0].max()
        is_tp[0] = best >= threshold if matching == "act" else best > threshold
        return is_tp
    taken = np.zeros(m, dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        if matching == "act":
            row = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(row))
            if row[j] >= threshold:
                is_tp[i] = taken[j] = True
        else:
            j = int(np.argmax(ious[i]))
            if ious[i, j] > threshold and not taken[j]:
                is_tp[i] = taken[j] = True
        if taken.all():
            break
    return is_tp


def _match_grouped(
    det_keys: np.ndarray,
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    gt_keys: np.ndarray,
    gt_boxes: np.ndarray,
    thresholds: Sequence[float],
    *,
    matching: str,
    inclusive: bool,
) -> np.ndarray:
    """Greedy matching within groups (e.g. one group per frame and class), all thresholds at once.

    A detection can only match ground truth with the same key; detections whose key has no
    ground truth are false positives without any overlap computed. Arguments are trusted
    (checked by the public callers).

    Args:
        det_keys (ndarray[N]): int64 group of each detection.
        det_boxes (ndarray[N, 4]): detected boxes.
        det_scores (ndarray[N]): their scores.
        gt_keys (ndarray[M]): int64 group of each ground truth.
        gt_boxes (ndarray[M, 4]): ground-truth boxes.
        thresholds: the IoU thresholds, one matching each.
        matching: ``"act"`` or ``"voc"``.
        inclusive: box areas with the ``+1`` pixel.

    Returns:
        ndarray[len(thresholds), N] bool true-positive flags.
    """
    tp = np.zeros((len(thresholds), len(det_keys)), dtype=bool)
    shared = np.flatnonzero(np.isin(det_keys, gt_keys))
    if len(shared) == 0:
        return tp
    d_order = shared[np.argsort(det_keys[shared], kind="stable")]  # detections grouped by key
    g_order = np.argsort(gt_keys, kind="stable")
    d_uniq, d_start, d_count = np.unique(det_keys[d_order], return_index=True, return_counts=True)
    g_uniq, g_start, g_count = np.unique(gt_keys[g_order], return_index=True, return_counts=True)
    g_pos = np.searchsorted(g_uniq, d_uniq)
    # every (detection, ground truth) pair of a group, detection-major: one vectorised IoU
    m_of_group = g_count[g_pos]  # [G]
    m_of_det = np.repeat(m_of_group, d_count)  # [D]
    pair_start = np.cumsum(m_of_det) - m_of_det
    offsets = np.arange(m_of_det.sum()) - np.repeat(pair_start, m_of_det)
    pair_det = np.repeat(d_order, m_of_det)
    pair_gt = g_order[np.repeat(np.repeat(g_start[g_pos], d_count), m_of_det) + offsets]
    ious = _iou(det_boxes[pair_det], gt_boxes[pair_gt], inclusive)
    best = np.maximum.reduceat(ious, pair_start)  # [D] best overlap of each detection
    th = np.asarray(thresholds, dtype=np.float64)[:, None]
    single = np.repeat(d_count == 1, d_count)  # a lone detection: its best overlap decides
    ok = best[None, :] >= th if matching == "act" else best[None, :] > th
    tp[:, d_order[single]] = ok[:, single]
    for gi in np.flatnonzero(d_count > 1):
        rows = slice(d_start[gi], d_start[gi] + d_count[gi])
        d = d_order[rows]
        first = pair_start[d_start[gi]]
        block = ious[first : first + d_count[gi] * m_of_group[gi]].reshape(
            d_count[gi], m_of_group[gi]
        )
        for k, t in enumerate(thresholds):
            tp[k, d] = _greedy_match(block, det_scores[d], t, matching)
    return tp
