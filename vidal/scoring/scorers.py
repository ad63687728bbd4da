"""Scorers: callables from MC foreground probabilities to per-frame scores, found by name.

A scorer takes ``probs`` of one clip or video, ``ndarray`` or ``Tensor[R, T, H, W]``, and
returns float64 ``ndarray[T]``. NumPy arrays and CPU tensors go through the numba kernels;
tensors on an accelerator through the torch path on that device (the two agree to 1e-6).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from vidal.errors import ConfigError, VidalError
from vidal.scoring.kernels import Kind, Normalize, check_options, frame_sums, normalize_sums
from vidal.scoring.torch_scores import frame_sums_torch

__all__ = [
    "PixelScorer",
    "UncertaintyScorer",
    "EntropyScorer",
    "MutualInformationScorer",
    "SCORERS",
    "get_scorer",
]


@dataclass(frozen=True, kw_only=True)
class PixelScorer:
    """Per-frame mean of a pixel score over the kept pixels (see :mod:`vidal.scoring.kernels`).

    Args:
        tau: non-activity suppression confidence; ``None`` keeps every pixel.
        eps: probability clamp inside the logarithms.
        normalize: ``"pixels"`` divides by ``H*W`` (the papers), ``"kept"`` by the kept pixels.
    """

    kind: ClassVar[Kind]
    tau: float | None = None
    eps: float = 1e-6
    normalize: Normalize = "pixels"

    def __post_init__(self) -> None:
        try:
            check_options(self.tau, self.eps, self.normalize)
        except VidalError as e:
            raise ConfigError(f"{type(self).__name__}: {e}") from e

    def __call__(self, probs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Score ``probs (ndarray | Tensor[R, T, H, W])``; returns float64 ``ndarray[T]``."""
        if isinstance(probs, torch.Tensor) and probs.device.type != "cpu":
            sums_t, kept_t = frame_sums_torch(probs, kind=self.kind, tau=self.tau, eps=self.eps)
            sums, kept = sums_t.cpu().numpy(), kept_t.cpu().numpy()
        else:
            if isinstance(probs, torch.Tensor):
                if probs.dtype not in (torch.float32, torch.float64):
                    probs = probs.float()
                probs = probs.detach().numpy()
            sums, kept = frame_sums(probs, kind=self.kind, tau=self.tau, eps=self.eps)
        shape = probs.shape
        return normalize_sums(sums, kept, int(shape[2]) * int(shape[3]), self.normalize)


@dataclass(frozen=True, kw_only=True)
class UncertaintyScorer(PixelScorer):
    """ASL Eq. 1 / CLAUS Eq. 2: mean ``-log p`` with non-activity suppression (tau 0.9)."""

    kind: ClassVar[Kind] = "uncertainty"
    tau: float | None = 0.9


@dataclass(frozen=True, kw_only=True)
class EntropyScorer(PixelScorer):
    """Mean entropy of the mean Bernoulli foreground (Aghdam et al.'s pixel entropy)."""

    kind: ClassVar[Kind] = "entropy"


@dataclass(frozen=True, kw_only=True)
class MutualInformationScorer(PixelScorer):
    """Mean BALD mutual information of the Bernoulli foreground (registered as ``"bald"``)."""

    kind: ClassVar[Kind] = "mutual_information"


SCORERS: dict[str, PixelScorer] = {
    "uncertainty": UncertaintyScorer(),
    "entropy": EntropyScorer(),
    "bald": MutualInformationScorer(),
}


def get_scorer(name: str, **options: Any) -> PixelScorer:
    """The scorer called ``name`` (as in :data:`SCORERS`) with other ``options``.

    Example:
        >>> get_scorer("uncertainty", tau=0.8)
        UncertaintyScorer(tau=0.8, eps=1e-06, normalize='pixels')

    Raises:
        ConfigError: for an unknown name (the message lists the known ones) or option.
    """
    if name not in SCORERS:
        raise ConfigError(f"unknown scorer {name!r}; known scorers: {', '.join(sorted(SCORERS))}")
    try:
        return dataclasses.replace(SCORERS[name], **options)
    except TypeError as e:
        known = [f.name for f in dataclasses.fields(SCORERS[name])]
        raise ConfigError(f"scorer {name!r} takes options {known}: {e}") from e
