"""Milliseconds per frame of each detector and of temporal coherence on real clips, TC's share.

With a fast real detector, optical flow, not the detector, sets what temporal coherence (TC,
Zolfaghari Bengar, thesis 2021, Sec. 2.3.2) costs. On the real clips of ``../shared/data``
(DAVIS ``car-shadow`` 854x480, the J-HMDB ``catch`` clip 320x240, ImageNet-VID
``ILSVRC2015_val_00007010`` 1280x720) this times, per frame:

- **detectors** (``--detectors``, on the first ``--detect-frames`` frames of each clip): the
  COCO Yolo-Fastest 1.1 ``xl`` and small models through vidal's Darknet reader (320x320),
  and today's Faster R-CNN presets at ``--min-size`` (300 px, the thesis' size; random
  weights, so an untrained head keeps up to 100 boxes): ``small`` (MobileNetV3-FPN with
  :data:`vidal.tasks.detection.LOW_RES_OPTIONS`, what a config at 300 px builds), the
  MobileNetV2-FPN on the ImageNet backbone file (low-res options), and on request ``full``
  (ResNet50-FPN);
- **TC's parts** for each ``--flows`` entry (``NAME[@SCALE]`` as in
  ``tools/tc_real_video.py``): the flow, forward and backward, of every frame pair
  (:func:`tracking.compute_flows`); the same through a :class:`tracking.FlowCache`, computed
  and written once (one run, not the best of several), then read back (what every later
  cycle pays); and the graph
  (:func:`tracking.estimate_errors` with the flow in memory) on the Yolo-Fastest-xl
  detections at score 0.25.

Every time is divided by the clip's frames (a clip of ``T`` frames has ``T - 1`` pairs) and
printed against the baseline measured in the same run, the fast detector (``--baseline``,
Yolo-Fastest small by default). The goal (issue 15): TC with its flow at most a quarter of the
fast detector's time per frame, with estimates no worse on the real clips. With
``--quality`` (default) it also runs ``tools/tc_real_video.py``'s evaluation with each flow
(both models, thresholds 0.25 and 0.5, real and injected errors on DAVIS and J-HMDB) and
prints the pooled per-frame precision and recall beside the speed, with the first flow as the
reference ("no worse": no pooled precision or recall more than ``--tolerance`` below it).

Every job (a detector on a clip's frames, a flow part on a clip) runs once per round, in
``--repeats`` interleaved rounds, and keeps its best time: a burst of load from other
processes then slows all jobs of a round alike rather than one. Times are on ``--clock``
(``cpu``: the process's CPU time, with one thread about what an idle machine's wall time
would be, and steadier than wall time on a shared machine; ``wall``: elapsed time). On the
shared 2-core machine successive runs still differ by 10-40% (ratios less): run it twice.

Figures and what they mean: ``docs/tc_real_video.md``.

Example:
    OMP_NUM_THREADS=1 PYTHONPATH=. python tools/bench/bench_tc_real.py \
        --flows dis-medium dis-ultrafast dis-ultrafast@s160 dis-medium@s160 dis-ultrafast@s96 \
        --json /tmp/bench_tc_real.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tracking import FlowCache, compute_flows, estimate_errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tools/: tc_real_video
import tc_real_video as tcv  # noqa: E402
from bench_detectors import build_backend  # noqa: E402

CLIPS = ("davis", "jhmdb", "imagenet-vid")
DETECTORS = {  # name -> bench_detectors backend
    "yolo_fastest_xl": "yolo_fastest_xl",
    "yolo_fastest": "yolo_fastest",
    "frcnn_small": "frcnn_mobilenet_v3_fpn_low_res",
    "frcnn_full": "frcnn_resnet50_fpn",
    "frcnn_mobilenet_v2_fpn": "frcnn_mobilenet_v2_fpn_low_res",
}
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--data", type=Path, default=tcv.DATA, help="the shared data folder")
    p.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    p.add_argument("--frames", type=int, help="first frames of each clip (default all)")
    p.add_argument(
        "--detectors",
        nargs="+",
        default=["yolo_fastest_xl", "yolo_fastest", "frcnn_small", "frcnn_mobilenet_v2_fpn"],
        choices=list(DETECTORS),
    )
    p.add_argument("--baseline", default="yolo_fastest", choices=list(DETECTORS))
    p.add_argument("--detect-frames", type=int, default=8, help="frames of each clip timed")
    p.add_argument("--min-size", type=int, default=300, help="Faster R-CNN's shorter side")
    p.add_argument("--batch", type=int, default=8, help="frames per detector forward pass")
    p.add_argument(
        "--flows",
        nargs="+",
        default=["dis-medium", "dis-ultrafast", "dis-ultrafast@s160"],
        help="NAME[@SCALE] as in tools/tc_real_video.py; the first is the quality reference",
    )
    p.add_argument("--window", type=int, default=3, help="TC tracking window (thesis: 3)")
    p.add_argument("--goal", type=float, default=0.25, help="TC's share of the fast detector")
    p.add_argument(
        "--quality",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the estimates (tools/tc_real_video.py) with each flow",
    )
    p.add_argument("--tolerance", type=float, default=0.05, help="'no worse' margin")
    p.add_argument("--seeds", type=int, default=5, help="injection draws (quality)")
    p.add_argument("--draws", type=int, default=1000, help="random draws (quality)")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds (best kept)")
    p.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return p


def interleaved(
    jobs: dict[tuple, Callable[[], object]], rounds: int, clock: Callable[[], float]
) -> dict[tuple, float]:
    """Smallest time of each job over ``rounds`` rounds, seconds. Each round runs every job
    once, so a burst of load from other processes slows all of them alike instead of one."""
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(rounds):
        for key, fn in jobs.items():
            t0 = clock()
            fn()
            best[key] = min(best[key], clock() - t0)
    return best


def detector_jobs(
    clips: dict[str, tcv.Clip], args: argparse.Namespace
) -> dict[tuple, Callable[[], object]]:
    """``("detector", name, clip)`` -> run the detector on the clip's first
    ``--detect-frames`` frames (each detector warmed up once)."""
    jobs: dict[tuple, Callable[[], object]] = {}
    for name in dict.fromkeys([args.baseline, *args.detectors]):
        detector = build_backend(DETECTORS[name], args)
        detector.detect_frames(next(iter(clips.values())).frames[:1])  # warm-up
        for clip, c in clips.items():
            frames = c.frames[: args.detect_frames]
            jobs[("detector", name, clip)] = lambda d=detector, f=frames: d.detect_frames(f)
    return jobs


def flow_jobs(
    clips: dict[str, tcv.Clip], specs: list[tcv.FlowSpec], args: argparse.Namespace, root: Path
) -> tuple[dict[tuple, Callable[[], object]], dict[tuple, float], dict[str, dict[str, object]]]:
    """``(part, flow, clip)`` -> one run of TC's part on the whole clip: ``flow_compute``
    (:func:`tracking.compute_flows`), ``cache_read`` (a :class:`tracking.FlowCache` read
    back) and ``graph`` (:func:`tracking.estimate_errors` on the Yolo-Fastest-xl detections
    at 0.25, the flow in memory). Before any timing each flow is computed once and each
    cache written once, timed (``cache_write``, one run). Returns the jobs, the write times
    and the flows (for the quality figures)."""
    clock = CLOCKS[args.clock]
    jobs: dict[tuple, Callable[[], object]] = {}
    writes: dict[tuple, float] = {}
    flows: dict[str, dict[str, object]] = {str(s): {} for s in specs}
    for name, clip in clips.items():
        dets = tcv.detect(args.data, "xl", clip, 0.25)
        for spec in specs:
            method = tcv.flow_method(spec.method)
            scale = spec.scale_for(*clip.frames.shape[1:3])
            flows[str(spec)][name] = flow = compute_flows(clip.frames, method=method, scale=scale)
            cache = FlowCache(root / f"{spec}-{name}")
            t0 = clock()
            cache.get_flows(name, clip.frames, method=method, scale=scale)
            writes[("cache_write", str(spec), name)] = clock() - t0
            frames = clip.frames
            jobs[("flow_compute", str(spec), name)] = lambda f=frames, m=method, s=scale: (
                compute_flows(f, method=m, scale=s)
            )
            jobs[("cache_read", str(spec), name)] = (
                lambda c=cache, n=name, f=frames, m=method, s=scale: c.get_flows(
                    n, lambda: f, method=m, scale=s
                )
            )
            jobs[("graph", str(spec), name)] = lambda d=dets, fl=flow: estimate_errors(
                d, fl, window=args.window, score_threshold=0.0
            )
    return jobs, writes, flows


def per_frame(
    seconds: dict[tuple, float], frames: Callable[[str, str], int]
) -> dict[str, dict[str, dict[str, float]]]:
    """``seconds[(part, name, clip)]`` as ``{name: {clip: {part: seconds per frame}}}``, a
    part having run on ``frames(part, clip)`` frames, with ``all``: every clip's frames
    together."""
    runs: dict[str, dict[str, dict[str, tuple[float, int]]]] = {}
    for (part, name, clip), s in seconds.items():
        runs.setdefault(name, {}).setdefault(clip, {})[part] = (s, frames(part, clip))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, per_clip in runs.items():
        out[name] = {c: {p: s / n for p, (s, n) in parts.items()} for c, parts in per_clip.items()}
        total = [p for p in per_clip.values()]
        out[name]["all"] = {
            part: sum(p[part][0] for p in total) / sum(p[part][1] for p in total)
            for part in total[0]
        }
    return out


def time_all(
    clips: dict[str, tcv.Clip], specs: list[tcv.FlowSpec], args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, dict[str, float]]], dict]:
    """Detectors and TC's parts timed in interleaved rounds; seconds per frame of each
    detector (``{name: {clip: s}}``) and of each flow's parts (``{flow: {clip: {part: s}}}``),
    and the flows."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs, writes, flows = flow_jobs(clips, specs, args, Path(tmp))
        jobs.update(detector_jobs(clips, args))
        seconds = interleaved(jobs, args.repeats, CLOCKS[args.clock])
    seconds.update(writes)

    def frames(part: str, clip: str) -> int:
        count = len(clips[clip].frames)
        return min(count, args.detect_frames) if part == "detector" else count

    table = per_frame(seconds, frames)
    detectors = {
        name: {clip: parts["detector"] for clip, parts in table[name].items()}
        for name in dict.fromkeys([args.baseline, *args.detectors])
    }
    tc = {str(s): table[str(s)] for s in specs}
    return detectors, tc, flows


