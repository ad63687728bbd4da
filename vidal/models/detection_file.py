"""Your own detections, read from a file, as a :class:`~vidal.models.detectors.FrameDetector`.

Users who already run a detector give vidal its output instead of a model; scoring and
selection then read it exactly as they read a model's (:class:`FileDetections`). Frames are
0-based in vidal, boxes ``x1, y1, x2, y2`` pixels, classes the dataset's ``0..K-1``.

**COCO results JSON** (the list ``pycocotools``' ``loadRes`` reads), one entry per detection::

    {"video_id": "car-shadow", "frame": 0, "category_id": 1,
     "bbox": [x, y, w, h], "score": 0.93, "scores": [0.07, 0.93]}

- *Where*: ``"video_id"`` (string) and ``"frame"`` (0-based) in the entry, or an
  ``"image_id"`` looked up in an image table (``images=``): a JSON file with
  ``{"images": [{"id": 7, "video_id": "car-shadow", "frame": 0}, ...]}`` (the ``images``
  list of a COCO-style ground-truth file with those two fields added).
- *Class*: ``category_id`` -> dataset class through ``categories=`` (id -> class name);
  by default ids are 1-based dataset classes, ``category_id = k + 1`` (what
  :func:`write_coco_results` writes).
- *Box*: ``bbox`` is COCO's ``[x, y, width, height]`` in pixels.
- *Probabilities*: the optional ``"scores"`` is the detection's class vector, ``K + 1``
  values with background first (summing to 1) or ``K`` values (summing to at most 1, the
  rest background). With it, ``score`` may be left out; given, it must equal the vector's
  value for ``category_id`` (within 1e-3). Without it, the vector is ``score`` on the
  detection's class and ``1 - score`` on background.

**MOT** ``det.txt`` (MOTChallenge, Milan et al., *MOT16*, 2016), one file per video, one
detection per line: ``frame, id, x, y, w, h, conf[, ...]`` with 1-based ``frame``; ``id``
and the columns after ``conf`` are ignored, ``x, y`` are taken as written (pixels of the
top-left corner). MOT detections have no class: every row is dataset class ``label``
(default 0), its vector ``conf`` on it and ``1 - conf`` on background, so ``conf`` must be
a probability in ``[0, 1]``.

Every reader refuses bad input with a one-line :class:`DetectionsFileError` naming the file
and the entry (JSON) or line (MOT): a missing or unreadable file, a malformed entry or row,
an unknown video, frame, image id or class.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidal._io import atomic_write, atomic_write_json
from vidal.errors import VidalError
from vidal.models.detectors import FrameDetections, empty_detections
from vidal.train.detection import FrameReader

__all__ = [
    "DetectionsFileError",
    "FileDetections",
    "read_coco_results",
    "read_mot_detections",
    "write_coco_results",
    "write_mot_detections",
]

_SUM_TOL = 1e-3


class DetectionsFileError(VidalError):
    """A detections file that is missing, malformed, or names unknown frames or classes."""


@dataclass(frozen=True)
class FileDetections:
    """Detections read from a file, served per frame like a detector's.

    Attributes:
        class_names: the ``K`` dataset classes.
        detections: video id -> frame -> that frame's :class:`FrameDetections`; frames
            without an entry have no detections.
        frame_counts: video id -> number of frames, when known: asking for another video,
            or a frame past the end, is an error.
        source: the file(s), for messages.
    """

    class_names: tuple[str, ...]
    detections: Mapping[str, Mapping[int, FrameDetections]]
    frame_counts: Mapping[str, int] | None = None
    source: str = "detections"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def detect_video(
        self, video_id: str, frames: Sequence[int], read_frames: FrameReader | None = None
    ) -> list[FrameDetections]:
        """The detections of ``frames`` of ``video_id`` (no pixels are read)."""
        known = self.frame_counts if self.frame_counts is not None else self.detections
        if video_id not in known:
            raise DetectionsFileError(f"{self.source}: no detections of video {video_id!r}")
        per_frame = self.detections.get(video_id, {})
        count = None if self.frame_counts is None else self.frame_counts[video_id]
        out = []
        for t in frames:
            if t < 0 or (count is not None and t >= count):
                valid = "0.." if count is None else f"0..{count - 1}"
                raise DetectionsFileError(
                    f"{self.source}: frame {t} of {video_id!r} is outside {valid}"
                )
            out.append(per_frame.get(int(t), empty_detections(self.num_classes)))
        return out


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DetectionsFileError(f"{path}: cannot read {what}: {e}") from e


def _image_table(path: str | os.PathLike) -> dict[int, tuple[str, int]]:
    """``image_id -> (video_id, frame)`` from a JSON file's ``"images"`` list."""
    path = Path(path)
    data = _read_json(path, "image table")
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise DetectionsFileError(f'{path}: expected {{"images": [...]}}')
    table: dict[int, tuple[str, int]] = {}
    for i, image in enumerate(images):
        try:
            key, where = int(image["id"]), (str(image["video_id"]), int(image["frame"]))
        except (KeyError, TypeError, ValueError) as e:
            raise DetectionsFileError(
                f'{path}: images[{i}] needs "id", "video_id" and "frame" ({e!r})'
            ) from e
        if key in table:
            raise DetectionsFileError(f"{path}: images[{i}]: image id {key} appears twice")
        table[key] = where
    return table


