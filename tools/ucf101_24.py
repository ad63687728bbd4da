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

from _common import add_check_args, check_and_write, run

from vidal.data import load_dataset
from vidal.experiment import name_splits_from_file


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("annotations", help="pyannot.pkl or UCF101v2-GT.pkl")
    p.add_argument("--split-file", help="testlist01.txt (the test split; the rest is train)")
    add_check_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    ds = load_dataset("ucf101-24", args.annotations, videos=args.videos, split_file=args.split_file)
    if args.split_file:
        name_splits_from_file(ds, args.split_file)
    return check_and_write(ds, args)


if __name__ == "__main__":
    run(main, get_args_parser())
