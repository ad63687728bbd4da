"""Which reader opens a video: one rule (:func:`select_backends`), one entry (:func:`open_video`)."""

from __future__ import annotations

import os
from pathlib import Path

from vidal.data.video.base import OpenRequest, VideoReader
from vidal.data.video.folder import FrameFolderReader
from vidal.data.video.indexed import DecordReader
from vidal.data.video.probe import VideoInfo, check_file, probe_file
from vidal.data.video.stream import OpenCVReader, PyAVReader
from vidal.errors import ConfigError, DecodeError

__all__ = ["BACKENDS", "READERS", "open_video", "select_backends"]

READERS: dict[str, type[FrameFolderReader | DecordReader | PyAVReader | OpenCVReader]] = {
    "frames": FrameFolderReader,
    "decord": DecordReader,
    "pyav": PyAVReader,
    "opencv": OpenCVReader,
}
"""Backend name -> reader class; each has ``open(path, request: OpenRequest)``."""

BACKENDS = ("decord", "pyav", "opencv")
"""Backends a caller may force for a file."""

_DEFAULT_CACHE_BYTES = 1 << 30


def select_backends(path: Path, info: VideoInfo | None, backend: str | None) -> tuple[str, ...]:
    """The backends to try on ``path``, in order: the one rule that picks a reader.

    - a folder: ``frames``;
    - a forced backend: that one alone, except ``pyav``, which falls back to ``opencv``;
    - a container that declares its frame count and that decord indexes
      (:attr:`VideoInfo.indexed`): ``decord``, then the stream decoders for files decord
      cannot be trusted with;
    - anything else (raw elementary streams such as the UCF-101-24 ``.mp4`` files, which
      decord refuses with "broken metadata"; Matroska/WebM without a frame count, which
      decord would estimate from the duration): ``pyav``, then ``opencv``.

    Args:
        path: the video file or frame folder.
        info: the file's probed header (``None`` for a folder or a forced ``opencv``).
        backend: a name from :data:`BACKENDS`, or ``None`` to choose.

    Returns:
        Names in :data:`READERS`.
    """
    if path.is_dir():
        return ("frames",)
    if backend == "pyav":
        return ("pyav", "opencv")
    if backend is not None:
        return (backend,)
    if info is not None and info.indexed:
        return ("decord", "pyav", "opencv")
    return ("pyav", "opencv")


def _check_args(size: tuple[int, int] | None, backend: str | None) -> tuple[int, int] | None:
    if backend not in (None, *BACKENDS):
        raise ConfigError(f"unknown video backend {backend!r}; known: {', '.join(BACKENDS)}")
    if size is None:
        return None
    if len(size) != 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
        raise ConfigError(f"size must be (height, width) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def open_video(
    path: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    backend: str | None = None,
    cache_bytes: int = _DEFAULT_CACHE_BYTES,
) -> VideoReader:
    """Open a video file or a folder of frames for reading.

    A file is checked before any decoder sees it: it must be a regular, non-empty file whose
    header PyAV (FFmpeg's demuxers, which report errors instead of hanging) can parse and
    which holds a video stream. Then :func:`select_backends` says which readers to try. A
    container whose declared frame count disagrees with what decord indexes is decoded
    sequentially instead, and one that decodes to fewer frames than it declares is reported
    as truncated.

    Args:
        path: a video file, or a folder of JPEG/PNG frames.
        size: ``(height, width)`` to resize every frame to; ``None`` keeps the stored size.
        fps: frame rate to report; by default the file's own (frame folders: 25.0).
        backend: force ``"decord"``, ``"pyav"`` or ``"opencv"`` for a file (default: the rule
            of :func:`select_backends`). Ignored for frame folders.
        cache_bytes: how many bytes of decoded frames a sequentially decoded stream may
            keep in memory (see :mod:`vidal.data.video.stream` for the trade-off).

    Returns:
        A :class:`~vidal.data.video.VideoReader`; ``reader.get_batch(indices)`` gives
        ``ndarray[N, H, W, 3]`` uint8 RGB frames.

    Raises:
        DecodeError: naming the file and the reason when it is missing, empty, truncated
            or not a video.
        ConfigError: an unknown ``backend`` or a bad ``size``.
    """
    path = Path(path)
    size = _check_args(size, backend)
    if path.is_dir():
        return FrameFolderReader.open(path, OpenRequest(size, 25.0 if fps is None else float(fps)))
    check_file(path)
    info = None if backend == "opencv" else probe_file(path)
    if info is None:
        rate = float(fps or 25.0)
    else:
        rate = float(fps) if fps is not None else (info.fps or 25.0)
    order = select_backends(path, info, backend)
    return _first_that_opens(path, order, OpenRequest(size, rate, info, cache_bytes))


def _first_that_opens(path: Path, order: tuple[str, ...], request: OpenRequest) -> VideoReader:
    """Open ``path`` with the first backend of ``order`` that succeeds.

    A single backend's error is raised as it is. Of several, an untrusted decord is passed
    over silently, a truncated file is reported at once, and when all fail the error lists
    each one's reason.
    """
    errors = []
    for name in order:
        try:
            return READERS[name].open(path, request)
        except DecodeError as e:
            if len(order) == 1 or ("truncated" in str(e) and name != "decord"):
                raise
            if name != "decord":  # decord refused: the sequential decode finds out why
                errors.append(str(e).removeprefix(f"{path}: "))
        except ImportError as e:
            if len(order) == 1:
                raise
            errors.append(f"{name} not installed ({e})")
    raise DecodeError(f"{path}: cannot decode: " + "; ".join(errors))
