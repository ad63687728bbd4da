"""``vidal label``: import the boxes a person drew in CVAT into the labels and the pool.

Reads the "CVAT for images 1.1" XML exported after labeling the images ``vidal select``
wrote, and adds its boxes to a labels dataset (vidal-format JSON holding only human labels)
and the frames to the label pool. Every exported image present in the XML counts as
labeled, with or without boxes (no box: "no actor here"). Video-level class labels (hybrid
selection) come from ``video_labels.csv`` with ``--video-labels``. Nothing already labeled is lost;
importing a frame again replaces that frame's boxes with the new ones, so running the same
import twice changes nothing.

The labels file is created on first use from the videos of the selection
(``selection.json`` beside ``tasks.json``), or from the dataset flags. Both files are
written atomically, labels first. Then train on them:

    vidal label --tasks round1/tasks.json --cvat round1/annotations.xml --pool work/pool.json --labels work/labels.json
    vidal train --labels work/labels.json --pool work/pool.json --out runs/round1
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from vidal._cli.common import add_dataset_args, quote

__all__ = ["add_parser", "run", "new_labels"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "label",
        help="import labels drawn in CVAT (from `vidal select` tasks) into the labels and the pool",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tasks", required=True, help="tasks.json written by `vidal select`")
    p.add_argument("--cvat", help="annotations exported from CVAT (CVAT for images 1.1 XML)")
    p.add_argument(
        "--video-labels",
        help="video_labels.csv written by `vidal select`, with a class name per video filled in",
    )
    p.add_argument("--pool", required=True, help="label pool JSON (updated; created if absent)")
    p.add_argument(
        "--labels",
        required=True,
        help="labels dataset, vidal-format JSON (updated; created if absent)",
    )
    p.add_argument(
        "--selection",
        help="selection.json of the round (default: beside --tasks); names the videos",
    )
    add_dataset_args(p, split_help="split of the videos", required=False, when="first use only: ")
    p.set_defaults(func=run)


def new_labels(dataset: Any, class_names: list[str]) -> Any:
    """An empty labels dataset over ``dataset``'s videos: no tubes, no video labels, absolute paths."""
    from vidal.data import VideoAnnotation, VideoDataset

    videos = [
        VideoAnnotation(
            v.video_id,
            v.num_frames,
            v.width,
            v.height,
            fps=v.fps,
            path=str(dataset.video_path(v).resolve()) if v.path is not None else None,
        )
        for v in dataset
    ]
    return VideoDataset(list(class_names), videos)


def _source(args: argparse.Namespace, selection: dict | None) -> tuple[Any, list[str]]:
    """The videos (and class names) to create the labels dataset from, on first use."""
    from vidal.config import DataConfig, from_dict
    from vidal.errors import ConfigError
    from vidal.experiment import load_data

    if args.format or args.annotations or args.videos:
        fmt = args.format or ("frames" if args.annotations is None else None)
        if fmt is None:
            raise ConfigError("give --format with --annotations")
        data = DataConfig(
            format=fmt, annotations=args.annotations, videos=args.videos, split_file=args.split_file
        )
        split = args.split
    elif selection and isinstance(selection.get("data"), dict):
        obj = dict(selection["data"])
        split = obj.pop("split", None)
        data = from_dict(DataConfig, obj, where="selection.json data")
    else:
        raise ConfigError(
            f"{args.labels} does not exist yet: give the videos (--videos DIR, or --format and "
            "--annotations) or keep the round's selection.json beside tasks.json"
        )
    dataset = load_data(data, split)
    names = list((selection or {}).get("class_names") or dataset.class_names)
    if not names:
        raise ConfigError("no class names: neither the selection nor the dataset names any class")
    return dataset, names


def _frames_in_xml(xml_path: Path, tasks_path: Path) -> list[tuple[str, int]]:
    """``(video, frame)`` of every task image the XML holds (unknown images are left to import)."""
    from vidal.errors import AnnotationError

    try:
        tasks = json.loads(tasks_path.read_text())
        root = ET.parse(xml_path).getroot()
    except (OSError, json.JSONDecodeError, ET.ParseError) as e:
        raise AnnotationError(
            f"cannot read labeling results ({xml_path}, {tasks_path}): {e}"
        ) from e
    by_image = {t["image"]: t for t in tasks if t.get("image")}
    found = []
    for image in root.iter("image"):
        task = by_image.get(Path(image.get("name", "")).name)
        if task is not None:
            found.append((str(task["video"]), int(task["frame"])))
    return found


