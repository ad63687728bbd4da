"""Frame detectors behind one interface: what scoring, selection and evaluation read.

Every backend gives, per frame, a :class:`FrameDetections` mapping (plain numpy arrays, the
dicts :func:`vidal.train.detection.detect_frames` has always returned, so
:mod:`vidal.scoring.detection` takes any backend unchanged):

- ``boxes (ndarray[M, 4])`` float32 ``x1, y1, x2, y2`` in pixels of the frame as read;
- ``labels (ndarray[M])`` int64 dataset classes ``0..K-1``;
- ``scores (ndarray[M])`` float32;
- ``probs (ndarray[M, K + 1])`` float32, the detection's class-probability vector: column 0
  background, column ``k + 1`` dataset class ``k``; each row sums to 1, and
  ``probs[n, labels[n] + 1] == scores[n]`` (the score is the probability of the label).

The backends:

- :class:`TorchvisionDetector`: a Faster R-CNN from :func:`vidal.models.detector.build_detector`
  (softmax of the proposal's logits, Zolfaghari Bengar, thesis 2021, Sec. 2.5.1);
- :class:`vidal.models.darknet.DarknetDetector`: a frozen YOLO read from Darknet files
  (objectness times the normalised class outputs, see :mod:`vidal.models.darknet`);
- :class:`vidal.models.detection_file.FileDetections`: detections read from a COCO results
  JSON or MOT ``det.txt`` file (the file's own vector, or ``score`` on the class and
  ``1 - score`` on background).

All implement :class:`FrameDetector` (``detect_video``: the frames of a video by index, which
a file backend answers without reading pixels); the two that run on pixels also implement
:class:`ImageDetector` (``detect_frames`` on an ``ndarray[N, H, W, 3]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, runtime_checkable

import numpy as np
import torch
from torch import nn

from vidal.errors import VidalError
from vidal.train.detection import FrameReader, detect_frames

__all__ = [
    "FrameDetections",
    "FrameDetector",
    "ImageDetector",
    "TorchvisionDetector",
    "check_detections",
    "check_frames",
    "detect_in_batches",
    "empty_detections",
]

#: Relative tolerance of the ``probs`` contract (float32 sums and products).
_TOL = 1e-5


class FrameDetections(TypedDict):
    """One frame's detections (see the module docstring for the contract)."""

    boxes: np.ndarray  # [M, 4] float32 x1, y1, x2, y2 pixels
    labels: np.ndarray  # [M] int64 dataset classes 0..K-1
    scores: np.ndarray  # [M] float32
    probs: np.ndarray  # [M, K + 1] float32, column 0 background


@runtime_checkable
class FrameDetector(Protocol):
    """Anything that gives the detections of frames of a video.

    Attributes:
        num_classes: ``K``, the dataset classes its labels index.
    """

    @property
    def num_classes(self) -> int: ...

    def detect_video(
        self, video_id: str, frames: Sequence[int], read_frames: FrameReader
    ) -> list[FrameDetections]:
        """Detections of ``frames`` (0-based indices) of ``video_id``, one per index, in order.

        ``read_frames(video_id, indices) -> ndarray[N, H, W, 3]`` supplies the pixels to
        backends that need them (see :data:`vidal.train.detection.FrameReader`).
        """
        ...


@runtime_checkable
class ImageDetector(FrameDetector, Protocol):
    """A :class:`FrameDetector` that runs on pixels."""

    def detect_frames(self, frames: np.ndarray) -> list[FrameDetections]:
        """Detections of ``frames (ndarray[N, H, W, 3])`` uint8 RGB, one per frame."""
        ...


def empty_detections(num_classes: int) -> FrameDetections:
    """A frame without detections for ``K = num_classes`` classes (``probs [0, K + 1]``)."""
    return {
        "boxes": np.zeros((0, 4), np.float32),
        "labels": np.zeros(0, np.int64),
        "scores": np.zeros(0, np.float32),
        "probs": np.zeros((0, num_classes + 1), np.float32),
    }