class _Builder:
    """Collects detections per (video, frame), checking each against the known videos."""

    def __init__(self, source: str, num_classes: int, frame_counts: Mapping[str, int] | None):
        self.source, self.num_classes, self.frame_counts = source, num_classes, frame_counts
        self.rows: dict[str, dict[int, list[tuple[list[float], int, float, np.ndarray]]]] = (
            defaultdict(lambda: defaultdict(list))
        )

    def add(
        self, where: str, video: str, frame: int, box: list[float], label: int, probs: np.ndarray
    ) -> None:
        if frame < 0:
            raise DetectionsFileError(f"{where}: frame {frame} is negative")
        if self.frame_counts is not None:
            if video not in self.frame_counts:
                raise DetectionsFileError(f"{where}: unknown video {video!r}")
            if frame >= self.frame_counts[video]:
                raise DetectionsFileError(
                    f"{where}: frame {frame} of {video!r}, which has {self.frame_counts[video]} frames"
                )
        self.rows[video][frame].append((box, label, float(probs[label + 1]), probs))

    def build(self, class_names: Sequence[str]) -> FileDetections:
        detections = {
            video: {t: _frame(rows, self.num_classes) for t, rows in frames.items()}
            for video, frames in self.rows.items()
        }
        return FileDetections(tuple(class_names), detections, self.frame_counts, self.source)


def _frame(rows: list[tuple[list[float], int, float, np.ndarray]], k: int) -> FrameDetections:
    if not rows:
        return empty_detections(k)
    boxes, labels, scores, probs = zip(*rows, strict=True)
    return {
        "boxes": np.asarray(boxes, np.float64).astype(np.float32).reshape(-1, 4),
        "labels": np.asarray(labels, np.int64),
        "scores": np.asarray(scores, np.float32),
        "probs": np.stack(probs).astype(np.float32),
    }


def _xywh_box(value: Any, where: str) -> list[float]:
    """COCO/MOT ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]`` (float64, exact for float32 input)."""
    try:
        x, y, w, h = (float(v) for v in value)
    except (TypeError, ValueError) as e:
        raise DetectionsFileError(
            f"{where}: box must be 4 numbers x, y, w, h, got {value!r}"
        ) from e
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w < 0 or h < 0:
        raise DetectionsFileError(f"{where}: box must be finite with w, h >= 0, got {value!r}")
    return [x, y, x + w, y + h]


def _one_hot_probs(score: float, label: int, k: int, where: str) -> np.ndarray:
    """``ndarray[K + 1]``: ``score`` on class ``label``, ``1 - score`` on background."""
    if not 0.0 <= score <= 1.0:
        raise DetectionsFileError(f"{where}: score {score} is not a probability in [0, 1]")
    probs = np.zeros(k + 1, np.float64)
    probs[0], probs[label + 1] = 1.0 - score, score
    return probs


