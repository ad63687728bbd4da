"""The flow of one video (:class:`Flows`) and computing it from frames (:func:`compute_flows`).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> frames = rng.integers(0, 255, size=(3, 32, 48, 3), dtype=np.uint8)
    >>> flows = compute_flows(frames, method="farneback")
    >>> flows.forward.shape, flows.backward.shape, flows.frame_size
    ((2, 32, 48, 2), (2, 32, 48, 2), (32, 48))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import TrackingError
from .methods import FlowMethod, get_flow_method

__all__ = ["FLOW_SHORT_SIDE", "Flows", "compute_flows", "resolve_scale"]

FLOW_SHORT_SIDE = 160
"""``scale=None`` (the default) computes flow with the frames' shorter side at most this many
pixels: 0.625 of UCF-101-24's 340x256, 0.67 of J-HMDB's 320x240, 0.33 of DAVIS' 854x480 and
0.22 of ImageNet-VID's 1280x720. Measured by ``tools/bench/bench_tc.py`` (DIS ultrafast, one
thread, CPU time): 2.2-4.9 ms per frame pair on those four, under a fifth of Yolo-Fastest-xl's
27-34 ms per frame on the same frames, with TC's per-frame FP/FN precision and recall on
injected errors as good as full-size ``dis-medium``'s. At 192 px the 1280x720 clip took
0.23-0.27 of the detector; at 128 px (UCF at scale 0.5) the estimates got slightly worse."""


@dataclass(frozen=True)
class Flows:
    """Forward and backward flow of one video.

    Attributes:
        forward (ndarray[T-1, h, w, 2]): ``forward[t]`` maps frame ``t`` to ``t + 1``.
        backward (ndarray[T-1, h, w, 2]): ``backward[t]`` maps frame ``t + 1`` to ``t``.
        frame_size: ``(H, W)`` of the frames; the vectors are in pixels of this size even
            when the grid ``h x w`` is coarser (computed with ``scale < 1``).
    """

    forward: np.ndarray
    backward: np.ndarray
    frame_size: tuple[int, int]

    def __post_init__(self) -> None:
        fwd, bwd = self.forward, self.backward
        if fwd.ndim != 4 or fwd.shape[-1] != 2:
            raise TrackingError(f"forward flow must have shape [T-1, h, w, 2], got {fwd.shape}")
        if bwd.shape != fwd.shape:
            raise TrackingError(
                f"backward flow shape {bwd.shape} differs from forward flow shape {fwd.shape}"
            )
        if len(self.frame_size) != 2 or min(self.frame_size) < 1:
            raise TrackingError(f"frame_size must be (H, W) > 0, got {self.frame_size}")

    @property
    def num_frames(self) -> int:
        """Number of frames ``T`` of the video."""
        return int(self.forward.shape[0]) + 1

    @property
    def grid_size(self) -> tuple[int, int]:
        """``(h, w)`` of the flow grid."""
        return int(self.forward.shape[1]), int(self.forward.shape[2])


def check_frames(frames: Any, name: str = "frames") -> np.ndarray:
    """``frames`` as an ``ndarray[T, H, W, 3]`` uint8 with ``T >= 1``, or a TrackingError."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise TrackingError(f"{name} must have shape [T, H, W, 3] with T >= 1, got {arr.shape}")
    if arr.dtype != np.uint8:
        raise TrackingError(f"{name} must be uint8, got {arr.dtype}")
    return arr


def check_scale(scale: float | None) -> float | None:
    """``scale`` as a float in ``(0, 1]`` (or ``None``: automatic), or a TrackingError."""
    if scale is None:
        return None
    if not 0.0 < scale <= 1.0:
        raise TrackingError(f"scale must be in (0, 1] or None, got {scale}")
    return float(scale)


def resolve_scale(scale: float | None, height: int, width: int) -> float:
    """The scale used for ``height x width`` frames: ``scale`` itself, or for ``None`` the
    largest in ``(0, 1]`` that brings the shorter side to at most :data:`FLOW_SHORT_SIDE`.

    Example:
        >>> resolve_scale(None, 480, 854), resolve_scale(None, 256, 340)
        (0.3333333333333333, 0.625)
        >>> resolve_scale(0.5, 256, 340)
        0.5
    """
    if scale is None:
        return min(1.0, FLOW_SHORT_SIDE / min(height, width))
    return scale


