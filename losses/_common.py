"""Shared pieces of the losses package: the error type, input checks, reductions and the
per-frame neighbour search that masking, MGW, STeW and the pseudo-labels all use.

Private: import the public names from :mod:`losses`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "LossInputError",
    "REDUCTIONS",
    "check_tensor",
    "check_labeled",
    "check_reduction",
    "check_sigma",
    "check_int",
    "weighted_reduce",
    "reduce_weighted",
    "reduce",
    "neighbour_labeled",
    "nearest_labeled",
]

REDUCTIONS = ("none", "mean", "sum")


class LossInputError(ValueError):
    """A loss or pseudo-label function was given an argument of the wrong shape, type or value.

    The message names the argument and the shape or range it expects.
    """


def check_tensor(x: object, name: str, dims: str, shape: Sequence[int] | None = None) -> Tensor:
    """Check that ``x`` is a tensor with ``len(dims)`` dimensions (and ``shape`` if given).

    Args:
        x: the argument to check.
        name: its name, used in the error message.
        dims: the expected dimensions in the shared vocabulary, e.g. ``"B, T, H, W"``.
        shape: the exact expected shape, when it is fixed by another argument.

    Returns:
        ``x`` itself.

    Raises:
        LossInputError: if ``x`` is not a tensor or its shape differs.
    """
    ndim = len(dims.split(","))
    if not isinstance(x, Tensor):
        raise LossInputError(f"{name} must be a Tensor[{dims}]; got {type(x).__name__}")
    if x.dim() != ndim:
        raise LossInputError(
            f"{name} must have shape [{dims}] ({ndim} dimensions); got shape {tuple(x.shape)}"
        )
    if shape is not None and tuple(x.shape) != tuple(shape):
        raise LossInputError(
            f"{name} must have shape [{dims}] = {tuple(shape)} to match the other inputs; "
            f"got shape {tuple(x.shape)}"
        )
    return x


def check_labeled(
    labeled: object, name: str, dims: str, shape: Sequence[int] | None = None
) -> Tensor:
    """Check a boolean per-frame mask such as ``labeled (Tensor[B, T])``."""
    labeled = check_tensor(labeled, name, dims, shape)
    if labeled.dtype != torch.bool:
        raise LossInputError(f"{name} must be a bool Tensor[{dims}]; got dtype {labeled.dtype}")
    return labeled


def check_reduction(reduction: str) -> str:
    """Check that ``reduction`` is one of ``"none"``, ``"mean"``, ``"sum"``."""
    if reduction not in REDUCTIONS:
        raise LossInputError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")
    return reduction


def check_sigma(sigma: float) -> float:
    """Check the Gaussian width: a number in ``[0, inf]`` (both ends allowed)."""
    sigma = float(sigma)
    if not sigma >= 0.0:  # also catches NaN
        raise LossInputError(f"sigma must be >= 0 (0 and inf allowed); got {sigma}")
    return sigma


def check_int(value: object, name: str, minimum: int, what: str = "") -> int:
    """Check an integer argument (Python or numpy integer, not bool) ``>= minimum``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise LossInputError(f"{name} must be an int >= {minimum}{what}; got {value!r}")
    return number


def weighted_reduce(loss: Tensor, weight: Tensor, reduction: str) -> Tensor:
    """Weight ``loss`` elementwise and reduce it.

    ``"none"`` returns ``loss * weight`` (exactly 0 where the weight is 0, even if the loss there
    is not finite); ``"sum"`` its sum; ``"mean"`` the weighted mean ``sum(w * l) / sum(w)``, which
    is 0 (with zero gradient) when every weight is 0.

    Args:
        loss (Tensor[...]): elementwise loss.
        weight (Tensor[...]): non-negative weights broadcastable to ``loss``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        ``Tensor[...]`` for ``"none"``, else a scalar tensor.
    """
    weight = weight.to(loss.dtype).expand_as(loss)
    weighted = torch.where(weight > 0, loss * weight, torch.zeros_like(loss))
    return reduce_weighted(weighted, weight, reduction)


def reduce_weighted(weighted: Tensor, weight: Tensor, reduction: str) -> Tensor:
    """Reduce losses that already carry their weights.

    Args:
        weighted (Tensor[...]): weighted elementwise losses ``w * l``.
        weight (Tensor[...]): the weights (any shape; only their sum is read, for ``"mean"``).
        reduction: ``"none"`` returns ``weighted``, ``"sum"`` its sum, ``"mean"`` its sum
            divided by the total weight (0 when every weight is 0).

    Returns:
        ``weighted`` for ``"none"``, else a scalar tensor.
    """
    if reduction == "none":
        return weighted
    total = weighted.sum()
    if reduction == "sum":
        return total
    norm = weight.sum()
    return total / torch.where(norm > 0, norm, torch.ones_like(norm))


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """:func:`weighted_reduce` with every weight 1: ``loss``, its sum or its mean."""
    return weighted_reduce(loss, torch.ones_like(loss), reduction)


def neighbour_labeled(labeled: Tensor) -> tuple[Tensor, Tensor]:
    """Previous and next labeled frame of every frame.

    Args:
        labeled (Tensor[B, T]): bool, which frames have ground truth.

    Returns:
        ``(prev, next)``, both int64 ``Tensor[B, T]``: the last labeled frame ``<= t`` (``-1``
        if none) and the first labeled frame ``>= t`` (``T`` if none). On a labeled frame both
        equal ``t``.
    """
    num_frames = labeled.shape[-1]
    idx = torch.arange(num_frames, device=labeled.device).expand_as(labeled)
    prev = torch.where(labeled, idx, torch.full_like(idx, -1)).cummax(dim=-1).values
    after = torch.where(labeled, idx, torch.full_like(idx, num_frames))
    nxt = after.flip(-1).cummin(dim=-1).values.flip(-1)
    return prev, nxt


def nearest_labeled(labeled: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest labeled frame of every frame, and the distance to it in frames.

    Ties (a frame half-way between two labeled frames) go to the earlier labeled frame.

    Args:
        labeled (Tensor[B, T]): bool, which frames have ground truth.

    Returns:
        ``(index, distance)``: int64 ``Tensor[B, T]`` index of the nearest labeled frame (``-1``
        in a video without labeled frames) and float32 ``Tensor[B, T]`` ``|t - index|``
        (``inf`` in a video without labeled frames).
    """
    num_frames = labeled.shape[-1]
    prev, nxt = neighbour_labeled(labeled)
    t = torch.arange(num_frames, device=labeled.device).expand_as(labeled)
    inf = torch.full(labeled.shape, float("inf"), device=labeled.device)
    d_prev = torch.where(prev >= 0, (t - prev).float(), inf)
    d_next = torch.where(nxt < num_frames, (nxt - t).float(), inf)
    use_prev = d_prev <= d_next
    index = torch.where(use_prev, prev, nxt)
    distance = torch.where(use_prev, d_prev, d_next)
    index = torch.where(torch.isfinite(distance), index, torch.full_like(index, -1))
    return index, distance
