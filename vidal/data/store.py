"""Decoded videos kept in memory up to a byte limit (least recently used first out).

Training, scoring and evaluation all read the same videos many times per cycle; decoding each
once per cycle instead of once per clip is what makes small runs fast on a CPU. When the whole
dataset does not fit (ImageNet-VID), single frames are decoded on their own, so training on
frames scattered over thousands of videos never decodes whole videos.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from vidal.data.annotations import VideoDataset
from vidal.errors import DecodeError

__all__ = ["FrameStore"]


class FrameStore:
    """Frames of a dataset's videos at one size, cached by video.

    Frame ``t`` is always the annotated frame ``t``: a decoded video shorter than annotated
    repeats its last frame, a longer one is cut (with a warning). With ``size=None`` the
    frames come at the size the annotations give (``VideoAnnotation.width x height``, the
    decoded size for every dataset reader), so boxes, detections and optical flow share one
    pixel grid; a decoded size that differs is resized to it (with a warning).

    Calling the store, ``store(video_id, indices) -> ndarray[N, H, W, 3]``, is the
    ``read_frames`` of :func:`vidal.train.detection.train_detector` (picklable, for workers).

    Args:
        dataset: the videos (paths resolved with :meth:`VideoDataset.video_path`).
        size: ``(height, width)`` to resize frames to, or ``None`` for the annotation size.
        max_bytes: cache limit in bytes (default 2 GiB).

    Example:
        >>> store = FrameStore(dataset, size=(64, 64))  # doctest: +SKIP
        >>> store.frames("vid0").shape  # doctest: +SKIP
        (48, 64, 64, 3)
    """

    def __init__(
        self,
        dataset: VideoDataset,
        *,
        size: tuple[int, int] | None = None,
        max_bytes: int = 2 << 30,
    ) -> None:
        self.dataset = dataset
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._warned: set[str] = set()
        self.failed: dict[str, str] = {}
        frame_bytes = [
            v.num_frames * 3 * (np.prod(self.size) if self.size else v.width * v.height)
            for v in dataset
        ]
        #: whether the whole dataset fits in ``max_bytes`` (else :meth:`get` decodes frames alone)
        self.fits = int(sum(frame_bytes)) <= max_bytes

    def frames(self, video_id: str) -> np.ndarray:
        """All frames of ``video_id`` as uint8 RGB ``ndarray[T, H, W, 3]`` (``T`` as annotated).

        Raises:
            DecodeError: when the video cannot be decoded (remembered in :attr:`failed`).
        """
        if video_id in self._cache:
            self._cache.move_to_end(video_id)
            return self._cache[video_id]
        if video_id in self.failed:
            raise DecodeError(self.failed[video_id])
        video = self.dataset[video_id]
        arr = self._decode(video_id, np.arange(video.num_frames), whole=True)
        self._cache[video_id] = arr
        self._bytes += arr.nbytes
        while self._bytes > self.max_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.nbytes
        return arr

    def get(self, video_id: str, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames ``indices (ndarray[N])`` of ``video_id`` as uint8 RGB ``ndarray[N, H, W, 3]``."""
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        idx = idx.astype(np.int64)
        if self.fits or video_id in self._cache:
            return self.frames(video_id)[idx]
        if video_id in self.failed:
            raise DecodeError(self.failed[video_id])
        return self._decode(video_id, idx, whole=False)

    __call__ = get

    def _decode(self, video_id: str, idx: np.ndarray, *, whole: bool) -> np.ndarray:
        """Decode frames ``idx`` (beyond the decoded end: the last frame) at the store's size."""
        from vidal.data.video import open_video

        video = self.dataset[video_id]
        path = self.dataset.video_path(video)
        try:
            with open_video(path, size=self.size) as reader:
                n = len(reader)
                if n == 0:
                    raise DecodeError(f"{path}: no frames decoded")
                arr = reader.get_batch(np.minimum(idx, n - 1))
        except DecodeError as e:
            self.failed[video_id] = str(e)
            raise
        if whole and n != video.num_frames:
            warnings.warn(
                f"{video_id}: decoded {n} frames, the annotations say {video.num_frames}; "
                "padding/cutting to the annotated count",
                stacklevel=3,
            )
        return np.ascontiguousarray(self._fit(video_id, arr))

    def _fit(self, video_id: str, frames: np.ndarray) -> np.ndarray:
        """At ``size=None``, frames resized to the annotation's size when decoded otherwise."""
        v = self.dataset[video_id]
        if self.size is not None or frames.shape[1:3] == (v.height, v.width):
            return frames
        if video_id not in self._warned:
            self._warned.add(video_id)
            warnings.warn(
                f"{video_id}: decoded frames are {frames.shape[2]}x{frames.shape[1]}, the "
                f"annotations say {v.width}x{v.height}; resizing the frames to the annotations",
                stacklevel=4,
            )
        import cv2

        return np.stack(
            [cv2.resize(f, (v.width, v.height), interpolation=cv2.INTER_AREA) for f in frames]
        )
