"""Frame folders: one JPEG/PNG image per frame, decoded with OpenCV in thread-pooled batches."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from vidal.data.video.base import OpenRequest, VideoReader, read_image, resize_frame
from vidal.data.video.probe import list_frames
from vidal.errors import DecodeError

__all__ = ["FrameFolderReader"]


class FrameFolderReader(VideoReader):
    """The frames of a folder, in natural name order (``f_2.png`` before ``f_10.png``).

    Every image must have the size of the first; a frame that does not decode raises a
    :class:`~vidal.errors.DecodeError` naming it when it is read.
    """

    backend = "frames"

    def __init__(self, path: Path, *, size: tuple[int, int] | None, fps: float) -> None:
        self._files = list_frames(path)
        if not self._files:
            raise DecodeError(f"{path}: folder holds no JPEG/PNG frames")
        first = read_image(self._files[0])
        self._src_hw = first.shape[:2]
        height, width = size if size is not None else self._src_hw
        super().__init__(path, width=width, height=height, fps=fps, num_frames=len(self._files))
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def open(cls, path: Path, request: OpenRequest) -> FrameFolderReader:
        """The reader of folder ``path`` (the uniform constructor of every backend)."""
        return cls(path, size=request.size, fps=request.fps)

    def _load(self, i: int) -> np.ndarray:
        f = self._files[i]
        img = read_image(f)
        if img.shape[:2] != self._src_hw:
            raise DecodeError(
                f"{f}: frame is {img.shape[1]}x{img.shape[0]} but the folder's first frame is "
                f"{self._src_hw[1]}x{self._src_hw[0]}"
            )
        return resize_frame(img, self.width, self.height)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), self.height, self.width, 3), dtype=np.uint8)
        unique, inverse = np.unique(idx, return_inverse=True)
        if len(unique) <= 2:
            imgs = [self._load(int(i)) for i in unique]
        else:  # OpenCV releases the GIL while decoding, so threads overlap the work
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
            imgs = list(self._pool.map(self._load, unique.tolist()))
        for j, k in enumerate(inverse.reshape(-1)):
            out[j] = imgs[k]
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