def quality(
    clips: dict[str, tcv.Clip], flows: dict[str, dict[str, object]], args: argparse.Namespace
) -> dict[str, dict]:
    """Pooled estimate figures of each flow (tools/tc_real_video.py), DAVIS and J-HMDB."""
    annotated = {n: c for n, c in clips.items() if c.boxes is not None}
    options = argparse.Namespace(
        near_iou=0.1, window=args.window, seeds=args.seeds, draws=args.draws, seed=0
    )
    detections = {
        (c, m, t): tcv.detect(args.data, m, annotated[c], t)
        for c in annotated
        for m in tcv.MODELS
        for t in (0.25, 0.5)
    }
    out = {}
    for spec, per_clip in flows.items():
        rows = tcv.evaluate_flow(annotated, detections, per_clip, options)  # type: ignore[arg-type]
        out[spec] = tcv.pooled_figures(rows, options)
    return out


def share_table(
    detectors: dict[str, dict[str, float]], tc: dict[str, dict[str, dict[str, float]]], args
) -> tuple[str, dict]:
    """TC's parts in ms per frame and as shares of the fast detector and of Yolo-Fastest-xl."""
    base = detectors[args.baseline]
    xl = detectors.get("yolo_fastest_xl")
    rows, shares = [], {}
    for flow, per_clip in tc.items():
        for clip, t in per_clip.items():
            with_flow = t["flow_compute"] + t["graph"]
            with_read = t["cache_read"] + t["graph"]
            share = {
                "tc_with_flow": with_flow / base[clip],
                "tc_with_cache_read": with_read / base[clip],
                "tc_with_flow_vs_xl": None if xl is None else with_flow / xl[clip],
            }
            shares[f"{flow} {clip}"] = share
            meets = "yes" if share["tc_with_flow"] <= args.goal else "no"
            rows.append(
                [
                    flow,
                    clip,
                    *(
                        f"{1000 * t[k]:.1f}"
                        for k in ("flow_compute", "cache_write", "cache_read", "graph")
                    ),
                    f"{1000 * with_flow:.1f}",
                    f"{1000 * base[clip]:.1f}",
                    f"{share['tc_with_flow']:.2f}",
                    f"{share['tc_with_cache_read']:.2f}",
                    "–" if xl is None else f"{share['tc_with_flow_vs_xl']:.2f}",
                    meets,
                ]
            )
    headers = [
        "flow",
        "clip",
        "flow ms",
        "cache write ms",
        "cache read ms",
        "graph ms",
        "TC+flow ms",
        f"{args.baseline} ms",
        "TC+flow / fast",
        "TC+read / fast",
        "TC+flow / xl",
        f"<= {args.goal:g}",
    ]
    return tcv.markdown_table(headers, rows), shares