def check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    """``frames`` as an ``ndarray[N, H, W, 3]`` uint8, or a :class:`VidalError` naming ``what``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise VidalError(
            f"{what}: expected uint8 RGB frames of shape [N, H, W, 3], got {frames.dtype} "
            f"{frames.shape}"
        )
    return frames


def check_detections(det: FrameDetections, num_classes: int, *, what: str = "detections") -> None:
    """Raise a :class:`VidalError` naming ``what`` unless ``det`` keeps the contract.

    Checks keys, dtypes and shapes, labels in ``0..K-1``, rows of ``probs`` in ``[0, 1]``
    summing to 1 and ``probs[n, labels[n] + 1] == scores[n]`` (within float32 rounding).
    """
    m = len(det["scores"])
    shapes = {
        "boxes": ((m, 4), np.float32),
        "labels": ((m,), np.int64),
        "scores": ((m,), np.float32),
        "probs": ((m, num_classes + 1), np.float32),
    }
    for key, (shape, dtype) in shapes.items():
        value = det[key]  # type: ignore[literal-required]
        if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != dtype:
            got = (getattr(value, "dtype", type(value)), getattr(value, "shape", None))
            raise VidalError(f"{what}: {key} must be {np.dtype(dtype)} {shape}, got {got}")
    labels, probs = det["labels"], det["probs"].astype(np.float64)
    if m and (labels.min() < 0 or labels.max() >= num_classes):
        raise VidalError(f"{what}: labels must be in 0..{num_classes - 1}, got {labels.tolist()}")
    if m and (
        probs.min() < 0
        or probs.max() > 1 + _TOL
        or not np.allclose(probs.sum(1), 1.0, rtol=0, atol=1e-4)
    ):
        raise VidalError(f"{what}: rows of probs must be probabilities summing to 1")
    if m and not np.allclose(probs[np.arange(m), labels + 1], det["scores"], rtol=_TOL, atol=1e-6):
        raise VidalError(f"{what}: scores must equal probs[n, labels[n] + 1]")


def detect_in_batches(
    detect: Callable[[np.ndarray], list[FrameDetections]],
    read_frames: FrameReader,
    video_id: str,
    frames: Sequence[int],
    batch_size: int,
) -> list[FrameDetections]:
    """``detect`` on ``frames`` of ``video_id``, reading ``batch_size`` frames at a time."""
    frames = [int(t) for t in frames]
    out: list[FrameDetections] = []
    for start in range(0, len(frames), batch_size):
        ts = frames[start : start + batch_size]
        images = check_frames(read_frames(video_id, ts), f"read_frames({video_id!r}, {ts})")
        if len(images) != len(ts):
            raise VidalError(
                f"read_frames({video_id!r}, ...) returned {len(images)} frames for {len(ts)} indices"
            )
        out.extend(detect(images))
    return out


@dataclass(frozen=True)
class TorchvisionDetector:
    """A Faster R-CNN from :func:`~vidal.models.detector.build_detector` as a frame detector.

    A thin adapter over :func:`vidal.train.detection.detect_frames`: the model (in eval mode
    on ``device``) gives the softmax row of each detection's proposal as ``probs``, so
    ``probs[n, labels[n] + 1] == scores[n]`` exactly.

    Args:
        model: the detector (its box predictor sets ``K``).
        batch_size: frames per forward pass.
        device: where it runs.

    Example:
        >>> from vidal.models.detector import build_detector
        >>> det = TorchvisionDetector(build_detector(2, backbone="mobilenet_v3_fpn", min_size=64))
        >>> out = det.detect_frames(np.zeros((1, 48, 64, 3), np.uint8))
        >>> det.num_classes, out[0]["probs"].shape[1]
        (2, 3)
    """

    model: nn.Module
    batch_size: int = 8
    device: torch.device | str = "cpu"

    @property
    def num_classes(self) -> int:
        heads: Any = self.model.roi_heads
        return int(heads.box_predictor.cls_score.out_features) - 1

    def detect_frames(self, frames: np.ndarray) -> list[FrameDetections]:
        """Detections of ``frames (ndarray[N, H, W, 3])`` uint8 RGB, one per frame."""
        frames = check_frames(frames)
        dets = detect_frames(self.model, frames, batch_size=self.batch_size, device=self.device)
        if any("probs" not in d for d in dets):
            raise VidalError(
                "the model gives no class probabilities (RoIHeadsWithProbs); build it with "
                "vidal.models.detector.build_detector"
            )
        return [FrameDetections(**d) for d in dets]  # type: ignore[typeddict-item]

    def detect_video(
        self, video_id: str, frames: Sequence[int], read_frames: FrameReader
    ) -> list[FrameDetections]:
        """See :meth:`FrameDetector.detect_video`."""
        return detect_in_batches(self.detect_frames, read_frames, video_id, frames, self.batch_size)
