"""What a video is before decoding it: file checks, header probes, frame-folder listings."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidal.data.video.base import read_image
from vidal.errors import DecodeError

__all__ = [
    "IMAGE_EXTENSIONS",
    "INDEXED_CONTAINERS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "check_file",
    "list_frames",
    "probe_file",
    "probe_video",
    "quiet_av",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".avi",
        ".mkv",
        ".webm",
        ".mov",
        ".mpg",
        ".mpeg",
        ".flv",
        ".wmv",
        ".ts",
        ".264",
        ".h264",
    }
)

INDEXED_CONTAINERS = (
    "mov",
    "mp4",
    "matroska",
    "webm",
    "avi",
    "flv",
    "asf",
    "mpegts",
    "mpeg",
    "ogg",
)
"""Containers decord indexes; anything else (elementary streams, image pipes) is read
sequentially."""


@dataclass(frozen=True)
class VideoInfo:
    """What a cheap header probe tells about a video file or frame folder.

    Attributes:
        width, height: frame size in pixels as stored (before any resize).
        fps: frames per second (0.0 when unknown).
        num_frames: frame count declared by the container or counted in the folder;
            ``None`` for streams that declare none (only decoding counts them).
        container: FFmpeg's name for the container (``"mov,mp4,..."``, ``"m4v"``), or
            ``"frames"`` for a frame folder.
    """

    width: int
    height: int
    fps: float
    num_frames: int | None
    container: str

    @property
    def indexed(self) -> bool:
        """Whether the container declares its frame count and is one decord indexes."""
        return self.num_frames is not None and any(
            c in self.container.split(",") for c in INDEXED_CONTAINERS
        )


def _natural_key(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder in natural order (``2.png`` before ``10.png``).

    Args:
        folder: a folder of ``.jpg``/``.jpeg``/``.png``/``.bmp`` frames (any case).

    Returns:
        The frame paths; empty when the folder holds no images.
    """
    folder = Path(folder)
    names = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(names, key=lambda p: _natural_key(p.name))


def check_file(path: Path) -> None:
    """Refuse what no decoder should be given: missing, special or empty files."""
    if not path.exists():
        raise DecodeError(f"{path}: no such file or folder")
    if not path.is_file():
        raise DecodeError(f"{path}: not a regular file (a device or pipe could block a decoder)")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file (0 bytes)")


def quiet_av() -> Any:
    """The ``av`` module with FFmpeg's logging silenced (ImportError when PyAV is missing)."""
    import av

    with contextlib.suppress(AttributeError):  # very old PyAV
        av.logging.set_level(av.logging.PANIC)
    return av


def probe_file(path: Path) -> VideoInfo:
    """Parse the container header with PyAV; raise DecodeError when it is not a video."""
    try:
        av = quiet_av()
    except ImportError as e:
        raise DecodeError(f"{path}: PyAV is not installed, cannot probe the file") from e
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError(f"{path}: no video stream (container {container.format.name!r})")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 0
            return VideoInfo(
                width=int(stream.codec_context.width),
                height=int(stream.codec_context.height),
                fps=float(rate),
                num_frames=int(stream.frames) or None,
                container=str(container.format.name),
            )
    except DecodeError:
        raise
    except Exception as e:  # av.error.FFmpegError and friends
        raise DecodeError(f"{path}: not a readable video ({type(e).__name__}: {e})") from e


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame size, rate and declared frame count of a video file or frame folder, cheaply.

    Reads only the header of a file (or the first image of a folder); nothing is decoded.

    Args:
        path: a video file or a folder of frames.

    Returns:
        The :class:`VideoInfo`; ``num_frames`` is ``None`` for raw streams.

    Raises:
        DecodeError: naming the file when it is missing, empty or not a video.
    """
    path = Path(path)
    if path.is_dir():
        frames = list_frames(path)
        if not frames:
            raise DecodeError(f"{path}: folder holds no JPEG/PNG frames")
        h, w = read_image(frames[0]).shape[:2]
        return VideoInfo(width=w, height=h, fps=0.0, num_frames=len(frames), container="frames")
    check_file(path)
    info = probe_file(path)
    if info.width <= 0 or info.height <= 0:
        raise DecodeError(f"{path}: video stream has no frame size (container {info.container!r})")
    return info