def _vector_probs(value: Any, k: int, where: str) -> np.ndarray:
    """The ``"scores"`` vector (``K + 1`` with background, or ``K``) as ``ndarray[K + 1]``."""
    try:
        vector = np.asarray(value, np.float64)
    except (TypeError, ValueError) as e:
        raise DetectionsFileError(f'{where}: "scores" must be a list of numbers') from e
    if vector.ndim != 1 or len(vector) not in (k, k + 1) or not np.isfinite(vector).all():
        raise DetectionsFileError(
            f'{where}: "scores" must hold {k + 1} (background first) or {k} probabilities, got '
            f"{value!r}"
        )
    total = vector.sum()
    if vector.min() < 0 or total > 1 + _SUM_TOL or (len(vector) == k + 1 and total < 1 - _SUM_TOL):
        raise DetectionsFileError(
            f'{where}: "scores" must be probabilities summing to 1 (or at most 1 without '
            f"background), sum {total:.4f}"
        )
    if len(vector) == k:
        vector = np.concatenate([[max(0.0, 1.0 - total)], vector])
    return vector


def _coco_label(entry: dict, categories: Mapping[int, int] | None, k: int, where: str) -> int:
    try:
        category = int(entry["category_id"])
    except (KeyError, TypeError, ValueError) as e:
        raise DetectionsFileError(f'{where}: needs an integer "category_id"') from e
    label = categories.get(category) if categories is not None else category - 1
    if label is None or not 0 <= label < k:
        known = sorted(categories) if categories is not None else f"1..{k}"
        raise DetectionsFileError(f"{where}: unknown category_id {category} (known: {known})")
    return label


def _coco_where(entry: dict, images: Mapping[int, tuple[str, int]] | None, where: str):
    if "video_id" in entry or "frame" in entry:
        try:
            return str(entry["video_id"]), int(entry["frame"])
        except (KeyError, TypeError, ValueError) as e:
            raise DetectionsFileError(
                f'{where}: needs both "video_id" and an integer "frame"'
            ) from e
    if "image_id" not in entry:
        raise DetectionsFileError(f'{where}: needs "video_id" and "frame", or "image_id"')
    if images is None:
        raise DetectionsFileError(
            f'{where}: has "image_id" but no image table was given to map it to a video frame'
        )
    try:
        return images[int(entry["image_id"])]
    except (KeyError, TypeError, ValueError) as e:
        raise DetectionsFileError(
            f"{where}: image_id {entry['image_id']!r} is not in the image table"
        ) from e


def _coco_probs(entry: dict, label: int, k: int, where: str) -> np.ndarray:
    if "scores" in entry:
        probs = _vector_probs(entry["scores"], k, where)
        if "score" in entry and abs(float(entry["score"]) - probs[label + 1]) > _SUM_TOL:
            raise DetectionsFileError(
                f'{where}: "score" {entry["score"]} differs from "scores"[category] '
                f"{probs[label + 1]:.6g}"
            )
        return probs
    try:
        score = float(entry["score"])
    except (KeyError, TypeError, ValueError) as e:
        raise DetectionsFileError(f'{where}: needs a number "score" (or a "scores" vector)') from e
    return _one_hot_probs(score, label, k, where)


def read_coco_results(
    path: str | os.PathLike,
    *,
    class_names: Sequence[str],
    images: str | os.PathLike | None = None,
    categories: Mapping[int, str] | None = None,
    frame_counts: Mapping[str, int] | None = None,
) -> FileDetections:
    """Read detections from a COCO results JSON file (layout in the module docstring).

    Args:
        path: the results file, a JSON list of detections.
        class_names: the dataset's ``K`` classes.
        images: optional image table file mapping ``image_id`` to ``(video_id, frame)``.
        categories: ``category_id`` -> dataset class name; default ``category_id = k + 1``.
        frame_counts: video id -> frames, to refuse unknown videos and frames.

    Returns:
        The detections, as a :class:`FileDetections`.

    Raises:
        DetectionsFileError: naming the file and the entry index.
    """
    path = Path(path)
    k = len(class_names)
    table = _image_table(images) if images is not None else None
    label_of = None
    if categories is not None:
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted(str(n) for n in categories.values() if n not in index)
        if unknown:
            raise DetectionsFileError(f"{path}: categories name unknown classes {unknown}")
        label_of = {int(c): index[n] for c, n in categories.items()}
    entries = _read_json(path, "COCO results")
    if not isinstance(entries, list):
        raise DetectionsFileError(f"{path}: COCO results are a JSON list of detections")
    builder = _Builder(str(path), k, frame_counts)
    for i, entry in enumerate(entries):
        where = f"{path}: detection {i}"
        if not isinstance(entry, dict):
            raise DetectionsFileError(f"{where}: expected an object, got {type(entry).__name__}")
        video, frame = _coco_where(entry, table, where)
        label = _coco_label(entry, label_of, k, where)
        box = _xywh_box(entry.get("bbox"), where)
        builder.add(where, video, frame, box, label, _coco_probs(entry, label, k, where))
    return builder.build(class_names)


