"""Cost and quality of temporal-coherence scoring: flow presets, the flow cache, TC, detectors.

Zolfaghari Bengar (thesis 2021, Sec. 2.3.2) computes optical flow once and reuses it every
cycle. With a fast real detector (Yolo-Fastest, 33-45 ms a frame on this CPU, issue 15),
flow, not the detector, sets TC's cost. Three parts, each printing ratios against a baseline
measured in the same run (``--parts`` picks them):

- **presets** (real clips from ``--data``): DIS flow, forward and backward, per frame pair,
  for each ``--methods`` x ``--scales`` on the DAVIS car (854x480), the UCF-101-24 videos
  (340x256), the J-HMDB clip (320x240) and the ImageNet-VID jets (1280x720), against
  ``dis-medium`` at scale 1 (the old default) and against a fast detector timed on the same
  frames: Yolo-Fastest-1.1-xl at 320x320 when ``--darknet-python`` names a Python with
  OpenCV < 5, and always torchvision's MobileNetV3 Faster R-CNN at 320 px with
  :data:`vidal.tasks.detection.LOW_RES_OPTIONS` (random weights). Where the clip has boxes
  (DAVIS mask boxes, UCF-101-24 tubes from ``pyannot.pkl``, the J-HMDB puppet-mask boxes) it
  also measures the **quality** of TC's estimates with that flow: detections are the true
  boxes with corner jitter, errors injected with known truth (drops of true boxes,
  independent or in bursts, and false boxes away from every object that stay 1-3 frames
  with jitter), and the per-frame precision and recall of "TC says this frame has a FP" and
  "... a FN" against the injected truth, over ``--seeds`` seeds and both error profiles;
- **cache**: today's :class:`tracking.FlowCache` (one float16 file per video, memory-mapped,
  a CRC-32 per pair checked on read) against the per-pair files it replaced (one compressed
  ``.npz`` per pair plus a ``meta.json`` per video, re-implemented here as the baseline):
  files written, bytes, compute-and-write time per pair, read time per pair, and reading
  against computing;
- **synthetic**: synthetic road videos (:mod:`vidal.data.synth`), flow through the cache,
  :func:`tracking.estimate_errors` on simulated detections, and Faster R-CNN inference
  (``--backbones``), with TC's share of each detector.

Each timing is the best of ``--repeats`` runs on ``--clock`` (CPU time by default: on a
shared machine it stays close to an idle machine's wall time, which wall time does not),
with ``--threads`` torch/OpenCV threads.

Example:
    PYTHONPATH=. python tools/bench/bench_tc.py --parts presets cache --threads 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _timing
import numpy as np
import torch

from tracking import FlowCache, compute_flows, estimate_errors, resolve_scale
from vidal.data import load_dataset
from vidal.data.store import FrameStore
from vidal.data.synth import SynthConfig, make_dataset
from vidal.data.video import list_frames, open_video
from vidal.models.detector import build_detector
from vidal.tasks.detection import LOW_RES_OPTIONS
from vidal.train.detection import detect_frames

PARTS = ("presets", "cache", "synthetic")
BASELINE = ("dis-medium", 1.0)  # the flow TC used before the presets were measured
PROFILES = {  # injected errors, as tests/tracking/test_track_coherence.py's simulated detectors
    "independent": dict(miss_rate=0.2, miss_burst=1.0, false_per_frame=0.4, false_duration=1),
    "bursty": dict(miss_rate=0.2, miss_burst=2.5, false_per_frame=0.4, false_duration=3),
}


Scale = float | str | None  # a fraction, "s<N>" (shorter side at most N px) or None (auto)


def flow_scale(text: str) -> Scale:
    """A ``--scales`` value: a number in (0, 1], ``s<N>`` (the shorter side brought to at most
    ``N`` px, as ``auto`` does with N = tracking.FLOW_SHORT_SIDE), or ``auto`` (``None``)."""
    if text == "auto":
        return None
    if text.startswith("s"):
        int(text[1:])  # a ValueError names a bad value
        return text
    return float(text)


def scale_name(scale: Scale) -> str:
    return "auto" if scale is None else scale if isinstance(scale, str) else f"{scale:g}"


def video_scale(scale: Scale, frames: np.ndarray) -> float | None:
    """The ``scale`` argument of :func:`tracking.compute_flows` for ``frames [T, H, W, 3]``."""
    if isinstance(scale, str):
        return min(1.0, int(scale[1:]) / min(frames.shape[1:3]))
    return scale


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to run")
    add_real_clip_args(p)
    add_synthetic_args(p)
    p.add_argument("--window", type=int, default=3, help="TC tracking window (thesis: 3)")
    p.add_argument("--detect-frames", type=int, default=8, help="frames timed per detector")
    p.add_argument("--batch", type=int, default=4, help="frames per detector forward pass")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (best kept)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and OpenCV threads (more than the idle cores makes torch far slower)",
    )
    p.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="cpu",
        help="cpu: the process's CPU time (with --threads 1 the wall time of an idle machine, "
        "and steady on a shared, busy one); wall: elapsed time",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the videos and detections")
    p.add_argument("--dir", help="where to write videos and flow (default: a temporary folder)")
    p.add_argument("--json", help="also write the results to this JSON file")
    return p


def add_real_clip_args(p: argparse.ArgumentParser) -> None:
    """Flags of the presets and cache parts."""
    p.add_argument("--data", default="../shared/data", help="the shared real data folder")
    p.add_argument(
        "--methods",
        nargs="+",
        default=["dis-ultrafast", "dis-fast", "dis-medium"],
        help="flow methods (tracking.FLOW_METHODS names) for the presets part",
    )
    p.add_argument(
        "--scales",
        nargs="+",
        type=flow_scale,
        default=[1.0, 0.5, None],
        help="flow scales ('auto': shorter side at most tracking.FLOW_SHORT_SIDE px)",
    )
    p.add_argument("--clip-frames", type=int, default=40, help="frames per real video (at most)")
    p.add_argument("--ucf-videos", type=int, default=9, help="UCF-101-24 videos used")
    p.add_argument("--seeds", type=int, default=10, help="seeds of injected errors per clip")
    p.add_argument(
        "--darknet-python",
        help="a Python with OpenCV < 5 (e.g. a scratch venv with opencv-python-headless<5): "
        "times Yolo-Fastest-1.1-xl on the same frames, the detector the flow budget is set by",
    )
    p.add_argument(
        "--cache-method", default="dis", help="flow method of the cache part (default: 'dis')"
    )
    p.add_argument(
        "--cache-scale", type=flow_scale, default=None, help="flow scale of the cache part"
    )


def add_synthetic_args(p: argparse.ArgumentParser) -> None:
    """Flags of the synthetic part."""
    p.add_argument("--videos", type=int, default=3, help="synthetic road videos")
    p.add_argument("--frames", type=int, default=48, help="frames per synthetic video")
    p.add_argument("--size", default="300x400", help="HEIGHTxWIDTH of the rendered frames")
    p.add_argument("--min-size", type=int, default=300, help="detector's shorter image side")
    p.add_argument(
        "--backbones",
        nargs="+",
        default=["mobilenet_v3_fpn", "mobilenet_v3_fpn_low_res", "resnet50_fpn"],
        help="detectors of the synthetic part (a _low_res suffix adds "
        "vidal.tasks.detection.LOW_RES_OPTIONS, what the CPU config uses)",
    )
    p.add_argument(
        "--flow-scale", type=flow_scale, default=None, help="synthetic part's flow scale"
    )
    p.add_argument("--miss", type=float, default=0.2, help="synthetic: share of objects missed")
    p.add_argument("--false", type=float, default=1.0, help="synthetic: false boxes per frame")


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]  # set from --clock by main()


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Smallest time of ``repeats`` calls of ``fn`` on the ``--clock``, seconds."""
    return _timing.best_of(repeats, fn, clock=clock)


