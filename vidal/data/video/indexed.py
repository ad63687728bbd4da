"""Video files in containers that declare their frame count, read with decord's random access."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from vidal.data.video.base import OpenRequest, VideoReader
from vidal.errors import DecodeError

__all__ = ["DecordReader"]


class DecordReader(VideoReader):
    """decord's ``VideoReader``, whose batched ``get_batch`` gives fast random access."""

    backend = "decord"

    def __init__(self, path: Path, vr: Any, *, width: int, height: int, fps: float) -> None:
        super().__init__(path, width=width, height=height, fps=fps, num_frames=len(vr))
        self._vr = vr

    @classmethod
    def open(cls, path: Path, request: OpenRequest) -> DecordReader:
        """The reader of ``path``, when decord can be trusted with it.

        Raises:
            DecodeError: decord is missing, refuses the file, or indexes another frame count
                than the container declares (``request.info.num_frames``).
        """
        size, info = request.size, request.info
        try:
            import decord
        except ImportError as e:
            raise DecodeError(f"{path}: decord is not installed") from e
        with contextlib.suppress(AttributeError):  # builds without the logging module
            decord.logging.set_level(decord.logging.QUIET)
        kwargs = {} if size is None else {"height": size[0], "width": size[1]}
        try:
            vr = decord.VideoReader(str(path), ctx=decord.cpu(0), **kwargs)
        except Exception as e:  # DECORDError: broken metadata, damaged packets, ...
            raise DecodeError(f"{path}: decord cannot open the file: {e}") from e
        declared = None if info is None else info.num_frames
        if len(vr) == 0 or (declared is not None and len(vr) != declared):
            raise DecodeError(
                f"{path}: decord indexes {len(vr)} frames but the container declares {declared}"
            )
        if size is not None:
            height, width = size
        elif info is not None:
            height, width = info.height, info.width
        else:
            height, width = vr[0].shape[:2]
        return cls(path, vr, width=width, height=height, fps=request.fps)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        try:
            return self._vr.get_batch(idx.tolist()).asnumpy()
        except Exception as e:  # decord raises DECORDError (a RuntimeError) on damaged data
            raise DecodeError(
                f"{self.path}: decord failed on frames {idx.tolist()[:8]}: {e}"
            ) from e

    def close(self) -> None:
        self._vr = None
