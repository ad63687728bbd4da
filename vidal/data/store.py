"""Decoded, resized videos kept in memory up to a byte limit (least recently used first out).

Training, scoring and evaluation all read the same videos at the model's input size many
times per cycle; decoding each once per cycle instead of once per clip is what makes small
runs fast on a CPU. Large datasets simply re-decode what the limit evicts.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

import numpy as np

from vidal.data.annotations import VideoDataset
from vidal.errors import DecodeError

__all__ = ["FrameStore"]


class FrameStore:
    """Frames of a dataset's videos at a fixed size, cached by video.

    Args:
        dataset: the videos (paths resolved with :meth:`VideoDataset.video_path`).
        size: ``(height, width)`` to resize frames to, or ``None`` for the native size.
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
        self.size = size
        self.max_bytes = max_bytes
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.failed: dict[str, str] = {}

    def frames(self, video_id: str) -> np.ndarray:
        """All frames of ``video_id`` as uint8 RGB ``ndarray[T, H, W, 3]``.

        The frame count is the annotation's: a decoded video that is shorter is padded with
        its last frame, a longer one cut (with a warning), so frame ``t`` always means the
        annotated frame ``t``.

        Raises:
            DecodeError: when the video cannot be decoded (remembered in :attr:`failed`).
        """
        if video_id in self._cache:
            self._cache.move_to_end(video_id)
            return self._cache[video_id]
        if video_id in self.failed:
            raise DecodeError(self.failed[video_id])
        from vidal.data.video import open_video

        video = self.dataset[video_id]
        try:
            reader = open_video(self.dataset.video_path(video), size=self.size)
            n = len(reader)
            if n == 0:
                raise DecodeError(f"{self.dataset.video_path(video)}: no frames decoded")
            arr = reader.get_batch(np.arange(min(n, video.num_frames)))
        except DecodeError as e:
            self.failed[video_id] = str(e)
            raise
        if len(arr) != video.num_frames:
            warnings.warn(
                f"{video_id}: decoded {len(arr)} frames, the annotations say {video.num_frames}; "
                "padding/cutting to the annotated count",
                stacklevel=2,
            )
            if len(arr) < video.num_frames:
                pad = np.repeat(arr[-1:], video.num_frames - len(arr), axis=0)
                arr = np.concatenate([arr, pad])
        arr = np.ascontiguousarray(arr)
        self._cache[video_id] = arr
        self._bytes += arr.nbytes
        while self._bytes > self.max_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._bytes -= old.nbytes
        return arr

    def get(self, video_id: str, indices: np.ndarray) -> np.ndarray:
        """Frames ``indices (ndarray[N])`` of ``video_id`` as ``ndarray[N, H, W, 3]`` uint8."""
        return self.frames(video_id)[np.asarray(indices, dtype=np.int64)]
