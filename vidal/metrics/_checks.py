"""Argument checks shared by the metrics modules (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vidal.errors import VidalError


def to_numpy(x: Any) -> np.ndarray:
    """A numpy view of an array-like, a CPU or CUDA torch tensor included."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def boxes_array(x: Any, name: str) -> np.ndarray:
    """``x`` as float64 ``[N, 4]`` boxes; raise naming ``name`` when it is not."""
    arr = to_numpy(x)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise VidalError(f"{name} must have shape [N, 4] (x1, y1, x2, y2), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise VidalError(f"{name} holds non-finite coordinates")
    return arr


def vector(x: Any, name: str, n: int, dtype: Any) -> np.ndarray:
    """``x`` as a 1-D array of length ``n`` and the given dtype; raise naming ``name``."""
    arr = to_numpy(x)
    if arr.size == 0 and n == 0:
        return np.zeros(0, dtype=dtype)
    if arr.ndim != 1 or len(arr) != n:
        raise VidalError(f"{name} must have shape [{n}], got {arr.shape}")
    if np.issubdtype(np.dtype(dtype), np.integer) and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise VidalError(f"{name} must hold integers, got {arr.dtype} values {arr[:5]}")
    out = arr.astype(dtype)
    if np.issubdtype(out.dtype, np.floating) and not np.isfinite(out).all():
        raise VidalError(f"{name} holds non-finite values")
    return out


def labels_in_range(labels: np.ndarray, num_classes: int, name: str) -> None:
    """Raise when a class index lies outside ``0 .. num_classes - 1``."""
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise VidalError(
            f"{name} holds class indices {np.unique(bad)[:5].tolist()} outside "
            f"0..{num_classes - 1} (num_classes={num_classes})"
        )


def positive_int(x: Any, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
        raise VidalError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def thresholds(values: Sequence[float] | float, name: str) -> tuple[float, ...]:
    """A sorted tuple of the distinct thresholds in ``values``, each in ``[0, 1]``."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as e:
        raise VidalError(f"{name} must be a number or a sequence of numbers, got {values!r}") from e
    if arr.ndim != 1 or arr.size == 0:
        raise VidalError(f"{name} must hold at least one threshold, got {values!r}")
    bad = arr[~((arr >= 0.0) & (arr <= 1.0))]  # NaN fails both comparisons
    if bad.size:
        raise VidalError(f"{name} values must lie in [0, 1], got {bad.tolist()}")
    return tuple(sorted(set(arr.tolist())))


def choice(value: str, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise VidalError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def mean_or_none(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not ``None``; ``None`` when there are none."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None
