"""Per-frame localization losses for sparsely labeled clips: BCE, masking, interpolation, MGW.

The detector predicts a foreground logit per pixel, ``logits (Tensor[B, T, H, W])``. Only some
frames have ground truth, ``labeled (Tensor[B, T])`` (bool); the other frames get pseudo-labels
(:func:`losses.interpolate_boxes`, :func:`losses.nearest_labeled_masks`). The three ways of
training on them, from Rana & Rawat, *Are all Frames Equal? Active Sparse Labeling for Video
Action Detection* (NeurIPS 2022), Sec. 3.2, are all a per-frame BCE ``l_t`` (the mean over the
frame's pixels) reduced with a per-frame weight ``w_t``:

============== ======================================================================
loss            weight ``w_t``
============== ======================================================================
masking         1 on labeled frames, 0 elsewhere (``beta`` in Sec. 3.2)
interpolation   1 on every frame of a video that has at least one labeled frame
MGW (Eq. 4)     ``exp(-(t - mu_j)^2 / (2 sigma^2))``, ``mu_j`` the nearest labeled frame
============== ======================================================================

Reductions, the same for all three (and for :func:`losses.stew_loss`):

- ``"none"``: the weighted per-frame losses ``w_t * l_t``, ``Tensor[B, T]``.
- ``"sum"``: their sum over the batch, ``sum_t w_t l_t`` -- Eq. 4 of the paper as written.
- ``"mean"``: the weighted mean over the batch, ``sum_t w_t l_t / sum_t w_t``. For masking this
  is the mean over the labeled frames of the batch (each labeled frame counts once, whatever its
  video); for interpolation the mean over all frames. Normalising by the total weight is what
  makes MGW reduce *exactly* to masking as ``sigma -> 0`` and to interpolation as
  ``sigma -> inf`` (the paper's two extremes, Sec. 3.2 and 4.3), and keeps the loss scale
  independent of how many frames are labeled. A batch whose weights are all 0 gives 0.

A video with no labeled frame has no ground truth to interpolate from: MGW gives all its frames
weight 0 (there is no nearest labeled frame), so the ``sigma -> inf`` limit equals the
interpolation loss on batches in which every video has at least one labeled frame.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from losses._common import (
    LossInputError,
    check_labeled,
    check_reduction,
    check_sigma,
    check_tensor,
    nearest_labeled,
    reduce,
    weighted_reduce,
)

__all__ = [
    "frame_bce",
    "mean_over_pixels",
    "masking_loss",
    "interpolation_loss",
    "mgw_weights",
    "mgw_loss",
    "FrameBCELoss",
    "MaskingLoss",
    "InterpolationLoss",
    "MGWLoss",
]

_MAP = "B, T, H, W"


def _check_maps(logits: object, target: object, target_name: str) -> tuple[Tensor, Tensor]:
    logits = check_tensor(logits, "logits", _MAP)
    target = check_tensor(target, target_name, _MAP, logits.shape)
    if not logits.is_floating_point():
        raise LossInputError(f"logits must be a floating point Tensor[{_MAP}]; got {logits.dtype}")
    if not (target.is_floating_point() or target.dtype == torch.bool):
        raise LossInputError(
            f"{target_name} must be a float (or bool) Tensor[{_MAP}] with values in [0, 1]; "
            f"got dtype {target.dtype}"
        )
    return logits, target.to(logits.dtype)


def _pos_weight(pos_weight: float | Tensor | None, logits: Tensor) -> Tensor | None:
    if pos_weight is None or isinstance(pos_weight, Tensor):
        return pos_weight
    if not pos_weight > 0:
        raise LossInputError(f"pos_weight must be > 0; got {pos_weight}")
    return torch.tensor(float(pos_weight), dtype=logits.dtype, device=logits.device)


def _frame_losses(
    logits: Tensor, target: Tensor, pos_weight: float | Tensor | None
) -> Tensor:  # [B, T]
    pixel = F.binary_cross_entropy_with_logits(
        logits, target, pos_weight=_pos_weight(pos_weight, logits), reduction="none"
    )
    return pixel.mean(dim=(-2, -1))


def frame_bce(
    logits: Tensor,
    target: Tensor,
    *,
    pos_weight: float | Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Pixel-wise binary cross-entropy of a foreground logit map, the localization loss of
    VideoCapsuleNet (Duarte et al., NeurIPS 2018) used by both papers.

    Numerically the same as :func:`torch.nn.functional.binary_cross_entropy_with_logits`, with
    the shapes checked; :func:`mean_over_pixels` turns the ``"none"`` output into per-frame
    losses.

    Args:
        logits (Tensor[B, T, H, W]): foreground logits.
        target (Tensor[B, T, H, W]): foreground probability in ``[0, 1]`` (float or bool).
        pos_weight: weight of the positive (foreground) term, a number or a tensor
            broadcastable to ``[B, T, H, W]``; ``None`` for 1.
        reduction: ``"none"`` for the per-pixel ``Tensor[B, T, H, W]``, ``"mean"`` for the mean
            over all pixels, ``"sum"`` for their sum.

    Returns:
        ``Tensor[B, T, H, W]`` or a scalar tensor.

    Example:
        >>> logits = torch.zeros(1, 2, 3, 3)
        >>> frame_bce(logits, torch.ones(1, 2, 3, 3), reduction="none").shape
        torch.Size([1, 2, 3, 3])
        >>> round(frame_bce(logits, torch.ones(1, 2, 3, 3)).item(), 4)  # log 2
        0.6931
    """
    logits, target = _check_maps(logits, target, "target")
    check_reduction(reduction)
    return F.binary_cross_entropy_with_logits(
        logits, target, pos_weight=_pos_weight(pos_weight, logits), reduction=reduction
    )


