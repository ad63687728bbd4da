"""Who provides labels: a simulated oracle from ground truth, or a person via exported tasks.

The simulated oracle reveals the ground truth of the selected frames (it marks them labeled in
the pool; training reads ground truth only where the pool says a frame is labeled). For real
use, :func:`export_tasks` writes the selection as labeling tasks (a JSON list of video, frame
and timestamp, the frames as JPEGs, and a CVAT for images 1.1 XML to import into CVAT), and
:func:`import_cvat` reads back the boxes a person drew. Videos chosen for a video-level class
label (hybrid selection, CLAUS) are listed in ``video_labels.csv`` for the person to fill in,
and :func:`import_video_labels` reads it back.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from vidal._io import atomic_write_bytes, atomic_write_json
from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import AnnotationError
from vidal.pool import LabelPool
from vidal.select.base import Selection

__all__ = [
    "SimulatedOracle",
    "export_tasks",
    "import_cvat",
    "import_video_labels",
    "task_image_name",
    "task_image_names",
    "write_task_images",
    "cvat_document",
]


class SimulatedOracle:
    """Reveals ground truth for the selected frames and videos (simulated annotation).

    Args:
        dataset: the dataset with full ground truth.
    """

    def __init__(self, dataset: VideoDataset) -> None:
        self.dataset = dataset

    def label(self, selection: Selection, pool: LabelPool) -> float:
        """Mark ``selection`` labeled in ``pool``; returns the cost added."""
        cost = 0.0
        for vid in selection.videos:
            cost += pool.add_video_label(vid, self.dataset[vid].label)
        for vid, frames in selection.frames.items():
            cost += pool.add_frames(vid, frames)
        return cost


def _video_stem(video_id: str, digits: int = 10) -> str:
    """A file-safe, readable stem of ``video_id`` with a hash of the whole id beside it.

    The readable part keeps ASCII letters, digits, ``.``, ``_`` and ``-`` (at most 40);
    ids that differ only elsewhere (``café`` / ``cafè``, all-CJK ids) differ in the hash.
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", video_id).strip("._")[:40] or "video"
    digest = hashlib.sha256(video_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{safe}__{digest[:digits]}"


def task_image_name(video_id: str, frame: int) -> str:
    """File name of an exported frame: a readable, hashed stem of the video id, then the frame.

    Example:
        >>> task_image_name("Basketball/v_Basketball_g01_c01", 7)
        'Basketball_v_Basketball_g01_c01__2927699ddb__000007.jpg'
    """
    return f"{_video_stem(video_id)}__{frame:06d}.jpg"


def task_image_names(video_ids: Iterable[str]) -> dict[str, str]:
    """Video id -> image-name stem, distinct for distinct ids (``name = f"{stem}__{frame:06d}.jpg"``).

    The stem is :func:`task_image_name`'s; should two ids share a hash prefix, their stems
    take longer prefixes until they differ (the whole SHA-256 hex digest differs for
    distinct ids), so no two exported images can have the same name.
    """
    ids = sorted(set(video_ids))
    stems = {v: _video_stem(v) for v in ids}
    digits = 10
    while len(set(stems.values())) < len(stems):
        digits += 6
        counts = Counter(stems.values())
        stems = {v: _video_stem(v, digits) if counts[s] > 1 else s for v, s in stems.items()}
    return stems


def write_task_images(
    out_dir: str | os.PathLike,
    video_id: str,
    frames: np.ndarray,
    read_frames: Callable[[str, np.ndarray], np.ndarray],
    *,
    stem: str | None = None,
) -> None:
    """Write ``frames (ndarray[N])`` of ``video_id`` as ``images/<stem>__<frame>.jpg`` JPEGs.

    Args:
        out_dir: the task folder (``images/`` is made inside it).
        video_id: the video.
        frames (ndarray[N]): int 0-based frames.
        read_frames: ``(video_id, frames [N]) -> ndarray[N, H, W, 3]`` uint8 RGB.
        stem: the video's name stem from :func:`task_image_names` (unique in the export);
            default :func:`task_image_name`'s.
    """
    import cv2

    if not len(frames):
        return
    images = read_frames(video_id, frames)
    folder = Path(out_dir) / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for t, img in zip(frames, images, strict=True):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if not ok:
            raise AnnotationError(f"could not encode frame {t} of {video_id} as JPEG")
        name = f"{stem or _video_stem(video_id)}__{int(t):06d}.jpg"
        atomic_write_bytes(folder / name, buf.tobytes())


def cvat_document(class_names: list[str]) -> ET.Element:
    """The root of a CVAT for images 1.1 document declaring the label set ``class_names``."""
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    meta = ET.SubElement(ET.SubElement(root, "meta"), "task")
    labels = ET.SubElement(meta, "labels")
    for name in class_names:
        ET.SubElement(ET.SubElement(labels, "label"), "name").text = name
    return root


def export_tasks(
    selection: Selection,
    dataset: VideoDataset,
    out_dir: str | os.PathLike,
    *,
    read_frames: Callable[[str, np.ndarray], np.ndarray] | None = None,
) -> Path:
    """Write a selection as labeling tasks for people.

    Writes into ``out_dir``: ``tasks.json`` (a list of ``{"video", "frame", "timestamp",
    "image"}``, frame 0-based, timestamp in seconds), ``cvat_tasks.xml`` (CVAT for images 1.1
    with the label set and one ``<image>`` per frame, to import after creating a task from
    the images), when the selection asks for video labels ``video_labels.csv`` (columns
    ``video,label``; the person writes one class name per video, see
    :func:`import_video_labels`) and, when ``read_frames`` is given, ``images/<name>.jpg`` for
    every frame.

    Args:
        selection: what to label.
        dataset: the videos (for fps, size and class names).
        out_dir: output folder.
        read_frames: ``(video_id, frames [N]) -> ndarray[N, H, W, 3]`` uint8 RGB.

    Returns:
        The path of ``tasks.json``.
    """
    out = Path(out_dir)
    tasks = []
    root = cvat_document(dataset.class_names)
    image_id = 0
    stems = task_image_names(selection.frames)
    for vid in sorted(selection.frames):
        video = dataset[vid]
        frames = np.asarray(selection.frames[vid], dtype=np.int64)
        if read_frames is not None:
            write_task_images(out, vid, frames, read_frames, stem=stems[vid])
        for t in frames.tolist():
            name = f"{stems[vid]}__{t:06d}.jpg"
            tasks.append(
                {"video": vid, "frame": t, "timestamp": round(t / video.fps, 4), "image": name}
            )
            ET.SubElement(
                root,
                "image",
                id=str(image_id),
                name=name,
                width=str(video.width),
                height=str(video.height),
            )
            image_id += 1
    for vid in selection.videos:
        tasks.append(
            {"video": vid, "frame": None, "timestamp": None, "image": None, "video_label": True}
        )
    if selection.videos:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["video", "label"])
        writer.writerows([vid, ""] for vid in selection.videos)
        atomic_write_bytes(out / "video_labels.csv", text.getvalue().encode())
    ET.indent(root)
    atomic_write_bytes(
        out / "cvat_tasks.xml", ET.tostring(root, encoding="utf-8", xml_declaration=True)
    )
    return atomic_write_json(out / "tasks.json", tasks)


