"""Reading frames from video files and frame folders, behind one reader interface.

:func:`open_video` checks and probes the path (:mod:`~vidal.data.video.probe`), picks the
backends to try by one rule (:func:`select_backends`) and returns a :class:`VideoReader`:

- a folder of JPEG/PNG frames (names sorted naturally, so ``f_2.png`` comes before
  ``f_10.png``), decoded with OpenCV in small thread-pooled batches
  (:mod:`~vidal.data.video.folder`);
- a video file in a container that declares its frame count (MP4/MOV, AVI, ...), read
  with decord, whose own batched ``get_batch`` gives fast random access
  (:mod:`~vidal.data.video.indexed`);
- a raw elementary stream with no container (e.g. the UCF-101-24 ``.mp4`` files, which are
  bare MPEG-4 Part 2 streams that decord refuses with "broken metadata"), a container that
  declares no frame count (Matroska/WebM: decord would estimate it from the duration, and
  counts must be exact) or one decord cannot index, decoded sequentially with PyAV, or
  OpenCV when PyAV fails (:mod:`~vidal.data.video.stream`).

Datasets of unannotated videos (the ``frames`` format) are read by
:func:`vidal.data.formats.frames.read_frames`.

Example:
    >>> with open_video("clip.mp4", size=(112, 112)) as video:  # doctest: +SKIP
    ...     batch = video.get_batch([0, 8, 16])  # ndarray[3, 112, 112, 3] uint8 RGB
"""

from vidal.data.video.base import VideoReader
from vidal.data.video.open import BACKENDS, READERS, open_video, select_backends
from vidal.data.video.probe import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    VideoInfo,
    list_frames,
    probe_video,
)

__all__ = [
    "BACKENDS",
    "IMAGE_EXTENSIONS",
    "READERS",
    "VIDEO_EXTENSIONS",
    "VideoInfo",
    "VideoReader",
    "list_frames",
    "open_video",
    "probe_video",
    "select_backends",
]
