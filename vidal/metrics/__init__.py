"""Evaluation of action and object detectors, in two families kept apart by name.

* **Localization accuracy** (:mod:`~vidal.metrics.localization`): pixel IoU of thresholded
  foreground maps with the ground truth, reported as f@tau / v@tau the way the capsule
  action-detection papers report it; no ranking involved.
* **Detection AP**: frame-AP and video-AP of ranked boxes and tubes as ACT defines them
  (:mod:`~vidal.metrics.detection_ap`, :mod:`~vidal.metrics.video_ap`), and PASCAL VOC AP
  for per-frame object detection (:mod:`~vidal.metrics.voc`), on the shared core of
  :mod:`~vidal.metrics.ap` and :mod:`~vidal.metrics.boxes`. The settings of published tables
  are named protocols (:mod:`~vidal.metrics.protocols`: ``act``, ``vidal``, ``voc07``,
  ``voc10``, and the default per dataset); :func:`evaluate_action_detections` computes
  frame-mAP and video-mAP under one.
"""

from vidal.metrics.ap import average_precision, match_detections, match_ious, precision_recall
from vidal.metrics.boxes import (
    TubeLike,
    box_area,
    box_iou,
    boxes_from_map,
    paired_box_iou,
    tube_iou,
)
from vidal.metrics.detection_ap import (
    Detections,
    FrameAPAccumulator,
    detections_from_maps,
    ground_truth_detections,
)
from vidal.metrics.evaluate import evaluate_action_detections
from vidal.metrics.linking import DetectedTube, link_tubes
from vidal.metrics.localization import (
    LOCALIZATION_TAUS,
    LocalizationAccumulator,
    centre_box_prediction,
    localization_accuracy,
    whole_frame_prediction,
)
from vidal.metrics.protocols import (
    DATASET_PROTOCOLS,
    PROTOCOLS,
    Protocol,
    default_protocol,
    get_protocol,
)
from vidal.metrics.video_ap import VIDEO_AP_THRESHOLDS, VideoAPAccumulator, tube_nms
from vidal.metrics.voc import DetectionAPAccumulator, postprocess_detections, voc_ap

__all__ = [
    # boxes and tubes
    "TubeLike",
    "box_area",
    "box_iou",
    "paired_box_iou",
    "tube_iou",
    "boxes_from_map",
    # ranking core
    "precision_recall",
    "average_precision",
    "match_detections",
    "match_ious",
    # localization accuracy (capsule papers)
    "LOCALIZATION_TAUS",
    "LocalizationAccumulator",
    "localization_accuracy",
    "whole_frame_prediction",
    "centre_box_prediction",
    # ACT frame-AP and video-AP
    "Detections",
    "detections_from_maps",
    "ground_truth_detections",
    "FrameAPAccumulator",
    "DetectedTube",
    "link_tubes",
    "tube_nms",
    "VIDEO_AP_THRESHOLDS",
    "VideoAPAccumulator",
    "evaluate_action_detections",
    # VOC AP
    "DetectionAPAccumulator",
    "postprocess_detections",
    "voc_ap",
    # named protocols
    "Protocol",
    "PROTOCOLS",
    "DATASET_PROTOCOLS",
    "get_protocol",
    "default_protocol",
]
