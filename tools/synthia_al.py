"""SYNTHIA-AL for active learning: check the sequences, print statistics, write train/test splits.

SYNTHIA-AL (Zolfaghari Bengar, PhD thesis 2021, Sec. 2.4) is a set of rendered driving
sequences with 2D boxes of pedestrians, cyclists, cars and wheelchairs; its test sequences
(85 without and 12 with wheelchairs, Table 2.1) are kept apart from the training subsets
(default, town, night, wheelchair). This script reads the sequences with
:func:`vidal.data.read_synthia_al` (``<sequence>/RGB/<frame>.png`` and
``<sequence>/labels_kitti/<frame>.txt``; see that module for the line format), assigns each
sequence to ``test`` when its id is in ``--test-list`` or matches a ``--test-match`` pattern
(``train`` otherwise), prints per-split statistics, and (with ``--out``) writes a vidal
annotation file with both splits, which ``tools/configs/detection_synthia_al.yaml`` reads.
Video paths in the file are relative to the root (give it as ``data.videos``).

Example:
    # statistics of every sequence under the root
    python tools/synthia_al.py data/synthia-al --test-match 'test*/*'
    # the splits as a vidal annotation file
    python tools/synthia_al.py data/synthia-al --test-match 'test*/*' \\
        --out data/synthia-al/synthia_al.json
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

from _common import run, write_and_print_splits

from vidal.data import read_synthia_al
from vidal.errors import VidalError


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument(
        "root", help="folder of SYNTHIA-AL sequences (each holding RGB/ and labels_kitti/)"
    )
    p.add_argument("--test-list", help="file of test sequence ids, one a line")
    p.add_argument(
        "--test-match",
        nargs="+",
        default=[],
        help="shell patterns of test sequence ids (e.g. 'test*/*')",
    )
    p.add_argument(
        "--classes", nargs="+", help="class names in index order (default: the sorted types found)"
    )
    p.add_argument("--out", help="write both splits here as a vidal annotation file (.json)")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    return p


def split_ids(
    video_ids: list[str], test_ids: set[str], patterns: list[str]
) -> dict[str, list[str]]:
    """``{"train": [...], "test": [...]}``: test when listed or matching a pattern."""
    test = [v for v in video_ids if v in test_ids or any(fnmatch.fnmatch(v, p) for p in patterns)]
    chosen = set(test)
    return {"train": [v for v in video_ids if v not in chosen], "test": test}


def main(args: argparse.Namespace) -> dict:
    ds = read_synthia_al(args.root, class_names=args.classes)
    test_ids: set[str] = set()
    if args.test_list:
        test_ids = {
            ln.split()[0] for ln in Path(args.test_list).read_text().splitlines() if ln.strip()
        }
        missing = sorted(test_ids - set(ds.video_ids))
        if missing:
            raise VidalError(
                f"{args.test_list}: {len(missing)} listed sequences not found, e.g. {missing[:3]}"
            )
    ds.splits = split_ids(ds.video_ids, test_ids, list(args.test_match))
    if not ds.splits["test"]:
        print("warning: no test sequence (give --test-list or --test-match)")
    return write_and_print_splits(
        ds,
        args,
        stats={"classes": list(ds.class_names), "root": str(ds.root)},
        header=f"classes: {', '.join(ds.class_names)}   sequences under {ds.root}",
        videos=lambda name, s: f"{s['videos']} sequences",
    )


if __name__ == "__main__":
    run(main, get_args_parser())
