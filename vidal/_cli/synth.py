"""``vidal synth``: generate a synthetic video dataset (MP4 files plus annotations).

Example:
    vidal synth --out /tmp/s50 --videos 50 --seed 0
    vidal synth --out /tmp/road --kind road --layout imagenet-vid --videos 20
    vidal synth --out /tmp/replay --replay ../shared/data/ucf101-24/pyannot.pkl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from vidal.data.synth import SynthConfig, make_dataset
from vidal.data.synth._config import KINDS, LAYOUTS
from vidal.errors import ConfigError

__all__ = ["add_parser", "run", "parse_size"]


def parse_size(text: str) -> tuple[int, int]:
    """``"128x96"`` -> ``(128, 96)`` (width, height); raises :class:`ConfigError` otherwise."""
    parts = text.lower().split("x")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        return int(parts[0]), int(parts[1])
    except ValueError as e:
        raise ConfigError(f"--size must read WIDTHxHEIGHT (e.g. 128x96), got {text!r}") from e


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    defaults = SynthConfig()
    p = subparsers.add_parser(
        "synth",
        help="generate synthetic videos with box and mask ground truth (actions or road scenes)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--out", required=True, help="folder to write the dataset to")
    p.add_argument(
        "--videos", type=int, default=defaults.videos, help="number of videos (default %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)"
    )
    p.add_argument(
        "--kind", choices=KINDS, default=defaults.kind, help="action videos or road scenes"
    )
    p.add_argument(
        "--layout", choices=LAYOUTS, default=defaults.layout, help="annotation layout to write"
    )
    p.add_argument(
        "--frames",
        type=int,
        default=None,
        help=f"frames per video (default: {defaults.min_frames}-{defaults.max_frames}, drawn per video)",
    )
    p.add_argument(
        "--size",
        default=f"{defaults.width}x{defaults.height}",
        help="frame size WxH (default %(default)s)",
    )
    p.add_argument(
        "--fps", type=float, default=defaults.fps, help="frame rate (default %(default)s)"
    )
    p.add_argument(
        "--tempo",
        type=float,
        default=defaults.tempo,
        help="action actors' speed as a share of ordinary human motion; the default "
        "%(default).3g matches the frame-to-frame box change of UCF-101-24 tubes",
    )
    p.add_argument(
        "--replay",
        default=None,
        metavar="PYANNOT",
        help="UCF-101-24 pyannot.pkl: drive actors with real tube timing and box trajectories",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="parallel processes (output does not depend on it; default %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    frames = {} if args.frames is None else {"min_frames": args.frames, "max_frames": args.frames}
    config = SynthConfig(
        kind=args.kind,
        videos=args.videos,
        seed=args.seed,
        width=width,
        height=height,
        fps=args.fps,
        tempo=args.tempo,
        layout=args.layout,
        replay=args.replay,
        **frames,
    )
    start = time.perf_counter()
    path = make_dataset(args.out, config, workers=args.workers, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    s = json.loads((Path(args.out) / "synth.json").read_text())["summary"]
    print(f"annotations: {path}")
    print(
        f"{config.kind}: {s['videos']} videos ({s['train']} train, {s['test']} test), {s['frames']} frames "
        f"of {width}x{height}, {s['tubes']} tubes, {s['rare']} rare, tubes per class {s['class_histogram']} "
        f"in {seconds:.1f}s"
    )
    return 0
