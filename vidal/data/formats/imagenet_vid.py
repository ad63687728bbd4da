"""ImageNet VID (ILSVRC2015-VID): JPEG frame folders, one XML per frame, ImageSets lists.

Layout under the dataset root::

    Data/VID/<split>/<video>/000000.JPEG ...          frames, 0-based six-digit names
    Annotations/VID/<split>/<video>/000000.xml ...    one file per frame
    ImageSets/VID/VID_<split>_videos.txt              "<split>/<video> <first> 0 <count>"

``<video>`` may have several components (``ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000``);
the video id is that path below ``<split>/``. A frame XML holds ``<size>`` and ``<object>``
entries with ``trackid``, ``name`` (a WordNet id such as ``n02691156``), ``bndbox``
(``xmin ymin xmax ymax`` pixels, read as ``x1 y1 x2 y2``) and ``occluded``/``generated``
flags, which vidal's annotation model does not keep.

Tracks: all objects with one ``trackid`` form a track. A track missing from some frames in
the middle is split into one tube per run of consecutive frames rather than filled in, so
no box is invented for a frame where the object was not annotated (out of view, fully
occluded). The first run keeps the file's ``trackid``; later runs get fresh ids above the
video's largest ``trackid``. An object without ``trackid`` (DET-style XML) is a tube of
one frame with a fresh id.

Classes: the 30 VID classes are built in (:data:`VID_CLASSES`, alphabetical, with their
WordNet ids in :data:`VID_WNIDS`). Names that are not VID WordNet ids (a synthetic dataset
exported with :func:`write_imagenet_vid`) are used as they are; then the class list is
those names sorted, unless ``class_names`` is given.

The validation list that ships with ImageNet VID reads ``val/ILSVRC2015_val_00000000 1 0 464``:
video, index of its first frame among all frames (1-based), 0, frame count. A list of
frames (``VID_val_frames.txt``: ``val/<video>/000010 ...``) or per-class lists
(``train_1.txt``) read too: the first token names the video (or one of its frames).
"""

from __future__ import annotations

import os
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import numpy as np

from vidal._io import atomic_write_bytes
from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.data.formats import _check_boxes, _runs
from vidal.data.video import list_frames, open_video
from vidal.errors import AnnotationError, DecodeError

__all__ = ["VID_CLASSES", "VID_WNIDS", "read_imagenet_vid", "write_imagenet_vid"]

VID_WNIDS: dict[str, str] = {
    "n02691156": "airplane",
    "n02419796": "antelope",
    "n02131653": "bear",
    "n02834778": "bicycle",
    "n01503061": "bird",
    "n02924116": "bus",
    "n02958343": "car",
    "n02402425": "cattle",
    "n02084071": "dog",
    "n02121808": "domestic_cat",
    "n02503517": "elephant",
    "n02118333": "fox",
    "n02510455": "giant_panda",
    "n02342885": "hamster",
    "n02374451": "horse",
    "n02129165": "lion",
    "n01674464": "lizard",
    "n02484322": "monkey",
    "n03790512": "motorcycle",
    "n02324045": "rabbit",
    "n02509815": "red_panda",
    "n02411705": "sheep",
    "n01726692": "snake",
    "n02355227": "squirrel",
    "n02129604": "tiger",
    "n04468005": "train",
    "n01662784": "turtle",
    "n04530566": "watercraft",
    "n02062744": "whale",
    "n02391049": "zebra",
}
"""WordNet id -> class name of the 30 ImageNet VID classes."""

VID_CLASSES: list[str] = list(VID_WNIDS.values())
"""The 30 ImageNet VID class names in their usual (alphabetical) order."""

_NAME_TO_WNID = {name: wnid for wnid, name in VID_WNIDS.items()}


def _parse_list(path: Path, split: str) -> list[tuple[str, int | None]]:
    """``(path below Data/VID, declared frame count or None)`` per listed video, in order."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read list: {e}") from e
    out: dict[str, int | None] = {}
    for n, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        rel = PurePosixPath(tokens[0])
        count = None
        if rel.name.isdigit() and len(rel.parts) > 1:  # a frames list: <video>/<frame>
            rel = rel.parent
        elif len(tokens) == 4:
            try:
                count = int(tokens[3])
            except ValueError as e:
                raise AnnotationError(f"{path}:{n}: frame count {tokens[3]!r} is not an int") from e
        out.setdefault(rel.as_posix(), count)
    if not out:
        raise AnnotationError(f"{path}: lists no videos")
    return list(out.items())


def _discover(folder: Path) -> list[str]:
    """Frame folders at or below ``folder``, as posix paths relative to it ('.' for itself)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        if any(Path(f).suffix.lower() in (".jpeg", ".jpg", ".png") for f in filenames):
            found.append(Path(dirpath).relative_to(folder).as_posix())
    return sorted(found)


