"""ImageNet VID for active learning on road objects: check the dataset, make the class subset.

Zolfaghari Bengar (PhD thesis 2021, Sec. 2.5.3) keeps the ImageNet VID videos that show a
car, bike or motorcycle (795 training and 87 validation videos; validation is the test
set). This script reads the ILSVRC2015 layout (``Data/VID``, ``Annotations/VID``,
``ImageSets/VID``) with :func:`vidal.data.read_imagenet_vid`, keeps the videos with at least
one box of the chosen classes, drops the boxes of every other class, prints per-split
statistics, and (with ``--out``) writes the subset as a vidal annotation file with the splits
``train`` and ``test``, which ``tools/configs/detection_imagenet_vid.yaml`` reads. Video paths
in the file are relative to ``Data/VID`` (give that folder as ``data.videos``). Boxes that
leave the frame are clipped (ImageNet VID has a few). The thesis also dropped by hand the
frames with missing annotations (20K of the training frames); that cleaning is not public
and is not reproduced: such frames stay, with the boxes they have.

Example:
    # statistics only (reads every XML of both splits: minutes on the full dataset)
    python tools/imagenet_vid.py data/ILSVRC2015
    # the thesis' subset as a vidal annotation file
    python tools/imagenet_vid.py data/ILSVRC2015 --out data/imagenet-vid/vid_car_bike_motorcycle.json
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _common import box_statistics, run, write_and_print_splits

from vidal.data import VID_CLASSES, VideoDataset, read_imagenet_vid
from vidal.data.annotations import Tube, VideoAnnotation
from vidal.errors import VidalError

#: The thesis' road classes, by their ImageNet VID names ("bike" is ``bicycle``).
ROAD_CLASSES = ("car", "bicycle", "motorcycle")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("root", help="ImageNet VID root (holding Data/, Annotations/, ImageSets/)")
    p.add_argument(
        "--classes", nargs="+", default=list(ROAD_CLASSES), help="classes to keep (VID names)"
    )
    p.add_argument("--train-split", default="train", help="split folder of the training videos")
    p.add_argument("--test-split", default="val", help="split folder of the test videos")
    p.add_argument("--out", help="write the subset here as a vidal annotation file (.json)")
    p.add_argument(
        "--limit", type=int, help="read only the first N videos of each split (a quick look)"
    )
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    return p


def keep_classes(dataset: VideoDataset, classes: Sequence[str]) -> VideoDataset:
    """The videos of ``dataset`` with a tube of ``classes``, with only those tubes.

    Args:
        dataset: the full dataset.
        classes: class names to keep, in the order of the new class indices (a name the
            dataset does not have simply matches nothing).

    Returns:
        A new dataset with ``class_names == list(classes)``; video paths, root and the
        splits (restricted to the kept videos) are carried over. ``dataset`` is unchanged.
    """
    new_index = {
        dataset.class_names.index(c): i for i, c in enumerate(classes) if c in dataset.class_names
    }
    videos = []
    for v in dataset:
        tubes = [
            Tube(tb.track_id, new_index[tb.label], tb.first_frame, tb.boxes, tb.masks)
            for tb in v.tubes
            if tb.label in new_index
        ]
        if tubes:
            videos.append(
                VideoAnnotation(
                    v.video_id, v.num_frames, v.width, v.height, fps=v.fps, tubes=tubes, path=v.path
                )
            )
    kept = {v.video_id for v in videos}
    splits = {k: [i for i in ids if i in kept] for k, ids in dataset.splits.items()}
    return VideoDataset(list(classes), videos, root=dataset.root, splits=splits)


def statistics(dataset: VideoDataset) -> dict:
    """:func:`box_statistics` and the shortest, median and longest video (a JSON-able dict)."""
    lengths = [v.num_frames for v in dataset] or [0]
    return {
        **box_statistics(dataset),
        "frames_per_video": {
            "min": min(lengths),
            "median": float(np.median(lengths)),
            "max": max(lengths),
        },
    }


def read_split(root: Path, split: str, limit: int | None) -> VideoDataset:
    """One split of the ILSVRC layout (boxes clipped to the frame), optionally its first videos."""
    listed = root / "ImageSets" / "VID" / f"VID_{split}_videos.txt"
    if limit is None or not listed.is_file():
        ds = read_imagenet_vid(root, split=split, clip_boxes=True)
    else:
        lines = [ln for ln in listed.read_text().splitlines() if ln.strip()][:limit]
        with tempfile.TemporaryDirectory() as tmp:
            short = Path(tmp) / listed.name
            short.write_text("\n".join(lines) + "\n")
            ds = read_imagenet_vid(root, split=split, list_file=short, clip_boxes=True)
    if limit is not None and len(ds) > limit:
        ds = ds.subset(ds.video_ids[:limit])
    ds.splits = {split: ds.video_ids}
    return ds


def main(args: argparse.Namespace) -> dict:
    root = Path(args.root)
    train = read_split(root, args.train_split, args.limit)
    test = read_split(root, args.test_split, args.limit)
    known = set(train.class_names) | set(test.class_names) | set(VID_CLASSES)
    unknown = [c for c in args.classes if c not in known]
    if unknown:
        raise VidalError(
            f"classes {unknown} are neither VID classes nor in the dataset: {sorted(known)}"
        )
    if train.root != test.root:
        raise VidalError(f"the splits' frames live in different folders: {train.root}, {test.root}")
    overlap = set(train.video_ids) & set(test.video_ids)
    if overlap:
        raise VidalError(f"{len(overlap)} videos are in both splits, e.g. {sorted(overlap)[:3]}")
    all_videos = {"train": len(train), "test": len(test)}
    train, test = keep_classes(train, args.classes), keep_classes(test, args.classes)
    subset = VideoDataset(
        list(args.classes),
        [*train.videos, *test.videos],
        root=train.root,
        splits={"train": train.video_ids, "test": test.video_ids},
    )
    return write_and_print_splits(
        subset,
        args,
        stats={
            "classes": list(args.classes),
            "frames_root": str(subset.root),
            "all_videos": all_videos,
        },
        header=f"classes: {', '.join(args.classes)}   frames under {subset.root}",
        videos=lambda name, s: f"{s['videos']} of {all_videos[name]} videos",
        count=statistics,
    )


if __name__ == "__main__":
    run(main, get_args_parser())
