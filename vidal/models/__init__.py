"""Models: the I3D encoder, 2D capsule layers and the capsule action detector.

``ActionDetector`` is the network of Active Sparse Labeling (NeurIPS 2022) and CLAUS (CVPR
2023): I3D features, 2D matrix capsules with EM routing, and a decoder to pixel-wise
foreground logits, with dropout for MC-dropout uncertainty and latent features for clustering.
"""

from vidal.models.action import ActionDetector, ActionDetectorConfig, ActionOutput
from vidal.models.capsules import ClassCapsules, ConvCapsules2d, PrimaryCapsules2d, em_routing
from vidal.models.detector import (
    BACKBONES,
    RoIHeadsWithProbs,
    build_detector,
    load_detector_weights,
)
from vidal.models.i3d import (
    I3D_ENDPOINTS,
    CheckpointError,
    InceptionI3d,
    i3d_state_dict_shapes,
    load_i3d_weights,
)

__all__ = [
    "ActionDetector",
    "ActionDetectorConfig",
    "ActionOutput",
    "CheckpointError",
    "ClassCapsules",
    "ConvCapsules2d",
    "I3D_ENDPOINTS",
    "InceptionI3d",
    "PrimaryCapsules2d",
    "em_routing",
    "i3d_state_dict_shapes",
    "load_i3d_weights",
    "BACKBONES",
    "RoIHeadsWithProbs",
    "build_detector",
    "load_detector_weights",
]