def import_cvat(
    xml_path: str | os.PathLike,
    tasks_path: str | os.PathLike,
    labels: VideoDataset,
    pool: LabelPool,
) -> int:
    """Read boxes a person drew in CVAT (CVAT for images 1.1) into ``labels`` and ``pool``.

    Every exported image present in the XML counts as labeled, with or without boxes (an
    image without boxes says "no actor here"). Each box becomes a one-frame tube of its
    class; the frame is marked labeled in ``pool``. Nothing already labeled is removed.

    Args:
        xml_path: the XML exported from CVAT.
        tasks_path: the ``tasks.json`` written by :func:`export_tasks`.
        labels: the dataset that accumulates human labels (modified in place).
        pool: the label pool (modified in place).

    Returns:
        The number of frames imported.
    """
    try:
        tasks = json.loads(Path(tasks_path).read_text())
        tree = ET.parse(xml_path)
    except (OSError, json.JSONDecodeError, ET.ParseError) as e:
        raise AnnotationError(
            f"cannot read labeling results ({xml_path}, {tasks_path}): {e}"
        ) from e
    by_image = {t["image"]: t for t in tasks if t.get("image")}
    class_index = {n: i for i, n in enumerate(labels.class_names)}
    count = 0
    for image in tree.getroot().iter("image"):
        name = image.get("name", "")
        name = Path(name).name
        if name not in by_image:
            raise AnnotationError(f"{xml_path}: image {name!r} is not one of the exported tasks")
        task = by_image[name]
        video: VideoAnnotation = labels[task["video"]]
        t = int(task["frame"])
        next_id = max((tb.track_id for tb in video.tubes), default=-1) + 1
        for box in image.iter("box"):
            label = box.get("label", "")
            if label not in class_index:
                raise AnnotationError(
                    f"{xml_path}: unknown label {label!r} on {name}; known: {labels.class_names}"
                )
            try:
                xyxy = [float(box.get(k, "nan")) for k in ("xtl", "ytl", "xbr", "ybr")]
            except ValueError as e:
                raise AnnotationError(
                    f"{xml_path}: a box on {name} has a coordinate that is not a number: {e}"
                ) from e
            video.tubes.append(Tube(next_id, class_index[label], t, np.asarray([xyxy], np.float32)))
            next_id += 1
        video.validate(clip_boxes=True)
        pool.add_frames(video.video_id, [t])
        count += 1
    return count


def import_video_labels(csv_path: str | os.PathLike, labels: VideoDataset, pool: LabelPool) -> int:
    """Read video-level class labels a person wrote into ``video_labels.csv``.

    The file has a header ``video,label`` and one row per video (as :func:`export_tasks`
    writes it); ``label`` is a class name of ``labels``. Rows left empty are skipped. A video
    labeled before keeps its pool entry (no second cost) and takes the new class.

    Args:
        csv_path: the filled-in CSV.
        labels: the dataset that accumulates human labels (``VideoAnnotation.label`` set).
        pool: the label pool (the video marked labeled, its cost spent once).

    Returns:
        The number of video labels read.

    Raises:
        AnnotationError: the file cannot be read, lacks the columns, or a row names an unknown
            video or class (the row is named; nothing is imported).
    """
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            fields = set(rows[0]) if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise AnnotationError(f"{csv_path}: cannot read video labels: {e}") from e
    if rows and not {"video", "label"} <= fields:
        raise AnnotationError(
            f"{csv_path}: needs the columns 'video' and 'label', has {sorted(fields)}"
        )
    class_index = {n: i for i, n in enumerate(labels.class_names)}
    found: list[tuple[str, int]] = []
    for line, row in enumerate(rows, start=2):
        vid, name = (row.get("video") or "").strip(), (row.get("label") or "").strip()
        if not name:
            continue
        if vid not in labels:
            raise AnnotationError(f"{csv_path}, line {line}: unknown video {vid!r}")
        if name not in class_index:
            raise AnnotationError(
                f"{csv_path}, line {line}: unknown class {name!r} for {vid}; known: {labels.class_names}"
            )
        found.append((vid, class_index[name]))
    for vid, label in found:
        labels[vid].label = label
        pool.add_video_label(vid, label)
        pool.labeled_videos[vid] = label
    return len(found)
