"""UCF-101-24 for active sparse labeling: check the dataset on disk, write a vidal annotation file.

Reads gurkirt's corrected ``pyannot.pkl`` (or ACT's ``UCF101v2-GT.pkl``) with
:func:`vidal.data.read_ucf101_24`, splits it with ``testlist01.txt`` (910 test videos, the
rest train, as in Rana & Rawat, NeurIPS 2022 and CVPR 2023), checks which videos are on disk
and that their frame counts equal the annotations' (``--check``; boxes are scaled to the
decoded frame size automatically), prints statistics, and with ``--out`` writes a vidal
annotation file with ``train``/``test`` splits that ``vidal run`` / ``vidal train`` read with
``format: vidal``. The paper configs are ``tools/configs/ucf101_24_{apu,claus}.yaml``.

Example:
    python tools/ucf101_24.py ../shared/data/ucf101-24/pyannot.pkl \\
        --split-file ../shared/data/ucf101-24/testlist01.txt \\
        --videos ../shared/data/ucf101-24/videos --check
    python tools/ucf101_24.py data/ucf101-24/pyannot.pkl --split-file data/ucf101-24/testlist01.txt \\
        --videos data/ucf101-24/videos --only-present --out data/ucf101-24/vidal.json
"""

from __future__ import annotations

import argparse
import json
import sys

from vidal.data import load_dataset
from vidal.data.check import check_videos, keep_present, present_videos, write_portable
from vidal.errors import VidalError
from vidal.experiment import name_splits_from_file


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("annotations", help="pyannot.pkl or UCF101v2-GT.pkl")
    p.add_argument("--split-file", help="testlist01.txt (the test split; the rest is train)")
    p.add_argument("--videos", help="folder of the videos (<Class>/v_*.avi|mp4 or flat)")
    p.add_argument(
        "--check", action="store_true", help="decode every video present and compare frame counts"
    )
    p.add_argument("--only-present", action="store_true", help="keep only the videos found on disk")
    p.add_argument("--out", help="write a vidal annotation file (.json) with train/test splits")
    p.add_argument("--json", action="store_true", help="print the statistics as JSON")
    return p


def main(args: argparse.Namespace) -> int:
    ds = load_dataset("ucf101-24", args.annotations, videos=args.videos, split_file=args.split_file)
    if args.split_file:
        name_splits_from_file(ds, args.split_file)
    stats = {**ds.summary(), "splits": {k: len(v) for k, v in ds.splits.items()}}
    problems: list = []
    if args.videos:
        stats["videos_on_disk"] = len(present_videos(ds))
    if args.check:
        report = check_videos(ds)
        problems = report["frame_count_mismatch"] + report["size_mismatch"] + report["undecodable"]
        stats["checked"], stats["problems"] = report["checked"], problems
    if args.only_present:
        ds = keep_present(ds)
    if args.out:
        write_portable(ds, args.out)
        stats["written"] = args.out
    if args.json:
        print(json.dumps(stats))
    else:
        for k, v in stats.items():
            if k != "class_histogram":
                print(f"{k:>16}: {v}")
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main(get_args_parser().parse_args()))
    except VidalError as e:
        sys.exit(f"error: {e}")
