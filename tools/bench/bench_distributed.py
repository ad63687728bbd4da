"""Scoring throughput with 1 and 2 processes against decode-only throughput, and decoding in
DataLoader workers against decoding in the scoring process.

Draws a small synthetic action dataset, then times, in the same run and on the same videos
(every frame of every video is scored; each process has one torch thread):

- decode only: every video decoded once at the model's input size, in one process (the
  ceiling of scoring throughput for one process: a scorer can go no faster than it decodes);
- scoring with ``torchrun --nproc_per_node 1`` and ``--nproc_per_node 2`` (each rank decodes
  and scores its share of the videos, :meth:`vidal.tasks.action.ActionTask.score`);
- scoring in one process with ``score.workers`` decoding processes against 0 (decoding in
  the scoring process).

Throughput is frames per second of wall time; ratios are against measurements of the same
run. On a machine with fewer free cores than processes the ratios say so (the ranks share
cores).

Example:
    python tools/bench/bench_distributed.py --videos 8 --frames 48 --size 240x320 --passes 4
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--videos", type=int, default=8, help="synthetic videos to score")
    p.add_argument("--frames", type=int, default=48, help="frames per video")
    p.add_argument("--size", default="240x320", help="HEIGHTxWIDTH of the video files")
    p.add_argument("--model-size", type=int, default=64, help="model input side (multiple of 16)")
    p.add_argument("--passes", type=int, default=4, help="MC-dropout passes R")
    p.add_argument("--workers", type=int, default=1, help="decoding processes to compare with 0")
    p.add_argument("--repeats", type=int, default=2, help="runs per measurement (best kept)")
    p.add_argument("--dir", default=None, help="where to write the videos (default: temporary)")
    p.add_argument(
        "--role", default="main", choices=["main", "score", "decode"], help=argparse.SUPPRESS
    )
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    return p


def _task(args: argparse.Namespace, world, workers: int):  # type: ignore[no-untyped-def]
    from vidal.data import load_dataset
    from vidal.models.action import ActionDetectorConfig
    from vidal.tasks.action import ActionTask
    from vidal.train.action import ActionTrainConfig

    ds = load_dataset("vidal", args.data)
    side = args.model_size
    return ActionTask(
        ds, ds, model_config=ActionDetectorConfig.small(num_classes=ds.num_classes),
        train_config=ActionTrainConfig(size=(side, side)), passes=args.passes, score_stride=8,
        progress=False, world=world, score_workers=workers,
    )  # fmt: skip


def score_role(args: argparse.Namespace) -> None:
    """One rank: score every frame once (after a warm-up on one video) and report the time."""
    import torch

    from vidal.distributed import init_world
    from vidal.pool import LabelPool

    torch.set_num_threads(1)
    world = init_world("cpu")
    task = _task(args, world, args.workers)
    model = task.build_model(seed=0)
    pool = LabelPool.from_dataset(task.train_set)
    warm = pool.without(pool.video_ids[1:])
    task.score(model, warm, seed=0)  # first calls (kernels, thread pools) out of the timing
    world.barrier()
    t0 = time.perf_counter()
    task.score(model, pool, seed=0)
    world.barrier()
    seconds = time.perf_counter() - t0
    if world.is_main:
        Path(args.out).write_text(json.dumps({"seconds": seconds, "frames": pool.total_frames}))


def decode_role(args: argparse.Namespace) -> None:
    """Decode every video once at the model's size in this process and report the time."""
    from vidal.data import load_dataset
    from vidal.data.store import FrameStore

    ds = load_dataset("vidal", args.data)
    store = FrameStore(ds, size=(args.model_size, args.model_size), max_bytes=0)
    t0 = time.perf_counter()
    frames = sum(len(store.frames(v)) for v in ds.video_ids)
    Path(args.out).write_text(json.dumps({"seconds": time.perf_counter() - t0, "frames": frames}))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: argparse.Namespace, role: str, nproc: int, workers: int, out: Path) -> float:
    """Frames per second of one role (best of ``--repeats``)."""
    me = [str(Path(__file__).resolve()), "--role", role, "--data", args.data, "--out", str(out)]
    me += ["--passes", str(args.passes), "--model-size", str(args.model_size)]
    me += ["--workers", str(workers)]
    launch = [sys.executable]
    if nproc > 1:
        launch += ["-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
        launch += ["--master_addr", "127.0.0.1", "--master_port", str(_port())]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    best = 0.0
    for _ in range(args.repeats):
        subprocess.run(launch + me, env=env, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(out.read_text())
        best = max(best, result["frames"] / result["seconds"])
    return best


def main(args: argparse.Namespace) -> None:
    from vidal.data.synth import SynthConfig, make_dataset

    height, width = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        cfg = SynthConfig(
            videos=args.videos, width=width, height=height, min_frames=args.frames,
            max_frames=args.frames, seed=0, test_fraction=0.0,
        )  # fmt: skip
        args.data = str(make_dataset(Path(tmp) / "data", cfg, progress=False))
        out = Path(tmp) / "result.json"
        decode = _run(args, "decode", 1, 0, out)
        one = _run(args, "score", 1, 0, out)
        two = _run(args, "score", 2, 0, out)
        workers = _run(args, "score", 1, args.workers, out)
    frames = args.videos * args.frames
    print(f"{args.videos} videos x {args.frames} frames, {width}x{height} files, model input "
          f"{args.model_size}x{args.model_size}, {args.passes} MC passes, {frames} frames; "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"decode only, 1 process:                 {decode:8.1f} frames/s")
    print(
        f"score, 1 process:                       {one:8.1f} frames/s  ({one / decode:.3f} of decode)"
    )
    print(
        f"score, 2 processes:                     {two:8.1f} frames/s  ({two / one:.2f}x 1 process)"
    )
    print(f"score, 1 process + {args.workers} decoding worker(s):   {workers:8.1f} frames/s  "
          f"({workers / one:.2f}x decoding in the scoring process)")  # fmt: skip


if __name__ == "__main__":
    parsed = get_args_parser().parse_args()
    if parsed.role == "score":
        score_role(parsed)
    elif parsed.role == "decode":
        decode_role(parsed)
    else:
        main(parsed)
