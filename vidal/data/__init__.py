"""Video data: decoding, the annotation model, and readers for each dataset format.

:func:`load_dataset` turns a format name (as the CLI and YAML configs give it) into a
:class:`VideoDataset`; the readers and writers are also exported for direct use.

Example:
    >>> ds = load_dataset("ucf101-24", "pyannot.pkl", split="test",  # doctest: +SKIP
    ...                   split_file="testlist01.txt")
    >>> len(ds), ds.num_classes  # doctest: +SKIP
    (910, 24)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vidal.data.annotations import FrameAnnotation, Tube, VideoAnnotation, VideoDataset
from vidal.data.formats import _apply_split
from vidal.data.formats.frames import read_frames
from vidal.data.formats.imagenet_vid import VID_CLASSES, read_imagenet_vid, write_imagenet_vid
from vidal.data.formats.jhmdb import read_jhmdb, read_puppet_mask
from vidal.data.formats.synthia import read_synthia_al
from vidal.data.formats.ucf101_24 import read_ucf101_24, read_ucf101v2_gt, write_ucf101v2_gt
from vidal.data.formats.vidal_json import read_vidal, write_vidal
from vidal.data.safe_pickle import load_pickle
from vidal.data.video import VideoInfo, VideoReader, open_video, probe_video
from vidal.errors import ConfigError

__all__ = [
    "FORMATS",
    "FrameAnnotation",
    "Tube",
    "VID_CLASSES",
    "VideoAnnotation",
    "VideoDataset",
    "VideoInfo",
    "VideoReader",
    "load_dataset",
    "load_pickle",
    "open_video",
    "probe_video",
    "read_frames",
    "read_imagenet_vid",
    "read_jhmdb",
    "read_puppet_mask",
    "read_synthia_al",
    "read_ucf101_24",
    "read_ucf101v2_gt",
    "read_vidal",
    "write_imagenet_vid",
    "write_ucf101v2_gt",
    "write_vidal",
]

PathLike = str | os.PathLike


def _load_vidal(
    annotations: PathLike,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    ds = read_vidal(annotations, **kw)
    if videos is not None:
        ds.root = Path(videos)
    return _apply_split(ds, split=split, split_file=split_file, source=Path(annotations))


def _load_ucf(
    annotations: PathLike,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    return read_ucf101_24(annotations, videos_dir=videos, split=split, split_file=split_file, **kw)


def _load_act(
    annotations: PathLike,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    return read_ucf101v2_gt(
        annotations, videos_dir=videos, split=split, split_file=split_file, **kw
    )


def _load_jhmdb(
    annotations: PathLike,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    return read_jhmdb(annotations, videos_dir=videos, split=split, split_file=split_file, **kw)


def _load_vid(
    annotations: PathLike,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    return read_imagenet_vid(
        annotations, split=split or "val", list_file=split_file, data_dir=videos, **kw
    )


def _load_synthia(
    annotations: PathLike,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    if videos is not None and Path(videos) != Path(annotations):
        raise ConfigError(
            "synthia-al keeps its frames beside the labels: give the root as annotations, no videos"
        )
    return read_synthia_al(annotations, split=split, split_file=split_file, **kw)


def _load_frames(
    annotations: PathLike | None,
    videos: PathLike | None,
    split: str | None,
    split_file: PathLike | None,
    **kw: Any,
) -> VideoDataset:
    path = annotations if annotations is not None else videos
    if path is None:
        raise ConfigError("format 'frames' needs a video file or folder")
    ds = read_frames(path, **kw)
    return _apply_split(ds, split=split, split_file=split_file, source=Path(path))


FORMATS: dict[str, Callable[..., VideoDataset]] = {
    "vidal": _load_vidal,
    "ucf101-24": _load_ucf,
    "ucf101-24-act": _load_act,
    "jhmdb-21": _load_jhmdb,
    "imagenet-vid": _load_vid,
    "synthia-al": _load_synthia,
    "frames": _load_frames,
}
"""Format name -> loader ``(annotations, videos, split, split_file, **kw) -> VideoDataset``."""


def load_dataset(
    format: str,
    annotations: PathLike | None,
    *,
    videos: PathLike | None = None,
    split: str | None = None,
    split_file: PathLike | None = None,
    **kw: Any,
) -> VideoDataset:
    """Read a dataset given the name of its format.

    What ``annotations`` and ``videos`` name, per format:

    - ``vidal``: ``annotations.json`` (or ``.jsonl``); ``videos`` overrides the dataset root.
    - ``ucf101-24``: ``pyannot.pkl`` or ACT's ``UCF101v2-GT.pkl`` (detected); ``videos``:
      the folder of video files or frame folders.
    - ``ucf101-24-act``: ``UCF101v2-GT.pkl``; ``videos`` as above.
    - ``jhmdb-21``: ``JHMDB-GT.pkl`` (puppet masks with ``masks_dir=``); ``videos`` as above.
    - ``imagenet-vid``: the dataset root (``Data``, ``Annotations``, ``ImageSets``);
      ``videos`` overrides the frames root (default ``<root>/Data/VID``).
    - ``synthia-al``: the root of the sequences; ``videos`` is not used.
    - ``frames``: a video file, frame folder or folder of them, without annotations
      (``videos`` is used when ``annotations`` is ``None``).

    Args:
        format: one of :data:`FORMATS`.
        annotations: the annotation file or dataset root.
        videos: where the videos are (see the table).
        split: keep only this split (``imagenet-vid``: the split folder, default ``val``).
        split_file: a file listing the split's video ids (``imagenet-vid``: an ImageSets list).
        **kw: passed to the format's reader (e.g. ``scale_to``, ``clip_boxes``, ``masks_dir``).

    Returns:
        The dataset.

    Raises:
        ConfigError: an unknown format, listing the known ones.
        AnnotationError, DecodeError: from the reader, naming the file.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown dataset format {format!r}; known formats: {', '.join(FORMATS)}")
    return FORMATS[format](annotations, videos, split, split_file, **kw)
