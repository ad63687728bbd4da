"""What recording label dispersion adds to training the action detector, in one run.

Label dispersion (thesis ch. 3, Eq. 3.1-3.2) needs the model's predictions on the pool at
``T`` points during training (:class:`vidal.scoring.dispersion.DispersionRecorder` as the
``callback`` of :func:`vidal.train.action.train_action_model`). A point is one eval-mode
forward pass over clips of the videos with unlabeled frames, so its cost grows with the pool
while training's grows with steps x batch size: the overhead is a property of the setting,
and this prints it for the synthetic setting of ``tools/configs/synthetic_apu.yaml`` (40
videos of 40-80 frames, 10 % of the frames labeled, the small model at 48x64, 40 steps of
4 clips) unless told otherwise.

It times, each the best of ``--repeats`` runs from the same initial weights and seed, the
runs interleaved so that a change of the machine's load reaches every timing alike:

- **plain**: training alone;
- **recorded**: training with a recorder of ``--points`` points for each ``--stride`` given
  (``stride = clip_len``: every frame seen; a larger stride predicts ``clip_len / stride``
  of the clips and fills the gaps from the nearest predicted frame), on a random
  ``--subsample`` of the videos (1: all; the others are then left out of the selection);
- **MC scoring**: one MC-dropout scoring pass over all those videos (``--passes`` passes,
  the loop's uncertainty scoring): what a cycle pays to select by uncertainty, and what
  selecting by dispersion does without.

Training with and without a recorder gives bit-identical weights; the script checks it.

Example:
    python tools/bench/bench_dispersion.py --threads 1 --points 10 --stride 8 16 32
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vidal.data import load_dataset
from vidal.data.store import FrameStore
from vidal.data.synth import SynthConfig, make_dataset
from vidal.models.action import ActionDetectorConfig
from vidal.pool import LabelPool
from vidal.scoring import UncertaintyScorer, loader_clips, score_dataset
from vidal.scoring.dispersion import ActionPredictor, DispersionRecorder
from vidal.train.action import ActionModel, ActionTrainConfig, clip_to_tensor, train_action_model


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--videos", type=int, default=40, help="synthetic action videos")
    p.add_argument("--labeled", type=float, default=0.1, help="fraction of frames labeled")
    p.add_argument("--steps", type=int, default=40, help="training steps")
    p.add_argument("--batch-size", type=int, default=4, help="clips per training step")
    p.add_argument("--points", type=int, default=10, help="T, recording points")
    p.add_argument("--stride", type=int, nargs="+", default=[8], help="prediction clip strides")
    p.add_argument(
        "--subsample", type=float, default=1.0, help="fraction of the videos recorded (random)"
    )
    p.add_argument("--passes", type=int, default=6, help="MC-dropout passes of the scoring")
    p.add_argument("--repeats", type=int, default=2, help="runs of each timing (best kept)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0, help="seed of data, labels and training")
    return p


def setup(args: argparse.Namespace, root: Path) -> dict:
    """The synthetic dataset, its pool with ``--labeled`` of each video labeled, and the rest."""
    synth = SynthConfig(videos=args.videos, width=64, height=48, seed=args.seed)
    dataset = load_dataset("vidal", make_dataset(root, synth, progress=False))
    rng = np.random.default_rng(args.seed)
    pool = LabelPool.from_dataset(dataset)
    for vid, n in pool.num_frames.items():
        pool.add_frames(vid, rng.choice(n, size=max(1, round(args.labeled * n)), replace=False))
    config = ActionTrainConfig(steps=args.steps, batch_size=args.batch_size, size=(48, 64))
    store = FrameStore(dataset, size=config.size)
    todo = {v: n for v, n in pool.num_frames.items() if not pool.mask(v).all()}
    for vid in todo:
        store.frames(vid)  # decoded once, as in a run: decoding is not what is measured
    keep = max(1, round(args.subsample * len(todo)))
    recorded = {v: todo[v] for v in sorted(rng.choice(sorted(todo), keep, replace=False))}
    torch.manual_seed(args.seed)
    start = ActionModel(ActionDetectorConfig.small(num_classes=dataset.num_classes))
    return dict(
        dataset=dataset,
        pool=pool,
        config=config,
        store=store,
        todo=todo,
        recorded=recorded,
        start=start,
    )


def runs(args: argparse.Namespace, s: dict) -> dict[str, Callable[[], ActionModel | None]]:
    """Name -> what to time: plain training, training with each recorder, MC scoring."""

    def train(callback=None) -> ActionModel:
        model = copy.deepcopy(s["start"])
        data = (s["dataset"], s["pool"], s["store"], s["config"])
        train_action_model(model, *data, seed=args.seed, progress=False, callback=callback)
        return model

    def load(vid: str) -> torch.Tensor:
        return clip_to_tensor(s["store"].frames(vid))

    clip_len = s["config"].clip_len
    out: dict[str, Callable[[], ActionModel | None]] = {"plain training": train}
    for stride in args.stride:
        predictor = ActionPredictor(load, s["recorded"], clip_len=clip_len, stride=stride)
        name = f"recorded, T={args.points}, stride {stride}"
        out[name] = lambda p=predictor: train(DispersionRecorder(p, points=args.points))
    videos = loader_clips(s["todo"], load, clip_len=clip_len, stride=clip_len)
    UncertaintyScorer()(torch.rand(2, 1, 4, 4))  # compile the numba kernel before timing

    def mc() -> None:
        model = s["start"]
        score_dataset(model.detector, videos, passes=args.passes, progress=False, features=False)

    out[f"MC scoring, {args.passes} passes"] = mc
    return out


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        s = setup(args, Path(tmp))
        todo, pool = s["todo"], s["pool"]
        print(
            f"pool: {len(todo)} videos, {pool.num_unlabeled} unlabeled of {pool.total_frames} "
            f"frames ({len(s['recorded'])} videos recorded); training: {args.steps} steps x "
            f"{args.batch_size} clips of {s['config'].clip_len} frames; {args.threads} thread(s)"
        )
        timed = runs(args, s)
        best = dict.fromkeys(timed, float("inf"))
        models: dict[str, ActionModel | None] = {}
        for _ in range(args.repeats):  # interleaved, so a change of load hits every timing
            for name, run in timed.items():
                t0 = time.perf_counter()
                models[name] = run()
                best[name] = min(best[name], time.perf_counter() - t0)
        plain = best["plain training"]
        reference = models["plain training"]
        assert reference is not None
        for name, seconds in best.items():
            line = f"{name:32s} {seconds:8.2f} s  {seconds / plain:5.2f}x"
            model = models[name]
            if name.startswith("recorded") and model is not None:
                same = all(
                    torch.equal(a, b)
                    for a, b in zip(
                        reference.state_dict().values(), model.state_dict().values(), strict=True
                    )
                )
                point = (seconds - plain) / args.points
                line += f"  (+{100 * (seconds / plain - 1):.0f} %, {point:.2f} s a point; same weights: {same})"
            elif name.startswith("MC"):
                line += "  (once a cycle; what the dispersion selector does without)"
            print(line)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