def run(args: argparse.Namespace) -> int:
    from vidal._io import locked
    from vidal.errors import AnnotationError, ConfigError

    if not args.cvat and not args.video_labels:
        raise ConfigError("give --cvat (boxes), --video-labels (video classes) or both")
    tasks_path = Path(args.tasks)
    labels_path, pool_path = Path(args.labels), Path(args.pool)
    selection_path = (
        Path(args.selection) if args.selection else tasks_path.parent / "selection.json"
    )
    selection = None
    if selection_path.is_file():
        try:
            selection = json.loads(selection_path.read_text())
        except json.JSONDecodeError as e:
            raise AnnotationError(f"{selection_path}: not valid JSON: {e}") from e

    with locked(labels_path, pool_path):  # a concurrent import waits, then reads ours
        _update(args, tasks_path, labels_path, pool_path, selection)
    print(f"labels: {labels_path}\npool:   {pool_path}")
    print(
        f"next: vidal train --labels {quote(labels_path)} --pool {quote(pool_path)} --out RUN_DIR"
    )
    return 0


def _update(
    args: argparse.Namespace,
    tasks_path: Path,
    labels_path: Path,
    pool_path: Path,
    selection: dict | None,
) -> None:
    """Read the labels and the pool, import the round into them, write both (labels first)."""
    from vidal._cli.common import load_pool
    from vidal.data import read_vidal, write_vidal
    from vidal.oracle import import_video_labels
    from vidal.pool import LabelPool

    if labels_path.is_file():
        labels = read_vidal(labels_path)
    else:
        dataset, names = _source(args, selection)
        labels = new_labels(dataset, names)
        print(
            f"vidal label: new labels dataset of {len(labels)} videos: {labels_path}",
            file=sys.stderr,
        )
    if pool_path.is_file():
        pool = load_pool(pool_path, labels)
    else:
        pool = LabelPool.from_dataset(labels)
        print(f"vidal label: new empty label pool {pool_path}", file=sys.stderr)

    count = redone = 0
    before, boxes_before = pool.num_labeled, labels.num_boxes
    if args.cvat:
        count, redone = _import_boxes(Path(args.cvat), tasks_path, labels, labels_path, pool)
        pool.history.append(
            {
                "how": "human (CVAT)",
                "frames": count,
                "new_frames": pool.num_labeled - before,
                "tasks": str(tasks_path),
            }
        )
    videos = 0
    if args.video_labels:
        videos = import_video_labels(args.video_labels, labels, pool)
        pool.history.append(
            {"how": "human (video labels)", "videos": videos, "file": str(args.video_labels)}
        )
    write_vidal(labels, labels_path)
    pool.save(pool_path)
    if args.cvat:
        print(
            f"imported {count} frames with {labels.num_boxes - boxes_before} boxes "
            f"({pool.num_labeled - before} frames new, {redone} imported before and replaced); "
            f"the pool has {pool.num_labeled} of "
            f"{pool.total_frames} frames labeled"
        )
    if args.video_labels:
        print(
            f"imported {videos} video labels; {len(pool.labeled_videos)} videos have a class label"
        )


def _import_boxes(
    xml_path: Path, tasks_path: Path, labels: Any, labels_path: Path, pool: Any
) -> tuple[int, int]:
    """Import the CVAT boxes; returns (frames imported, frames imported before and replaced)."""
    from vidal.errors import AnnotationError
    from vidal.oracle import import_cvat

    # a frame imported again gets the new boxes instead of both (one-frame tubes are imports)
    redone = 0
    for vid, t in set(_frames_in_xml(xml_path, tasks_path)):
        if vid not in labels:
            raise AnnotationError(f"{tasks_path}: video {vid!r} is not in {labels_path}")
        video = labels[vid]
        keep = [tb for tb in video.tubes if not (tb.first_frame == t and len(tb.boxes) == 1)]
        redone += int(
            len(keep) < len(video.tubes)
            or (0 <= t < pool.num_frames[vid] and pool.is_labeled(vid, t))
        )
        video.tubes = keep
    return import_cvat(xml_path, tasks_path, labels, pool), redone
