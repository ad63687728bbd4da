"""Readers and writers for dataset annotation formats, and the helpers they share.

Each format lives in its own module (``vidal_json``, ``ucf101_24``, ``jhmdb``,
``imagenet_vid``, ``synthia``, and ``frames`` for unannotated videos); :mod:`vidal.data` exports their public functions and maps
format names to them in :func:`vidal.data.load_dataset`. The private helpers below keep the
readers consistent: the same split-file syntax, the same policy for tracks with gaps and
for boxes that leave the frame.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidal.data.annotations import VideoDataset
from vidal.errors import AnnotationError, ConfigError

__all__: list[str] = []


def _read_id_list(path: str | os.PathLike) -> list[str]:
    """Video ids from a split file: the first whitespace-separated token of each line.

    Blank lines and lines starting with ``#`` are skipped, so ``testlist01.txt`` (one id a
    line) and ImageNet-style lists (``val/<video> 1 0 464``) both read.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read split file: {e}") from e
    ids = [
        line.split()[0]
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not ids:
        raise AnnotationError(f"{path}: split file lists no videos")
    return ids


def _apply_split(
    dataset: VideoDataset, *, split: str | None, split_file: str | os.PathLike | None, source: Path
) -> VideoDataset:
    """Record ``split_file`` as split ``split`` (or the file's stem) and keep only ``split``.

    Ids the split file lists that the annotations lack raise :class:`AnnotationError`.
    """
    if split_file is not None:
        ids = _read_id_list(split_file)
        missing = [i for i in ids if i not in dataset]
        if missing:
            raise AnnotationError(
                f"{split_file}: {len(missing)} of {len(ids)} listed videos are not in {source}, e.g. {missing[:3]}"
            )
        dataset.splits[split or Path(split_file).stem] = ids
    if split is None:
        return dataset
    if split not in dataset.splits:
        known = sorted(dataset.splits)
        hint = (
            f"known splits: {known}" if known else "the file defines no splits; give a split file"
        )
        raise ConfigError(f"{source}: no split {split!r} ({hint})")
    out = dataset.split(split)
    out.splits = {split: list(dataset.splits[split])}
    return out


def _runs(frames: np.ndarray) -> list[slice]:
    """Slices of ``frames`` (sorted ints ``[L]``) that are runs of consecutive frames."""
    if len(frames) == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    bounds = [0, *breaks.tolist(), len(frames)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _check_boxes(
    boxes: np.ndarray,
    width: int,
    height: int,
    *,
    where: str,
    clip_boxes: bool,
    tolerance: float = 1.0,
) -> np.ndarray:
    """Check ``boxes (ndarray[N, 4])`` x1y1x2y2 lie in a ``width`` x ``height`` frame.

    Boxes with ``x2 < x1`` or ``y2 < y1`` always raise. Boxes leaving the frame by more than
    ``tolerance`` pixels raise, or with ``clip_boxes`` are clipped to it with a warning.

    Returns:
        ndarray[N, 4] float32, clipped when asked.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        raise AnnotationError(f"{where}: non-finite box coordinates")
    flipped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if flipped.any():
        raise AnnotationError(f"{where}: box {boxes[flipped][0].tolist()} has x2 < x1 or y2 < y1")
    out = (
        (boxes[:, 0] < -tolerance)
        | (boxes[:, 1] < -tolerance)
        | (boxes[:, 2] > width + tolerance)
        | (boxes[:, 3] > height + tolerance)
    )
    if out.any():
        msg = f"{where}: box {boxes[out][0].tolist()} lies outside the {width}x{height} frame"
        if not clip_boxes:
            raise AnnotationError(msg + " (pass clip_boxes=True to clip such boxes with a warning)")
        warnings.warn(msg + "; clipped to the frame", stacklevel=3)
    if out.any() or clip_boxes:
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, width)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, height)
    return boxes


def _problem(msg: str, *, skip_invalid: bool) -> None:
    """Raise ``msg`` as an AnnotationError, or warn when the caller asked to skip bad entries."""
    if not skip_invalid:
        raise AnnotationError(msg + " (pass skip_invalid=True to skip such entries with a warning)")
    warnings.warn(msg + "; skipped", stacklevel=3)


_VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


def _find_video(videos_dir: Path, video_id: str, *, names: Sequence[str] = ()) -> Path | None:
    """The file or frame folder of ``video_id`` under ``videos_dir``, or ``None``.

    Tried in order: ``<dir>/<id><ext>``, ``<dir>/<id>/`` (a frame folder), then the same
    with the id's last path component (``Class/v_x`` -> ``v_x``) and any extra ``names``.
    """
    stems = [video_id, video_id.rsplit("/", 1)[-1], *names]
    for stem in dict.fromkeys(stems):
        for suffix in _VIDEO_SUFFIXES:
            p = videos_dir / (stem + suffix)
            if p.is_file():
                return p
        p = videos_dir / stem
        if p.is_dir():
            return p
    return None
