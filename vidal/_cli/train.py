"""``vidal train``: train the action detector on a dataset, from a config file or flags.

Writes ``OUT/checkpoint.pt`` (weights, model settings, class names, clip size),
``OUT/pool.json`` (which frames it was trained on) and ``OUT/train.json`` (config and
training statistics).

Examples:
    vidal train --format vidal --annotations data/synth/annotations.json --out runs/train
    vidal train --config tools/configs/ucf101_24_apu.yaml --steps 2000 --out runs/ucf
    vidal train --format vidal --annotations a.json --labeled-fraction 0.05 --loss mgw
    vidal train --labels work/labels.json --pool work/pool.json --out runs/round2   # human labels
    vidal train ... --out runs/train --resume --steps 500                # 500 more steps

The dataset flags (``--format``, ``--annotations``, ``--videos``, ``--split-file``) and the
split flags behave alike in ``vidal train``, ``vidal eval`` and ``vidal select``. A split
file names a split by its stem; when the dataset has no ``train``/``test`` split, a file
whose name contains ``train`` gives the train split and any other file the test split, the
remaining videos the other one (UCF-101-24: ``--split-file testlist01.txt``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "add_parser",
    "run",
    "add_data_args",
    "config_from_args",
    "load_data",
    "checkpoint_meta",
    "check_pool_matches",
]


# --------------------------------------------------------------------------- shared helpers
def add_data_args(p: argparse.ArgumentParser, *, format_help: str | None = None) -> None:
    """The dataset flags shared by ``train``, ``eval`` and ``select`` (all default to None)."""
    from vidal.data import FORMATS

    p.add_argument("--config", help="experiment YAML (ExperimentConfig); flags override its values")
    p.add_argument(
        "--format",
        choices=sorted([*FORMATS, "synthetic"]),
        help=format_help or "dataset format (default: the config's, else the synthetic data)",
    )
    p.add_argument("--annotations", help="annotation file or dataset root")
    p.add_argument("--videos", help="folder of the videos (formats that keep them apart)")
    p.add_argument("--split-file", help="file listing one split's video ids (see `vidal train -h`)")


def config_from_args(args: argparse.Namespace, overrides: dict[str, Any], *, name: str) -> Any:
    """An :class:`~vidal.config.ExperimentConfig` from ``--config`` (or the defaults) with the
    data flags of :func:`add_data_args` and ``overrides`` (nested dicts, None values dropped)
    merged in."""
    from vidal.config import ExperimentConfig, from_dict, load_config
    from vidal.errors import ConfigError

    merged: dict[str, Any] = {}
    data = {
        "format": args.format,
        "annotations": args.annotations,
        "videos": args.videos,
        "split_file": args.split_file,
    }
    for key, value in [("data", data), *overrides.items()]:
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if v is not None}
            if value:  # sections merge key by key: --train-split keeps --format and --annotations
                merged[key] = {**merged.get(key, {}), **value}
        elif value is not None:
            merged[key] = value
    if args.config:
        return load_config(args.config, merged)
    if args.format is None and (args.annotations or args.videos or args.split_file):
        raise ConfigError(
            "give --format (or --config) with --annotations, --videos or --split-file"
        )
    return from_dict(ExperimentConfig, {"name": name, **merged}, where="command line")


def load_data(data: Any, split: str | None) -> Any:
    """The videos of split ``split`` (``None``: all) of the dataset a :class:`DataConfig` names.

    A dataset without any split gives all its videos for any split name, with a note on
    stderr; an unknown split of a dataset that has splits is a :class:`ConfigError`.
    """
    from vidal.config import ExperimentConfig
    from vidal.data import VideoDataset, load_dataset
    from vidal.errors import ConfigError
    from vidal.experiment import load_experiment_data, name_splits_from_file

    if data.format == "synthetic":
        train, test = load_experiment_data(ExperimentConfig(data=data))
        full = VideoDataset(
            list(train.class_names),
            [*train.videos, *test.videos],
            root=train.root,
            splits={data.train_split: train.video_ids, data.test_split: test.video_ids},
        )
    else:
        if data.annotations is None and data.format != "frames":
            raise ConfigError(
                f"--annotations (data.annotations) is required for format {data.format!r}"
            )
        full = load_dataset(
            data.format, data.annotations, videos=data.videos, split_file=data.split_file
        )
        if data.split_file is not None:
            name_splits_from_file(full, data.split_file)
    if split is None:
        return full
    if split in full.splits:
        out = full.split(split)
        out.splits = {split: out.video_ids}
        return out
    if not full.splits:
        print(
            f"vidal: note: the dataset defines no splits; using all {len(full)} videos as {split!r}",
            file=sys.stderr,
        )
        return full
    raise ConfigError(f"the dataset has no split {split!r}; known splits: {sorted(full.splits)}")


def checkpoint_meta(path: str | os.PathLike) -> dict:
    """The ``extra`` dict ``vidal train`` stores in a checkpoint (class names, clip size...);
    empty for checkpoints written elsewhere (e.g. by ``vidal run``)."""
    import torch

    from vidal.errors import VidalError

    path = Path(path)
    if not path.is_file():
        raise VidalError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as e:
        raise VidalError(f"{path}: cannot read checkpoint: {e}") from e
    extra = state.get("extra") if isinstance(state, dict) else None
    return dict(extra) if isinstance(extra, dict) else {}


def check_pool_matches(pool: Any, dataset: Any, pool_path: str | os.PathLike) -> None:
    """Raise :class:`ConfigError` unless ``pool`` covers exactly ``dataset``'s videos and frames."""
    from vidal.errors import ConfigError

    extra = [v for v in pool.num_frames if v not in dataset]
    missing = [v.video_id for v in dataset if v.video_id not in pool.num_frames]
    if extra or missing:
        raise ConfigError(
            f"{pool_path}: the pool and the dataset hold different videos "
            f"({len(extra)} only in the pool, e.g. {extra[:3]}; {len(missing)} only in the dataset, "
            f"e.g. {missing[:3]}); give the same videos and split the pool was made for"
        )
    for v in dataset:
        if pool.num_frames[v.video_id] != v.num_frames:
            raise ConfigError(
                f"{pool_path}: video {v.video_id!r} has {pool.num_frames[v.video_id]} frames in the "
                f"pool but {v.num_frames} in the dataset"
            )