# --- real clips and their boxes -------------------------------------------------------------


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Boxes ``[T, 1, 4]`` of masks ``[T, H, W]`` (NaN where a mask is empty)."""
    out = np.full((len(masks), 1, 4), np.nan, np.float32)
    for t, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(xs):
            out[t, 0] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    return out


def read_frames_of(path: Path, count: int, start: int = 0) -> np.ndarray:
    """Frames ``[T, H, W, 3]`` uint8 ``start .. start + count - 1`` (fewer at the end)."""
    with open_video(path) as video:
        return video.get_batch(range(start, min(len(video), start + count)))


def davis_clip(data: Path, count: int) -> dict | None:
    """The DAVIS car: frames and its mask boxes ``[T, 1, 4]``."""
    import cv2

    frames_dir = data / "davis2016/JPEGImages/480p/car-shadow"
    masks_dir = data / "davis2016/Annotations/480p/car-shadow"
    if not frames_dir.is_dir():
        return None
    frames = read_frames_of(frames_dir, count)
    masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127 for p in list_frames(masks_dir)]
    return {"car-shadow": (frames, mask_boxes(np.stack(masks[: len(frames)])))}


def jhmdb_clip(data: Path, count: int) -> dict | None:
    """The J-HMDB catch clip: frames and the puppet-mask boxes ``[T, 1, 4]``."""
    from vidal.data import read_puppet_mask

    name = "catch/Goal_Keeping_Tips_catch_f_cm_np1_fr_med_2"
    frames_dir, mat = data / "jhmdb21/Frames" / name, data / "jhmdb21/puppet_mask" / name
    if not frames_dir.is_dir():
        return None
    frames = read_frames_of(frames_dir, count)
    return {name: (frames, mask_boxes(read_puppet_mask(mat / "puppet_mask.mat")[: len(frames)]))}


def ucf_clips(data: Path, count: int, videos: int) -> dict | None:
    """UCF-101-24 videos from their first annotated frame, with the tubes' boxes ``[T, K, 4]``."""
    from vidal.data import read_ucf101_24

    folder = data / "ucf101-24/videos"
    if not folder.is_dir():
        return None
    ds = read_ucf101_24(data / "ucf101-24/pyannot.pkl", videos_dir=folder)
    out = {}
    for v in [v for v in ds if v.path is not None][:videos]:
        start = int(v.annotated_frames()[0])
        frames = read_frames_of(ds.video_path(v), count, start)
        boxes = np.full((len(frames), len(v.tubes), 4), np.nan, np.float32)
        for k, tube in enumerate(v.tubes):
            for t in range(len(frames)):
                if tube.covers(start + t):
                    boxes[t, k] = tube.box_at(start + t)
        out[v.video_id] = (frames, boxes)
    return out


