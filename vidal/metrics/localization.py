"""Localization accuracy of foreground maps, as the capsule action-detection papers report it.

Not to be confused with detection AP (:mod:`vidal.metrics.detection_ap`): no ranking, no
precision. Rana & Rawat (NeurIPS 2022), whose detector is a simplified VideoCapsuleNet
(Sec. 3.3) predicting one foreground map per frame, describe their evaluation (Sec. 4): "we
compute the spatial IoU for each frame per class to get the frame average precision score and
compute the spatio-temporal IoU per video per class to get the video average precision score
score. This is then averaged to obtain the f-mAP and v-mAP scores over various thresholds."
Read as a definition (the names f@tau and v@tau used here avoid the clash with ranked AP):

* **frame IoU**: pixel IoU between the predicted foreground (``prob >= threshold``) and the
  ground-truth foreground of the frame (the union of the filled boxes, or of the masks where
  the tubes have them, :meth:`VideoAnnotation.foreground`);
* **f@tau**: per class, the fraction of its ground-truth frames whose frame IoU is
  ``>= tau``; then the mean over classes;
* **video IoU**: the sum of the per-frame intersections over the sum of the per-frame
  unions of the video's counted frames (a pixel-volume IoU);
* **v@tau**: per class, the fraction of its videos whose video IoU is ``>= tau``; then the
  mean over classes.

Conventions chosen here:

* **which frames count**: frames with at least one ground-truth actor (the annotated
  frames), as the papers score "each frame" against its annotation; frames without an
  actor are skipped by default. With ``include_empty_frames=True`` they count too: such a
  frame scores IoU 1 when the prediction is empty there and 0 otherwise, and its predicted
  pixels add to the video's union (penalising foreground outside the action in untrimmed
  videos). Only the frames given to :meth:`LocalizationAccumulator.update` are counted.
* **resolution**: by default (``resolution="annotation"``) a map of another size than the
  annotation is resized to the annotation's ``width x height`` (bilinear for probabilities,
  then thresholded; nearest for booleans), so IoU is measured in annotation pixels whatever
  the model's input size. ``resolution="prediction"`` instead scales the ground-truth boxes
  (and resizes masks, nearest) to the map's size: cheaper, slightly coarser.
* **class** of a video: ``label=`` if given, else ``video.label``, else the label its tubes
  share.
* **classes without ground truth** (no counted frame, no video) get ``None`` and are left out
  of the means over classes.
* an IoU whose union is empty (prediction and ground truth both empty) is 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import cv2
import numpy as np

from vidal.data.annotations import VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics._checks import choice, mean_or_none, positive_int, thresholds, to_numpy, vector

__all__ = [
    "LOCALIZATION_TAUS",
    "LocalizationAccumulator",
    "frame_ious",
    "localization_accuracy",
    "whole_frame_prediction",
    "centre_box_prediction",
]

#: Default IoU thresholds tau of f@tau and v@tau.
LOCALIZATION_TAUS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

_CHUNK = 64  # frames resized / rendered at once, to bound memory


def _resize_stack(maps: np.ndarray, width: int, height: int, *, nearest: bool) -> np.ndarray:
    """Resize ``[T, h, w]`` to ``[T, height, width]`` (cv2 takes up to 512 channels at once)."""
    out = np.empty((len(maps), height, width), dtype=maps.dtype)
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    for s in range(0, len(maps), 512):
        chunk = np.ascontiguousarray(maps[s : s + 512].transpose(1, 2, 0))  # [h, w, t]
        res = cv2.resize(chunk, (width, height), interpolation=interp)
        out[s : s + 512] = res.reshape(height, width, -1).transpose(2, 0, 1)
    return out


def _render_scaled(
    video: VideoAnnotation, t: int, width: int, height: int, use_masks: bool
) -> np.ndarray:
    """Ground-truth foreground of frame ``t`` drawn at ``width x height`` (boxes scaled)."""
    if (width, height) == (video.width, video.height):
        return video.foreground(t, use_masks=use_masks)
    sx, sy = width / video.width, height / video.height
    fg = np.zeros((height, width), dtype=bool)
    for tb in video.tubes:
        if not tb.covers(t):
            continue
        if use_masks and tb.masks is not None:
            m = tb.masks[t - tb.first_frame].astype(np.uint8)
            fg |= cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
            continue
        x1, y1, x2, y2 = tb.box_at(t) * np.array([sx, sy, sx, sy], dtype=np.float32)
        fg[
            max(int(round(y1)), 0) : max(int(round(y2)), 0),
            max(int(round(x1)), 0) : max(int(round(x2)), 0),
        ] = True
    return fg


def _video_class(video: VideoAnnotation, label: int | None) -> int | None:
    if label is not None:
        return int(label)
    if video.label is not None:
        return int(video.label)
    labels = {tb.label for tb in video.tubes}
    if len(labels) > 1:
        raise VidalError(
            f"{video.video_id}: tubes have labels {sorted(labels)} and the video has no label; pass label="
        )
    return labels.pop() if labels else None


def _map_frames(video: VideoAnnotation, num_maps: int, frames: Any) -> np.ndarray:
    """The video frame of each of ``num_maps`` maps (``frames [T]``, default ``0 .. T - 1``), checked."""
    if frames is None:
        if num_maps != video.num_frames:
            raise VidalError(
                f"{video.video_id}: pred_maps has {num_maps} frames but the video has "
                f"{video.num_frames}; pass frames= to say which frames the maps are"
            )
        return np.arange(num_maps)
    frame_idx = vector(frames, "frames", num_maps, np.int64)
    if len(frame_idx) and (frame_idx.min() < 0 or frame_idx.max() >= video.num_frames):
        raise VidalError(f"{video.video_id}: frames must lie in 0..{video.num_frames - 1}")
    if len(np.unique(frame_idx)) != len(frame_idx):
        raise VidalError(f"{video.video_id}: frames lists a frame twice")
    return frame_idx


class LocalizationAccumulator:
    """Frame and video localization accuracy (f@tau, v@tau), fed one video at a time.

    See the module docstring for the definitions and conventions. Calling :meth:`update`
    again with the same video and other frames continues that video (its video IoU sums over
    all calls), so a long video can be fed in chunks.

    Args:
        num_classes: K; video classes are ``0 .. K - 1``.
        taus: IoU thresholds to report (default :data:`LOCALIZATION_TAUS`).
        threshold: probability at or above which a pixel is predicted foreground.
        resolution: ``"annotation"`` (resize maps) or ``"prediction"`` (scale ground truth).
        include_empty_frames: also count frames without any actor.
        use_masks: use tube masks where present instead of filled boxes.

    Example:
        >>> from vidal.data.annotations import Tube, VideoAnnotation
        >>> video = VideoAnnotation("v", 2, 8, 8, label=0, tubes=[Tube(0, 0, 0, np.tile([0, 0, 4, 4], (2, 1)))])
        >>> maps = np.zeros((2, 8, 8)); maps[:, :4, :2] = 0.9  # half of the box
        >>> acc = LocalizationAccumulator(1, taus=(0.5, 0.6))
        >>> acc.update(maps, video)
        >>> r = acc.compute(); r["frame"], r["video"]
        ({0.5: 1.0, 0.6: 0.0}, {0.5: 1.0, 0.6: 0.0})
    """

    def __init__(
        self,
        num_classes: int,
        *,
        taus: Sequence[float] | float = LOCALIZATION_TAUS,
        threshold: float = 0.5,
        resolution: str = "annotation",
        include_empty_frames: bool = False,
        use_masks: bool = True,
    ) -> None:
        self.num_classes = positive_int(num_classes, "num_classes")
        self.taus = thresholds(taus, "taus")
        self.threshold = float(threshold)
        self.resolution = choice(resolution, "resolution", ("annotation", "prediction"))
        self.include_empty_frames = bool(include_empty_frames)
        self.use_masks = bool(use_masks)
        self._frame_iou: list[list[np.ndarray]] = [[] for _ in range(self.num_classes)]
        self._videos: dict[str, dict[str, Any]] = {}

    def update(
        self,
        pred_maps: Any,
        video: VideoAnnotation,
        *,
        frames: Any = None,
        label: int | None = None,
    ) -> None:
        """Add the foreground maps of one video (or of some of its frames).

        Args:
            pred_maps (ndarray[T, H, W]): foreground probabilities (float, thresholded at
                ``threshold``) or a boolean foreground, numpy or torch; ``H x W`` may differ
                from the annotation's size.
            video: the ground truth.
            frames (ndarray[T]): the video frame of each map; default ``0 .. T - 1`` with
                ``T`` the video's frame count.
            label: the video's class, when the annotation does not say it.
        """
        maps = to_numpy(pred_maps)
        if maps.ndim != 3:
            raise VidalError(f"pred_maps must have shape [T, H, W], got {maps.shape}")
        frame_idx = _map_frames(video, len(maps), frames)
        counted = video.actors_per_frame()[frame_idx] > 0
        if self.include_empty_frames:
            counted[:] = True
        if not counted.any():
            return
        cls, record = self._record(video, label)
        frame_idx = frame_idx[counted]
        seen = record["frames"].intersection(frame_idx.tolist())
        if seen:
            raise VidalError(f"{video.video_id}: frames {sorted(seen)[:5]} were already added")
        maps = maps[counted]
        if self.resolution == "annotation":
            width, height = video.width, video.height
        else:
            height, width = maps.shape[1:]
        ious = []
        for s in range(0, len(maps), _CHUNK):
            pred = self._foreground(maps[s : s + _CHUNK], width, height)
            gt = np.stack(
                [
                    _render_scaled(video, int(t), width, height, self.use_masks)
                    for t in frame_idx[s : s + _CHUNK]
                ]
            )
            inter = np.count_nonzero(pred & gt, axis=(1, 2))  # [t]
            union = np.count_nonzero(pred | gt, axis=(1, 2))
            ious.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
            record["inter"] += int(inter.sum())
            record["union"] += int(union.sum())
        record["frames"].update(frame_idx.tolist())
        self._frame_iou[cls].append(np.concatenate(ious))

    def merge(self, other: LocalizationAccumulator) -> None:
        """Add what ``other`` (same settings, other videos) was fed, after what this one was.

        Accumulators fed disjoint videos (e.g. by several processes, one per part of the test
        set) and merged in the order one accumulator would have been fed give exactly its
        numbers.

        Raises:
            VidalError: other settings, or a video fed to both.
        """
        mine = (self.num_classes, self.taus, self.threshold, self.resolution)
        theirs = (other.num_classes, other.taus, other.threshold, other.resolution)
        if mine != theirs or (self.include_empty_frames, self.use_masks) != (
            other.include_empty_frames,
            other.use_masks,
        ):
            raise VidalError("cannot merge localization accumulators with different settings")
        both = sorted(self._videos.keys() & other._videos.keys())
        if both:
            raise VidalError(f"videos {both[:5]} were fed to both accumulators")
        for mine_c, theirs_c in zip(self._frame_iou, other._frame_iou, strict=True):
            mine_c.extend(theirs_c)
        self._videos.update(other._videos)

    def _record(self, video: VideoAnnotation, label: int | None) -> tuple[int, dict[str, Any]]:
        """The video's class and its running totals (created on first sight)."""
        cls = _video_class(video, label)
        if cls is None:
            raise VidalError(f"{video.video_id}: no class for the video; pass label=")
        if not 0 <= cls < self.num_classes:
            raise VidalError(f"{video.video_id}: class {cls} outside 0..{self.num_classes - 1}")
        record = self._videos.setdefault(
            video.video_id, {"label": cls, "inter": 0, "union": 0, "frames": set()}
        )
        if record["label"] != cls:
            raise VidalError(
                f"{video.video_id}: class {cls} differs from {record['label']} given before"
            )
        return cls, record

    def _foreground(self, chunk: np.ndarray, width: int, height: int) -> np.ndarray:
        """Predicted foreground ``bool [t, height, width]`` of maps ``[t, H, W]`` (resized if needed)."""
        if chunk.dtype == bool:
            if chunk.shape[1:] == (height, width):
                return chunk
            return _resize_stack(chunk.view(np.uint8), width, height, nearest=True).view(bool)
        prob = chunk.astype(np.float32)
        if prob.shape[1:] != (height, width):
            prob = _resize_stack(prob, width, height, nearest=False)
        return prob >= self.threshold

    def compute(self) -> dict[str, Any]:
        """f@tau and v@tau, per class and averaged over classes.

        Returns:
            A JSON-able dict: ``frame`` and ``video`` ({tau: mean over classes, ``None``
            when no class has data}), ``frame_per_class`` and ``video_per_class`` ({tau: K
            values, ``None`` for a class without counted frames / videos}), ``mean_frame_iou``
            and ``mean_video_iou`` (class-averaged mean IoU), ``num_frames`` and
            ``num_videos`` (K ints), ``threshold``.
        """
        frame_iou = [np.concatenate(f) if f else np.zeros(0) for f in self._frame_iou]
        video_iou: list[list[float]] = [[] for _ in range(self.num_classes)]
        for rec in self._videos.values():
            video_iou[rec["label"]].append(rec["inter"] / rec["union"] if rec["union"] else 1.0)
        vid = [np.asarray(v, dtype=np.float64) for v in video_iou]

        def fraction(values: np.ndarray, tau: float) -> float | None:
            return float(np.mean(values >= tau)) if len(values) else None

        frame_pc = {tau: [fraction(f, tau) for f in frame_iou] for tau in self.taus}
        video_pc = {tau: [fraction(v, tau) for v in vid] for tau in self.taus}
        return {
            "frame": {tau: mean_or_none(v) for tau, v in frame_pc.items()},
            "video": {tau: mean_or_none(v) for tau, v in video_pc.items()},
            "frame_per_class": frame_pc,
            "video_per_class": video_pc,
            "mean_frame_iou": mean_or_none(
                [float(f.mean()) if len(f) else None for f in frame_iou]
            ),
            "mean_video_iou": mean_or_none([float(v.mean()) if len(v) else None for v in vid]),
            "num_frames": [len(f) for f in frame_iou],
            "num_videos": [len(v) for v in vid],
            "threshold": self.threshold,
        }