def mean_over_pixels(loss: Tensor) -> Tensor:
    """Average a per-pixel loss over each frame's pixels.

    Args:
        loss (Tensor[B, T, H, W]): per-pixel loss, e.g. ``frame_bce(..., reduction="none")``.

    Returns:
        Tensor[B, T]: the per-frame loss.

    Example:
        >>> mean_over_pixels(torch.ones(2, 4, 3, 3)).shape
        torch.Size([2, 4])
    """
    check_tensor(loss, "loss", _MAP)
    return loss.mean(dim=(-2, -1))


def masking_loss(
    logits: Tensor,
    target: Tensor,
    labeled: Tensor,
    *,
    pos_weight: float | Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Masking baseline: per-frame BCE on the labeled frames only.

    ``L = sum_t beta_t l_t`` with ``beta_t = 1`` on labeled frames and 0 elsewhere (Rana & Rawat,
    NeurIPS 2022, Sec. 3.2; the *Frame* loss of Rana & Rawat, CVPR 2023, Sec. 4.4). ``target`` is
    only read on labeled frames, so unlabeled frames may hold anything (even NaN).

    Args:
        logits (Tensor[B, T, H, W]): foreground logits.
        target (Tensor[B, T, H, W]): ground-truth foreground in ``[0, 1]`` on labeled frames.
        labeled (Tensor[B, T]): bool, which frames have ground truth.
        pos_weight: weight of the foreground term of the BCE (see :func:`frame_bce`).
        reduction: ``"none"`` for the per-frame ``Tensor[B, T]`` (0 on unlabeled frames),
            ``"mean"`` for the mean over the labeled frames of the batch (0 if there are none),
            ``"sum"`` for their sum.

    Returns:
        ``Tensor[B, T]`` or a scalar tensor.

    Example:
        >>> logits, target = torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2)
        >>> labeled = torch.tensor([[True, False, False, True]])
        >>> masking_loss(logits, target, labeled, reduction="none")
        tensor([[0.6931, 0.0000, 0.0000, 0.6931]])
    """
    logits, target = _check_maps(logits, target, "target")
    check_labeled(labeled, "labeled", "B, T", logits.shape[:2])
    check_reduction(reduction)
    keep = labeled[:, :, None, None]
    target = torch.where(keep, target, torch.zeros_like(target))
    frame = _frame_losses(logits, target, pos_weight)
    return weighted_reduce(frame, labeled, reduction)


def interpolation_loss(
    logits: Tensor,
    pseudo_target: Tensor,
    *,
    pos_weight: float | Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Interpolation baseline: per-frame BCE on every frame against the pseudo-labels, weight 1.

    Rana & Rawat, NeurIPS 2022, Sec. 3.2 (the pseudo-labels are interpolated from the labeled
    frames; on labeled frames they are the ground truth), and the *Interpolation* loss of Rana &
    Rawat, CVPR 2023, Sec. 4.4.

    Args:
        logits (Tensor[B, T, H, W]): foreground logits.
        pseudo_target (Tensor[B, T, H, W]): ground truth on labeled frames, pseudo-labels
            elsewhere, in ``[0, 1]``.
        pos_weight: weight of the foreground term of the BCE (see :func:`frame_bce`).
        reduction: ``"none"`` for the per-frame ``Tensor[B, T]``, ``"mean"`` for the mean over
            all frames, ``"sum"`` for their sum.

    Returns:
        ``Tensor[B, T]`` or a scalar tensor.

    Example:
        >>> logits, target = torch.zeros(2, 4, 2, 2), torch.ones(2, 4, 2, 2)
        >>> round(interpolation_loss(logits, target).item(), 4)
        0.6931
    """
    logits, pseudo_target = _check_maps(logits, pseudo_target, "pseudo_target")
    check_reduction(reduction)
    frame = _frame_losses(logits, pseudo_target, pos_weight)
    return reduce(frame, reduction)