def read_mot_detections(
    paths: Mapping[str, str | os.PathLike],
    *,
    class_names: Sequence[str],
    label: int = 0,
    frame_counts: Mapping[str, int] | None = None,
) -> FileDetections:
    """Read MOT ``det.txt`` files, one per video (layout in the module docstring).

    Args:
        paths: video id -> its ``det.txt``.
        class_names: the dataset's ``K`` classes.
        label: the dataset class of every detection (MOT has one class).
        frame_counts: video id -> frames, to refuse unknown videos and frames.

    Raises:
        DetectionsFileError: naming the file and line.
    """
    k = len(class_names)
    if not 0 <= label < k:
        raise DetectionsFileError(f"label {label} is not a class in 0..{k - 1}")
    builder = _Builder(", ".join(str(p) for p in paths.values()), k, frame_counts)
    for video, path in paths.items():
        try:
            lines = Path(path).read_text().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise DetectionsFileError(f"{path}: cannot read MOT detections: {e}") from e
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            fields = [f.strip() for f in line.split(",")]
            try:
                frame, conf = int(fields[0]), float(fields[6])
            except (IndexError, ValueError) as e:
                raise DetectionsFileError(
                    f"{where}: expected 'frame, id, x, y, w, h, conf, ...' with an integer "
                    f"frame, got {line.strip()!r}"
                ) from e
            box = _xywh_box(fields[2:6], where)
            probs = _one_hot_probs(conf, label, k, where)
            builder.add(where, video, frame - 1, box, label, probs)
    return builder.build(class_names)


def _frames_of(detections: Sequence[FrameDetections | None]):
    for t, det in enumerate(detections):
        if det is None:
            continue
        boxes = np.asarray(det["boxes"], np.float32).reshape(-1, 4)
        yield t, boxes, np.asarray(det["labels"]), np.asarray(det["scores"]), det.get("probs")


def write_coco_results(
    path: str | os.PathLike, detections: Mapping[str, Sequence[FrameDetections | None]]
) -> Path:
    """Write detections as a COCO results JSON list that :func:`read_coco_results` reads back.

    Each entry has ``video_id``, ``frame`` (0-based), an ``image_id`` numbering the written
    frames from 1, ``category_id = label + 1``, ``bbox`` ``[x, y, w, h]``, ``score`` and,
    when the detections carry ``probs``, the full vector as ``scores`` (background first).
    float32 values are written exactly, so reading gives the same arrays.

    Args:
        path: the file to write (atomically).
        detections: video id -> per-frame detections (index = frame), ``None`` for frames
            not detected (left out).
    """
    entries = []
    image_id = 0
    for video, frames in detections.items():
        for t, boxes, labels, scores, probs in _frames_of(frames):
            image_id += 1
            for n, (x1, y1, x2, y2) in enumerate(boxes.astype(np.float64)):
                entry = {
                    "video_id": video,
                    "frame": t,
                    "image_id": image_id,
                    "category_id": int(labels[n]) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(scores[n]),
                }
                if probs is not None:
                    entry["scores"] = [float(p) for p in np.asarray(probs)[n]]
                entries.append(entry)
    return atomic_write_json(path, entries)


def write_mot_detections(
    path: str | os.PathLike, detections: Sequence[FrameDetections | None]
) -> Path:
    """Write one video's detections as a MOT ``det.txt`` (1-based frames, id -1, no class).

    Args:
        path: the file to write (atomically).
        detections: per-frame detections (index = 0-based frame), ``None`` for frames not
            detected.
    """
    lines = []
    for t, boxes, _, scores, _ in _frames_of(detections):
        for (x1, y1, x2, y2), score in zip(boxes.astype(np.float64), scores, strict=True):
            values = (x1, y1, x2 - x1, y2 - y1, float(score))
            lines.append(f"{t + 1},-1," + ",".join(repr(float(v)) for v in values) + ",-1,-1,-1")

    def write(tmp: str) -> None:
        Path(tmp).write_text("".join(line + "\n" for line in lines))

    return atomic_write(path, write)