def _frames_and_size(
    video: VideoAnnotation, frames: Any, size: tuple[int, int] | None
) -> tuple[np.ndarray, int, int]:
    frame_idx = (
        np.arange(video.num_frames)
        if frames is None
        else np.asarray(frames, dtype=np.int64).reshape(-1)
    )
    width, height = (video.width, video.height) if size is None else (int(size[0]), int(size[1]))
    if width < 1 or height < 1:
        raise VidalError(f"size must be a positive (width, height), got {size!r}")
    return frame_idx, width, height


def whole_frame_prediction(
    video: VideoAnnotation, frames: Any = None, *, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Trivial baseline: every pixel of every frame is foreground.

    Args:
        video: the video (its frame count and size).
        frames (ndarray[T]): frames to predict; default all.
        size: ``(width, height)`` of the maps; default the annotation's.

    Returns:
        ndarray[T, H, W] bool, a read-only broadcast view (no memory per frame).
    """
    frame_idx, width, height = _frames_and_size(video, frames, size)
    return np.broadcast_to(np.ones((1, height, width), dtype=bool), (len(frame_idx), height, width))


def centre_box_prediction(
    video: VideoAnnotation,
    frames: Any = None,
    *,
    fraction: float | tuple[float, float] = 0.5,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Trivial baseline: a fixed box in the middle of every frame.

    Args:
        video: the video (its frame count and size).
        frames (ndarray[T]): frames to predict; default all.
        fraction: box width and height as fractions of the frame's (one number or
            ``(fw, fh)``); 0.5 covers the central quarter of the frame.
        size: ``(width, height)`` of the maps; default the annotation's.

    Returns:
        ndarray[T, H, W] bool, a read-only broadcast view.
    """
    frame_idx, width, height = _frames_and_size(video, frames, size)
    if isinstance(fraction, (int, float)):
        fw = fh = float(fraction)
    else:
        fw, fh = (float(f) for f in fraction)
    if not (0 < fw <= 1 and 0 < fh <= 1):
        raise VidalError(f"fraction must lie in (0, 1], got {fraction!r}")
    bw, bh = round(width * fw), round(height * fh)
    x1, y1 = (width - bw) // 2, (height - bh) // 2
    frame = np.zeros((1, height, width), dtype=bool)
    frame[0, y1 : y1 + bh, x1 : x1 + bw] = True
    return np.broadcast_to(frame, (len(frame_idx), height, width))


def localization_accuracy(
    videos: Iterable[VideoAnnotation],
    predict: Callable[[VideoAnnotation, np.ndarray], Any],
    *,
    num_classes: int,
    taus: Sequence[float] | float = LOCALIZATION_TAUS,
    threshold: float = 0.5,
    frame_step: int = 1,
    resolution: str = "annotation",
    include_empty_frames: bool = False,
    use_masks: bool = True,
) -> dict[str, Any]:
    """f@tau and v@tau of a predictor over videos (see :class:`LocalizationAccumulator`).

    Args:
        videos: the videos to score (a :class:`VideoDataset` works).
        predict: ``predict(video, frames) -> maps [T, H, W]`` for the given frame indices,
            e.g. :func:`whole_frame_prediction` or :func:`centre_box_prediction`.
        num_classes: K.
        taus, threshold, resolution, include_empty_frames, use_masks: as in
            :class:`LocalizationAccumulator`.
        frame_step: score every ``frame_step``-th frame (0, step, 2 step, ...) to save time.

    Returns:
        The dict of :meth:`LocalizationAccumulator.compute`.

    Example:
        >>> from vidal.data.annotations import Tube, VideoAnnotation
        >>> video = VideoAnnotation("v", 2, 8, 8, label=0, tubes=[Tube(0, 0, 0, np.tile([0, 0, 8, 8], (2, 1)))])
        >>> localization_accuracy([video], whole_frame_prediction, num_classes=1, taus=0.5)["frame"]
        {0.5: 1.0}
    """
    step = positive_int(frame_step, "frame_step")
    acc = LocalizationAccumulator(
        num_classes,
        taus=taus,
        threshold=threshold,
        resolution=resolution,
        include_empty_frames=include_empty_frames,
        use_masks=use_masks,
    )
    for video in videos:
        frames = np.arange(0, video.num_frames, step)
        acc.update(predict(video, frames), video, frames=frames)
    return acc.compute()


def frame_ious(
    pred_maps: Any,
    video: VideoAnnotation,
    *,
    threshold: float = 0.5,
    use_masks: bool = False,
) -> np.ndarray:
    """The IoU of each frame's predicted foreground with the ground truth, every frame counted.

    The per-frame quantity behind f@tau, at the annotation's resolution; a frame with no
    actor scores 1 when nothing is predicted there and 0 otherwise (so ``1 - IoU`` is the
    model's true error on every frame: what an oracle selector ranks by).

    Args:
        pred_maps (ndarray[T, H, W]): foreground probabilities of all ``T`` frames of ``video``.
        video: the ground truth.
        threshold: foreground where the probability is at least this.
        use_masks: compare with pixel masks where the tubes have them (else filled boxes).

    Returns:
        float64 ``ndarray[T]`` in ``[0, 1]``.
    """
    maps = to_numpy(pred_maps)
    if maps.ndim != 3 or len(maps) != video.num_frames:
        raise VidalError(
            f"{video.video_id}: pred_maps must be [T={video.num_frames}, H, W], got {maps.shape}"
        )
    out = np.empty(len(maps), dtype=np.float64)
    for s in range(0, len(maps), _CHUNK):
        prob = maps[s : s + _CHUNK].astype(np.float32)
        if prob.shape[1:] != (video.height, video.width):
            prob = _resize_stack(prob, video.width, video.height, nearest=False)
        pred = prob >= threshold
        gt = np.stack(
            [
                _render_scaled(video, t, video.width, video.height, use_masks)
                for t in range(s, s + len(pred))
            ]
        )
        inter = np.count_nonzero(pred & gt, axis=(1, 2))
        union = np.count_nonzero(pred | gt, axis=(1, 2))
        out[s : s + len(pred)] = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return out
