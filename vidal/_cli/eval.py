"""``vidal eval``: a checkpoint's metrics on a test split, and trivial baselines.

For the action detector: frame and video localization accuracy ``frame_loc@tau`` /
``video_loc@tau`` (f@tau, v@tau: the share of frames / videos whose IoU with the ground
truth is at least tau, averaged over classes) for tau in 0.1, 0.2, 0.3, 0.5, the mean frame
IoU and the video classification accuracy, and the frame-mAP and video-mAP of the boxes of
its maps under an evaluation protocol (``--protocol act`` reproduces ACT's evaluation, the
one UCF-101-24 and J-HMDB-21 tables use: inclusive box areas, per-class tube NMS at 0.3,
ACT's linking). ``--baseline`` adds the same numbers for a
prediction that knows nothing (the whole frame, or a centred box of half the frame's width
and height); a model below the centre box is warned about. For the frame detector: VOC AP
per class and its mean (``map``), all-point (``--protocol voc10``, the default) or 11-point
(``voc07``).

Examples:
    vidal eval --checkpoint runs/train/checkpoint.pt --format vidal --annotations data/synth/annotations.json
    vidal eval --checkpoint ck.pt --config tools/configs/ucf101_24_apu.yaml --baseline whole-frame centre-box
    vidal eval --checkpoint runs/det/checkpoint.pt --config tools/configs/detection_synthetic_road.yaml
    vidal eval --baseline whole-frame --format vidal --annotations a.json     # baselines only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vidal._cli.common import (
    add_data_args,
    add_device_args,
    add_model_size_args,
    config_for_checkpoint,
    config_from_args,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="metrics of a checkpoint (and of trivial baselines) on a test split",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", help="checkpoint written by `vidal train` (or `vidal run`)")
    add_data_args(p)
    p.add_argument(
        "--split", help="split to evaluate on (default: the config's test split, 'test')"
    )
    p.add_argument(
        "--baseline",
        nargs="+",
        choices=["centre-box", "whole-frame"],
        default=[],
        help="also evaluate these trivial predictions (action localization)",
    )
    p.add_argument(
        "--protocol",
        help="evaluation protocol: act or vidal (action: also frame-mAP and video-mAP), voc10 or "
        "voc07 (detection AP); default: the dataset's (act for UCF-101-24 and J-HMDB-21, voc10 "
        "for ImageNet-VID and SYNTHIA-AL, else vidal / voc10)",
    )
    add_model_size_args(p)
    p.add_argument(
        "--true-class",
        action="store_true",
        help="action: also report localization with the decoder given each video's true class "
        "(localization apart from classification; key 'model_true_class')",
    )
    add_device_args(p)
    p.add_argument(
        "--out", help="metrics JSON to write (default: metrics_<split>.json beside the checkpoint)"
    )
    p.add_argument("--json", action="store_true", help="print the JSON instead of a table")
    p.set_defaults(func=run)


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else f"{value:.4f}"


def _table(report: dict) -> str:
    columns = [(name, report[name]) for name in ("model", "model_true_class") if name in report]
    columns += list(report.get("baselines", {}).items())
    keys = [k for k, v in columns[0][1].items() if not isinstance(v, dict)]
    width = max(len(k) for k in keys)
    lines = [f"{'':<{width}}  " + "  ".join(f"{name:>16}" for name, _ in columns)]
    for key in keys:
        cells = [m.get(key) for _, m in columns]
        lines.append(f"{key:<{width}}  " + "  ".join(f"{_cell(c):>16}" for c in cells))
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace, cfg: Any, test_set: Any, protocol: str) -> dict[str, Any]:
    """The model's metrics (and with ``--true-class`` the true-class localization)."""
    from vidal.errors import ConfigError
    from vidal.tasks import build_task

    if args.true_class and cfg.task != "action":
        raise ConfigError("--true-class is for action localization; this is a detection checkpoint")
    task: Any = build_task(cfg, test_set, test_set, progress=not args.no_progress)
    model = task.load_checkpoint(Path(args.checkpoint))
    report: dict[str, Any] = {"checkpoint": str(args.checkpoint), "task": cfg.task}
    if cfg.task == "action":
        report["clip_len"], report["size"] = cfg.model.clip_len, list(cfg.model.size_for("action"))
    report["model"] = task.evaluate(model, protocol=protocol)
    if args.true_class:
        report["model_true_class"] = task.evaluate(model, true_class=True)
    return report


#: the protocols each task can be evaluated under
TASK_PROTOCOLS = {"action": ("act", "vidal"), "detection": ("voc10", "voc07")}


def _protocol(args: argparse.Namespace, cfg: Any) -> str:
    """``--protocol``, or the dataset's default (:func:`vidal.metrics.default_protocol`)."""
    from vidal.errors import ConfigError
    from vidal.metrics.protocols import PROTOCOLS, default_protocol

    name = args.protocol or default_protocol(cfg.data.format, task=cfg.task)
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; known protocols: {sorted(PROTOCOLS)}")
    if name not in TASK_PROTOCOLS[cfg.task]:
        raise ConfigError(
            f"protocol {name!r} is not for {cfg.task}; use one of {list(TASK_PROTOCOLS[cfg.task])}"
        )
    return name


def run(args: argparse.Namespace) -> int:
    from vidal._io import atomic_write_json, to_jsonable
    from vidal.errors import ConfigError, VidalError
    from vidal.experiment import load_data

    if not args.checkpoint and not args.baseline:
        raise ConfigError("nothing to evaluate: give --checkpoint, --baseline, or both")
    cfg = config_from_args(args, {"device": args.device}, name="eval")
    if args.checkpoint:
        cfg = config_for_checkpoint(cfg, args.checkpoint, args)
        protocol = _protocol(args, cfg)
    if args.baseline and cfg.task != "action":
        raise ConfigError("--baseline gives trivial action localizations; not for detection")
    split = args.split or cfg.data.test_split
    test_set = load_data(cfg.data, split, progress=not args.no_progress)
    if test_set.num_classes < 1:
        raise ConfigError(
            "evaluation needs annotations: the dataset has no classes (format 'frames'?)"
        )
    report: dict[str, Any] = {
        "split": split,
        "videos": len(test_set),
        "frames": test_set.num_frames,
    }
    if args.checkpoint:
        report |= _evaluate(args, cfg, test_set, protocol)
    if args.baseline:
        from vidal.tasks.action import baseline_metrics

        report["baselines"] = {name: baseline_metrics(name, test_set) for name in args.baseline}
    # print first: the numbers are kept even when the JSON cannot be written
    if args.json:
        print(json.dumps(to_jsonable(report), indent=1))
    else:
        print(f"split {split}: {report['videos']} videos, {report['frames']} frames")
        print(_table(report))
    out = Path(args.out) if args.out else None
    if out is None and args.checkpoint:
        out = Path(args.checkpoint).parent / f"metrics_{split}.json"
    if out is not None:
        try:
            atomic_write_json(out, report)
        except OSError as e:
            raise VidalError(f"{out}: cannot write the metrics (printed above): {e}") from e
        print(f"metrics: {out}", file=sys.stderr if args.json else sys.stdout)
    return 0
