"""Dense optical flow between consecutive frames, computed once per video and cached on disk.

The thesis tracks detections with optical flow "computed once at the beginning" of active
learning and reused in every cycle (Zolfaghari Bengar 2021, Sec. 2.3.2, "Object tracker";
it used PWC-Net). Here the flow comes from OpenCV's DIS (default) or Farneback, or from
torchvision's RAFT for users with a GPU and local weights.

The parts:

- :mod:`~tracking.flow.methods`: the flow methods (:class:`DISFlow` and its presets,
  :class:`FarnebackFlow`, :class:`RAFTFlow`) behind one call, :class:`FlowMethod`;
- :mod:`~tracking.flow.flows`: the flow of one video, :class:`Flows`, and
  :func:`compute_flows`;
- :mod:`~tracking.flow.store`: the file format, one float16 file per video;
- :mod:`~tracking.flow.cache`: :class:`FlowCache`, which keys those files by video, method
  and scale and recomputes whatever is missing or damaged.

Conventions:
    * Frames are ``[T, H, W, 3]`` uint8 RGB, 0-based.
    * ``forward[t]`` is the flow from frame ``t`` to frame ``t + 1`` and ``backward[t]`` the
      flow from frame ``t + 1`` back to frame ``t``; both are ``[h, w, 2]`` ``(dx, dy)``
      displacements: the pixel at ``(x, y)`` in the first frame moves to ``(x + dx, y + dy)``.
    * Downscaling (``scale < 1``): the flow is computed on frames resized by ``scale`` and kept
      on that coarser ``h x w`` grid (memory and disk shrink by ``scale**2``), but its vectors
      are multiplied back into full-frame pixels. :class:`Flows` records the full frame size so
      that sampling (:mod:`tracking.propagate`) maps a frame point onto the grid. With
      ``scale=1`` the grid is the frame, ``[H, W, 2]``; with ``scale=None`` (the default)
      the shorter side is brought to at most :data:`FLOW_SHORT_SIDE` pixels.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> frames = rng.integers(0, 255, size=(3, 32, 48, 3), dtype=np.uint8)
    >>> flows = compute_flows(frames, method="dis-ultrafast", scale=0.5)
    >>> flows.forward.shape, flows.frame_size
    ((2, 16, 24, 2), (32, 48))
"""

from .cache import FlowCache
from .flows import FLOW_SHORT_SIDE, Flows, compute_flows, resolve_scale
from .methods import (
    DEFAULT_DIS_PRESET,
    DIS_PRESETS,
    FLOW_METHODS,
    DISFlow,
    FarnebackFlow,
    FlowMethod,
    RAFTFlow,
    get_flow_method,
)

__all__ = [
    "DEFAULT_DIS_PRESET",
    "DIS_PRESETS",
    "DISFlow",
    "FLOW_METHODS",
    "FLOW_SHORT_SIDE",
    "FarnebackFlow",
    "FlowCache",
    "FlowMethod",
    "Flows",
    "RAFTFlow",
    "compute_flows",
    "get_flow_method",
    "resolve_scale",
]