def vid_clip(data: Path, count: int) -> dict | None:
    """The ImageNet-VID jets (no boxes)."""
    folder = data / "imagenet-vid/ILSVRC2015_val_00007010"
    return {folder.name: (read_frames_of(folder, count), None)} if folder.is_dir() else None


def real_clips(args: argparse.Namespace) -> dict[str, dict]:
    """Clip set -> video -> ``(frames [T, H, W, 3], boxes [T, K, 4] or None)``."""
    data, n = Path(args.data), args.clip_frames
    found = {
        "davis 854x480": davis_clip(data, n),
        "ucf101-24 340x256": ucf_clips(data, n, args.ucf_videos),
        "jhmdb 320x240": jhmdb_clip(data, n),
        "imagenet-vid 1280x720": vid_clip(data, n),
    }
    missing = [k for k, v in found.items() if v is None]
    if missing:
        print(f"  (not found under {data}: {', '.join(missing)})")
    return {k: v for k, v in found.items() if v}


# --- injected errors with known truth -------------------------------------------------------


def drop_runs(
    rng: np.random.Generator, present: np.ndarray, rate: float, burst: float
) -> np.ndarray:
    """Which true boxes ``[T, K]`` to drop: runs of geometric length (mean ``burst``) started so
    that about ``rate`` of the object-frames are dropped."""
    dropped = np.zeros_like(present)
    for k in range(present.shape[1]):
        t = 0
        while t < len(present):
            if rng.random() < rate / burst:
                run = int(rng.geometric(1 / burst))
                dropped[t : t + run, k] = True
                t += run
            else:
                t += 1
    return dropped & present


