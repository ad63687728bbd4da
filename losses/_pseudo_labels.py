"""Dense pseudo-labels from sparse frame labels: box interpolation, box masks, nearest masks.

The interpolation baseline and the MGW/STeW losses train on every frame; the frames without
ground truth get a pseudo-label made from the labeled ones. Rana & Rawat (CVPR 2023, Sec. 4.1)
use "linear point interpolation for bounding-box (UCF-101-24)"; for pixel masks (J-HMDB-21) they
use a learned frame interpolator, for which :func:`nearest_labeled_masks` is the simple
stand-in.
"""

from __future__ import annotations

import torch
from torch import Tensor

from losses._common import (
    LossInputError,
    check_int,
    check_labeled,
    nearest_labeled,
    neighbour_labeled,
)

__all__ = ["interpolate_boxes", "boxes_to_masks", "nearest_labeled_masks"]


def _batch_labeled(labeled: object, batch: int, num_frames: int, *, batched: bool) -> Tensor:
    """``labeled`` checked and as ``Tensor[B, T]``: a ``[T]`` mask is shared by every video of
    the batch; a batched input may also give one mask per video. Every video needs a labeled
    frame."""
    if isinstance(labeled, Tensor) and labeled.dim() == 1:
        mask = check_labeled(labeled, "labeled", "T", (num_frames,)).expand(batch, num_frames)
    elif batched:
        mask = check_labeled(labeled, "labeled", "B, T", (batch, num_frames))
    else:
        mask = check_labeled(labeled, "labeled", "T", (num_frames,))
    empty = ~mask.any(dim=-1)
    if bool(empty.any()):
        videos = empty.nonzero().flatten().tolist()
        raise LossInputError(
            f"labeled must mark at least one frame of every video; videos {videos} have none"
        )
    return mask


def interpolate_boxes(boxes: Tensor, labeled: Tensor) -> Tensor:
    """Linearly interpolate boxes between labeled frames.

    A frame between two labeled frames ``p < t < n`` gets ``(1 - a) * box[p] + a * box[n]``
    with ``a = (t - p) / (n - p)`` (each coordinate separately); frames before the first or
    after the last labeled frame get that frame's box. Labeled frames keep their box exactly.
    Boxes on unlabeled frames are never read (they may be NaN).

    Args:
        boxes (Tensor[T, 4] or Tensor[B, T, 4]): ``x1, y1, x2, y2`` boxes, valid on labeled
            frames.
        labeled (Tensor[T] or Tensor[B, T]): bool, which frames have a box; ``[T]`` is shared by
            every video of a batch. Every video needs at least one labeled frame.

    Returns:
        Tensor of the shape of ``boxes``: boxes on every frame (float32 for integer input).

    Example:
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 0, 0], [4, 0, 14, 10], [0, 0, 0, 0]])
        >>> interpolate_boxes(boxes, torch.tensor([True, False, True, False]))
        tensor([[ 0.,  0., 10., 10.],
                [ 2.,  0., 12., 10.],
                [ 4.,  0., 14., 10.],
                [ 4.,  0., 14., 10.]])
    """
    if not isinstance(boxes, Tensor) or boxes.dim() not in (2, 3) or boxes.shape[-1] != 4:
        got = tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__
        raise LossInputError(f"boxes must have shape [T, 4] or [B, T, 4]; got {got}")
    batched = boxes.dim() == 3
    values = boxes if batched else boxes[None]  # [B, T, 4]
    if not values.is_floating_point():
        values = values.float()
    batch, num_frames = values.shape[:2]
    labeled = _batch_labeled(labeled, batch, num_frames, batched=batched)
    prev, nxt = neighbour_labeled(labeled)  # [B, T]
    p = torch.where(prev >= 0, prev, nxt)  # before the first labeled frame: hold it
    n = torch.where(nxt < num_frames, nxt, p)  # after the last one: hold it
    t = torch.arange(num_frames, device=values.device).expand_as(p)
    span = (n - p).to(values.dtype)
    alpha = torch.where(span > 0, (t - p).to(values.dtype) / span.clamp(min=1), 0.0)[..., None]
    start = values.gather(1, p[..., None].expand(-1, -1, 4))
    end = values.gather(1, n[..., None].expand(-1, -1, 4))
    out = (1 - alpha) * start + alpha * end
    return out if batched else out[0]


