"""The ``frames`` format: unannotated videos, from a video file, a frame folder or a tree of them."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.data.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, list_frames, open_video
from vidal.errors import DecodeError

__all__ = ["read_frames"]


def _find_videos(path: Path) -> tuple[Path, list[Path]]:
    """``(base, items)``: the videos under ``path`` and the folder their ids are relative to."""
    if path.is_file() or list_frames(path):
        return path.parent, [path]
    items = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        d = Path(dirpath)
        if d != path and any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in filenames):
            items.append(d)
        items += [d / f for f in sorted(filenames) if Path(f).suffix.lower() in VIDEO_EXTENSIONS]
    return path, items


def read_frames(path: str | os.PathLike, *, fps: float | None = None) -> VideoDataset:
    """A dataset of unannotated videos: one video file, one frame folder, or a folder of them.

    ``path`` may be a video file (one video, id = its stem), a folder of JPEG/PNG frames
    (one video, id = the folder's name), or a folder whose sub-folders of frames and video
    files (any depth) are the videos, with ids = their paths relative to ``path`` (video
    files without their suffix). Frame counts are exact: a video file is opened with
    :func:`~vidal.data.video.open_video`, which decodes raw streams once to count them.

    Args:
        path: a video file or folder.
        fps: frame rate to record for frame folders (default 25.0; files keep their own).

    Returns:
        The dataset, without classes or tubes.

    In a folder of several videos, one that cannot be decoded is left out with a warning
    that names it (and listed in :attr:`VideoDataset.unreadable`); the others are read.

    Raises:
        DecodeError: ``path`` itself cannot be decoded, nothing was found, or nothing found
            can be decoded.
    """
    path = Path(path)
    if not path.exists():
        raise DecodeError(f"{path}: no such file or folder")
    base, items = _find_videos(path)
    if not items:
        raise DecodeError(f"{path}: no video files or frame folders found")
    videos, unreadable = [], {}
    for item in items:
        try:
            videos.append(_annotation(item, base, fps))
        except DecodeError as e:
            if len(items) == 1:
                raise
            warnings.warn(f"skipping {item}: {e}", stacklevel=2)
            unreadable[str(item)] = str(e)
    if not videos:
        raise DecodeError(f"{path}: none of the {len(items)} videos found can be decoded")
    return VideoDataset([], videos, root=base, unreadable=unreadable)


def _annotation(item: Path, base: Path, fps: float | None) -> VideoAnnotation:
    """An unannotated video of ``item`` (a file or frame folder), its id relative to ``base``."""
    with open_video(item, fps=fps) as reader:
        rel = item.relative_to(base)
        vid = (rel.with_suffix("") if item.is_file() else rel).as_posix()
        return VideoAnnotation(
            vid, len(reader), reader.width, reader.height, fps=reader.fps, path=rel.as_posix()
        )