def scale_key(scale: float | None) -> str:
    """How a scale setting names files: ``"s0.5"``, or ``"auto160"`` for ``None``."""
    return f"auto{FLOW_SHORT_SIDE}" if scale is None else f"s{scale:g}"


def grid_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(h, w)`` of the flow grid of ``height x width`` frames at ``scale``."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def _resize(frame: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    if frame.shape[:2] == grid:
        return frame
    return cv2.resize(frame, (grid[1], grid[0]), interpolation=cv2.INTER_AREA)


def flow_pairs(
    frames: np.ndarray, pairs: Sequence[int], method: FlowMethod, scale: float
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(t, forward [h, w, 2], backward [h, w, 2])`` float32 for each pair index ``t``.

    Pairs go to the method in batches of up to 16 (only RAFT batches for real). Vectors are
    scaled to full-frame pixels.

    Args:
        frames (ndarray[T, H, W, 3]): uint8 RGB, checked by the caller.
        pairs: indices ``t`` of the pairs ``t -> t + 1`` to compute, ascending.
        method: the flow method.
        scale: the grid's fraction of the frame size.

    Raises:
        TrackingError: when the method returns the wrong shape or non-finite values.
    """
    height, width = frames.shape[1:3]
    grid = grid_size(height, width, scale)
    to_frame = np.array([width / grid[1], height / grid[0]], dtype=np.float32)  # [2]
    small: dict[int, np.ndarray] = {}
    for start in range(0, len(pairs), 16):
        chunk = list(pairs[start : start + 16])
        for t in {*chunk, *(t + 1 for t in chunk)} - small.keys():
            small[t] = _resize(frames[t], grid)
        first = np.stack([small[t] for t in chunk])  # [B, h, w, 3]
        second = np.stack([small[t + 1] for t in chunk])
        fwd = np.asarray(method(first, second)) * to_frame  # [B, h, w, 2]
        bwd = np.asarray(method(second, first)) * to_frame
        if fwd.shape != (len(chunk), *grid, 2) or bwd.shape != fwd.shape:
            raise TrackingError(
                f"flow method {method.tag!r} returned {fwd.shape} and {bwd.shape}, "
                f"expected [B, h, w, 2] = {(len(chunk), *grid, 2)}"
            )
        if not (np.isfinite(fwd).all() and np.isfinite(bwd).all()):
            raise TrackingError(f"flow method {method.tag!r} returned non-finite flow")
        yield from zip(chunk, fwd, bwd, strict=True)
        for t in [t for t in small if t <= chunk[-1]]:
            del small[t]


def compute_flows(
    frames: np.ndarray,
    *,
    method: str | FlowMethod = "dis",
    scale: float | None = None,
) -> Flows:
    """Forward and backward flow between all consecutive frames, without a cache.

    Args:
        frames (ndarray[T, H, W, 3]): uint8 RGB video.
        method: a name in :data:`~tracking.flow.FLOW_METHODS` (``"dis"``, ``"dis-ultrafast"``,
            ``"farneback"``, ...) or a :class:`~tracking.flow.FlowMethod` such as
            :class:`~tracking.flow.RAFTFlow`.
        scale: compute on frames resized by this factor in ``(0, 1]``; vectors are returned in
            full-frame pixels on the coarser grid (see :mod:`tracking.flow`). ``None``
            (default): the shorter side at most :data:`FLOW_SHORT_SIDE` pixels.

    Returns:
        :class:`Flows` with ``forward`` and ``backward`` of shape ``[T-1, h, w, 2]`` float32.

    Raises:
        TrackingError: on a bad shape, dtype, scale or method name.
    """
    frames = check_frames(frames)
    flow_method = get_flow_method(method)
    height, width = frames.shape[1:3]
    scale = resolve_scale(check_scale(scale), height, width)
    grid = grid_size(height, width, scale)
    fwd = np.zeros((len(frames) - 1, *grid, 2), dtype=np.float32)
    bwd = np.zeros_like(fwd)
    for t, f, b in flow_pairs(frames, range(len(frames) - 1), flow_method, scale):
        fwd[t], bwd[t] = f, b
    return Flows(forward=fwd, backward=bwd, frame_size=(height, width))
