"""Spatio-Temporal Weighted (STeW) loss: Rana & Rawat, *Hybrid Active Learning via Deep
Clustering for Video Action Detection* (CVPR 2023), Eqs. 4-5.

MGW (:func:`losses.mgw_loss`) weights a whole pseudo-labeled frame by its distance to the
nearest labeled frame. STeW also weights each pixel by how consistent its pseudo-label is over
the neighbouring frames: a pixel that stays background (or foreground) over the window is
trusted, one that flips (the edge of a moving actor, a badly interpolated box) is down-weighted.

Eq. 4 as printed is garbled by extraction (a sum over ``2W + 1`` frames divided by ``W + 1``);
this module reads it as the text around it describes it:

- the *window average* ``a`` of a pixel is the mean of its pseudo-label over frames
  ``f - window .. f + window`` (cut at the ends of the clip, so it is always a true mean in
  ``[0, 1]``, which the thresholds ``P_low``/``P_high`` need);
- "we assign a weight of 1 for consistent background/foreground (``<= P_low`` or ``>= P_high``)
  and average value for other inconsistent pixels": the consistency weight is 1 where
  ``a <= p_low`` or ``a >= p_high`` and ``a`` itself otherwise;
- ``Dist(f_a - f)`` is MGW's Gaussian of the distance to the nearest annotated frame
  (:func:`losses.mgw_weights`), multiplied in;
- annotated frames get weight 1 on every pixel: "full weight given to center frame" (the frame
  with real ground truth; supplement, Fig. 5) -- ground truth is never down-weighted.

Neither the paper nor its supplement gives a value for the window, so ``window`` has no default.
``P_low = 0.1`` and ``P_high = 0.9`` are the paper's (Sec. 4.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from losses._common import (
    LossInputError,
    check_int,
    check_labeled,
    check_reduction,
    check_sigma,
    check_tensor,
    reduce_weighted,
    weighted_reduce,
)
from losses._localization import _BCEModule, _check_maps, _pos_weight, mgw_weights

__all__ = ["stew_weights", "stew_loss", "STeWLoss"]

_MAP = "B, T, H, W"


def _check_window(window: int) -> int:
    return check_int(window, "window", 0, " (frames on each side)")


def _check_thresholds(p_low: float, p_high: float) -> tuple[float, float]:
    p_low, p_high = float(p_low), float(p_high)
    if not 0.0 <= p_low <= p_high <= 1.0:
        raise LossInputError(
            f"p_low and p_high must satisfy 0 <= p_low <= p_high <= 1; got {p_low}, {p_high}"
        )
    return p_low, p_high


def _window_mean(x: Tensor, window: int) -> Tensor:
    """Mean of ``x (Tensor[B, T, H, W])`` over frames ``t - window .. t + window`` (clipped)."""
    num_frames = x.shape[1]
    csum = torch.cat([torch.zeros_like(x[:, :1]), x.cumsum(dim=1)], dim=1)  # [B, T + 1, H, W]
    t = torch.arange(num_frames, device=x.device)
    lo = (t - window).clamp(min=0)
    hi = (t + window).clamp(max=num_frames - 1) + 1
    count = (hi - lo).to(x.dtype)[None, :, None, None]
    return (csum[:, hi] - csum[:, lo]) / count


def stew_weights(
    pseudo_target: Tensor,
    labeled: Tensor,
    *,
    window: int,
    p_low: float = 0.1,
    p_high: float = 0.9,
    sigma: float = 1.3,
    distance: Tensor | None = None,
) -> Tensor:
    """Per-pixel STeW weights ``phi`` (Rana & Rawat, CVPR 2023, Eq. 4).

    ``phi[b, t, y, x] = w_t * c`` with ``w_t`` MGW's temporal weight (``mgw_weights``) and ``c``
    the consistency of the pixel's pseudo-label over the window: 1 if its window average ``a``
    is ``<= p_low`` or ``>= p_high``, else ``a``. Labeled frames get 1 everywhere. Where every
    pixel is consistent over time (a static actor) ``phi`` is ``w_t`` on every pixel, MGW's
    weights. The weights carry no gradient.

    Args:
        pseudo_target (Tensor[B, T, H, W]): ground truth on labeled frames, pseudo-labels
            elsewhere, in ``[0, 1]`` (float or bool).
        labeled (Tensor[B, T]): bool, which frames have ground truth.
        window: half-width of the temporal window in frames (the average runs over
            ``2 * window + 1`` frames, fewer at the ends of the clip). ``0`` gives MGW's weights.
        p_low: averages ``<= p_low`` count as consistent background (paper: 0.1).
        p_high: averages ``>= p_high`` count as consistent foreground (paper: 0.9).
        sigma: width of the temporal Gaussian in frames, as in :func:`losses.mgw_weights`.
        distance (Tensor[B, T], optional): frames to the nearest labeled frame of the whole
            video, for the temporal weight (see :func:`losses.mgw_weights`).

    Returns:
        Tensor[B, T, H, W]: weights in ``[0, 1]``, in ``pseudo_target``'s float dtype
        (float32 for a bool target).

    Example:
        >>> target = torch.zeros(1, 3, 1, 2)
        >>> target[0, :2, 0, 1] = 1.0  # pixel 1 is foreground on frames 0 and 1 only
        >>> labeled = torch.tensor([[True, False, False]])
        >>> stew_weights(target, labeled, window=1, sigma=1.0)[0, :, 0]
        tensor([[1.0000, 1.0000],
                [0.6065, 0.4044],
                [0.1353, 0.0677]])
    """
    check_tensor(pseudo_target, "pseudo_target", _MAP)
    check_labeled(labeled, "labeled", "B, T", pseudo_target.shape[:2])
    window = _check_window(window)
    p_low, p_high = _check_thresholds(p_low, p_high)
    sigma = check_sigma(sigma)
    target = pseudo_target.detach()
    if not target.is_floating_point():
        target = target.float()
    average = _window_mean(target, window)
    consistent = (average <= p_low) | (average >= p_high)
    consistency = torch.where(consistent, torch.ones_like(average), average)
    temporal = mgw_weights(labeled, sigma=sigma, distance=distance).to(average.dtype)[
        :, :, None, None
    ]
    phi = temporal * consistency
    return torch.where(labeled[:, :, None, None], torch.ones_like(phi), phi)


def stew_loss(
    logits: Tensor,
    pseudo_target: Tensor,
    labeled: Tensor,
    *,
    window: int,
    p_low: float = 0.1,
    p_high: float = 0.9,
    sigma: float = 1.3,
    pos_weight: float | Tensor | None = None,
    reduction: str = "mean",
    distance: Tensor | None = None,
) -> Tensor:
    """Spatio-Temporal Weighted localization loss (Rana & Rawat, CVPR 2023, Eq. 5).

    The pixel-wise BCE against the pseudo-labels, weighted by :func:`stew_weights`, averaged
    over each frame's pixels: ``l_t = mean_pixels(phi * bce)``.

    Reductions follow MGW's (see :mod:`losses`): ``"mean"`` is ``sum(phi * bce) / sum(phi)``
    over the batch, so that on a static actor STeW equals :func:`losses.mgw_loss` and a batch
    whose weights are all 0 gives 0. Eq. 5's own normalisation, ``1/F sum_f phi_f L^f`` per
    video, is ``stew_loss(..., reduction="none").mean(dim=1)``.

    Args:
        logits (Tensor[B, T, H, W]): foreground logits.
        pseudo_target (Tensor[B, T, H, W]): ground truth on labeled frames, pseudo-labels
            elsewhere, in ``[0, 1]``.
        labeled (Tensor[B, T]): bool, which frames have ground truth.
        window: half-width of the consistency window in frames (see :func:`stew_weights`).
        p_low: consistent-background threshold (paper: 0.1).
        p_high: consistent-foreground threshold (paper: 0.9).
        sigma: width of the temporal Gaussian in frames (paper: 1.3, from MGW).
        pos_weight: weight of the foreground term of the BCE (see :func:`losses.frame_bce`).
        reduction: ``"none"`` for the weighted per-frame ``Tensor[B, T]``, ``"mean"`` for the
            weighted mean over the batch, ``"sum"`` for the sum of the per-frame losses.
        distance (Tensor[B, T], optional): frames to the nearest labeled frame of the whole
            video (see :func:`losses.mgw_weights`).

    Returns:
        ``Tensor[B, T]`` or a scalar tensor.

    Example:
        >>> logits, target = torch.zeros(1, 4, 2, 2), torch.ones(1, 4, 2, 2)
        >>> labeled = torch.tensor([[True, False, False, False]])
        >>> round(stew_loss(logits, target, labeled, window=1).item(), 4)
        0.6931
    """
    logits, pseudo_target = _check_maps(logits, pseudo_target, "pseudo_target")
    check_labeled(labeled, "labeled", "B, T", logits.shape[:2])
    check_reduction(reduction)
    phi = stew_weights(
        pseudo_target,
        labeled,
        window=window,
        p_low=p_low,
        p_high=p_high,
        sigma=sigma,
        distance=distance,
    )
    pixel = F.binary_cross_entropy_with_logits(
        logits, pseudo_target, pos_weight=_pos_weight(pos_weight, logits), reduction="none"
    )
    frame = weighted_reduce(pixel, phi, "none").mean(dim=(-2, -1))  # [B, T]
    return reduce_weighted(frame, phi.mean(dim=(-2, -1)), reduction)


class STeWLoss(_BCEModule):
    """Module form of :func:`stew_loss` (Rana & Rawat, CVPR 2023, Eqs. 4-5).

    Example:
        >>> loss = STeWLoss(window=1)
        >>> labeled = torch.tensor([[True, False, False]])
        >>> round(loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2), labeled).item(), 4)
        0.6931
    """

    def __init__(
        self,
        *,
        window: int,
        p_low: float = 0.1,
        p_high: float = 0.9,
        sigma: float = 1.3,
        pos_weight: float | Tensor | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(pos_weight=pos_weight, reduction=reduction)
        self.window = _check_window(window)
        self.p_low, self.p_high = _check_thresholds(p_low, p_high)
        self.sigma = check_sigma(sigma)

    def forward(self, logits: Tensor, pseudo_target: Tensor, labeled: Tensor) -> Tensor:
        return stew_loss(
            logits,
            pseudo_target,
            labeled,
            window=self.window,
            p_low=self.p_low,
            p_high=self.p_high,
            sigma=self.sigma,
            pos_weight=self.pos_weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"window={self.window}, p_low={self.p_low}, p_high={self.p_high}, "
            f"sigma={self.sigma}, reduction={self.reduction!r}"
        )
