"""``vidal show``: a PNG contact sheet of one video with its ground truth drawn.

Example:
    vidal show --format ucf101-24 --annotations pyannot.pkl --videos videos/ \\
        --video Basketball/v_Basketball_g01_c02 --out sheet.png
"""

from __future__ import annotations

import argparse
from typing import Any

from vidal._cli.common import add_dataset_args, dataset_from_args
from vidal.data.draw import contact_sheet, save_png
from vidal.errors import ConfigError

__all__ = ["add_parser", "run"]


def _frame_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated frame indices, got {text!r}"
        ) from e


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "show",
        help="draw a video's boxes and masks on a contact sheet PNG",
        description=__doc__.splitlines()[0],
    )
    add_dataset_args(p, split_help="split to look the video up in")
    p.add_argument("--video", default=None, help="video id (default: the first video with a file)")
    p.add_argument("--frames", type=_frame_list, default=None, help="frames to show, e.g. 0,10,20")
    p.add_argument(
        "--num-frames", type=int, default=8, help="evenly spaced frames when --frames is not given"
    )
    p.add_argument("--columns", type=int, default=4, help="tiles per row")
    p.add_argument("--tile-width", type=int, default=None, help="tile width in pixels")
    p.add_argument("--out", required=True, help="PNG to write")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    dataset = dataset_from_args(args)
    if args.video is None:
        with_file = [v for v in dataset if v.path is not None and dataset.video_path(v).exists()]
        if not with_file:
            raise ConfigError("no video of the dataset has a file; give --videos, or --video ID")
        video = with_file[0]
    elif args.video not in dataset:
        import difflib

        near = [i for i in dataset.video_ids if args.video.lower() in i.lower()][:5]
        near = near or difflib.get_close_matches(args.video, dataset.video_ids, n=5, cutoff=0.4)
        raise ConfigError(
            f"no video {args.video!r} in the dataset; "
            + (f"did you mean {near}?" if near else f"its ids include {dataset.video_ids[:5]}")
        )
    else:
        video = dataset[args.video]
    sheet = contact_sheet(
        dataset,
        video,
        frames=args.frames,
        num_frames=args.num_frames,
        columns=args.columns,
        tile_width=args.tile_width,
    )
    path = save_png(sheet, args.out)
    print(f"wrote {path} ({sheet.shape[1]}x{sheet.shape[0]}) for {video.video_id}")
    return 0
