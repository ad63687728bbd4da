"""Models: the I3D encoder, 2D capsule layers, the capsule action detector, frame detectors.

``ActionDetector`` is the network of Active Sparse Labeling (NeurIPS 2022) and CLAUS (CVPR
2023): I3D features (or, on the CPU, ImageNet MobileNetV2 features per frame), 2D matrix
capsules with EM routing, and a decoder to pixel-wise foreground logits, with dropout for
MC-dropout uncertainty and latent features for clustering.

Frame detectors share one interface, :class:`FrameDetector` (per frame: boxes, labels, scores
and each detection's class-probability vector): torchvision Faster R-CNN
(:class:`TorchvisionDetector` over :func:`build_detector`), a frozen Darknet YOLO
(:func:`load_darknet_detector`) and detections read from a file (:func:`read_coco_results`,
:func:`read_mot_detections`).
"""

from vidal.models.action import ActionDetector, ActionDetectorConfig, ActionOutput
from vidal.models.capsules import ClassCapsules, ConvCapsules2d, PrimaryCapsules2d, em_routing
from vidal.models.darknet import DarknetDetector, load_darknet_detector
from vidal.models.detection_file import (
    DetectionsFileError,
    FileDetections,
    read_coco_results,
    read_mot_detections,
    write_coco_results,
    write_mot_detections,
)
from vidal.models.detector import (
    BACKBONES,
    RoIHeadsWithProbs,
    build_detector,
    load_detector_weights,
)
from vidal.models.detectors import (
    FrameDetections,
    FrameDetector,
    ImageDetector,
    TorchvisionDetector,
)
from vidal.models.i3d import (
    I3D_ENDPOINTS,
    CheckpointError,
    InceptionI3d,
    i3d_state_dict_shapes,
    load_i3d_weights,
)
from vidal.models.mobilenet_v2 import (
    MobileNetV2Encoder,
    find_mobilenet_v2_weights,
    load_mobilenet_v2_features,
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
    "FrameDetections",
    "FrameDetector",
    "ImageDetector",
    "TorchvisionDetector",
    "DarknetDetector",
    "load_darknet_detector",
    "DetectionsFileError",
    "FileDetections",
    "read_coco_results",
    "read_mot_detections",
    "write_coco_results",
    "write_mot_detections",
    "load_mobilenet_v2_features",
    "MobileNetV2Encoder",
    "find_mobilenet_v2_weights",
]
