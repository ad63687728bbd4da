"""How well each Faster R-CNN backbone's anchors cover small objects at low resolution.

A single stride-32 level (torchvision's documented MobileNetV2 Faster R-CNN) places anchors
every 32 px with a smallest size of 32 px: a 15 px object overlaps none of them well, and the
RPN's best match for it (torchvision keeps it as a positive whatever its IoU) is a poor
regression target. This measures, on the ground-truth boxes of synthetic road frames (vidal's
road scenes, 128x96, objects 6-30 px; :mod:`vidal.data.synth`) resized as the detector sees
them (``--min-size``), the best IoU of each box with any anchor of the RPN, by object height
in the resized frame: the mean, and the share above the RPN's foreground (0.7) and
background (0.3) thresholds. No training, no weights: only the anchor grids.

Variants (``build_detector`` arguments):

- ``mobilenet_v2``: the documented recipe, one stride-32 level, anchors 32..512;
- ``mobilenet_v2_a16``: the same level with anchors 16..256;
- ``mobilenet_v2_fpn_p3``: MobileNetV2 under the MobileNet FPN with the stride-8 and -16
  stages (``returned_layers=[2, 3, 4, 5]``), one anchor size per level from 16 px;
- ``mobilenet_v3_fpn_p3``: the same on MobileNetV3 (the road-scene pretraining config's).

Example:
    python tools/bench/anchor_coverage.py --videos 4
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou

from vidal.data import load_dataset
from vidal.data.synth import SynthConfig, make_dataset
from vidal.models.detector import build_detector

FINE = {"returned_layers": [2, 3, 4, 5], "anchor_sizes": [16, 32, 64, 128, 256]}
VARIANTS = {
    "mobilenet_v2": {"backbone": "mobilenet_v2"},
    "mobilenet_v2_a16": {"backbone": "mobilenet_v2", "anchor_sizes": [16, 32, 64, 128, 256]},
    "mobilenet_v2_fpn_p3": {"backbone": "mobilenet_v2_fpn", **FINE},
    "mobilenet_v3_fpn_p3": {"backbone": "mobilenet_v3_fpn", **FINE},
}
BUCKETS = ((0, 16), (16, 32), (32, 64), (64, 10_000))


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--videos", type=int, default=4, help="synthetic road videos")
    p.add_argument("--frames", type=int, default=40, help="frames per video")
    p.add_argument("--min-size", type=int, default=300, help="detector's shorter image side")
    p.add_argument("--seed", type=int, default=0, help="seed of the videos")
    return p


def road_boxes(args: argparse.Namespace, root: Path) -> tuple[np.ndarray, tuple[int, int]]:
    """All ground-truth boxes ``[N, 4]`` of the road videos, and the frame size ``(H, W)``."""
    config = SynthConfig(
        kind="road",
        videos=args.videos,
        seed=args.seed,
        min_frames=args.frames,
        max_frames=args.frames,
        test_fraction=0.0,
    )
    ds = load_dataset("vidal", make_dataset(root, config, progress=False))
    boxes = [v.frame(t).boxes for v in ds for t in range(v.num_frames)]
    return np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b in boxes]), (
        config.height,
        config.width,
    )


def best_anchor_iou(options: dict, boxes: np.ndarray, size: tuple[int, int], min_size: int):
    """Best IoU of each box (scaled as the detector resizes the frame) with any anchor, and the
    scaled box heights."""
    model = build_detector(2, min_size=min_size, max_size=10 * min_size, **options).eval()
    images, _ = model.transform([torch.zeros(3, *size)])
    with torch.no_grad():
        feats = model.backbone(images.tensors)
    feats = list(feats.values()) if isinstance(feats, dict) else [feats]
    anchors = model.rpn.anchor_generator(images, feats)[0]
    scale = images.image_sizes[0][0] / size[0]
    scaled = torch.from_numpy(boxes) * scale
    iou = box_iou(scaled, anchors).max(1).values.numpy()
    return iou, (scaled[:, 3] - scaled[:, 1]).numpy()


def main(args: argparse.Namespace) -> dict:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        boxes, size = road_boxes(args, Path(tmp))
    print(
        f"{len(boxes)} road boxes from {args.videos} videos of {size[1]}x{size[0]}, detector "
        f"shorter side {args.min_size} px; best anchor IoU by object height after resizing"
    )
    report: dict = {}
    for name, options in VARIANTS.items():
        iou, height = best_anchor_iou(options, boxes, size, args.min_size)
        report[name] = {}
        cells = []
        for lo, hi in BUCKETS:
            sel = (height >= lo) & (height < hi)
            if not sel.any():
                continue
            row = {
                "boxes": int(sel.sum()),
                "mean_iou": round(float(iou[sel].mean()), 3),
                "iou_ge_0.7": round(float((iou[sel] >= 0.7).mean()), 3),
                "iou_lt_0.3": round(float((iou[sel] < 0.3).mean()), 3),
            }
            report[name][f"{lo}-{hi}px"] = row
            cells.append(
                f"{lo}-{hi if hi < 10_000 else ''}px (n={row['boxes']}): mean {row['mean_iou']:.2f}, "
                f">=0.7 {row['iou_ge_0.7']:.2f}, <0.3 {row['iou_lt_0.3']:.2f}"
            )
        print(f"  {name:<20} " + " | ".join(cells))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