def false_boxes(
    rng: np.random.Generator, gt: np.ndarray, size: tuple[int, int], rate: float, duration: int
) -> list[list[np.ndarray]]:
    """Per frame, false boxes ``[4]``: Poisson(``rate``) start in each frame, object-sized, each
    staying 1 to ``duration`` frames at one place with jitter; redrawn (up to 20 times) until
    they overlap no object by more than IoU 0.2 where they start."""
    height, width = size
    sides = (gt[..., 2:] - gt[..., :2]).reshape(-1, 2)
    median = np.nanmedian(sides, axis=0) if np.isfinite(sides).any() else np.array([40.0, 40.0])
    out: list[list[np.ndarray]] = [[] for _ in range(len(gt))]
    for t in range(len(gt)):
        for _ in range(rng.poisson(rate)):
            for _ in range(20):
                wh = np.minimum(median * rng.uniform(0.5, 1.0, 2), [width - 1, height - 1])
                xy = rng.uniform(0, 1, 2) * (np.array([width, height]) - wh)
                box = np.r_[xy, xy + wh]
                if iou(box[None], gt[t]).max(initial=0.0) <= 0.2:
                    break
            for s in range(t, min(len(gt), t + int(rng.integers(1, duration + 1)))):
                out[s].append(box + rng.normal(0, 0.03, 4) * np.tile(wh, 2))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``[N, M]`` of boxes ``a [N, 4]`` and ``b [M, 4]`` (rows of ``b`` with NaN ignored)."""
    import torchvision

    b = b[np.isfinite(b).all(axis=1)]
    return torchvision.ops.box_iou(torch.as_tensor(a), torch.as_tensor(b)).numpy()


def inject_errors(
    rng: np.random.Generator,
    gt: np.ndarray,
    size: tuple[int, int],
    *,
    miss_rate: float,
    miss_burst: float,
    false_per_frame: float,
    false_duration: int,
    jitter: float = 0.03,
) -> tuple[list, np.ndarray, np.ndarray]:
    """Detections built from true boxes ``gt [T, K, 4]`` (NaN: absent) with known errors.

    Returns:
        ``(detections, has_fp [T], has_fn [T])``: per frame ``(boxes, labels, scores)`` (true
        boxes not dropped, with Gaussian corner jitter of ``jitter`` of their size, and the
        false boxes), and whether the frame holds a false box (IoU <= 0.5 with every object)
        or lacks a true one.
    """
    present = np.isfinite(gt[..., 0])  # [T, K]
    dropped = drop_runs(rng, present, miss_rate, miss_burst)
    invented = false_boxes(rng, gt, size, false_per_frame, false_duration)
    detections, has_fp = [], np.zeros(len(gt), bool)
    for t in range(len(gt)):
        found = gt[t][present[t] & ~dropped[t]]
        found = found + rng.normal(0, jitter, found.shape) * np.tile(found[:, 2:] - found[:, :2], 2)
        boxes = np.concatenate([found, np.array(invented[t]).reshape(-1, 4)]).astype(np.float32)
        scores = rng.uniform(0.6, 1.0, len(boxes)).astype(np.float32)
        detections.append((boxes, np.ones(len(boxes), np.int64), scores))
        has_fp[t] = bool((iou(boxes, gt[t]).max(axis=1, initial=0.0) <= 0.5).any())
    return detections, has_fp, dropped.any(axis=1)


def tally(counts: dict, flows, gt: np.ndarray, args: argparse.Namespace, seed0: int) -> None:
    """Add the per-frame hits, estimates and truths of TC on injected errors to ``counts``."""
    for seed in range(args.seeds):
        for k, profile in enumerate(PROFILES.values()):
            rng = np.random.default_rng([seed0, seed, k])  # the same errors for every flow
            dets, has_fp, has_fn = inject_errors(rng, gt, flows.frame_size, **profile)
            result = estimate_errors(dets, flows, window=args.window)
            counts["frames"] = counts.get("frames", 0) + len(gt)
            for kind, est, true in (
                ("fp", result.fp_per_frame > 0, has_fp),
                ("fn", result.fn_per_frame > 0, has_fn),
            ):
                for key, value in (("hit", est & true), ("est", est), ("true", true)):
                    counts[f"{kind}_{key}"] = counts.get(f"{kind}_{key}", 0) + int(value.sum())


def precision_recall(counts: dict) -> dict:
    """Per-frame precision and recall of the FP and FN flags from :func:`tally`'s counts."""
    out = {}
    for kind in ("fp", "fn"):
        hit, est, true = (counts.get(f"{kind}_{k}", 0) for k in ("hit", "est", "true"))
        out[f"{kind}_precision"] = round(hit / max(est, 1), 4)
        out[f"{kind}_recall"] = round(hit / max(true, 1), 4)
        out[f"{kind}_base_rate"] = round(true / max(counts.get("frames", 1), 1), 4)
    return out


# --- presets: flow time and TC quality per method and scale ---------------------------------


def fast_detector_ms(frames: np.ndarray, args: argparse.Namespace) -> float:
    """ms per frame of MobileNetV3 Faster R-CNN at 320 px (CPU settings), random weights."""
    torch.manual_seed(args.seed)
    model = build_detector(
        2, backbone="mobilenet_v3_fpn", min_size=320, max_size=640, **LOW_RES_OPTIONS
    ).eval()
    frames = frames[: args.detect_frames]
    detect_frames(model, frames[:1], batch_size=1)  # warm-up
    t = best_of(args.repeats, lambda: detect_frames(model, frames, batch_size=args.batch))
    return 1000 * t / len(frames)


DARKNET_TIMER = """
import sys, time
import cv2, numpy as np
cv2.setNumThreads(1)
frames, cfg, weights, repeats = np.load(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
net = cv2.dnn.readNetFromDarknet(cfg, weights)
names = net.getUnconnectedOutLayersNames()
def run():
    for frame in frames:  # RGB already, as Darknet wants
        net.setInput(cv2.dnn.blobFromImage(frame, 1 / 255.0, (320, 320), swapRB=False))
        net.forward(names)
run()
times = []
for _ in range(repeats):
    t0 = time.process_time(); run(); times.append(time.process_time() - t0)
print(1000 * min(times) / len(frames))
"""


