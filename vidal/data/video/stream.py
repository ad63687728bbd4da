"""Streams read front to back: raw elementary streams, containers without a frame count, and
files decord cannot index, decoded with PyAV (or OpenCV when PyAV fails).

Streams have no index to seek with, so they are decoded once, front to back, when opened:
that pass counts the frames exactly and keeps the RGB frames in memory while they fit in
``cache_bytes`` (1 GiB by default; a 369-frame 340x256 video takes 96 MB). A longer stream
keeps only its frame count and decodes again from the start up to the last frame asked for
on every :meth:`~vidal.data.video.VideoReader.get_batch`: memory stays flat, random access
costs a sequential decode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from vidal.data.video.base import OpenRequest, VideoReader, resize_frame
from vidal.data.video.probe import quiet_av
from vidal.errors import DecodeError

__all__ = ["OpenCVReader", "PyAVReader", "StreamReader"]

Want = Callable[[int], bool]


class StreamReader(VideoReader):
    """Sequential decode, frames cached while they fit in memory; a backend implements
    :meth:`_decode`."""

    def __init__(
        self,
        path: Path,
        *,
        size: tuple[int, int] | None,
        fps: float,
        cache_bytes: int,
        declared: int | None,
    ) -> None:
        self._out_hw = size
        self.path = path
        frames: list[np.ndarray] = []
        keep = [True]  # cache frames while they fit in cache_bytes (read by the lambda)
        count = 0
        shape: tuple[int, ...] = ()
        for frame in self._decode(want=lambda i: i == 0 or keep[0]):
            count += 1
            if frame is None:
                continue
            shape = frame.shape  # frame 0 is always converted, so the size is known
            if keep[0]:
                frames.append(frame)
                if count * frame.nbytes > cache_bytes:
                    keep[0], frames = False, []  # too long to keep: from now on only count
        if count == 0:
            raise DecodeError(f"{path}: no frame could be decoded ({self.backend})")
        if declared and count < declared:
            raise DecodeError(
                f"{path}: truncated: the container declares {declared} frames but only {count} decode"
            )
        super().__init__(path, width=int(shape[1]), height=int(shape[0]), fps=fps, num_frames=count)
        self._cache = np.stack(frames) if keep[0] else None

    @classmethod
    def open(cls, path: Path, request: OpenRequest) -> StreamReader:
        """The reader of ``path``; ``request.info`` (when probed) gives the declared frame count."""
        info = request.info
        return cls(
            path,
            size=request.size,
            fps=request.fps,
            cache_bytes=request.cache_bytes,
            declared=None if info is None else info.num_frames,
        )

    def _decode(self, want: Want, stop: int | None = None) -> Iterator[np.ndarray | None]:
        """Yield each frame in order, up to ``stop``: ``ndarray[H, W, 3]`` RGB when
        ``want(i)``, else ``None`` (not converted)."""
        raise DecodeError(f"{self.path}: {type(self).__name__} cannot decode")

    def _convert_size(self, w: int, h: int) -> tuple[int, int]:
        return (self._out_hw[1], self._out_hw[0]) if self._out_hw is not None else (w, h)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        if self._cache is not None:
            return self._cache[idx]
        wanted = set(idx.tolist())
        got: dict[int, np.ndarray] = {}
        for i, frame in enumerate(self._decode(want=lambda i: i in wanted, stop=int(idx.max()))):
            if frame is not None:
                got[i] = frame
        missing = wanted - got.keys()
        if missing:
            raise DecodeError(f"{self.path}: frames {sorted(missing)[:8]} no longer decode")
        return np.stack([got[int(i)] for i in idx])

    def close(self) -> None:
        self._cache = None


class PyAVReader(StreamReader):
    """A stream decoded with PyAV (FFmpeg), which reports damage instead of hanging."""

    backend = "pyav"

    def _decode(self, want: Want, stop: int | None = None) -> Iterator[np.ndarray | None]:
        av = quiet_av()
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for i, frame in enumerate(container.decode(stream)):
                    if want(i):
                        w, h = self._convert_size(frame.width, frame.height)
                        yield frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
                    else:
                        yield None
                    if stop is not None and i >= stop:
                        return
        except DecodeError:
            raise
        except Exception as e:
            raise DecodeError(
                f"{self.path}: PyAV failed while decoding ({type(e).__name__}: {e})"
            ) from e


class OpenCVReader(StreamReader):
    """A stream decoded with OpenCV's ``VideoCapture``."""

    backend = "opencv"

    def _decode(self, want: Want, stop: int | None = None) -> Iterator[np.ndarray | None]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise DecodeError(f"{self.path}: OpenCV cannot open the file")
        try:
            i = 0
            while True:
                if not want(i):
                    if not cap.grab():
                        return
                    yield None
                else:
                    ok, img = cap.read()
                    if not ok:
                        return
                    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
                    w, h = self._convert_size(img.shape[1], img.shape[0])
                    yield resize_frame(img, w, h)
                if stop is not None and i >= stop:
                    return
                i += 1
        finally:
            cap.release()
