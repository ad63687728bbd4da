"""J-HMDB-21 for active sparse labeling: check the dataset on disk, write a vidal annotation file.

Reads ACT's ``JHMDB-GT.pkl`` (21 classes, 928 videos, 3 splits; split 1 as in Rana & Rawat,
NeurIPS 2022 and CVPR 2023) with :func:`vidal.data.read_jhmdb`, optionally with the
``puppet_mask.mat`` pixel masks (``--masks``), checks which videos are on disk
and that their frame counts equal the annotations' (``--check``; boxes are scaled to the
decoded frame size automatically), prints statistics, and with ``--out`` writes a vidal
annotation file with ``train``/``test`` splits that ``vidal run`` / ``vidal train`` read with
``format: vidal``. The paper configs are ``tools/configs/jhmdb21_{apu,claus}.yaml``.

Example:
    python tools/jhmdb21.py data/jhmdb/JHMDB-GT.pkl --videos data/jhmdb/videos --check
    python tools/jhmdb21.py data/jhmdb/JHMDB-GT.pkl --videos data/jhmdb/videos \\
        --masks data/jhmdb/puppet_mask --out data/jhmdb/vidal.json
"""

from __future__ import annotations

import argparse

from _common import add_check_args, check_and_write, run

from vidal.data import load_dataset


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("annotations", help="JHMDB-GT.pkl")
    p.add_argument(
        "--split", type=int, default=1, choices=[1, 2, 3], help="which of the 3 splits (default 1)"
    )
    p.add_argument("--masks", help="folder of <Class>/<video>/puppet_mask.mat (pixel masks)")
    add_check_args(p)
    return p


def main(args: argparse.Namespace) -> int:
    ds = load_dataset("jhmdb-21", args.annotations, videos=args.videos, masks_dir=args.masks)
    s = args.split
    ds.splits = {
        "train": ds.splits.get(f"train{s}", ds.splits.get("train", [])),
        "test": ds.splits.get(f"test{s}", ds.splits.get("test", [])),
    }
    return check_and_write(ds, args)


if __name__ == "__main__":
    run(main, get_args_parser())