def _check_distance(distance: Tensor, labeled: Tensor) -> Tensor:
    if not isinstance(distance, Tensor) or distance.shape != labeled.shape:
        shown = list(distance.shape) if isinstance(distance, Tensor) else type(distance).__name__
        raise ValueError(
            f"distance must be a Tensor of labeled's shape {list(labeled.shape)}, got {shown}"
        )
    distance = distance.to(device=labeled.device, dtype=torch.float32)
    if torch.isnan(distance).any() or (distance < 0).any() or (distance[labeled] != 0).any():
        raise ValueError("distance must be >= 0 (inf allowed), and 0 on labeled frames")
    return distance


def mgw_weights(labeled: Tensor, *, sigma: float = 1.3, distance: Tensor | None = None) -> Tensor:
    """Max-Gaussian weight of every frame (Rana & Rawat, NeurIPS 2022, Eq. 4).

    Each labeled frame ``j`` carries a Gaussian ``exp(-(t - mu_j)^2 / (2 sigma^2))`` centred on
    it; frame ``t`` takes the largest of them (the mask ``phi_ij`` of Eq. 4 selects the max),
    which is the Gaussian of the nearest labeled frame. Labeled frames get exactly 1. ``sigma =
    0`` gives the masking weights (1 on labeled frames, 0 elsewhere), ``sigma = inf`` gives 1 on
    every frame. A video with no labeled frame gets 0 everywhere. The paper uses ``sigma = 1.3``
    (Sec. 4.1). ``sigma`` is the Gaussian's standard deviation in frames (the paper calls it
    the variance but writes it as the standard deviation in the exponent).

    Args:
        labeled (Tensor[B, T]): bool, which frames have ground truth.
        sigma: Gaussian width in frames, in ``[0, inf]``.
        distance (Tensor[B, T], optional): frames from each frame to the nearest labeled
            frame of its whole video (``inf`` without one). A clip cut from a longer video
            sees only its own labeled frames; with ``distance`` a frame next to a labeled
            frame just outside the clip gets its weight, as Eq. 4 has it over the video.
            Default: measured inside ``labeled``.

    Returns:
        Tensor[B, T]: float32 weights in ``[0, 1]``, on ``labeled``'s device.

    Example:
        >>> mgw_weights(torch.tensor([[False, True, False, False]]), sigma=1.0)
        tensor([[0.6065, 1.0000, 0.6065, 0.1353]])
    """
    check_labeled(labeled, "labeled", "B, T")
    sigma = check_sigma(sigma)
    if distance is None:
        _, distance = nearest_labeled(labeled)  # [B, T], inf without labeled frames
    else:
        distance = _check_distance(distance, labeled)
    finite = torch.isfinite(distance)
    if sigma == 0.0:
        gauss = (distance == 0).float()
    elif math.isinf(sigma):
        gauss = torch.ones_like(distance)
    else:
        safe = torch.where(finite, distance, torch.zeros_like(distance))
        gauss = torch.exp(-0.5 * (safe / sigma) ** 2)
    weight = torch.where(finite, gauss, torch.zeros_like(gauss))
    return torch.where(distance == 0, torch.ones_like(weight), weight)