# --------------------------------------------------------------------------- the command
def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the action detector on a dataset (config file or flags)",
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
    p.add_argument("--loss", help="masking, interpolation, mgw or stew (default: mgw)")
    p.add_argument("--steps", type=int, help="optimisation steps (default: 150)")
    p.add_argument("--batch-size", type=int, help="clips per step (default: 8)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 5e-4)")
    p.add_argument(
        "--sigma",
        type=float,
        help="MGW / STeW Gaussian width in frames around each labeled frame (default: 1.3)",
    )
    p.add_argument(
        "--cluster-weight",
        type=float,
        help="deep-clustering loss weight, 0 disables (default: 0.1)",
    )
    p.add_argument(
        "--pos-weight",
        type=float,
        help="weight of the foreground term of the localization BCE (default: 1)",
    )
    p.add_argument(
        "--size", type=int, nargs=2, metavar=("H", "W"), help="input size (default: 64 64)"
    )
    p.add_argument("--clip-len", type=int, help="frames per clip (default: 8)")
    p.add_argument("--preset", choices=["small", "full"], help="model size (default: small)")
    p.add_argument("--i3d-weights", help="local pytorch-i3d checkpoint to initialise the encoder")
    p.add_argument("--weights", help="a vidal checkpoint to start from (fine-tune)")
    p.add_argument(
        "--labeled-fraction",
        type=float,
        default=None,
        help="fraction of frames labeled, drawn at random with --seed (default: 1.0, every frame)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from OUT/checkpoint.pt and OUT/pool.json"
    )
    p.add_argument("--device", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--seed", type=int, help="seed (default: the config's first seed, 0)")
    p.add_argument("--out", help="output folder (default: the config's out, else runs/train)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


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
        pool = LabelPool.load(args.pool)
        check_pool_matches(pool, train_set, args.pool)
        return pool
    if args.resume and (out / "pool.json").is_file():
        if args.labeled_fraction is not None:
            print(f"vidal train: --resume keeps the labels of {out / 'pool.json'}", file=sys.stderr)
        pool = LabelPool.load(out / "pool.json")
        check_pool_matches(pool, train_set, out / "pool.json")
        return pool
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


def run(args: argparse.Namespace) -> int:
    from vidal.config import to_dict
    from vidal.data import load_dataset
    from vidal.errors import ConfigError, VidalError
    from vidal.experiment import build_task
    from vidal.train.interrupt import TrainingInterrupted

    t0 = time.perf_counter()
    if args.labels and not args.pool:
        raise ConfigError("--labels needs --pool (the pool says which frames the person labeled)")
    size = list(args.size) if args.size else None
    cfg = config_from_args(
        args,
        {
            "data": {"train_split": args.train_split},
            "model": {
                "preset": args.preset,
                "clip_len": args.clip_len,
                "size": size,
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
    if cfg.task != "action":
        raise ConfigError(
            f"vidal train trains the action detector; task {cfg.task!r} is not supported"
        )
    out = Path(os.path.expanduser(cfg.out or "runs/train"))
    seed = int(cfg.seeds[0]) if cfg.seeds else 0
    if args.labels:
        train_set = load_dataset("vidal", args.labels)
        source: dict[str, Any] = {"labels": str(Path(args.labels).resolve())}
    else:
        train_set = load_data(cfg.data, cfg.data.train_split)
        source = {**to_dict(cfg.data), "split": cfg.data.train_split}
    if train_set.num_classes < 1:
        raise ConfigError(
            "the dataset has no classes to train on (format 'frames' has no annotations): label "
            "frames with `vidal select` and `vidal label`, then train with --labels and --pool"
        )
    task = build_task(cfg, train_set, train_set, progress=not args.no_progress)
    pool = _train_pool(args, train_set, out, seed)
    ckpt = out / "checkpoint.pt"
    steps_before = 0
    if args.resume:
        if not ckpt.is_file():
            raise VidalError(f"--resume: no checkpoint at {ckpt} (train once without --resume)")
        model = task.load_checkpoint(ckpt)
        steps_before = int(checkpoint_meta(ckpt).get("steps", 0))
    elif cfg.model.weights:
        model = task.load_checkpoint(Path(cfg.model.weights))
    else:
        model = task.build_model(seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    pool.save(out / "pool.json")
    print(
        f"vidal train: {len(train_set)} videos, {pool.num_labeled} of {pool.total_frames} frames "
        f"labeled ({100 * pool.fraction_labeled:.1f}%), {cfg.train.steps} steps of {cfg.train.loss} "
        f"on {task.device}" + (f", resuming after {steps_before} steps" if args.resume else ""),
        file=sys.stderr,
    )
    # a checkpoint with its train state continues exactly (Adam moments, random states);
    # an older one restarts Adam and draws new clips (the sampler's seed moves on)
    exact = bool(args.resume and model.train_state is not None)
    try:
        stats = task.train(model, pool, seed=seed if exact else seed + steps_before, resume=exact)
    except TrainingInterrupted as stop:
        _save(args, cfg, model, train_set, pool, source, t0, steps_before, stop.steps_done, exact)
        print(
            f"vidal train: interrupted after {stop.steps_done} of {stop.steps} steps; the "
            f"checkpoint with its exact train state is in {ckpt}; continue with the same "
            f"command and --resume --steps {stop.steps - stop.steps_done}",
            file=sys.stderr,
        )
        return 130
    _save(args, cfg, model, train_set, pool, source, t0, steps_before, stats["steps"], exact, stats)
    print(f"loss {stats.get('loss')} after {steps_before + stats['steps']} steps")
    print(f"checkpoint: {ckpt}\nreport:     {out / 'train.json'}")
    return 0


def _save(
    args: argparse.Namespace,
    cfg: Any,
    model: Any,
    train_set: Any,
    pool: Any,
    source: dict,
    t0: float,
    steps_before: int,
    steps_done: int,
    exact: bool,
    stats: dict | None = None,
) -> None:
    """Write ``OUT/checkpoint.pt`` (with the exact train state) and ``OUT/train.json``."""
    from vidal._io import atomic_write_json
    from vidal.config import to_dict
    from vidal.train.action import save_action_checkpoint

    out = Path(os.path.expanduser(cfg.out or "runs/train"))
    ckpt = out / "checkpoint.pt"
    steps_total = steps_before + steps_done
    meta = {
        "class_names": list(train_set.class_names),
        "clip_len": int(cfg.model.clip_len),
        "size": [int(s) for s in cfg.model.size],
        "loss": cfg.train.loss,
        "steps": steps_total,
        "labeled_frames": pool.num_labeled,
        "seed": int(cfg.seeds[0]) if cfg.seeds else 0,
    }
    save_action_checkpoint(model, ckpt, extra=meta, train_state=True)
    report = {
        "config": to_dict(cfg),
        "data": source,
        "videos": len(train_set),
        "frames": pool.total_frames,
        "labeled_frames": pool.num_labeled,
        "labeled_fraction": pool.fraction_labeled,
        "train": stats or {"steps": steps_done, "interrupted": True},
        "steps_total": steps_total,
        "resumed_from_steps": steps_before if args.resume else None,
        "resumed_exactly": exact if args.resume else None,
        "device": str(next(model.parameters()).device),
        "seconds": round(time.perf_counter() - t0, 2),
        "checkpoint": str(ckpt),
    }
    atomic_write_json(out / "train.json", report)
