"""Frame-mAP and video-mAP of an action detector's frame detections, under a named protocol.

What ``vidal eval --protocol NAME`` computes for action detection: the frame detections of
each video go to :class:`~vidal.metrics.FrameAPAccumulator`, are linked into tubes with the
protocol's linking (:meth:`Protocol.link_options`, :func:`~vidal.metrics.link_tubes`), and the
tubes go to :class:`~vidal.metrics.VideoAPAccumulator` (which applies the protocol's tube
NMS). Object detection needs no linking: :func:`~vidal.metrics.voc_ap` takes ``protocol=``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from vidal.data.annotations import VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics._checks import positive_int
from vidal.metrics.detection_ap import Detections, FrameAPAccumulator
from vidal.metrics.linking import link_tubes
from vidal.metrics.protocols import Protocol, get_protocol
from vidal.metrics.video_ap import VIDEO_AP_THRESHOLDS, VideoAPAccumulator

__all__ = ["evaluate_action_detections"]


def evaluate_action_detections(
    videos: Iterable[VideoAnnotation],
    detections: Mapping[str, Detections],
    *,
    num_classes: int,
    protocol: str | Protocol = "act",
    frame_thresholds: Sequence[float] | float = (0.5,),
    video_thresholds: Sequence[float] | float = VIDEO_AP_THRESHOLDS,
    frame_step: int = 1,
) -> dict[str, Any]:
    """Frame-mAP and video-mAP of frame detections, every setting from one protocol.

    Args:
        videos: the annotated videos (a :class:`VideoDataset` works).
        detections: video id -> its frame detections (an empty :class:`Detections` for a
            video without any); every video of ``videos`` must have an entry.
        num_classes: K.
        protocol: a name in :data:`vidal.metrics.PROTOCOLS` (``"act"`` reproduces ACT's
            evaluation) or a :class:`Protocol`.
        frame_thresholds: overlaps for frame-mAP.
        video_thresholds: spatio-temporal overlaps for video-mAP.
        frame_step: the detections lie on frames ``0, s, 2s, ...`` only: frame-AP ignores the
            ground truth of other frames, and linking may bridge ``s - 1`` more frames per
            missed step (:meth:`Protocol.link_options`).

    Returns:
        A JSON-able dict: ``protocol`` (its name), ``frame`` (the dict of
        :meth:`FrameAPAccumulator.compute`) and ``video`` (that of
        :meth:`VideoAPAccumulator.compute`).

    Example:
        >>> from vidal.data.annotations import Tube, VideoAnnotation
        >>> from vidal.metrics import ground_truth_detections
        >>> v = VideoAnnotation("v", 4, 32, 24, label=0, tubes=[Tube(0, 0, 0, np.tile([2, 2, 9, 9], (4, 1)))])
        >>> r = evaluate_action_detections([v], {"v": ground_truth_detections(v)}, num_classes=1)
        >>> r["protocol"], r["frame"]["frame_map"], r["video"]["video_map"][0.5]
        ('act', {0.5: 1.0}, 1.0)
    """
    chosen = get_protocol(protocol)
    step = positive_int(frame_step, "frame_step")
    link = chosen.link_options(step)
    frame_acc = FrameAPAccumulator(num_classes, iou_thresholds=frame_thresholds, protocol=chosen)
    video_acc = VideoAPAccumulator(num_classes, iou_thresholds=video_thresholds, protocol=chosen)
    for video in videos:
        if video.video_id not in detections:
            raise VidalError(f"no detections given for video {video.video_id!r}")
        found = detections[video.video_id]
        frames = None if step == 1 else np.arange(0, video.num_frames, step)
        frame_acc.update(video, found, frames=frames)
        video_acc.update(video, link_tubes(found, **link))
    return {"protocol": chosen.name, "frame": frame_acc.compute(), "video": video_acc.compute()}