def darknet_ms(frames: np.ndarray, args: argparse.Namespace) -> float | None:
    """CPU ms per frame of Yolo-Fastest-1.1-xl at 320x320 through OpenCV 4's Darknet reader,
    run by ``--darknet-python`` (an interpreter with OpenCV < 5; OpenCV 5 dropped the reader),
    or ``None`` without one."""
    if not args.darknet_python:
        return None
    model = Path(args.data) / "models/yolo-fastest-1.1-coco/yolo-fastest-1.1-xl"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "frames.npy", frames[: args.detect_frames])
        cmd = [args.darknet_python, "-c", DARKNET_TIMER, str(Path(tmp) / "frames.npy")]
        cmd += [f"{model}.cfg", f"{model}.weights", str(args.repeats)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def flow_cost_and_quality(videos: dict, method: str, scale: Scale, args) -> dict:
    """ms per pair of one flow setting over ``videos``, and TC's per-frame quality with it."""
    seconds, pairs, counts = 0.0, 0, {}
    for k, (frames, boxes) in enumerate(videos.values()):
        out = {}

        def run(frames=frames, out=out) -> None:
            out["flows"] = compute_flows(frames, method=method, scale=video_scale(scale, frames))

        seconds += best_of(args.repeats, run)
        pairs += len(frames) - 1
        if boxes is not None:  # TC reads the flow as the cache keeps it: float16
            f = out["flows"]
            stored = type(f)(
                forward=f.forward.astype(np.float16),
                backward=f.backward.astype(np.float16),
                frame_size=f.frame_size,
            )
            tally(counts, stored, boxes, args, seed0=k)
    return {
        "ms_per_pair": round(1000 * seconds / pairs, 3),
        **(precision_recall(counts) if counts else {}),
    }


def presets_part(clips: dict[str, dict], args: argparse.Namespace) -> dict:
    """Every method x scale on every clip set, against :data:`BASELINE` and a fast detector."""
    report = {}
    for clip_set, videos in clips.items():
        first = next(iter(videos.values()))[0]
        frcnn, yolo = fast_detector_ms(first, args), darknet_ms(first, args)
        detector = yolo or frcnn
        rows = {}
        for method in dict.fromkeys([BASELINE[0], *args.methods]):
            for scale in dict.fromkeys([BASELINE[1], *args.scales]):
                name = f"{method}@{scale_name(scale)}"
                rows[name] = flow_cost_and_quality(videos, method, scale, args)
        base = rows[f"{BASELINE[0]}@{scale_name(BASELINE[1])}"]["ms_per_pair"]
        for row in rows.values():
            row["speedup_vs_baseline"] = round(base / row["ms_per_pair"], 2)
            row["flow_over_detector"] = round(row["ms_per_pair"] / detector, 3)
        report[clip_set] = {
            "videos": len(videos),
            "auto_scale": round(resolve_scale(None, *first.shape[1:3]), 4),
            "detector": "yolo-fastest-1.1-xl" if yolo else "frcnn-mobilenet_v3-320",
            "detector_ms": round(detector, 2),
            "frcnn_ms": round(frcnn, 2),
            "yolo_ms": None if yolo is None else round(yolo, 2),
            "rows": rows,
        }
        print_presets(clip_set, report[clip_set])
    return report


def print_presets(clip_set: str, result: dict) -> None:
    yolo = "" if result["yolo_ms"] is None else f", Yolo-Fastest xl {result['yolo_ms']:.1f}"
    print(
        f"\n{clip_set}: {result['videos']} video(s), 'auto' scale {result['auto_scale']:g}; "
        f"ms/frame of MobileNetV3 FRCNN 320 px {result['frcnn_ms']:.1f}{yolo}; "
        f"flow budget, a quarter of the {result['detector']}: {result['detector_ms'] / 4:.1f} ms"
    )
    print(
        f"  {'flow@scale':<20} {'ms/pair':>8} {'x base':>7} {'/det':>6}"
        f" {'FP P':>6} {'FP R':>6} {'FN P':>6} {'FN R':>6}"
    )
    for name, r in result["rows"].items():
        quality = (
            f" {r['fp_precision']:6.3f} {r['fp_recall']:6.3f} {r['fn_precision']:6.3f} {r['fn_recall']:6.3f}"
            if "fp_precision" in r
            else ""
        )
        print(
            f"  {name:<20} {r['ms_per_pair']:8.2f} {r['speedup_vs_baseline']:7.2f}"
            f" {r['flow_over_detector']:6.2f}{quality}"
        )
    rates = next(iter(result["rows"].values()))
    if "fp_base_rate" in rates:
        print(
            f"  (per-frame base rates, the precision of flagging at random: "
            f"FP {rates['fp_base_rate']:.3f}, FN {rates['fn_base_rate']:.3f})"
        )


# --- cache: one file per video against one file per pair ------------------------------------


class PairFileCache:
    """The per-pair cache :class:`tracking.FlowCache` replaced, kept here as the baseline:
    ``root/<video>/meta.json`` and one ``pair_<t>.npz`` (compressed float16 ``forward`` and
    ``backward`` ``[h, w, 2]``) per pair, each written to a temporary file and renamed; read
    back with the same checks (readable, right shape, finite) into float32 arrays."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, flows) -> None:
        from vidal._io import atomic_write, atomic_write_bytes

        folder = self.root / key
        meta = {"num_frames": flows.num_frames, "frame_size": list(flows.frame_size)}
        atomic_write_bytes(folder / "meta.json", json.dumps(meta).encode())
        for t in range(flows.num_frames - 1):
            fwd, bwd = flows.forward[t].astype(np.float16), flows.backward[t].astype(np.float16)
            atomic_write(folder / f"pair_{t:06d}.npz", lambda tmp, f=fwd, b=bwd: _savez(tmp, f, b))

    def get(self, key: str):
        from tracking import Flows

        folder = self.root / key
        meta = json.loads((folder / "meta.json").read_text())
        pairs = []
        for t in range(meta["num_frames"] - 1):
            with np.load(folder / f"pair_{t:06d}.npz") as data:
                fwd, bwd = data["forward"], data["backward"]
            assert np.isfinite(fwd).all() and np.isfinite(bwd).all() and fwd.shape == bwd.shape
            pairs.append((fwd, bwd))
        fwd = np.stack([p[0] for p in pairs]).astype(np.float32)
        bwd = np.stack([p[1] for p in pairs]).astype(np.float32)
        return Flows(forward=fwd, backward=bwd, frame_size=tuple(meta["frame_size"]))


def _savez(tmp: str, fwd: np.ndarray, bwd: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, forward=fwd, backward=bwd)


def folder_usage(root: Path) -> tuple[int, int]:
    """``(files, bytes)`` under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def cache_part(clips: dict[str, dict], root: Path, args: argparse.Namespace) -> dict:
    """Per clip set: the per-pair baseline and the per-video cache, written and read back."""
    report = {}
    for k, (clip_set, videos) in enumerate(clips.items()):
        report[clip_set] = measure_caches(videos, root / f"pairs-{k}", root / f"videos-{k}", args)
        flow = f"{args.cache_method}@{scale_name(args.cache_scale)}"
        print_cache(clip_set, flow, report[clip_set])
    return report


def measure_caches(videos: dict, old: Path, new: Path, args: argparse.Namespace) -> dict:
    """Compute, write and read back the flow of ``videos`` with both caches."""
    method, scale = args.cache_method, args.cache_scale
    frames = [f for f, _ in videos.values()]
    keys = [str(k) for k in range(len(frames))]
    t_compute = sum(
        best_of(args.repeats, lambda f=f: compute_flows(f, method=method, scale=scale))
        for f in frames
    )
    t0 = clock()
    for key, f in zip(keys, frames, strict=True):
        PairFileCache(old).put(key, compute_flows(f, method=method, scale=scale))
    t_old_write = clock() - t0
    t0 = clock()
    for key, f in zip(keys, frames, strict=True):
        FlowCache(new).get_flows(key, f, method=method, scale=scale)
    t_new_write = clock() - t0
    cache = FlowCache(new)

    def read_new(dtype=None) -> None:
        for key in keys:
            cache.get_flows(key, _no_frames, method=method, scale=scale, dtype=dtype)

    reads = {
        "old": best_of(args.repeats, lambda: [PairFileCache(old).get(k) for k in keys]),
        "new": best_of(args.repeats, read_new),
        "new_float32": best_of(args.repeats, lambda: read_new(np.float32)),
    }
    pairs = sum(len(f) - 1 for f in frames)
    usage = folder_usage(old), folder_usage(new)
    return cache_row(pairs, t_compute, t_old_write, t_new_write, reads, *usage)


def _no_frames() -> np.ndarray:
    raise AssertionError("the cache asked for frames: it should have read them back")


def cache_row(pairs, t_compute, t_old, t_new, reads, old_usage, new_usage) -> dict:
    ms = {
        "compute": t_compute,
        "old_compute_write": t_old,
        "new_compute_write": t_new,
        "old_read": reads["old"],
        "new_read": reads["new"],
        "new_read_float32": reads["new_float32"],
    }
    ms = {k: round(1000 * v / pairs, 3) for k, v in ms.items()}
    return {
        "pairs": pairs,
        "ms_per_pair": ms,
        "files": {"old": old_usage[0], "new": new_usage[0]},
        "bytes": {"old": old_usage[1], "new": new_usage[1]},
        "read_speedup_new_vs_old": round(ms["old_read"] / ms["new_read"], 2),
        "read_over_compute": {
            "old": round(ms["old_read"] / ms["compute"], 3),
            "new": round(ms["new_read"] / ms["compute"], 3),
        },
    }


def print_cache(clip_set: str, flow: str, r: dict) -> None:
    ms, files, size = r["ms_per_pair"], r["files"], r["bytes"]
    print(f"\ncache, {clip_set}, {flow}, {r['pairs']} pairs:")
    print(
        f"  files written       old {files['old']:>8}   new {files['new']:>8}"
        f"   new/old {files['new'] / files['old']:.4f}"
    )
    print(
        f"  bytes               old {size['old']:>8}   new {size['new']:>8}"
        f"   new/old {size['new'] / size['old']:.2f}"
    )
    print(f"  compute only        {ms['compute']:8.2f} ms/pair")
    print(
        f"  compute + write     old {ms['old_compute_write']:8.2f}   new {ms['new_compute_write']:8.2f}"
        f" ms/pair   new/old {ms['new_compute_write'] / ms['old_compute_write']:.2f}"
    )
    print(
        f"  read back           old {ms['old_read']:8.2f}   new {ms['new_read']:8.2f}"
        f" ms/pair   old/new {r['read_speedup_new_vs_old']:.1f}x"
        f"   (new as float32 {ms['new_read_float32']:.2f})"
    )
    print(
        f"  read / compute      old {r['read_over_compute']['old']:.3f}   new "
        f"{r['read_over_compute']['new']:.3f}   (below 1: the cache pays)"
    )


# --- synthetic road videos: TC against Faster R-CNN -----------------------------------------


def simulated_detections(
    rng: np.random.Generator, video, size: tuple[int, int], *, miss: float, false: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per frame ``(boxes [N, 4], labels [N], scores [N])``: jittered ground truth, some dropped,
    plus Poisson(``false``) random boxes (20-60 px), scores in ``[0.5, 1)``."""
    height, width = size
    out = []
    for t in range(video.num_frames):
        gt = video.frame(t)
        keep = rng.random(len(gt.boxes)) >= miss
        boxes = gt.boxes[keep] + rng.normal(0, 1.5, (int(keep.sum()), 4))
        labels = gt.labels[keep]
        n_false = rng.poisson(false)
        wh = rng.uniform(20, 60, (n_false, 2))
        xy = rng.uniform(0, 1, (n_false, 2)) * (np.array([width, height]) - wh)
        boxes = np.concatenate([boxes, np.concatenate([xy, xy + wh], 1)]).astype(np.float32)
        labels = np.concatenate([labels, rng.integers(0, 5, n_false)]).astype(np.int64)
        scores = rng.uniform(0.5, 1.0, len(boxes)).astype(np.float32)
        out.append((boxes, labels, scores))
    return out


def road_videos(root: Path, args: argparse.Namespace):
    """The synthetic road dataset and its decoded frames, video id -> ``[T, H, W, 3]``."""
    height, width = (int(x) for x in args.size.lower().split("x"))
    synth = SynthConfig(
        kind="road",
        videos=args.videos,
        seed=args.seed,
        width=width,
        height=height,
        min_frames=args.frames,
        max_frames=args.frames,
        test_fraction=0.0,
    )
    ds = load_dataset("vidal", make_dataset(root / "videos", synth, progress=False))
    store = FrameStore(ds)
    return ds, {v.video_id: store.frames(v.video_id) for v in ds}


def detector_times(ds, frames: np.ndarray, args: argparse.Namespace) -> dict[str, float]:
    """Seconds per frame of each ``--backbones`` detector (random weights)."""
    out = {}
    for backbone in args.backbones:
        torch.manual_seed(args.seed)
        name, low_res = backbone.removesuffix("_low_res"), backbone.endswith("_low_res")
        model = build_detector(
            len(ds.class_names),
            backbone=name,  # type: ignore[arg-type]
            min_size=args.min_size,
            max_size=1000,
            **(LOW_RES_OPTIONS if low_res else {}),
        ).eval()
        detect_frames(model, frames[: args.batch], batch_size=args.batch)  # warm-up
        t = best_of(args.repeats, lambda m=model: detect_frames(m, frames, batch_size=args.batch))
        out[backbone] = t / len(frames)
    return out


def synthetic_part(root: Path, args: argparse.Namespace) -> dict:
    """Flow (computed into the cache, then read back), TC and detectors on road videos."""
    ds, videos = road_videos(root, args)
    height, width = next(iter(videos.values())).shape[1:3]
    num_frames = sum(len(f) for f in videos.values())
    method, scale = args.cache_method, args.flow_scale
    compute_times = []
    for r in range(args.repeats):  # a fresh cache per repeat
        cache = FlowCache(root / f"flows_{r}")
        t0 = clock()
        for vid, frames in videos.items():
            cache.get_flows(vid, frames, method=method, scale=scale)
        compute_times.append(clock() - t0)
    flows = {}

    def read_back() -> None:
        for vid in videos:
            flows[vid] = cache.get_flows(vid, _no_frames, method=method, scale=scale)

    read_time = best_of(args.repeats, read_back)
    rng = np.random.default_rng(args.seed)
    dets = {
        v.video_id: simulated_detections(rng, v, (height, width), miss=args.miss, false=args.false)
        for v in ds
    }
    results: dict = {}

    def coherence() -> None:
        for vid in videos:
            results[vid] = estimate_errors(dets[vid], flows[vid], window=args.window)

    tc_time = best_of(args.repeats, coherence)
    frames = np.concatenate(list(videos.values()))[: args.detect_frames]
    per_frame = {
        f"flow_compute_{method}": float(np.min(compute_times)) / num_frames,
        "flow_read_cache": read_time / num_frames,
        "tc_estimate_errors": tc_time / num_frames,
        "tc_with_cache_read": (tc_time + read_time) / num_frames,
        **{f"detector_{b}": t for b, t in detector_times(ds, frames, args).items()},
    }
    return synthetic_report(per_frame, dets, results, (height, width), args)


def synthetic_report(per_frame: dict, dets: dict, results: dict, size, args) -> dict:
    num_frames = sum(len(d) for d in dets.values())
    num_dets = sum(len(d[0]) for per in dets.values() for d in per)
    detectors = {k.removeprefix("detector_"): v for k, v in per_frame.items() if "detector_" in k}
    report = {
        "setup": {
            "videos": len(dets),
            "frames": num_frames,
            "size": list(size),
            "detections_per_frame": num_dets / num_frames,
            "flow": f"{args.cache_method}@{scale_name(args.flow_scale)}",
            "estimated_fp_per_frame": float(
                np.mean([r.fp_per_frame.mean() for r in results.values()])
            ),
            "estimated_fn_per_frame": float(
                np.mean([r.fn_per_frame.mean() for r in results.values()])
            ),
        },
        "ms_per_frame": {k: round(1000 * v, 3) for k, v in per_frame.items()},
        "tc_over_detector": {
            b: {
                "tc": round(per_frame["tc_estimate_errors"] / t, 4),
                "tc_with_cache_read": round(per_frame["tc_with_cache_read"] / t, 4),
            }
            for b, t in detectors.items()
        },
    }
    s = report["setup"]
    print(
        f"\nsynthetic: {s['videos']} road videos, {s['frames']} frames of {size[0]}x{size[1]}, "
        f"{s['detections_per_frame']:.1f} detections/frame, window {args.window}, "
        f"flow {s['flow']}, {args.threads} threads, best of {args.repeats}"
    )
    for name, ms in report["ms_per_frame"].items():
        print(f"  {name:<32} {ms:>9.2f} ms/frame")
    for b, ratio in report["tc_over_detector"].items():
        ok = "meets" if ratio["tc_with_cache_read"] < 0.05 else "misses"
        print(
            f"  TC / {b}: {100 * ratio['tc']:.2f}% "
            f"({100 * ratio['tc_with_cache_read']:.2f}% with the cache read; {ok} the 5% target)"
        )
    return report


def main(args: argparse.Namespace) -> dict:
    import cv2

    global clock
    clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    report: dict = {"threads": args.threads, "repeats": args.repeats, "clock": args.clock}
    print(f"{args.threads} torch/OpenCV thread(s), best of {args.repeats}, {args.clock} time")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.dir or tmp)
        clips = real_clips(args) if {"presets", "cache"} & set(args.parts) else {}
        if "presets" in args.parts:
            report["presets"] = presets_part(clips, args)
        if "cache" in args.parts:
            report["cache"] = cache_part(clips, root / "cache", args)
        if "synthetic" in args.parts:
            report["synthetic"] = synthetic_part(root / "synthetic", args)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
