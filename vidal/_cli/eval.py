"""``vidal eval``: localization accuracy of a trained action detector, and trivial baselines.

Reports, on the test split, frame and video localization accuracy ``frame_loc@tau`` /
``video_loc@tau`` (f@tau, v@tau: the share of frames / videos whose IoU with the ground
truth is at least tau, averaged over classes) for tau in 0.1, 0.2, 0.3, 0.5, the mean frame
IoU and the video classification accuracy. ``--baseline`` adds the same numbers for a
prediction that knows nothing (the whole frame, or a centred box of half the frame's width
and height), to read the model's numbers against.

Examples:
    vidal eval --checkpoint runs/train/checkpoint.pt --format vidal --annotations data/synth/annotations.json
    vidal eval --checkpoint ck.pt --config tools/configs/ucf101_24_apu.yaml --baseline whole-frame centre-box
    vidal eval --baseline whole-frame --format vidal --annotations a.json     # baselines only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vidal._cli.train import add_data_args, checkpoint_meta, config_from_args, load_data

__all__ = ["add_parser", "run", "BASELINES", "TAUS", "baseline_metrics"]

#: Localization thresholds reported (those of :class:`vidal.tasks.ActionTask`).
TAUS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
#: Baseline name -> function in :mod:`vidal.metrics.localization`.
BASELINES: dict[str, str] = {
    "whole-frame": "whole_frame_prediction",
    "centre-box": "centre_box_prediction",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="localization accuracy of a checkpoint (and of trivial baselines) on a test split",
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
        choices=sorted(BASELINES),
        default=[],
        help="also evaluate these trivial predictions",
    )
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="model input size (default: the checkpoint's)",
    )
    p.add_argument("--clip-len", type=int, help="frames per clip (default: the checkpoint's)")
    p.add_argument(
        "--true-class",
        action="store_true",
        help="also report localization with the decoder given each video's true class "
        "(localization apart from classification; key 'model_true_class')",
    )
    p.add_argument("--device", help="auto, cpu or cuda (default: auto)")
    p.add_argument(
        "--out", help="metrics JSON to write (default: metrics_<split>.json beside the checkpoint)"
    )
    p.add_argument("--json", action="store_true", help="print the JSON instead of a table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _shape(result: dict, taus: tuple[float, ...]) -> dict[str, Any]:
    """The keys of :meth:`ActionTask.evaluate` from a :meth:`LocalizationAccumulator.compute`."""
    out: dict[str, Any] = {f"frame_loc@{t:g}": result["frame"][t] for t in taus}
    out |= {f"video_loc@{t:g}": result["video"][t] for t in taus}
    out["mean_frame_iou"] = result["mean_frame_iou"]
    out["classification_accuracy"] = None
    return out


def baseline_metrics(name: str, dataset: Any, *, taus: tuple[float, ...] = TAUS) -> dict[str, Any]:
    """The metrics of baseline ``name`` (a key of :data:`BASELINES`) on ``dataset``.

    Boxes are scored as filled boxes (no masks), as :meth:`ActionTask.evaluate` scores models;
    a baseline predicts no class, so its ``classification_accuracy`` is ``None``.
    """
    from vidal.metrics import localization

    predict = getattr(localization, BASELINES[name])
    result = localization.localization_accuracy(
        dataset, predict, num_classes=dataset.num_classes, taus=taus, use_masks=False
    )
    return _shape(result, taus)


def _table(report: dict) -> str:
    columns = [(name, report[name]) for name in ("model", "model_true_class") if name in report]
    columns += list(report.get("baselines", {}).items())
    keys = list(columns[0][1])
    width = max(len(k) for k in keys)
    lines = [f"{'':<{width}}  " + "  ".join(f"{name:>16}" for name, _ in columns)]
    for key in keys:
        cells = [m.get(key) for _, m in columns]
        lines.append(
            f"{key:<{width}}  "
            + "  ".join(f"{'n/a' if c is None else f'{c:.4f}':>16}" for c in cells)
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from vidal._io import atomic_write_json, to_jsonable
    from vidal.errors import ConfigError
    from vidal.experiment import choose_device
    from vidal.tasks import ActionTask
    from vidal.train.action import ActionTrainConfig, load_action_checkpoint

    if not args.checkpoint and not args.baseline:
        raise ConfigError("nothing to evaluate: give --checkpoint, --baseline, or both")
    cfg = config_from_args(args, {"device": args.device}, name="eval")
    split = args.split or cfg.data.test_split
    test_set = load_data(cfg.data, split)
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
        meta = checkpoint_meta(args.checkpoint)
        # checks the class count first: the error names both counts
        model = load_action_checkpoint(args.checkpoint, num_classes=test_set.num_classes)
        clip_len = args.clip_len or int(meta.get("clip_len", cfg.model.clip_len))
        size = tuple(args.size or meta.get("size", cfg.model.size))
        device = choose_device(cfg.device)
        task = ActionTask(
            test_set,
            test_set,
            model_config=model.config,
            train_config=ActionTrainConfig(clip_len=clip_len, size=(int(size[0]), int(size[1]))),
            device=device,
            taus=TAUS,
            progress=not args.no_progress,
        )
        report["checkpoint"] = str(args.checkpoint)
        report["clip_len"], report["size"] = clip_len, list(size)
        report["model"] = task.evaluate(model.to(device))
        if args.true_class:
            report["model_true_class"] = task.evaluate(model, true_class=True)
    if args.baseline:
        report["baselines"] = {name: baseline_metrics(name, test_set) for name in args.baseline}
    out = Path(args.out) if args.out else None
    if out is None and args.checkpoint:
        out = Path(args.checkpoint).parent / f"metrics_{split}.json"
    if out is not None:
        atomic_write_json(out, report)
    if args.json:
        print(json.dumps(to_jsonable(report), indent=1))
    else:
        print(f"split {split}: {report['videos']} videos, {report['frames']} frames")
        print(_table(report))
    if out is not None:
        print(f"metrics: {out}", file=sys.stderr if args.json else sys.stdout)
    return 0