def quality_table(figures: dict[str, dict], shares: dict, args) -> tuple[str, dict]:
    """Per flow: TC's share (all clips) beside the pooled precision and recall, and whether
    the flow meets the goal: share <= --goal and no figure below the first flow's by more
    than --tolerance."""
    reference = next(iter(figures))
    rows, verdicts = [], {}
    for flow, parts in figures.items():
        values, worse = [], []
        for what in ("real", "injected"):
            for kind in ("fp", "fn"):
                for stat in ("precision", "recall"):
                    v, r = parts[what][kind][stat], figures[reference][what][kind][stat]
                    values.append(tcv._f(v))
                    if v is not None and r is not None and v < r - args.tolerance:
                        worse.append(f"{what} {kind} {stat}")
        share = shares[f"{flow} all"]["tc_with_flow"]
        fast = all(
            shares[k]["tc_with_flow"] <= args.goal for k in shares if k.startswith(f"{flow} ")
        )
        verdicts[flow] = {"share_all": share, "every_clip_within_goal": fast, "worse": worse}
        rows.append(
            [
                flow,
                f"{share:.2f}",
                "yes" if fast else "no",
                *values,
                ", ".join(worse) or "no",
                "yes" if fast and not worse else "no",
            ]
        )
    headers = ["flow", "TC+flow / fast (all)", f"every clip <= {args.goal:g}"]
    headers += [
        f"{what} {kind} {stat}"
        for what in ("real", "inj.")
        for kind in ("FP", "FN")
        for stat in ("P", "R")
    ]
    headers += [f"worse than {reference}", "meets the goal"]
    return tcv.markdown_table(headers, rows), verdicts


