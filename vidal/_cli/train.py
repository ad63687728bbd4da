"""``vidal train``: train a model of either task on a dataset, from a config file or flags.

The task (``action``: the capsule action detector; ``detection``: the Faster R-CNN frame
detector) is the config's (``--config``), or the checkpoint's with ``--resume``/``--weights``.
Writes ``OUT/checkpoint.pt`` (weights, model settings, class names), ``OUT/pool.json``
(which frames it was trained on) and ``OUT/train.json`` (config and training statistics).
Ctrl-C stops at the end of the current step and writes the checkpoint (for the action
detector with its exact train state: ``--resume`` then continues as if never stopped).

Examples:
    vidal train --format vidal --annotations data/synth/annotations.json --out runs/train
    vidal train --config tools/configs/ucf101_24_apu.yaml --steps 2000 --out runs/ucf
    vidal train --config tools/configs/detection_synthetic_road.yaml --steps 50 --out runs/det
    vidal train --format vidal --annotations a.json --labeled-fraction 0.05 --loss mgw
    vidal train --labels work/labels.json --pool work/pool.json --out runs/round2   # human labels
    vidal train ... --out runs/train --resume --steps 500                # 500 more steps

``torchrun --nproc_per_node N -m vidal train ...`` trains with DistributedDataParallel:
``--batch-size`` is the global batch, each process takes its slice; rank 0 writes.

The dataset flags (``--format``, ``--annotations``, ``--videos``, ``--split-file``) and the
split flags behave alike in ``vidal train``, ``vidal eval`` and ``vidal select``. A split
file names a split by its stem; when the dataset has no ``train``/``test`` split, a file
whose name contains ``train`` gives the train split and any other file the test split, the
remaining videos the other one (UCF-101-24: ``--split-file testlist01.txt``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidal._cli.common import (
    add_data_args,
    add_device_args,
    add_model_size_args,
    config_for_checkpoint,
    config_from_args,
    load_pool,
    quote,
    writable_dir,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the action or the frame detector on a dataset (config file or flags)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_args(p)
    p.add_argument("--train-split", help="split to train on (default: the config's, 'train')")
    p.add_argument(
        "--labels",
        help="train on human labels: a vidal-format JSON written by `vidal label` (needs --pool)",
    )
    p.add_argument(
        "--pool", help="label pool JSON: train only on its labeled frames (e.g. from `vidal label`)"
    )
    p.add_argument("--loss", help="action: masking, interpolation, mgw or stew (default: mgw)")
    p.add_argument("--steps", type=int, help="optimisation steps (default: the config's)")
    p.add_argument("--batch-size", type=int, help="clips or frames per step")
    p.add_argument("--lr", type=float, help="learning rate (default: the task's)")
    p.add_argument(
        "--sigma",
        type=float,
        help="MGW / STeW Gaussian width in frames around each labeled frame (default: 1.3)",
    )
    p.add_argument(
        "--cluster-weight", type=float, help="deep-clustering loss weight, 0 disables it"
    )
    p.add_argument(
        "--pos-weight",
        type=float,
        help="weight of the foreground term of the localization BCE (default: the task's, 3 for action)",
    )
    add_model_size_args(p, default="the config's, else the task's")
    p.add_argument(
        "--preset",
        help="model preset (action: mobilenet (default), small, full; detection: see docs)",
    )
    p.add_argument("--i3d-weights", help="local pytorch-i3d checkpoint to initialise the encoder")
    p.add_argument("--weights", help="a checkpoint (or detector weights) to start from")
    p.add_argument(
        "--labeled-fraction",
        type=float,
        default=None,
        help="fraction of frames labeled, drawn at random with --seed (default: 1.0, every frame)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt and OUT/pool.json"
    )
    add_device_args(p)
    p.add_argument("--seed", type=int, help="seed (default: the config's first seed, 0)")
    p.add_argument("--out", help="output folder (default: the config's out, else runs/train)")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> Any:
    """The experiment config from ``--config`` and the flags (and a checkpoint's task)."""
    cfg = config_from_args(
        args,
        {
            "data": {"train_split": args.train_split},
            "model": {
                "preset": args.preset,
                "clip_len": args.clip_len,
                "size": list(args.size) if args.size else None,
                "i3d_weights": args.i3d_weights,
                "weights": args.weights,
            },
            "train": {
                "loss": args.loss,
                "steps": args.steps,
                "batch_size": args.batch_size,
                "lr": args.lr,
                "sigma": args.sigma,
                "cluster_weight": args.cluster_weight,
                "pos_weight": args.pos_weight,
            },
            "device": args.device,
            "seeds": None if args.seed is None else [args.seed],
            "out": args.out,
        },
        name="train",
    )
    out = Path(cfg.out or "runs/train").expanduser()
    start = out / "checkpoint.pt" if args.resume else args.weights
    if start and Path(start).is_file():
        from vidal.errors import VidalError
        from vidal.tasks import checkpoint_task

        try:
            checkpoint_task(start)
        except VidalError:  # pretrained detector weights, not a vidal checkpoint
            return cfg
        cfg = config_for_checkpoint(cfg, start, args)
    return cfg


def _data_flags(data: Any) -> str:
    """The command-line flags that name the dataset ``data`` (a DataConfig) names."""
    flags = [f"--format {data.format}"]
    for key in ("annotations", "videos", "split_file"):
        if getattr(data, key):
            flags.append(f"--{key.replace('_', '-')} {quote(getattr(data, key))}")
    return " ".join(flags)


def _train_pool(args: argparse.Namespace, train_set: Any, out: Path, seed: int) -> Any:
    """The pool to train on: --pool, the resumed OUT/pool.json, or --labeled-fraction of frames."""
    import numpy as np

    from vidal.errors import ConfigError, VidalError
    from vidal.loop import initial_selection
    from vidal.oracle import SimulatedOracle
    from vidal.pool import LabelPool

    if args.pool:
        if args.labeled_fraction is not None:
            raise ConfigError("--pool says which frames are labeled; drop --labeled-fraction")
        if not Path(args.pool).is_file():
            raise VidalError(f"{args.pool}: no such label pool")
        return load_pool(args.pool, train_set)
    if args.resume and (out / "pool.json").is_file():
        if args.labeled_fraction is not None:
            print(f"vidal train: --resume keeps the labels of {out / 'pool.json'}", file=sys.stderr)
        return load_pool(out / "pool.json", train_set)
    fraction = 1.0 if args.labeled_fraction is None else args.labeled_fraction
    if not 0 < fraction <= 1:
        raise ConfigError(f"--labeled-fraction must lie in (0, 1], got {fraction}")
    pool = LabelPool.from_dataset(train_set)
    if fraction == 1.0:
        for vid, n in pool.num_frames.items():
            pool.add_frames(vid, np.arange(n))
        pool.history.append({"frames": pool.num_labeled, "how": "every frame"})
    else:
        selection = initial_selection(pool, fraction, np.random.default_rng(seed))
        SimulatedOracle(train_set).label(selection, pool)
        pool.history.append(
            {"frames": selection.num_frames, "how": f"random {fraction:g} of frames, seed {seed}"}
        )
    return pool


def _train_set(args: argparse.Namespace, cfg: Any) -> tuple[Any, dict]:
    """The videos to train on, and where they came from (for ``train.json``)."""
    from vidal.config import to_dict
    from vidal.data import load_dataset
    from vidal.errors import ConfigError
    from vidal.experiment import load_data

    if args.labels:
        train_set = load_dataset("vidal", args.labels)
        source: dict[str, Any] = {"labels": str(Path(args.labels).resolve())}
    else:
        train_set = load_data(cfg.data, cfg.data.train_split, progress=not args.no_progress)
        source = {**to_dict(cfg.data), "split": cfg.data.train_split}
    if train_set.num_classes < 1:
        raise ConfigError(
            "the dataset has no classes to train on (format 'frames' has no annotations): label "
            "frames with `vidal select` and `vidal label`, then train with --labels and --pool"
        )
    return train_set, source


def _model(args: argparse.Namespace, task: Any, out: Path, seed: int) -> tuple[Any, int]:
    """The model to train and the steps it was trained for before (``--resume``)."""
    from vidal.errors import VidalError

    if not args.resume:
        return task.build_model(seed=seed), 0
    ckpt = out / "checkpoint.pt"
    if not ckpt.is_file():
        raise VidalError(f"--resume: no checkpoint at {ckpt} (train once without --resume)")
    model = task.load_checkpoint(ckpt)
    return model, int(getattr(model, "steps_trained", 0))


def run(args: argparse.Namespace) -> int:
    from vidal.distributed import init_world
    from vidal.errors import ConfigError
    from vidal.tasks import build_task, check_config
    from vidal.train.interrupt import TrainingInterrupted

    t0 = time.perf_counter()
    if args.labels and not args.pool:
        raise ConfigError("--labels needs --pool (the pool says which frames the person labeled)")
    cfg = _config(args)
    check_config(cfg)
    world = init_world(cfg.device)
    out = writable_dir(cfg.out or "runs/train")
    seed = int(cfg.seeds[0])
    with world.main_first():  # rank 0 draws a synthetic dataset first
        train_set, source = _train_set(args, cfg)
    task = build_task(cfg, train_set, train_set, progress=not args.no_progress, world=world)
    pool = _train_pool(args, train_set, out, seed)
    model, steps_before = _model(args, task, out, seed)
    world.barrier()  # every rank has read OUT before rank 0 writes there
    # an action checkpoint with its train state continues exactly (Adam moments, random
    # states); otherwise training restarts its optimiser and draws new batches
    exact = _exact(args, model)
    if world.is_main:
        pool.save(out / "pool.json")
        procs = f" x {world.size} processes" if world.distributed else ""
        print(
            f"vidal train: {cfg.task}, {len(train_set)} videos, {pool.num_labeled} of "
            f"{pool.total_frames} frames labeled ({100 * pool.fraction_labeled:.1f}%), "
            f"{cfg.train.steps} steps on {task.device}{procs}"
            + (f", resuming after {steps_before} steps" if args.resume else ""),
            file=sys.stderr,
        )
    record = _Record(args, cfg, task, train_set, pool, source, t0, steps_before, exact)
    try:
        stats = task.train(model, pool, seed=seed if exact else seed + steps_before, resume=exact)
    except TrainingInterrupted as stop:
        if not world.is_main:
            return 130
        record.save(model, {"steps": stop.steps_done, "interrupted": True})
        how = "with its exact train state " if cfg.task == "action" else ""
        print(
            f"vidal train: interrupted after {stop.steps_done} of {stop.steps} steps; the "
            f"checkpoint {how}is in {out / 'checkpoint.pt'}; continue with the same command "
            f"and --resume --steps {stop.steps - stop.steps_done}",
            file=sys.stderr,
        )
        return 130
    if not world.is_main:  # rank 0 writes the checkpoint and the report
        return 0
    record.save(model, stats)
    print(f"loss {stats.get('loss')} after {steps_before + stats['steps']} steps")
    print(f"checkpoint: {out / 'checkpoint.pt'}\nreport:     {out / 'train.json'}")
    if not args.labels:
        data = f"--config {quote(args.config)}" if args.config else _data_flags(cfg.data)
        print(f"next: vidal eval --checkpoint {quote(out / 'checkpoint.pt')} {data}")
    return 0


def _exact(args: argparse.Namespace, model: Any) -> bool:
    """Whether training continues exactly: an action checkpoint with its train state
    (Adam moments, random states); otherwise the optimiser restarts on new batches."""
    return bool(args.resume and getattr(model, "train_state", None) is not None)


@dataclass
class _Record:
    """Writes ``OUT/checkpoint.pt`` and ``OUT/train.json`` after training (or an interrupt)."""

    args: argparse.Namespace
    cfg: Any
    task: Any
    train_set: Any
    pool: Any
    source: dict
    t0: float
    steps_before: int
    exact: bool

    def save(self, model: Any, stats: dict) -> None:
        from vidal._io import atomic_write_json
        from vidal.config import to_dict

        out = Path(self.cfg.out or "runs/train").expanduser()
        steps_total = self.steps_before + int(stats["steps"])
        meta = {"steps": steps_total, "labeled_frames": self.pool.num_labeled}
        meta["seed"] = int(self.cfg.seeds[0])
        self.task.save_checkpoint(model, out / "checkpoint.pt", extra=meta, train_state=True)
        report = {
            "config": to_dict(self.cfg),
            "task": self.cfg.task,
            "data": self.source,
            "videos": len(self.train_set),
            "frames": self.pool.total_frames,
            "labeled_frames": self.pool.num_labeled,
            "labeled_fraction": self.pool.fraction_labeled,
            "train": stats,
            "steps_total": steps_total,
            "resumed_from_steps": self.steps_before if self.args.resume else None,
            "resumed_exactly": self.exact if self.args.resume else None,
            "device": str(self.task.device),
            "seconds": round(time.perf_counter() - self.t0, 2),
            "checkpoint": str(out / "checkpoint.pt"),
        }
        atomic_write_json(out / "train.json", report)
