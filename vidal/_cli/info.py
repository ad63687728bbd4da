"""``vidal info``: what a dataset holds, and optionally whether every video decodes.

Example:
    vidal info --format ucf101-24 --annotations pyannot.pkl --videos videos/ --check
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from vidal._cli.common import add_dataset_args, dataset_from_args
from vidal._io import to_jsonable
from vidal.data.check import check_videos, present_videos

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "info",
        help="summarize a dataset: videos, frames, classes, tubes, boxes; --check decodes every video",
        description=__doc__.splitlines()[0],
    )
    add_dataset_args(p, split_help="keep only this split")
    p.add_argument(
        "--check", action="store_true", help="decode every video found and compare frame counts"
    )
    p.add_argument(
        "--only-present",
        action="store_true",
        help="summarize only the videos whose file is found under --videos",
    )
    p.add_argument(
        "--require-all",
        action="store_true",
        help="with --check, fail when an annotated video has no file (default: report and go on)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)
    return p


def _print_text(args: argparse.Namespace, summary: dict[str, Any], extra: dict[str, Any]) -> None:
    out = [f"format       {args.format}", f"annotations  {args.annotations}"]
    if args.split:
        out.append(f"split        {args.split}")
    for key in ("videos", "frames", "classes", "tubes", "boxes"):
        out.append(f"{key:<12} {summary[key]}")
    if summary.get("unreadable"):
        out.append(f"{'unreadable':<12} {summary['unreadable']} files left out (cannot be decoded)")
    if "videos_present" in extra:
        out.append(
            f"{'on disk':<12} {extra['videos_present']} of {extra['videos_annotated']} videos under {args.videos or 'the annotations folder'}"
        )
    hist = summary["class_histogram"]
    if hist:
        width = max(len(name) for name in hist)
        out.append("tubes per class:")
        out += [f"  {name:<{width}}  {count}" for name, count in hist.items()]
    check = extra.get("check")
    if check is not None:
        out.append(
            f"check: decoded {check['checked']} videos, {check['ok']} match their annotations; "
            f"{check['missing']} have no file (not checked)"
        )
        for m in check["frame_count_mismatch"]:
            out.append(
                f"  frame count mismatch: {m['video']}: annotated {m['annotated']}, decoded {m['decoded']}"
            )
        for m in check["size_mismatch"]:
            out.append(
                f"  frame size mismatch: {m['video']}: annotated {m['annotated']}, decoded {m['decoded']}"
            )
        for m in check["undecodable"]:
            out.append(f"  undecodable: {m['video']}: {m['error']}")
    print("\n".join(out))


def run(args: argparse.Namespace) -> int:
    dataset = dataset_from_args(args)
    extra: dict[str, Any] = {}
    if args.videos is not None or args.check:
        present = present_videos(dataset)
        extra["videos_annotated"], extra["videos_present"] = len(dataset), len(present)
        if args.only_present:
            dataset = dataset.subset(present)
    status = 0
    if args.check:
        check = check_videos(dataset, progress=not args.json or sys.stderr.isatty())
        check["undecodable"] += [
            {"video": None, "path": path, "error": why} for path, why in dataset.unreadable.items()
        ]
        extra["check"] = check
        problems = check["frame_count_mismatch"] or check["size_mismatch"] or check["undecodable"]
        if problems or check["checked"] == 0 or (args.require_all and check["missing"]):
            status = 1
    summary = dataset.summary()
    if args.json:
        print(json.dumps(to_jsonable({**summary, **extra})))
    else:
        _print_text(args, summary, extra)
    if args.check and extra["check"]["checked"] == 0:
        print("vidal info: no video file found to check (give --videos?)", file=sys.stderr)
    return status
