"""Optical flow, box propagation, detection linking and temporal-coherence error estimation.

Depends on numpy, OpenCV and PyMaxflow (torch only for the optional RAFT flow); never
imports :mod:`vidal`.

The method is Zolfaghari Bengar's temporal-coherence error estimation (PhD thesis, 2021,
ch. 2): detections are tracked a few frames forward and backward with optical flow, linked
when their tracked boxes overlap, unmatched tracked boxes are clustered into candidates, and a
graph of TP/FP (detections) and TN/FN (candidates) variables is solved exactly by max-flow.

Example:
    >>> import numpy as np
    >>> from tracking import compute_flows, estimate_errors
    >>> frames = np.random.default_rng(0).integers(0, 255, (5, 48, 64, 3), dtype=np.uint8)
    >>> flows = compute_flows(frames, method="dis")
    >>> box = (np.array([[8, 8, 24, 24]], np.float32), np.array([1]), np.array([0.9], np.float32))
    >>> estimate_errors([box] * 5, flows).fp_per_frame.shape
    (5,)
"""

from .errors import TrackingError
from .flow import (
    DEFAULT_DIS_PRESET,
    DIS_PRESETS,
    FLOW_METHODS,
    FLOW_SHORT_SIDE,
    DISFlow,
    FarnebackFlow,
    FlowCache,
    FlowMethod,
    Flows,
    RAFTFlow,
    compute_flows,
    get_flow_method,
    resolve_scale,
)
from .graph import (
    CoherenceResult,
    coherence_energy,
    estimate_errors,
    solve_coherence,
    thesis_unaries,
)
from .link import Candidates, Detections, find_candidates, link_detections
from .propagate import PROPAGATION_MODES, Propagation, propagate_boxes, propagate_detections

__all__ = [
    "DEFAULT_DIS_PRESET",
    "DIS_PRESETS",
    "FLOW_METHODS",
    "FLOW_SHORT_SIDE",
    "PROPAGATION_MODES",
    "Candidates",
    "CoherenceResult",
    "DISFlow",
    "Detections",
    "FarnebackFlow",
    "FlowCache",
    "FlowMethod",
    "Flows",
    "Propagation",
    "RAFTFlow",
    "TrackingError",
    "coherence_energy",
    "compute_flows",
    "estimate_errors",
    "find_candidates",
    "get_flow_method",
    "link_detections",
    "propagate_boxes",
    "propagate_detections",
    "resolve_scale",
    "solve_coherence",
    "thesis_unaries",
]