def _text(obj: ET.Element, tag: str, where: str) -> str:
    el = obj.find(tag)
    if el is None or el.text is None:
        raise AnnotationError(f"{where}: <{tag}> missing")
    return el.text.strip()


def _parse_frame_xml(
    path: Path,
) -> tuple[tuple[int, int] | None, list[tuple[int | None, str, list[float]]]]:
    """``((width, height) or None, [(trackid or None, name, [x1, y1, x2, y2])])`` of one XML."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise AnnotationError(f"{path}: not a readable XML annotation ({e})") from e
    size = None
    if root.find("size") is not None:
        try:
            size = (
                int(_text(root, "size/width", str(path))),
                int(_text(root, "size/height", str(path))),
            )
        except ValueError as e:
            raise AnnotationError(f"{path}: <size> is not two ints ({e})") from e
    objects = []
    for k, obj in enumerate(root.iter("object")):
        where = f"{path}: object {k}"
        try:
            track = obj.find("trackid")
            tid = None if track is None or track.text is None else int(track.text)
            box = [
                float(_text(obj, f"bndbox/{t}", where)) for t in ("xmin", "ymin", "xmax", "ymax")
            ]
        except ValueError as e:
            raise AnnotationError(f"{where}: not a number ({e})") from e
        objects.append((tid, _text(obj, "name", where), box))
    return size, objects


def _read_video(
    vid: str,
    frames_dir: Path,
    ann_dir: Path | None,
    *,
    declared: int | None,
    fps: float,
    clip_boxes: bool,
) -> tuple[VideoAnnotation, list[list[tuple[int, int, np.ndarray, str]]]]:
    """The video (no tubes yet) and, per tube, its rows ``(frame, track id, box, name)``."""
    frames = list_frames(frames_dir)
    if not frames:
        raise AnnotationError(f"{frames_dir}: no JPEG frames for video {vid}")
    if declared is not None and declared != len(frames):
        raise AnnotationError(
            f"{frames_dir}: the list declares {declared} frames but the folder holds {len(frames)}"
        )
    from PIL import Image

    try:
        with Image.open(frames[0]) as im:  # reads the header only
            width, height = im.size
    except OSError as e:
        raise DecodeError(f"{frames[0]}: cannot read image header ({e})") from e
    video = VideoAnnotation(vid, len(frames), width, height, fps=fps)
    if ann_dir is None:
        return video, []
    index = {f.stem: i for i, f in enumerate(frames)}
    rows: dict[int, list[tuple[int, np.ndarray, str]]] = {}
    singles: list[tuple[int, np.ndarray, str]] = []
    for xml in sorted(ann_dir.glob("*.xml")):
        if xml.stem not in index:
            raise AnnotationError(f"{xml}: no frame {xml.stem} in {frames_dir}")
        t = index[xml.stem]
        size, objects = _parse_frame_xml(xml)
        if size is not None and size != (width, height):
            raise AnnotationError(
                f"{xml}: <size> {size[0]}x{size[1]} but the frames are {width}x{height}"
            )
        for k, (tid, name, box) in enumerate(objects):
            b = _check_boxes(
                np.array(box), width, height, where=f"{xml}: object {k}", clip_boxes=clip_boxes
            )[0]
            if tid is None:
                singles.append((t, b, name))
            else:
                rows.setdefault(tid, []).append((t, b, name))
    tubes_rows = []
    next_id = max(rows, default=-1) + 1
    for tid in sorted(rows):
        track = sorted(rows[tid], key=lambda r: r[0])
        frames_of = np.array([r[0] for r in track])
        if (np.diff(frames_of) == 0).any():
            dup = int(frames_of[np.flatnonzero(np.diff(frames_of) == 0)[0]])
            raise AnnotationError(
                f"{ann_dir}: trackid {tid} appears twice in frame {frames[dup].stem}"
            )
        names = {r[2] for r in track}
        if len(names) > 1:
            raise AnnotationError(f"{ann_dir}: trackid {tid} changes class: {sorted(names)}")
        for j, run in enumerate(_runs(frames_of)):
            new_id = tid if j == 0 else next_id
            next_id += j > 0
            tubes_rows.append([(r[0], new_id, r[1], r[2]) for r in track[run]])
    for t, b, name in singles:
        tubes_rows.append([(t, next_id, b, name)])
        next_id += 1
    return video, tubes_rows


def read_imagenet_vid(
    root: str | os.PathLike,
    *,
    split: str = "val",
    list_file: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    require_annotations: bool = True,
    clip_boxes: bool = False,
    skip_missing: bool = False,
    class_names: list[str] | None = None,
    fps: float = 25.0,
) -> VideoDataset:
    """Read an ImageNet VID split (frames and, when present, per-frame XML boxes).

    Which videos: those of ``list_file``, else of ``<root>/ImageSets/VID/VID_<split>_videos.txt``
    when it exists, else every frame folder under ``<data_dir>/<split>``. When the root has
    no ``Data/VID/<split>`` folder at all, the frame folders found under ``root`` itself are
    the videos (so a bare ``ILSVRC2015_val_00007010/`` folder, or its parent, reads as one
    video named after the folder).

    Args:
        root: the dataset root (holding ``Data``, ``Annotations``, ``ImageSets``).
        split: ``train``, ``val``, ``test`` or any folder name under ``Data/VID``.
        list_file: an ImageSets list to take the videos from.
        data_dir: where ``<split>/<video>/`` frame folders live (default ``<root>/Data/VID``).
        require_annotations: raise when a video has no annotation folder; ``False`` reads
            such videos without tubes.
        clip_boxes: clip boxes that leave the frame, with a warning, instead of raising.
        skip_missing: warn and skip listed videos whose frames are absent instead of raising.
        class_names: the class list to index labels into (names or VID WordNet ids are
            looked up in it); default :data:`VID_CLASSES`, or the sorted names found when
            some are not VID WordNet ids.
        fps: frame rate to record (ImageNet VID does not store one).

    Returns:
        The dataset; ``root`` is the frames folder, video paths are relative to it, and the
        split is recorded under its name.

    Raises:
        AnnotationError: naming the file and the problem (box outside the frame, missing
            frames or annotations, a track that changes class, ...).
    """
    root = Path(root)
    data_root = Path(data_dir) if data_dir is not None else root / "Data" / "VID"
    ann_root: Path | None = root / "Annotations" / "VID"
    default_list = root / "ImageSets" / "VID" / f"VID_{split}_videos.txt"
    if list_file is not None:
        entries = _parse_list(Path(list_file), split)
    elif default_list.is_file():
        entries = _parse_list(default_list, split)
    elif (data_root / split).is_dir():
        entries = [(f"{split}/{rel}", None) for rel in _discover(data_root / split)]
    elif root.is_dir():  # flat: frame folders right under root, or root itself; no annotations
        found = _discover(root)
        flat_root = root.parent if found == ["."] else root
        entries = (
            [(root.name, None)] if found == ["."] else [(rel, None) for rel in found if rel != "."]
        )
        data_root, ann_root = flat_root, None
    else:
        raise AnnotationError(f"{root}: no such folder")
    if not entries:
        raise AnnotationError(
            f"{root}: no videos found for split {split!r} (looked in {data_root / split})"
        )

    videos: list[VideoAnnotation] = []
    tube_rows: list[list[list[tuple[int, int, np.ndarray, str]]]] = []
    for rel, declared in entries:
        vid = rel.removeprefix(f"{split}/")
        frames_dir = data_root / rel
        if not frames_dir.is_dir():
            if skip_missing:
                warnings.warn(
                    f"{frames_dir}: no frames for listed video {vid}; skipped", stacklevel=2
                )
                continue
            raise AnnotationError(
                f"{frames_dir}: no frames for listed video {vid} (pass skip_missing=True to skip absent videos)"
            )
        ann_dir = None if ann_root is None else ann_root / rel
        if ann_dir is None or not ann_dir.is_dir():
            if require_annotations:
                where = ann_dir if ann_dir is not None else f"{root} (a bare frame folder)"
                raise AnnotationError(
                    f"{where}: no annotations for video {vid} (pass require_annotations=False, or use the 'frames' format, to read frames only)"
                )
            ann_dir = None
        video, rows = _read_video(
            vid, frames_dir, ann_dir, declared=declared, fps=fps, clip_boxes=clip_boxes
        )
        video.path = rel
        videos.append(video)
        tube_rows.append(rows)

    names_found = {VID_WNIDS.get(r[0][3], r[0][3]) for rows in tube_rows for r in rows}
    if class_names is None:
        class_names = list(VID_CLASSES) if names_found <= set(VID_CLASSES) else sorted(names_found)
    lookup = {name: i for i, name in enumerate(class_names)}
    for video, rows in zip(videos, tube_rows, strict=True):
        for r in rows:
            name = VID_WNIDS.get(r[0][3], r[0][3])
            if name not in lookup:
                raise AnnotationError(
                    f"{root}: {video.video_id}: class {r[0][3]!r} is not in class_names"
                )
            boxes = np.stack([x[2] for x in r])
            video.tubes.append(Tube(r[0][1], lookup[name], r[0][0], boxes))
        video.tubes.sort(key=lambda t: (t.track_id, t.first_frame))
    return VideoDataset(
        list(class_names), videos, root=data_root, splits={split: [v.video_id for v in videos]}
    )


def _safe_rel(vid: str) -> str:
    p = PurePosixPath(vid)
    if not vid or p.is_absolute() or ".." in p.parts or any(c.isspace() for c in vid):
        raise AnnotationError(
            f"video id {vid!r} cannot be a folder name (absolute, '..' or whitespace)"
        )
    return p.as_posix()


def _frame_xml(
    folder: str, stem: str, width: int, height: int, objects: list[tuple[int, str, np.ndarray]]
) -> bytes:
    ann = ET.Element("annotation")
    ET.SubElement(ann, "folder").text = folder
    ET.SubElement(ann, "filename").text = stem
    ET.SubElement(ET.SubElement(ann, "source"), "database").text = "ILSVRC_2015"
    size = ET.SubElement(ann, "size")
    ET.SubElement(size, "width").text = str(width)
    ET.SubElement(size, "height").text = str(height)
    for tid, name, box in objects:
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "trackid").text = str(tid)
        ET.SubElement(obj, "name").text = name
        bb = ET.SubElement(obj, "bndbox")
        for tag, value in zip(
            ("xmax", "xmin", "ymax", "ymin"), (box[2], box[0], box[3], box[1]), strict=True
        ):
            ET.SubElement(bb, tag).text = str(int(round(float(value))))
        ET.SubElement(obj, "occluded").text = "0"
        ET.SubElement(obj, "generated").text = "0"
    ET.indent(ann)
    return ET.tostring(ann, encoding="utf-8")


def write_imagenet_vid(
    dataset: VideoDataset,
    root: str | os.PathLike,
    *,
    split: str = "train",
    jpeg_quality: int = 95,
) -> Path:
    """Export ``dataset`` in the ImageNet VID layout under ``root``.

    Each video is decoded with :func:`vidal.data.open_video` and written as
    ``Data/VID/<split>/<id>/%06d.JPEG``, with ``Annotations/VID/<split>/<id>/%06d.xml`` for
    every frame (boxes rounded to whole pixels; VID class names written as their WordNet
    ids, other names as they are) and the list ``ImageSets/VID/VID_<split>_videos.txt``,
    written last and atomically. :func:`read_imagenet_vid` reads it back.

    Args:
        dataset: the dataset; every video needs a readable path.
        root: the folder to create the layout in.
        split: the split folder name.
        jpeg_quality: JPEG quality 0-100.

    Returns:
        The path of the written list file.

    Raises:
        AnnotationError: an id that cannot be a folder name.
        DecodeError: a video whose decoded frame count or size disagrees with its annotation.
    """
    import cv2

    from vidal._progress import progress_bar

    root = Path(root)
    lines = []
    start = 1
    for v in progress_bar(dataset.videos, desc=f"export {split}", unit="video", disable=None):
        rel = f"{split}/{_safe_rel(v.video_id)}"
        frames_dir = root / "Data" / "VID" / rel
        ann_dir = root / "Annotations" / "VID" / rel
        frames_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        with open_video(dataset.video_path(v)) as reader:
            if len(reader) != v.num_frames or (reader.width, reader.height) != (v.width, v.height):
                raise DecodeError(
                    f"{reader.path}: decodes to {len(reader)} frames of {reader.width}x{reader.height} but "
                    f"{v.video_id} is annotated with {v.num_frames} frames of {v.width}x{v.height}"
                )
            for t, frame in enumerate(reader):
                stem = f"{t:06d}"
                ok = cv2.imwrite(
                    str(frames_dir / f"{stem}.JPEG"),
                    cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)],
                )
                if not ok:
                    raise DecodeError(f"{frames_dir / stem}.JPEG: OpenCV could not write the frame")
                objects = [
                    (tb.track_id, _NAME_TO_WNID.get(dataset.class_names[tb.label], dataset.class_names[tb.label]),
                     tb.box_at(t))
                    for tb in v.tubes
                    if tb.covers(t)
                ]  # fmt: skip
                (ann_dir / f"{stem}.xml").write_bytes(
                    _frame_xml(rel, stem, v.width, v.height, objects)
                )
        lines.append(f"{rel} {start} 0 {v.num_frames}")
        start += v.num_frames
    list_path = root / "ImageSets" / "VID" / f"VID_{split}_videos.txt"
    return atomic_write_bytes(list_path, ("\n".join(lines) + "\n").encode())
