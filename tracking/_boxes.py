"""Box helpers shared by propagation, linking and candidates (private)."""

from __future__ import annotations

import numpy as np

from .errors import TrackingError


def check_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    """Return ``boxes`` as float32 ``[N, 4]``, raising :class:`TrackingError` otherwise.

    Args:
        boxes (ndarray[N, 4]): ``x1, y1, x2, y2`` pixels; an empty array of any 1-D or
            ``[0, k]`` shape is read as no boxes.
        name: the argument's name, for the error message.

    Returns:
        ndarray[N, 4] float32.
    """
    arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise TrackingError(f"{name} must have shape [N, 4] (x1, y1, x2, y2), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise TrackingError(f"{name} holds NaN or infinite coordinates")
    return arr


def clip_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Clip boxes to the frame ``[0, width] x [0, height]``.

    Args:
        boxes (ndarray[N, 4]): ``x1, y1, x2, y2`` pixels.
        height: frame height ``H``.
        width: frame width ``W``.

    Returns:
        ndarray[N, 4] float32: clipped boxes; a box wholly outside collapses to zero area.
    """
    out = np.empty_like(boxes, dtype=np.float32)
    out[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, float(width))
    out[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, float(height))
    return out


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of boxes, zero for degenerate ones.

    Args:
        boxes (ndarray[N, 4]): ``x1, y1, x2, y2``.

    Returns:
        ndarray[N] float32.
    """
    w = np.clip(boxes[:, 2] - boxes[:, 0], 0.0, None)
    h = np.clip(boxes[:, 3] - boxes[:, 1], 0.0, None)
    return (w * h).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    tracking's own copy: ``tracking`` may not import ``vidal`` (whose metrics hold the
    float64 IoU with both area conventions) and does not depend on torch
    (``torchvision.ops.box_iou``), so this float32 one serves propagation and linking.

    Args:
        a (ndarray[N, 4]): ``x1, y1, x2, y2``.
        b (ndarray[M, 4]): ``x1, y1, x2, y2``.

    Returns:
        ndarray[N, M] float32: IoU, 0 where the union is empty.
    """
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # [N, M, 2]
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])  # [N, M, 2]
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou.astype(np.float32)
