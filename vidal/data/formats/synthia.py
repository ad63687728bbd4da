"""SYNTHIA-AL: sequences of rendered RGB frames with KITTI-style 2D boxes.

Accepted layout (``root`` is a folder of sequences, or one sequence itself)::

    <root>/<sequence>/RGB/<frame>.png              frames (.png/.jpg/.jpeg), natural order
    <root>/<sequence>/labels_kitti/<frame>.txt     boxes of the RGB frame with the same stem

A sequence is any folder, at any depth below ``root``, that holds an ``RGB`` folder; its
video id is its path relative to ``root`` (``root``'s own name when ``root`` is the
sequence). Frame ``t`` is the ``t``-th RGB frame; a frame without a label file has no
boxes, a label file without a frame is an error. Other folders (depth, segmentation) are
ignored.

A label line is a KITTI object line, optionally preceded by id columns and followed by a
score::

    [frame] [track_id] type truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]

``type`` is the first token that is not a number; the integer tokens before it are the
track id (one token) or the frame and the track id (two tokens, KITTI tracking order; the
frame column is ignored since the file names the frame); fourteen numbers must follow it,
then at most one score. Lines of type ``DontCare`` are skipped. Every line of a sequence
must agree: with track ids, the boxes of one id form a track (a track missing from some
frames is split into one tube per run, as for ImageNet VID; the first run keeps the id,
later runs get fresh ids); without them, each box is its own tube of length 1, numbered in
frame order. Classes are the sorted set of types found unless ``class_names`` is given.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.data.formats import _apply_split, _check_boxes, _runs
from vidal.data.video import list_frames
from vidal.errors import AnnotationError, DecodeError

__all__ = ["read_synthia_al"]

_RGB, _LABELS = "RGB", "labels_kitti"


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_line(line: str, where: str) -> tuple[int | None, str, np.ndarray]:
    """``(track id or None, type, box [4])`` of one label line."""
    tokens = line.split()
    k = next((i for i, tok in enumerate(tokens) if not _is_number(tok)), None)
    if k is None or k > 2:
        raise AnnotationError(
            f"{where}: expected '[frame] [track_id] type ...', got {line.strip()!r}"
        )
    rest = tokens[k + 1 :]
    if len(rest) not in (14, 15):
        raise AnnotationError(
            f"{where}: {len(rest)} numbers after the type {tokens[k]!r}; a KITTI line has 14 (15 with a score)"
        )
    try:
        ids = [int(t) for t in tokens[:k]]
        values = np.array([float(t) for t in rest], dtype=np.float64)
    except ValueError as e:
        raise AnnotationError(f"{where}: {e}") from e
    track = ids[-1] if ids else None
    return track, tokens[k], values[3:7]


def _find_sequences(root: Path) -> list[Path]:
    if (root / _RGB).is_dir():
        return [root]
    return sorted((p.parent for p in root.rglob(_RGB) if p.is_dir()), key=lambda p: p.as_posix())


def read_synthia_al(
    root: str | os.PathLike,
    *,
    split: str | None = None,
    split_file: str | os.PathLike | None = None,
    class_names: list[str] | None = None,
    clip_boxes: bool = False,
    fps: float = 25.0,
) -> VideoDataset:
    """Read SYNTHIA-AL sequences (layout and line format in the module docstring).

    Args:
        root: a folder of sequences, or one sequence.
        split: keep only this split (needs ``split_file``).
        split_file: sequence ids, one a line, recorded as split ``split`` (or its stem).
        class_names: classes to index labels into; default the sorted types found.
        clip_boxes: clip boxes that leave the frame, with a warning, instead of raising.
        fps: frame rate to record.

    Returns:
        The dataset; ``root`` is ``root`` (or its parent when it is one sequence), each
        video's path its ``RGB`` folder.

    Raises:
        AnnotationError: naming the file and line of the first problem.
    """
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(f"{root}: no such folder")
    sequences = _find_sequences(root)
    if not sequences:
        raise AnnotationError(
            f"{root}: no sequence found (a sequence is a folder holding '{_RGB}/')"
        )
    base = root.parent if sequences == [root] else root
    parsed = []
    for seq in sequences:
        frames = list_frames(seq / _RGB)
        if not frames:
            raise AnnotationError(f"{seq / _RGB}: no frames")
        from PIL import Image

        try:
            with Image.open(frames[0]) as im:
                width, height = im.size
        except OSError as e:
            raise DecodeError(f"{frames[0]}: cannot read image header ({e})") from e
        index = {f.stem: i for i, f in enumerate(frames)}
        boxes: list[tuple[int, int | None, str, np.ndarray]] = []
        label_dir = seq / _LABELS
        label_files = sorted(label_dir.glob("*.txt")) if label_dir.is_dir() else []
        for txt in label_files:
            if txt.stem not in index:
                raise AnnotationError(f"{txt}: no RGB frame named {txt.stem}")
            for n, line in enumerate(txt.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                where = f"{txt}:{n}"
                track, kind, box = _parse_line(line, where)
                if kind == "DontCare":
                    continue
                box = _check_boxes(box, width, height, where=where, clip_boxes=clip_boxes)[0]
                boxes.append((index[txt.stem], track, kind, box))
        with_ids = {b[1] is not None for b in boxes}
        if len(with_ids) > 1:
            raise AnnotationError(f"{label_dir}: some lines have a track id and some do not")
        vid = seq.relative_to(base).as_posix()
        video = VideoAnnotation(
            vid, len(frames), width, height, fps=fps, path=(seq / _RGB).relative_to(base).as_posix()
        )
        parsed.append((video, boxes, label_dir))

    kinds = sorted({b[2] for _, boxes, _ in parsed for b in boxes})
    class_names = list(class_names) if class_names is not None else kinds
    lookup = {c: i for i, c in enumerate(class_names)}
    videos = []
    for video, boxes, label_dir in parsed:
        unknown = sorted({b[2] for b in boxes} - lookup.keys())
        if unknown:
            raise AnnotationError(f"{label_dir}: types {unknown} are not in class_names")
        if boxes and boxes[0][1] is None:
            boxes.sort(key=lambda b: b[0])
            video.tubes = [
                Tube(k, lookup[kind], t, box[None]) for k, (t, _, kind, box) in enumerate(boxes)
            ]
        else:
            video.tubes = _link(boxes, lookup, label_dir)
        videos.append(video)
    dataset = VideoDataset(class_names, videos, root=base)
    return _apply_split(dataset, split=split, split_file=split_file, source=root)


def _link(
    boxes: list[tuple[int, int | None, str, np.ndarray]], lookup: dict[str, int], where: Path
) -> list[Tube]:
    tracks: dict[int, list[tuple[int, int | None, str, np.ndarray]]] = {}
    for b in boxes:
        tracks.setdefault(int(b[1]), []).append(b)  # type: ignore[arg-type]
    tubes = []
    next_id = max(tracks, default=-1) + 1
    for tid in sorted(tracks):
        rows = sorted(tracks[tid], key=lambda b: b[0])
        frames = np.array([b[0] for b in rows])
        if (np.diff(frames) == 0).any():
            raise AnnotationError(f"{where}: track {tid} has two boxes in one frame")
        kinds = {b[2] for b in rows}
        if len(kinds) > 1:
            raise AnnotationError(f"{where}: track {tid} changes type: {sorted(kinds)}")
        for j, run in enumerate(_runs(frames)):
            part = rows[run]
            tubes.append(
                Tube(
                    tid if j == 0 else next_id,
                    lookup[part[0][2]],
                    part[0][0],
                    np.stack([b[3] for b in part]),
                )
            )
            next_id += j > 0
    return tubes