def mgw_loss(
    logits: Tensor,
    pseudo_target: Tensor,
    labeled: Tensor,
    *,
    sigma: float = 1.3,
    pos_weight: float | Tensor | None = None,
    reduction: str = "mean",
    distance: Tensor | None = None,
) -> Tensor:
    """Max-Gaussian Weighted (MGW) localization loss (Rana & Rawat, NeurIPS 2022, Eq. 4).

    ``L = sum_t w_t l_t`` where ``l_t`` is the BCE of frame ``t`` against its (pseudo-)label,
    averaged over the frame's pixels, and ``w_t = mgw_weights(labeled, sigma=sigma)``. The
    weight multiplies the per-frame loss, never the logits.

    With ``sigma = 0`` (or any ``sigma`` small enough that ``exp(-1 / (2 sigma^2))``
    underflows) this is exactly :func:`masking_loss`; with ``sigma = inf`` it is exactly
    :func:`interpolation_loss` (every video having a labeled frame), for every reduction.

    Args:
        logits (Tensor[B, T, H, W]): foreground logits.
        pseudo_target (Tensor[B, T, H, W]): ground truth on labeled frames, pseudo-labels
            elsewhere, in ``[0, 1]``.
        labeled (Tensor[B, T]): bool, which frames have ground truth.
        sigma: Gaussian width in frames, in ``[0, inf]``; the paper uses 1.3.
        pos_weight: weight of the foreground term of the BCE (see :func:`frame_bce`).
        reduction: ``"none"`` for the weighted per-frame ``Tensor[B, T]``, ``"mean"`` for
            ``sum_t w_t l_t / sum_t w_t`` over the batch, ``"sum"`` for ``sum_t w_t l_t``.
        distance (Tensor[B, T], optional): distance of each frame to the nearest labeled
            frame of its whole video (see :func:`mgw_weights`).

    Returns:
        ``Tensor[B, T]`` or a scalar tensor.

    Example:
        >>> logits, target = torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2)
        >>> labeled = torch.tensor([[False, True, False, False]])
        >>> mgw_loss(logits, target, labeled, sigma=1.0, reduction="none")
        tensor([[0.4204, 0.6931, 0.4204, 0.0938]])
    """
    logits, pseudo_target = _check_maps(logits, pseudo_target, "pseudo_target")
    check_labeled(labeled, "labeled", "B, T", logits.shape[:2])
    check_reduction(reduction)
    weight = mgw_weights(labeled, sigma=sigma, distance=distance).to(logits.dtype)
    frame = _frame_losses(logits, pseudo_target, pos_weight)
    return weighted_reduce(frame, weight, reduction)


class _BCEModule(nn.Module):
    """Holds ``pos_weight`` (a buffer when it is a tensor, so ``.to()`` moves it) and
    ``reduction``, the keyword arguments every BCE loss module takes (defaults: ``None`` and
    ``"mean"``)."""

    pos_weight: float | Tensor | None

    def __init__(
        self, *, pos_weight: float | Tensor | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        if isinstance(pos_weight, Tensor):
            self.register_buffer("pos_weight", pos_weight)
        else:
            self.pos_weight = pos_weight

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class FrameBCELoss(_BCEModule):
    """Module form of :func:`frame_bce`.

    Example:
        >>> loss = FrameBCELoss(reduction="sum")
        >>> round(loss(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)).item(), 4)
        2.7726
    """

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return frame_bce(logits, target, pos_weight=self.pos_weight, reduction=self.reduction)


class MaskingLoss(_BCEModule):
    """Module form of :func:`masking_loss`.

    Example:
        >>> loss = MaskingLoss()
        >>> labeled = torch.tensor([[True, False]])
        >>> round(loss(torch.zeros(1, 2, 2, 2), torch.ones(1, 2, 2, 2), labeled).item(), 4)
        0.6931
    """

    def forward(self, logits: Tensor, target: Tensor, labeled: Tensor) -> Tensor:
        return masking_loss(
            logits, target, labeled, pos_weight=self.pos_weight, reduction=self.reduction
        )


class InterpolationLoss(_BCEModule):
    """Module form of :func:`interpolation_loss`.

    Example:
        >>> loss = InterpolationLoss(reduction="none")
        >>> loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)).shape
        torch.Size([1, 3])
    """

    def forward(self, logits: Tensor, pseudo_target: Tensor) -> Tensor:
        return interpolation_loss(
            logits, pseudo_target, pos_weight=self.pos_weight, reduction=self.reduction
        )


class MGWLoss(_BCEModule):
    """Module form of :func:`mgw_loss` (Rana & Rawat, NeurIPS 2022, Eq. 4).

    Example:
        >>> loss = MGWLoss(sigma=1.3)
        >>> labeled = torch.tensor([[True, False, False]])
        >>> round(loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2), labeled).item(), 4)
        0.6931
    """

    def __init__(
        self,
        *,
        sigma: float = 1.3,
        pos_weight: float | Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(pos_weight=pos_weight, reduction=reduction)
        self.sigma = check_sigma(sigma)

    def forward(self, logits: Tensor, pseudo_target: Tensor, labeled: Tensor) -> Tensor:
        return mgw_loss(
            logits,
            pseudo_target,
            labeled,
            sigma=self.sigma,
            pos_weight=self.pos_weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, reduction={self.reduction!r}"
