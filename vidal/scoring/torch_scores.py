"""The per-frame scores of :mod:`vidal.scoring.kernels`, vectorised in torch (GPU or CPU).

Same definitions, same options, same numbers (to 1e-6; both accumulate in float64): see
:mod:`vidal.scoring.kernels` for the formulas and the paper equations. The work is chunked
over frames so that the float64 temporaries never exceed ``max_elements`` values, whatever
the length of the input.
"""

from __future__ import annotations

import torch

from vidal.errors import VidalError
from vidal.scoring.kernels import (
    Kind,
    Normalize,
    bad_probabilities,
    check_frame_input,
    check_options,
)

__all__ = [
    "pixel_uncertainty_torch",
    "pixel_entropy_torch",
    "mutual_information_torch",
    "frame_sums_torch",
]

DEFAULT_MAX_ELEMENTS = 1 << 24  # float64 values per temporary (128 MiB)


def _bernoulli_entropy(q: torch.Tensor) -> torch.Tensor:
    return -(q * torch.log(q) + (1.0 - q) * torch.log1p(-q))


def frame_sums_torch(
    p: torch.Tensor,
    *,
    kind: Kind,
    tau: float | None,
    eps: float = 1e-6,
    chunk_frames: int | None = None,
    max_elements: int = DEFAULT_MAX_ELEMENTS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame sum of the pixel score over the kept pixels, and the kept-pixel count.

    Args:
        p (Tensor[R, T, H, W]): foreground probabilities in ``[0, 1]``, any float dtype,
            on any device.
        kind: ``"uncertainty"``, ``"entropy"`` or ``"mutual_information"``.
        tau: suppression confidence (pixels with mean probability below ``1 - tau`` are left
            out); ``None`` keeps every pixel.
        eps: clamp inside the logarithms, as in :func:`vidal.scoring.kernels.frame_sums`.
        chunk_frames: frames per chunk; by default as many as keep a float64 copy of the
            chunk under ``max_elements`` values.
        max_elements: bound on the size of the temporaries when ``chunk_frames`` is None.

    Returns:
        ``(sums, kept)``: float64 ``Tensor[T]`` and int64 ``Tensor[T]`` on ``p``'s device.

    Raises:
        VidalError: when ``p`` is not 4-D, holds NaN or values outside ``[0, 1]``.
    """
    thr = check_frame_input(tuple(p.shape), kind, tau, eps)
    R, T, H, W = p.shape
    sums = torch.zeros(T, dtype=torch.float64, device=p.device)
    kept = torch.zeros(T, dtype=torch.int64, device=p.device)
    if T == 0 or H * W == 0:
        return sums, kept
    if chunk_frames is None:
        chunk_frames = max(1, max_elements // (R * H * W))
    if chunk_frames < 1:
        raise VidalError(f"chunk_frames={chunk_frames} must be >= 1")
    for t0 in range(0, T, chunk_frames):
        x = p[:, t0 : t0 + chunk_frames].to(torch.float64)  # [R, c, H, W]
        bad = ~((x >= 0) & (x <= 1)).flatten(2).all(dim=2).all(dim=0)  # [c]
        if bool(bad.any()):
            t = int(torch.nonzero(bad)[0])
            raise bad_probabilities(t0 + t, bool(torch.isnan(x[:, t]).any()))
        pbar = x.sum(dim=0) / R  # [c, H, W]
        if kind == "uncertainty":
            value = -torch.log(x.clamp_min(eps)).sum(dim=0) / R  # [c, H, W]
        else:
            value = _bernoulli_entropy(pbar.clamp(eps, 1.0 - eps))  # [c, H, W]
            if kind == "mutual_information":
                value = value - _bernoulli_entropy(x.clamp(eps, 1.0 - eps)).sum(dim=0) / R
        keep = pbar >= thr  # [c, H, W]
        c = x.shape[1]
        sums[t0 : t0 + c] = torch.where(keep, value, 0.0).flatten(1).sum(dim=1)
        kept[t0 : t0 + c] = keep.flatten(1).sum(dim=1)
    return sums, kept


def _normalize(
    sums: torch.Tensor, kept: torch.Tensor, num_pixels: int, normalize: Normalize
) -> torch.Tensor:
    if normalize == "pixels":
        return sums / num_pixels if num_pixels else torch.zeros_like(sums)
    return torch.where(kept > 0, sums / kept.clamp_min(1), 0.0)


def _score(
    p: torch.Tensor,
    kind: Kind,
    tau: float | None,
    eps: float,
    normalize: Normalize,
    chunk_frames: int | None,
) -> torch.Tensor:
    check_options(tau, eps, normalize)
    sums, kept = frame_sums_torch(p, kind=kind, tau=tau, eps=eps, chunk_frames=chunk_frames)
    return _normalize(sums, kept, p.shape[2] * p.shape[3], normalize)


def pixel_uncertainty_torch(
    p: torch.Tensor,
    *,
    tau: float | None = 0.9,
    eps: float = 1e-6,
    normalize: Normalize = "pixels",
    chunk_frames: int | None = None,
) -> torch.Tensor:
    """Frame uncertainty with non-activity suppression (ASL Eq. 1, CLAUS Eq. 2), in torch.

    :func:`~vidal.scoring.kernels.pixel_uncertainty` (the formula and the options) of
    ``p (Tensor[R, T, H, W])`` on any device, ``chunk_frames`` frames at a time (default:
    bounded memory).

    Returns:
        float64 ``Tensor[T]`` on ``p``'s device.

    Example:
        >>> p = torch.full((2, 3, 4, 4), 0.5)
        >>> p[:, 2] = 0.01  # definite background
        >>> pixel_uncertainty_torch(p).round(decimals=4).tolist()
        [0.6931, 0.6931, 0.0]
    """
    return _score(p, "uncertainty", tau, eps, normalize, chunk_frames)


def pixel_entropy_torch(
    p: torch.Tensor,
    *,
    tau: float | None = None,
    eps: float = 1e-6,
    normalize: Normalize = "pixels",
    chunk_frames: int | None = None,
) -> torch.Tensor:
    """Mean pixel entropy of the mean Bernoulli foreground, per frame, in torch.

    :func:`~vidal.scoring.kernels.pixel_entropy` (the formula and the options) of
    ``p (Tensor[R, T, H, W])`` on any device, ``chunk_frames`` frames at a time.

    Returns:
        float64 ``Tensor[T]`` on ``p``'s device.

    Example:
        >>> p = torch.stack([torch.full((1, 2, 2), 0.5), torch.ones(1, 2, 2)])  # [2, 1, 2, 2]
        >>> pixel_entropy_torch(p).round(decimals=4).tolist()
        [0.5623]
    """
    return _score(p, "entropy", tau, eps, normalize, chunk_frames)


def mutual_information_torch(
    p: torch.Tensor,
    *,
    tau: float | None = None,
    eps: float = 1e-6,
    normalize: Normalize = "pixels",
    chunk_frames: int | None = None,
) -> torch.Tensor:
    """Mean pixel mutual information (BALD) of the Bernoulli foreground, per frame, in torch.

    :func:`~vidal.scoring.kernels.mutual_information` (the formula and the options) of
    ``p (Tensor[R, T, H, W])`` on any device, ``chunk_frames`` frames at a time.

    Returns:
        float64 ``Tensor[T]`` on ``p``'s device.

    Example:
        >>> p = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])  # passes disagree
        >>> mutual_information_torch(p).round(decimals=4).tolist()
        [0.6931]
    """
    return _score(p, "mutual_information", tau, eps, normalize, chunk_frames)
