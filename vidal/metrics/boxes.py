"""Box and tube overlap, and boxes read off a localization map.

Boxes are ``x1, y1, x2, y2`` pixels (DESIGN.md). Two area conventions exist in the
literature and both are offered:

* continuous (default): ``area = (x2 - x1) * (y2 - y1)``, as ``torchvision.ops.box_area``;
* inclusive (``inclusive=True``): ``area = (x2 - x1 + 1) * (y2 - y1 + 1)``, the PASCAL VOC
  devkit and ACT (Kalogeiton et al., ICCV 2017) convention, where ``x2`` is the last pixel
  column rather than the right edge.

One formula serves every box overlap in :mod:`vidal.metrics` (``_iou`` below: pairs, rows,
tubes, linking). Elsewhere: vidal code that holds tensors uses ``torchvision.ops.box_iou``
(which has no inclusive areas and gives NaN for an empty union, so it is not used here on
numpy inputs); :mod:`tracking` keeps its own float32 helper (``tracking/_boxes.py``), because
``tracking`` must not import ``vidal`` and does not depend on torch.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
from scipy import ndimage

from vidal.errors import VidalError
from vidal.metrics._checks import boxes_array, choice, to_numpy

__all__ = ["TubeLike", "box_area", "box_iou", "paired_box_iou", "tube_iou", "boxes_from_map"]


class TubeLike(Protocol):
    """Anything with sorted frame indices and one box per frame.

    :class:`vidal.data.annotations.Tube` and :class:`vidal.metrics.DetectedTube` both are.

    Attributes:
        frames (ndarray[L]): strictly increasing 0-based frame indices.
        boxes (ndarray[L, 4]): the box at each of those frames.
    """

    @property
    def frames(self) -> np.ndarray: ...

    @property
    def boxes(self) -> np.ndarray: ...


def box_area(boxes: np.ndarray, *, inclusive: bool = False) -> np.ndarray:
    """Area of each box.

    Args:
        boxes (ndarray[N, 4]): ``x1, y1, x2, y2`` boxes.
        inclusive: add one pixel to width and height (VOC / ACT convention).

    Returns:
        ndarray[N] float64 areas; degenerate boxes have area 0.

    Example:
        >>> box_area(np.array([[0, 0, 2, 3]])).tolist()
        [6.0]
    """
    return _area(boxes_array(boxes, "boxes"), inclusive)


def _area(b: np.ndarray, inclusive: bool) -> np.ndarray:
    """Areas of float boxes ``b [..., 4]``, a pixel added to each side when ``inclusive``."""
    return _extent(b[..., 0], b[..., 2], inclusive) * _extent(b[..., 1], b[..., 3], inclusive)


def _extent(lo: np.ndarray, hi: np.ndarray, inclusive: bool) -> np.ndarray:
    """``hi - lo`` (``+ 1`` when ``inclusive``), 0 where negative."""
    d = hi - lo
    return np.maximum(d + 1.0 if inclusive else d, 0.0)


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray, *, inclusive: bool = False) -> np.ndarray:
    """Intersection over union of every pair of boxes (numpy twin of ``torchvision.ops.box_iou``).

    Args:
        boxes1 (ndarray[N, 4]): ``x1, y1, x2, y2`` boxes.
        boxes2 (ndarray[M, 4]): ``x1, y1, x2, y2`` boxes.
        inclusive: areas with the ``+1`` pixel of the VOC devkit and ACT.

    Returns:
        ndarray[N, M] float64 IoU in ``[0, 1]``; a pair whose union is empty scores 0.

    Example:
        >>> box_iou(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [5, 5, 6, 6]])).round(3).tolist()
        [[0.333, 0.0]]
    """
    return _box_iou(boxes_array(boxes1, "boxes1"), boxes_array(boxes2, "boxes2"), inclusive)


def _box_iou(a: np.ndarray, b: np.ndarray, inclusive: bool) -> np.ndarray:
    """:func:`box_iou` of float ``[N, 4]`` and ``[M, 4]`` arrays, without argument checks."""
    return _iou(a[:, None, :], b[None, :, :], inclusive)  # [N, M]


def _iou(a: np.ndarray, b: np.ndarray, inclusive: bool) -> np.ndarray:
    """IoU of boxes ``a [..., 4]`` and ``b [..., 4]`` broadcast against each other.

    The one box-overlap formula of :mod:`vidal.metrics`: :func:`box_iou` (every pair),
    :func:`paired_box_iou` (row by row), tube overlaps and tube linking all come here.

    Args:
        a (ndarray[..., 4]): float ``x1, y1, x2, y2`` boxes.
        b (ndarray[..., 4]): float boxes, broadcastable with ``a``.
        inclusive: areas with the ``+1`` pixel.

    Returns:
        ndarray[...] float IoU, 0 where the union is empty.
    """
    w = _extent(np.maximum(a[..., 0], b[..., 0]), np.minimum(a[..., 2], b[..., 2]), inclusive)
    h = _extent(np.maximum(a[..., 1], b[..., 1]), np.minimum(a[..., 3], b[..., 3]), inclusive)
    inter = w * h
    union = _area(a, inclusive) + _area(b, inclusive) - inter
    positive = union > 0
    return np.where(positive, inter / np.where(positive, union, 1.0), 0.0)


def paired_box_iou(
    boxes1: np.ndarray, boxes2: np.ndarray, *, inclusive: bool = False
) -> np.ndarray:
    """IoU of ``boxes1[i]`` with ``boxes2[i]`` for each ``i`` (the diagonal of :func:`box_iou`).

    Args:
        boxes1 (ndarray[N, 4]): ``x1, y1, x2, y2`` boxes.
        boxes2 (ndarray[N, 4]): ``x1, y1, x2, y2`` boxes.
        inclusive: areas with the ``+1`` pixel of the VOC devkit and ACT.

    Returns:
        ndarray[N] float64 IoU.
    """
    a = boxes_array(boxes1, "boxes1")
    b = boxes_array(boxes2, "boxes2")
    if len(a) != len(b):
        raise VidalError(f"boxes1 and boxes2 must have the same length, got {len(a)} and {len(b)}")
    return _iou(a, b, inclusive)


def _tube_arrays(tube: TubeLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    frames = np.asarray(tube.frames, dtype=np.int64).reshape(-1)
    boxes = boxes_array(tube.boxes, f"{name}.boxes")
    if len(frames) == 0 or len(frames) != len(boxes):
        raise VidalError(
            f"{name} needs one box per frame and at least one frame, got {len(frames)} frames and {len(boxes)} boxes"
        )
    if len(frames) > 1 and not (np.diff(frames) > 0).all():
        raise VidalError(f"{name}.frames must be strictly increasing")
    return frames, boxes


def tube_iou(tube1: TubeLike, tube2: TubeLike, *, inclusive: bool = False) -> float:
    """Spatio-temporal IoU of two tubes, as ACT (Kalogeiton et al., ICCV 2017) defines it.

    ``tIoU x mean spatial IoU``: the temporal IoU of the two frame extents
    ``[first, last]`` (counted in frames, both ends inclusive) times the mean box IoU over
    the frames of the temporal intersection. Tubes from :class:`vidal.data.annotations.Tube`
    and :func:`vidal.metrics.link_tubes` are contiguous; should a tube skip a frame inside
    the temporal intersection, that frame counts with spatial IoU 0 (a missed box).

    Args:
        tube1: a tube (``frames [L1]``, ``boxes [L1, 4]``).
        tube2: a tube (``frames [L2]``, ``boxes [L2, 4]``).
        inclusive: box areas with the ``+1`` pixel (ACT's own convention).

    Returns:
        The IoU in ``[0, 1]``; 0 when the tubes share no frame span.

    Example:
        >>> from vidal.data.annotations import Tube
        >>> a = Tube(0, 0, 0, np.tile([0, 0, 10, 10], (4, 1)))  # frames 0..3
        >>> b = Tube(1, 0, 2, np.tile([0, 0, 10, 5], (4, 1)))  # frames 2..5
        >>> round(tube_iou(a, b), 3)  # tIoU 2/6, spatial IoU 0.5
        0.167
    """
    f1, b1 = _tube_arrays(tube1, "tube1")
    f2, b2 = _tube_arrays(tube2, "tube2")
    t_min, t_max = max(f1[0], f2[0]), min(f1[-1], f2[-1])
    if t_max < t_min:
        return 0.0
    t_inter = float(t_max - t_min + 1)
    t_union = float(max(f1[-1], f2[-1]) - min(f1[0], f2[0]) + 1)
    _, i1, i2 = np.intersect1d(f1, f2, assume_unique=True, return_indices=True)
    spatial = _iou(b1[i1], b2[i2], inclusive).sum() / t_inter
    return float(t_inter / t_union * spatial)


def boxes_from_map(
    prob: np.ndarray,
    *,
    threshold: float = 0.5,
    min_area: int = 1,
    score: str = "mean",
    class_score: float = 1.0,
    connectivity: int = 8,
    image_size: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes around the connected components of a thresholded foreground map.

    The map is binarised at ``prob >= threshold``; each ``connectivity``-connected component
    of at least ``min_area`` pixels gives one box, its pixel bounding rectangle with exclusive
    right/bottom edges (a component covering columns ``3..7`` gives ``x1 = 3, x2 = 8``), so a
    filled box drawn by :meth:`VideoAnnotation.foreground` comes back unchanged. The score is
    the mean (``score="mean"``, default) or the maximum (``score="max"``) probability inside
    the component, times ``class_score`` (e.g. the video classification probability of the
    class the map is conditioned on, the way capsule detectors pair one localization map with
    one class prediction).

    Args:
        prob (ndarray[H, W]): foreground probabilities (float) or a boolean mask.
        threshold: binarisation threshold.
        min_area: components with fewer pixels are dropped.
        score: ``"mean"`` or ``"max"`` probability inside the component.
        class_score: factor applied to every score.
        connectivity: 4 or 8.
        image_size: ``(width, height)`` to express the boxes in when the map has another
            resolution than the frames (boxes are scaled by ``width / W``, ``height / H``).

    Returns:
        boxes (ndarray[N, 4]) float32 and scores (ndarray[N]) float32, highest score first.

    Example:
        >>> m = np.zeros((6, 8)); m[1:3, 2:5] = 0.9
        >>> boxes, scores = boxes_from_map(m)
        >>> boxes.tolist(), [round(float(s), 2) for s in scores]
        ([[2.0, 1.0, 5.0, 3.0]], [0.9])
    """
    p = to_numpy(prob)
    if p.ndim != 2:
        raise VidalError(f"prob must have shape [H, W], got {p.shape}")
    choice(score, "score", ("mean", "max"))
    if connectivity not in (4, 8):
        raise VidalError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if min_area < 1:
        raise VidalError(f"min_area must be >= 1, got {min_area!r}")
    p = p.astype(np.float32)
    fg = (p >= threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=connectivity)
    keep = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= min_area) + 1  # label 0 is background
    if len(keep) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    x, y = stats[keep, cv2.CC_STAT_LEFT], stats[keep, cv2.CC_STAT_TOP]
    w, h = stats[keep, cv2.CC_STAT_WIDTH], stats[keep, cv2.CC_STAT_HEIGHT]
    boxes = np.stack([x, y, x + w, y + h], axis=1).astype(np.float64)
    if score == "mean":
        sums = np.bincount(labels.ravel(), weights=p.ravel(), minlength=n)
        s = sums[keep] / stats[keep, cv2.CC_STAT_AREA]
    else:
        s = np.asarray(ndimage.maximum(p, labels, keep), dtype=np.float64)
    s = s * float(class_score)
    if image_size is not None:
        width, height = image_size
        boxes *= np.array([width / p.shape[1], height / p.shape[0]] * 2)
    order = np.argsort(-s, kind="stable")
    return boxes[order].astype(np.float32), s[order].astype(np.float32)
