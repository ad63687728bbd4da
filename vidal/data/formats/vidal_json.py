"""vidal's own annotation format: one JSON file beside the videos (plus masks in an .npz).

Layout of ``annotations.json``::

    {
      "format": "vidal", "version": 1,
      "classes": ["walk", "jump", ...],
      "splits": {"train": ["vid0", ...], "test": [...]},          # optional
      "videos": [
        {"id": "vid0", "path": "videos/vid0.mp4", "num_frames": 48,
         "width": 112, "height": 112, "fps": 25.0, "label": 1,    # label optional
         "tubes": [{"track_id": 0, "label": 1, "first_frame": 3,
                    "boxes": [[x1, y1, x2, y2], ...]}],            # one box per frame
         "metadata": {"scene": "night", "subject": "s07"},         # optional, free-form
         "frame_metadata": {"prompt": ["happy", null, ...]}}       # optional, T values each
      ]
    }

``metadata`` holds any JSON values of the video; ``frame_metadata`` one list per field with
a JSON value (or ``null``) for every frame. Both are kept as they are on a read and a write
(selectors such as metadata cycling read them, :mod:`vidal.select.metadata`).

``path`` is relative to the JSON file's folder (or absolute) and names a video file or a
folder of JPEG/PNG frames. Pixel masks, when present, live in ``annotations.masks.npz``
next to the JSON: one array per tube under the key ``"<video id>/<track id>"``, bit-packed
with ``numpy.packbits`` along the last axis, with the shape ``[L, H, W]`` stored under
``"<video id>/<track id>/shape"``. JSON Lines is accepted too: a first line with
``format``/``version``/``classes``/``splits`` and then one video object per line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vidal._io import atomic_write, atomic_write_bytes
from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import AnnotationError

__all__ = ["read_vidal", "write_vidal"]


def _masks_path(path: Path) -> Path:
    return path.with_name(path.name.rsplit(".", 1)[0] + ".masks.npz")


def _video_to_json(v: VideoAnnotation) -> dict:
    obj: dict = {
        "id": v.video_id,
        "path": v.path,
        "num_frames": int(v.num_frames),
        "width": int(v.width),
        "height": int(v.height),
        "fps": float(v.fps),
    }
    if v.label is not None:
        obj["label"] = int(v.label)
    obj["tubes"] = [
        {
            "track_id": int(t.track_id),
            "label": int(t.label),
            "first_frame": int(t.first_frame),
            "boxes": np.round(t.boxes.astype(np.float64), 3).tolist(),
        }
        for t in v.tubes
    ]
    if v.metadata:
        obj["metadata"] = v.metadata
    if v.frame_metadata:
        obj["frame_metadata"] = v.frame_metadata
    return obj


def write_vidal(dataset: VideoDataset, path: str | os.PathLike, *, lines: bool = False) -> Path:
    """Write ``dataset`` in vidal's format (atomically); masks go to a sibling ``.masks.npz``.

    Args:
        dataset: the dataset; video paths are written as they are (make them relative to
            ``path``'s folder for a portable dataset).
        path: the ``.json`` (or ``.jsonl`` with ``lines=True``) file to write.
        lines: write JSON Lines (a header line, then one video per line).
    """
    path = Path(path)
    header = {
        "format": "vidal",
        "version": 1,
        "classes": list(dataset.class_names),
        "splits": {k: list(v) for k, v in dataset.splits.items()},
    }
    videos = [_video_to_json(v) for v in dataset]
    if lines:
        text = "\n".join(json.dumps(o, separators=(",", ":")) for o in [header, *videos]) + "\n"
    else:
        text = json.dumps({**header, "videos": videos}, separators=(",", ":")) + "\n"
    masks: dict[str, np.ndarray] = {}
    for v in dataset:
        for t in v.tubes:
            if t.masks is not None:
                key = f"{v.video_id}/{t.track_id}"
                masks[key] = np.packbits(t.masks, axis=-1)
                masks[key + "/shape"] = np.asarray(t.masks.shape, dtype=np.int64)
    if masks:
        atomic_write(_masks_path(path), lambda tmp: _savez(tmp, masks))
    return atomic_write_bytes(path, text.encode())


def _savez(tmp: str, arrays: dict[str, np.ndarray]) -> None:
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def read_vidal(path: str | os.PathLike, *, clip_boxes: bool = False) -> VideoDataset:
    """Read a dataset written by :func:`write_vidal` (JSON or JSON Lines).

    Args:
        path: the annotation file.
        clip_boxes: clip boxes outside the frame instead of raising.

    Raises:
        AnnotationError: naming the file and the first problem found.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read: {e}") from e
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            if not rows:
                raise AnnotationError(f"{path}: empty annotation file")
            header, videos = rows[0], rows[1:]
        else:
            header = json.loads(text)
            videos = header.get("videos", []) if isinstance(header, dict) else None  # type: ignore[assignment]
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(header, dict) or header.get("format") != "vidal" or videos is None:
        raise AnnotationError(f'{path}: not a vidal annotation file (expected "format": "vidal")')
    masks = {}
    mp = _masks_path(path)
    if mp.exists():
        with np.load(mp) as z:
            masks = {k: z[k] for k in z.files}
    classes = header.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise AnnotationError(
            f'{path}: "classes" must be a list of class names, got {classes!r}'
            if "classes" in header
            else f'{path}: no "classes" list (the class names, in label order)'
        )
    if len(set(classes)) != len(classes):
        raise AnnotationError(f'{path}: "classes" names a class twice: {classes}')
    out = []
    for i, obj in enumerate(videos):
        try:
            vid = str(obj["id"])
            tubes = []
            for t in obj.get("tubes", []):
                key = f"{vid}/{t['track_id']}"
                m = None
                if key in masks:
                    shape = tuple(int(s) for s in masks[key + "/shape"])
                    m = np.unpackbits(masks[key], axis=-1, count=shape[-1]).astype(bool)
                boxes = np.asarray(t["boxes"], dtype=np.float32).reshape(-1, 4)
                tubes.append(
                    Tube(int(t["track_id"]), int(t["label"]), int(t["first_frame"]), boxes, m)
                )
            v = VideoAnnotation(
                video_id=vid,
                num_frames=int(obj["num_frames"]),
                width=int(obj["width"]),
                height=int(obj["height"]),
                fps=float(obj.get("fps", 25.0)),
                label=None if obj.get("label") is None else int(obj["label"]),
                tubes=tubes,
                path=obj.get("path"),
                metadata=obj.get("metadata", {}),
                frame_metadata=obj.get("frame_metadata", {}),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise AnnotationError(
                f"{path}: video #{i}: malformed entry ({type(e).__name__}: {e})"
            ) from e
        except AnnotationError as e:
            raise AnnotationError(f"{path}: {e}") from e
        for name in ("num_frames", "width", "height"):
            if getattr(v, name) < 1:
                raise AnnotationError(
                    f"{path}: {v.video_id}: {name} {getattr(v, name)} must be >= 1"
                )
        for t in v.tubes:
            if not 0 <= t.label < len(classes):
                raise AnnotationError(
                    f"{path}: {v.video_id}: tube label {t.label} outside 0..{len(classes) - 1}"
                )
        try:
            v.validate(clip_boxes=clip_boxes)
        except AnnotationError as e:
            raise AnnotationError(f"{path}: {e}") from e
        out.append(v)
    return VideoDataset(classes, out, root=path.parent, splits=dict(header.get("splits") or {}))
