"""What the dataset scripts share (private to ``tools/``; a script imports it as ``_common``).

Every script runs its ``main`` through :func:`run` (one-line errors). The action datasets
(``ucf101_24.py``, ``jhmdb21.py``) check their videos on disk and write
a vidal annotation file the same way (:func:`add_check_args`, :func:`check_and_write`); the
detection datasets (``imagenet_vid.py``, ``synthia_al.py``) count boxes per split and print
them the same way (:func:`box_statistics`, :func:`write_and_print_splits`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

import numpy as np

from vidal.data import VideoDataset, write_vidal
from vidal.data.check import check_videos, keep_present, present_videos, write_portable
from vidal.errors import VidalError


def run(main: Callable[[argparse.Namespace], object], parser: argparse.ArgumentParser) -> None:
    """Run a script's ``main`` on the command line and exit with its status (an int ``main``
    returns; 0 for anything else). A :class:`~vidal.errors.VidalError` is printed as one
    line, ``error: ...``, with exit status 1."""
    try:
        status = main(parser.parse_args())
    except VidalError as e:
        sys.exit(f"error: {e}")
    sys.exit(status if isinstance(status, int) else 0)


def add_check_args(p: argparse.ArgumentParser) -> None:
    """``--videos``, ``--check``, ``--only-present``, ``--out`` and ``--json``."""
    p.add_argument("--videos", help="folder of the videos (<Class>/v_*.avi|mp4 or flat)")
    p.add_argument(
        "--check", action="store_true", help="decode every video present and compare frame counts"
    )
    p.add_argument("--only-present", action="store_true", help="keep only the videos found on disk")
    p.add_argument("--out", help="write a vidal annotation file (.json) with train/test splits")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")


def check_and_write(dataset: VideoDataset, args: argparse.Namespace) -> int:
    """Print the statistics of ``dataset`` after the :func:`add_check_args` flags in ``args``.

    Counts the videos on disk (``--videos``), decodes them and compares frame counts and
    sizes (``--check``), keeps only those on disk (``--only-present``) and writes a portable
    vidal annotation file (``--out``).

    Returns:
        The exit status: 1 when ``--check`` found a problem, else 0.
    """
    stats = {**dataset.summary(), "splits": {k: len(v) for k, v in dataset.splits.items()}}
    problems: list = []
    if args.videos:
        stats["videos_on_disk"] = len(present_videos(dataset))
    if args.check:
        report = check_videos(dataset)
        problems = report["frame_count_mismatch"] + report["size_mismatch"] + report["undecodable"]
        stats["checked"], stats["problems"] = report["checked"], problems
    if args.only_present:
        dataset = keep_present(dataset)
    if args.out:
        write_portable(dataset, args.out)
        stats["written"] = args.out
    if args.json:
        print(json.dumps(stats))
    else:
        for k, v in stats.items():
            if k != "class_histogram":
                print(f"{k:>16}: {v}")
    return 1 if problems else 0


def box_statistics(dataset: VideoDataset) -> dict:
    """Videos, frames, frames with a box, and boxes and tubes per class (a JSON-able dict)."""
    boxes = dict.fromkeys(dataset.class_names, 0)
    frames_with_boxes = 0
    for v in dataset:
        has = np.zeros(v.num_frames, bool)
        for tb in v.tubes:
            boxes[dataset.class_names[tb.label]] += len(tb.boxes)
            has[tb.first_frame : tb.first_frame + len(tb.boxes)] = True
        frames_with_boxes += int(has.sum())
    return {
        "videos": len(dataset),
        "frames": dataset.num_frames,
        "frames_with_boxes": frames_with_boxes,
        "boxes": boxes,
        "tubes": dataset.class_histogram(),
    }


def write_and_print_splits(
    dataset: VideoDataset,
    args: argparse.Namespace,
    *,
    stats: dict,
    header: str,
    videos: Callable[[str, dict], str],
    count: Callable[[VideoDataset], dict] = box_statistics,
) -> dict:
    """Count the boxes of ``dataset``'s ``train`` and ``test`` splits, write it to ``--out``
    and print the counts (as JSON with ``--json``).

    Args:
        dataset: the dataset with ``train`` and ``test`` splits.
        args: the parsed flags; ``out`` and ``json`` are read.
        stats: what comes first in the statistics (classes, folders, ...).
        header: the first line of the text.
        videos: how a split's videos are counted, from its name and its
            statistics (e.g. ``"3 sequences"``).
        count: the statistics of one split (default :func:`box_statistics`).

    Returns:
        ``stats`` with the statistics of each split under its name, and ``written``
        (the annotation file) when one was written.
    """
    stats = {**stats, **{name: count(dataset.split(name)) for name in ("train", "test")}}
    if args.out:
        stats["written"] = str(write_vidal(dataset, args.out))
    if args.json:
        print(json.dumps(stats, indent=1))
        return stats
    print(header)
    for name in ("train", "test"):
        s = stats[name]
        print(
            f"{name:>5}: {videos(name, s)}, {s['frames']} frames "
            f"({s['frames_with_boxes']} with boxes), boxes {s['boxes']}"
        )
    if "written" in stats:
        print(f"wrote {stats['written']} (set data.videos to {dataset.root})")
    return stats
