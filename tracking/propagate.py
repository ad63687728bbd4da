"""Moving boxes through a video with optical flow.

The thesis tracks a detection ``d_i`` of frame ``i`` to a nearby frame ``j``, giving the
tracked detection ``d_{i->j}``, by translating "the box coordinates using the motion vector
corresponding to the box center" (Zolfaghari Bengar 2021, Sec. 2.3.2, "Object tracker"), and
tracks up to three frames away in each direction (Fig. 2.2). Flows exist between consecutive
frames only, so a box reaches frame ``i + k`` by ``k`` chained steps, re-reading the flow at
its new centre each step. ``mode="median"`` moves the box by the median of the flow sampled on
a grid inside it instead, which is steadier when the centre falls on background.

Boxes are translated, not resized. While chained, a box keeps its unclipped coordinates so
that an object leaving the frame keeps its motion; every returned box is clipped to the frame
and comes with the fraction of its unclipped area that lies inside (``visible``).

Example:
    >>> import numpy as np
    >>> from tracking.flow import Flows
    >>> fwd = np.zeros((2, 20, 30, 2), np.float32); fwd[..., 0] = 2.0  # everything moves +2 px in x
    >>> flows = Flows(forward=fwd, backward=-fwd, frame_size=(20, 30))
    >>> propagate_boxes(np.array([[4, 4, 10, 10]], np.float32), flows, start=0, stop=2)
    array([[ 8.,  4., 14., 10.]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._boxes import box_area, check_boxes, clip_boxes
from .errors import TrackingError
from .flow import Flows

__all__ = ["PROPAGATION_MODES", "Propagation", "propagate_boxes", "propagate_detections"]

PROPAGATION_MODES = ("center", "median")
"""How a box is moved: by the flow at its centre (the thesis) or the median flow inside it."""


@dataclass(frozen=True)
class Propagation:
    """Every detection tracked to every frame within the window, as flat arrays.

    Attributes:
        source (ndarray[P] int64): index of the tracked detection in the flattened order
            (frame by frame, then box by box; see :func:`propagate_detections`).
        frame (ndarray[P] int64): the frame the box was tracked to.
        boxes (ndarray[P, 4] float32): tracked boxes, clipped to the frame.
        visible (ndarray[P] float32): fraction of the unclipped tracked box inside the frame.
    """

    source: np.ndarray
    frame: np.ndarray
    boxes: np.ndarray
    visible: np.ndarray

    def __len__(self) -> int:
        return int(self.source.shape[0])


def _sample_flow(
    flow: np.ndarray, pair: np.ndarray, points: np.ndarray, frame_size: tuple[int, int]
) -> np.ndarray:
    """Bilinear sample of per-pair flow grids at frame points (border values outside).

    Args:
        flow (ndarray[F, h, w, 2]): flow grids in frame pixels.
        pair (ndarray[M] int): which grid each point reads.
        points (ndarray[M, 2]): ``(x, y)`` in frame pixels of size ``frame_size``.
        frame_size: ``(H, W)``.

    Returns:
        ndarray[M, 2] float32 ``(dx, dy)``.
    """
    h, w = flow.shape[1:3]
    height, width = frame_size
    gx = np.clip(points[:, 0] * (w / width) - 0.5, 0.0, w - 1.0)  # pixel centres on the grid
    gy = np.clip(points[:, 1] * (h / height) - 0.5, 0.0, h - 1.0)
    x0 = np.floor(gx).astype(np.int64)
    y0 = np.floor(gy).astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (gx - x0)[:, None].astype(np.float32)
    fy = (gy - y0)[:, None].astype(np.float32)
    top = flow[pair, y0, x0].astype(np.float32) * (1 - fx) + flow[pair, y0, x1] * fx
    bottom = flow[pair, y1, x0].astype(np.float32) * (1 - fx) + flow[pair, y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _box_motion(
    flow: np.ndarray,
    pair: np.ndarray,
    boxes: np.ndarray,
    frame_size: tuple[int, int],
    mode: str,
    median_grid: int,
) -> np.ndarray:
    """Displacement of each box for one step: flow at the centre or median flow inside.

    Args:
        flow (ndarray[F, h, w, 2]): flow grids.
        pair (ndarray[N] int): the grid each box reads.
        boxes (ndarray[N, 4]): unclipped boxes in the frame the grids start from.
        frame_size: ``(H, W)``.
        mode: ``"center"`` or ``"median"``.
        median_grid: ``g``, the median reads a ``g x g`` grid of cell centres in the box.

    Returns:
        ndarray[N, 2] float32 ``(dx, dy)``.
    """
    if mode == "center":
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2  # [N, 2]
        return _sample_flow(flow, pair, centres, frame_size)
    steps = (np.arange(median_grid, dtype=np.float32) + 0.5) / median_grid  # [g]
    gx, gy = np.meshgrid(steps, steps)  # [g, g]
    offsets = np.stack([gx.ravel(), gy.ravel()], axis=1)  # [g*g, 2]
    size = boxes[:, 2:] - boxes[:, :2]  # [N, 2]
    points = boxes[:, None, :2] + offsets[None] * size[:, None]  # [N, g*g, 2]
    n, k = points.shape[:2]
    motion = _sample_flow(flow, np.repeat(pair, k), points.reshape(-1, 2), frame_size)
    return np.median(motion.reshape(n, k, 2), axis=1).astype(np.float32)


def _visible(boxes: np.ndarray, clipped: np.ndarray) -> np.ndarray:
    area = box_area(boxes)
    return np.where(area > 0, box_area(clipped) / np.where(area > 0, area, 1.0), 0.0).astype(
        np.float32
    )


def _check_mode(mode: str, median_grid: int) -> None:
    if mode not in PROPAGATION_MODES:
        raise TrackingError(f"unknown mode {mode!r}; known: {', '.join(PROPAGATION_MODES)}")
    if median_grid < 1:
        raise TrackingError(f"median_grid must be at least 1, got {median_grid}")


def propagate_boxes(
    boxes: np.ndarray,
    flows: Flows,
    *,
    start: int,
    stop: int,
    mode: str = "center",
    median_grid: int = 5,
) -> np.ndarray:
    """Track boxes from frame ``start`` to frame ``stop`` (either direction) by chained flow.

    Args:
        boxes (ndarray[N, 4]): ``x1, y1, x2, y2`` in frame ``start``.
        flows: the video's :class:`~tracking.flow.Flows`.
        start: 0-based frame the boxes are in.
        stop: 0-based frame to track them to.
        mode: ``"center"`` (the thesis) or ``"median"``.
        median_grid: ``g`` of the ``g x g`` sample grid for ``mode="median"``.

    Returns:
        ndarray[N, 4] float32: the boxes in frame ``stop``, clipped to the frame.

    Raises:
        TrackingError: on a bad shape, frame index or mode.
    """
    _check_mode(mode, median_grid)
    cur = check_boxes(boxes, "boxes").copy()
    num_frames = flows.num_frames
    for name, value in (("start", start), ("stop", stop)):
        if not 0 <= value < num_frames:
            raise TrackingError(f"{name}={value} is outside the video's frames [0, {num_frames})")
    step = 1 if stop >= start else -1
    for t in range(start, stop, step):
        flow, pair = (flows.forward, t) if step > 0 else (flows.backward, t - 1)
        index = np.full(len(cur), pair, dtype=np.int64)
        motion = _box_motion(flow, index, cur, flows.frame_size, mode, median_grid)
        cur += np.tile(motion, 2)
    return clip_boxes(cur, *flows.frame_size)


def propagate_detections(
    boxes_per_frame: Sequence[np.ndarray],
    flows: Flows,
    *,
    window: int = 3,
    mode: str = "center",
    median_grid: int = 5,
) -> Propagation:
    """Track every box to each frame up to ``window`` frames before and after its own.

    Builds the thesis' tracked detections ``d_{i->j}`` for all ``0 < |i - j| <= window``
    (Sec. 2.3.2; the thesis uses ``window=3``). Work is vectorised over all boxes of the video:
    ``2 * window`` steps, each sampling the flow of every still-moving box at once.

    Args:
        boxes_per_frame (Sequence[ndarray[N_t, 4]]): boxes of each of the ``T`` frames,
            flattened in order (frame 0's boxes, then frame 1's, ...) to number the sources.
        flows: the video's flows; ``flows.num_frames`` must equal ``T``.
        window: how many frames to track in each direction.
        mode: ``"center"`` (the thesis) or ``"median"``.
        median_grid: ``g`` of the ``g x g`` sample grid for ``mode="median"``.

    Returns:
        :class:`Propagation` of the ``P`` tracked boxes, forward steps first.

    Raises:
        TrackingError: on a bad shape, a frame-count mismatch, a bad window or mode.
    """
    _check_mode(mode, median_grid)
    if window < 0:
        raise TrackingError(f"window must be >= 0, got {window}")
    num_frames = len(boxes_per_frame)
    if flows.num_frames != num_frames:
        raise TrackingError(
            f"flows cover {flows.num_frames} frames but boxes_per_frame has {num_frames}"
        )
    per_frame = [check_boxes(b, f"boxes_per_frame[{t}]") for t, b in enumerate(boxes_per_frame)]
    start = np.concatenate(per_frame) if per_frame else np.zeros((0, 4), np.float32)  # [N, 4]
    origin = np.repeat(np.arange(num_frames), [len(b) for b in per_frame])  # [N]
    sources, frames, out_boxes, visible = [], [], [], []
    for direction in (1, -1):
        cur, frame = start.copy(), origin.copy()
        alive = np.ones(len(cur), dtype=bool)
        flow = flows.forward if direction > 0 else flows.backward
        for _ in range(window):
            alive &= (frame + direction >= 0) & (frame + direction < num_frames)
            idx = np.flatnonzero(alive)
            if len(idx) == 0:
                break
            pair = frame[idx] if direction > 0 else frame[idx] - 1
            motion = _box_motion(flow, pair, cur[idx], flows.frame_size, mode, median_grid)
            cur[idx] += np.tile(motion, 2)
            frame[idx] += direction
            clipped = clip_boxes(cur[idx], *flows.frame_size)
            sources.append(idx)
            frames.append(frame[idx].copy())
            out_boxes.append(clipped)
            visible.append(_visible(cur[idx], clipped))
    if not sources:
        return Propagation(
            source=np.zeros(0, np.int64),
            frame=np.zeros(0, np.int64),
            boxes=np.zeros((0, 4), np.float32),
            visible=np.zeros(0, np.float32),
        )
    return Propagation(
        source=np.concatenate(sources).astype(np.int64),
        frame=np.concatenate(frames).astype(np.int64),
        boxes=np.concatenate(out_boxes),
        visible=np.concatenate(visible),
    )