def boxes_to_masks(boxes: Tensor, height: int, width: int) -> Tensor:
    """Rasterise boxes into boolean masks.

    Pixel ``(y, x)`` is inside a box when its centre ``(x + 0.5, y + 0.5)`` lies in
    ``[x1, x2) x [y1, y2)``; for integer boxes this is ``mask[y1:y2, x1:x2]``. Empty, inverted
    and NaN boxes give empty masks.

    Args:
        boxes (Tensor[..., 4]): ``x1, y1, x2, y2`` boxes in pixels, e.g. ``[T, 4]`` or
            ``[B, T, 4]``.
        height: mask height ``H`` in pixels.
        width: mask width ``W`` in pixels.

    Returns:
        Tensor[..., H, W]: bool masks. Use ``.float()`` for a BCE target.

    Example:
        >>> boxes_to_masks(torch.tensor([[1.0, 0.0, 3.0, 2.0]]), 3, 4).int()
        tensor([[[0, 1, 1, 0],
                 [0, 1, 1, 0],
                 [0, 0, 0, 0]]], dtype=torch.int32)
    """
    if not isinstance(boxes, Tensor) or boxes.dim() < 1 or boxes.shape[-1] != 4:
        got = tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes).__name__
        raise LossInputError(f"boxes must have shape [..., 4]; got {got}")
    height = check_int(height, "height", 1)
    width = check_int(width, "width", 1)
    boxes = boxes.float() if not boxes.is_floating_point() else boxes
    ys = torch.arange(height, device=boxes.device, dtype=boxes.dtype) + 0.5
    xs = torch.arange(width, device=boxes.device, dtype=boxes.dtype) + 0.5
    x1, y1, x2, y2 = boxes.unbind(-1)
    inside_x = (xs >= x1[..., None]) & (xs < x2[..., None])  # [..., W]
    inside_y = (ys >= y1[..., None]) & (ys < y2[..., None])  # [..., H]
    return inside_y[..., :, None] & inside_x[..., None, :]


def nearest_labeled_masks(masks: Tensor, labeled: Tensor) -> Tensor:
    """Give every frame the mask of its nearest labeled frame.

    A frame half-way between two labeled frames takes the earlier one's mask. Masks on unlabeled
    frames are never read.

    Args:
        masks (Tensor[T, H, W] or Tensor[B, T, H, W]): masks (any dtype), valid on labeled
            frames.
        labeled (Tensor[T] or Tensor[B, T]): bool, which frames have a mask; ``[T]`` is shared
            by every video of a batch. Every video needs at least one labeled frame.

    Returns:
        Tensor of the shape and dtype of ``masks``.

    Example:
        >>> masks = torch.arange(4.0).reshape(4, 1, 1)  # frame t is filled with t
        >>> nearest_labeled_masks(masks, torch.tensor([True, False, False, True])).flatten()
        tensor([0., 0., 3., 3.])
    """
    if not isinstance(masks, Tensor) or masks.dim() not in (3, 4):
        got = tuple(masks.shape) if isinstance(masks, Tensor) else type(masks).__name__
        raise LossInputError(f"masks must have shape [T, H, W] or [B, T, H, W]; got {got}")
    batched = masks.dim() == 4
    values = masks if batched else masks[None]  # [B, T, H, W]
    batch, num_frames = values.shape[:2]
    labeled = _batch_labeled(labeled, batch, num_frames, batched=batched)
    index, _ = nearest_labeled(labeled)  # [B, T]
    index = index[:, :, None, None].expand_as(values)
    out = values.gather(1, index)
    return out if batched else out[0]