def main(args: argparse.Namespace) -> dict:
    import cv2

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    if not (args.data / tcv.YOLO).is_dir():
        raise SystemExit(f"real data not found at {args.data} (see shared/data/README.md)")
    specs = [tcv.FlowSpec.parse(f) for f in args.flows]
    clips = {c: tcv.load_clip(args.data, c, args.frames) for c in args.clips}
    detectors, tc, flows = time_all(clips, specs, args)
    table, shares = share_table(detectors, tc, args)
    report: dict = {
        "setup": {
            "clips": {n: list(c.frames.shape) for n, c in clips.items()},
            "detect_frames": args.detect_frames,
            "min_size": args.min_size,
            "threads": args.threads,
            "repeats": args.repeats,
            "clock": args.clock,
            "baseline": args.baseline,
            "torch": torch.__version__,
            "opencv": cv2.__version__,
        },
        "detector_ms_per_frame": {
            k: {c: round(1000 * v, 2) for c, v in d.items()} for k, d in detectors.items()
        },
        "tc_ms_per_frame": {
            f: {c: {k: round(1000 * v, 3) for k, v in t.items()} for c, t in pc.items()}
            for f, pc in tc.items()
        },
        "shares": shares,
    }
    base = detectors[args.baseline]["all"]
    print(
        f"{', '.join(f'{n} {c.frames.shape[0]}x{c.frames.shape[2]}x{c.frames.shape[1]}' for n, c in clips.items())}; "
        f"{args.threads} thread(s), best of {args.repeats} on the {args.clock} clock, baseline {args.baseline}"
    )
    print(
        "\n"
        + tcv.markdown_table(
            ["detector", "ms/frame (all clips)", *(f"{c} ms" for c in clips), f"x {args.baseline}"],
            [
                [
                    name,
                    f"{1000 * d['all']:.1f}",
                    *(f"{1000 * d[c]:.1f}" for c in clips),
                    f"{d['all'] / base:.2f}",
                ]
                for name, d in detectors.items()
            ],
        )
    )
    print("\n" + table)
    if args.quality:
        figures = quality(clips, flows, args)
        qtable, verdicts = quality_table(figures, shares, args)
        report["quality"], report["verdicts"] = figures, verdicts
        print("\n" + qtable)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main(get_args_parser().parse_args())
