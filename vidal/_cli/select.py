"""``vidal select``: one real active-learning round on your own videos.

Scores every unlabeled frame with a trained model (for the action detector MC-dropout
uncertainty by default; for the frame detector temporal coherence, entropy, margin and
least confidence), lets a selector choose what to label under a budget, and writes into
``--out``:

- ``selection.json``: the chosen frames (and videos), the score each had when chosen, and
  how they were chosen (selector, budget, checkpoint, data, class names);
- ``scores.npz``: every frame's score (:func:`vidal.loop.load_scores` reads it);
- ``tasks.json``, ``cvat_tasks.xml`` and ``images/``: labeling tasks. Create a CVAT task
  from ``images/``, draw boxes, export "CVAT for images 1.1" as ``annotations.xml`` and
  import it with ``vidal label``.

A first round needs no model: selectors that read no scores (random, equidistant,
random_spaced) run without ``--checkpoint``. The pool (``--pool``) holds the frames already
labeled; they are never selected. It is created empty when the file does not exist
(``OUT/pool.json`` without ``--pool``). An ``--out`` that holds a round is refused unless
``--overwrite`` is given.

A detection round can also take a frozen pretrained detector (``--detector
darknet:CFG:WEIGHTS``, e.g. the COCO Yolo-Fastest models, with ``--class-map`` to name which
of its classes count as yours) or your own detections (``--detections``: a COCO results JSON
or a folder of MOT ``det.txt`` files); every detection selector (tc, entropy_det, margin_det,
least_confidence_det, random_tr_det) then works on them.

``torchrun --nproc_per_node N -m vidal select ...`` scores with N processes, each decoding
and scoring its share of the videos; rank 0 selects and writes the round.

Examples:
    vidal select --videos my_videos/ --selector equidistant --frames 100 \\
        --classes person car --out round1/                                   # first round
    vidal select --detector darknet:yolo.cfg:yolo.weights --videos road/ --classes car \\
        --class-map car=car,truck,bus --selector tc --frames 50 --out round1/
    vidal select --checkpoint runs/train/checkpoint.pt --videos my_videos/ --frames 100 --out round2/
    vidal select --checkpoint ck.pt --videos my_videos/ --pool work/pool.json --cost 400 --out round3/
    vidal select --checkpoint ck.pt --format vidal --annotations a.json --split train \\
        --selector claus --frames 50 --video-labels 5 --out round1/
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from vidal._cli.common import (
    add_data_args,
    add_detector_args,
    add_device_args,
    add_model_size_args,
    config_for_checkpoint,
    config_from_args,
    load_pool,
    quote,
    writable_dir,
)

__all__ = ["add_parser", "run", "check_budget", "check_out", "ROUND_FILES"]

#: what a round writes into ``--out`` (a pool kept there is not part of it)
ROUND_FILES = ("selection.json", "scores.npz", "tasks.json", "cvat_tasks.xml", "video_labels.csv")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from vidal.select import SELECTORS

    p = sub.add_parser(
        "select",
        help="score your videos, choose frames to label, export labeling tasks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--checkpoint",
        help="checkpoint written by `vidal train` (not needed by random, equidistant, random_spaced)",
    )
    add_detector_args(p)
    add_data_args(
        p,
        format_help="dataset format (default: 'frames' when only --videos is given, else the config's)",
    )
    p.add_argument("--split", help="select only among this split's videos (default: all videos)")
    p.add_argument(
        "--pool", help="label pool JSON of the frames already labeled (created if absent)"
    )
    p.add_argument(
        "--selector",
        help=f"selector name (default: the config's, apu); one of: {', '.join(sorted(SELECTORS))}",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="selector option (repeatable; VALUE read as JSON, else a string), e.g. --option lam=0.7",
    )
    p.add_argument("--frames", type=int, help="frames to label")
    p.add_argument(
        "--cost", type=float, help="annotation cost to spend (clicks: actors x 2 per frame)"
    )
    p.add_argument(
        "--video-labels",
        type=int,
        help="videos to give a video-level class label (hybrid selection: claus, video)",
    )
    p.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="class names for the labeling tasks (default: the dataset's or the checkpoint's)",
    )
    p.add_argument("--classes-file", help="a text file with one class name per line")
    p.add_argument("--scorer", help="action: uncertainty, entropy or bald (default: uncertainty)")
    p.add_argument("--passes", type=int, help="MC-dropout passes R (default: the config's, 8)")
    p.add_argument(
        "--stride", type=int, help="frames between scoring clips (default: the config's, 4)"
    )
    add_model_size_args(p)
    add_device_args(p)
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--out", required=True, help="folder for the selection and the labeling tasks")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a round already in --out (its selection, scores and tasks; a pool there is kept)",
    )
    p.set_defaults(func=run)


def _options(pairs: list[str]) -> dict[str, Any]:
    """``["lam=0.7", "normalize=global"]`` -> ``{"lam": 0.7, "normalize": "global"}``."""
    import json

    from vidal.errors import ConfigError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option must read KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def check_budget(pool: Any, budget: Any) -> None:
    """Raise :class:`BudgetError` when ``budget`` asks for more than the pool has unlabeled."""
    from vidal.errors import BudgetError, ConfigError

    if budget.frames is None and budget.cost is None and budget.videos is None:
        raise ConfigError("give a budget: --frames N, --cost C (and --video-labels N for claus)")
    for name in ("frames", "cost", "videos"):
        if getattr(budget, name) == 0:
            raise BudgetError(f"a budget of 0 {name} selects nothing; give a positive number")
    if budget.frames is not None:
        pool.check_budget(budget.frames)
    if budget.cost is not None:
        left = float(sum(pool.frame_costs(v)[~pool.mask(v)].sum() for v in pool.video_ids))
        if budget.cost > left + 1e-9:
            raise BudgetError(
                f"budget of cost {budget.cost:g} exceeds the cost {left:g} of the "
                f"{pool.num_unlabeled} unlabeled frames in the pool"
            )
    if budget.videos is not None:
        left_videos = len([v for v in pool.video_ids if v not in pool.labeled_videos])
        if budget.videos > left_videos:
            raise BudgetError(
                f"budget of {budget.videos} video labels exceeds the {left_videos} videos without one"
            )


def check_out(out: Path, *, overwrite: bool) -> None:
    """Refuse an ``--out`` that holds a round, or with ``overwrite`` remove that round's files.

    A round's tasks are what a person labels and ``vidal label`` imports; writing another
    round over them would silently mix old images with new tasks.
    """
    from vidal.errors import VidalError

    found = [n for n in ROUND_FILES if (out / n).exists()]
    if (out / "images").is_dir() and any((out / "images").iterdir()):
        found.append("images/")
    if not found:
        return
    if not overwrite:
        raise VidalError(
            f"{out} already holds a selection round ({', '.join(found)}); choose another --out "
            "or pass --overwrite to replace it"
        )
    import shutil

    for name in ROUND_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "images", ignore_errors=True)


# --------------------------------------------------------------------------- parse
def _selector(args: argparse.Namespace, cfg: Any) -> tuple[str, dict, Any]:
    """The selector's name, options and object; a bad name or option fails here."""
    from vidal.errors import ConfigError
    from vidal.select import get_selector

    name = args.selector or cfg.select.selector
    options = dict(cfg.select.options) if name == cfg.select.selector else {}
    options |= _options(args.option)
    selector = get_selector(name, **options)
    if args.video_labels and not getattr(selector, "picks_videos", False):
        raise ConfigError(
            f"--video-labels: selector {name!r} chooses no videos for a class label; "
            "use claus or video, or drop --video-labels"
        )
    has_model = args.checkpoint or args.detector or args.detections
    if not has_model and getattr(selector, "requires", None):
        raise ConfigError(
            f"selector {name!r} ranks frames by a model's scores: give --checkpoint, --detector "
            "or --detections (a first round without a model can use random, equidistant or "
            "random_spaced)"
        )
    return name, options, selector


def _config(args: argparse.Namespace) -> Any:
    """The config from the flags, set to the checkpoint's task and model when there is one."""
    if args.format is None and args.config is None and args.annotations is None and args.videos:
        args.format = "frames"
    score = {"scorer": args.scorer, "passes": args.passes, "stride": args.stride}
    # out: detection keeps its optical-flow cache in OUT/flows unless the config names one
    overrides = {"device": args.device, "score": score, "out": args.out}
    cfg = config_from_args(args, overrides, name="select")
    if args.checkpoint and (args.detector or args.detections):
        from vidal.errors import ConfigError

        raise ConfigError("give one model: --checkpoint, --detector or --detections")
    if args.checkpoint:
        cfg = config_for_checkpoint(cfg, args.checkpoint, args)
    elif args.detector or args.detections:
        cfg = dataclasses.replace(cfg, task="detection")
    return cfg


def _class_names(args: argparse.Namespace, cfg: Any, dataset: Any) -> list[str]:
    """The label set of the tasks: --classes / --classes-file, the dataset's, the checkpoint's."""
    from vidal.errors import ConfigError

    if args.classes and args.classes_file:
        raise ConfigError("give --classes or --classes-file, not both")
    if args.classes_file:
        try:
            lines = Path(args.classes_file).read_text().splitlines()
        except OSError as e:
            raise ConfigError(f"{args.classes_file}: cannot read the class names: {e}") from e
        names = [line.strip() for line in lines if line.strip()]
    else:
        names = list(args.classes or dataset.class_names or _checkpoint_classes(args, cfg))
    if not names:
        raise ConfigError(
            "no class names for the labeling tasks: give --classes NAME ... or --classes-file"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"class names must differ, got {names}")
    return names


def _checkpoint_classes(args: argparse.Namespace, cfg: Any) -> list[str]:
    if not args.checkpoint:
        return []
    if cfg.task == "detection":
        from vidal.models.detector_checkpoint import checkpoint_class_names

        return checkpoint_class_names(args.checkpoint)
    from vidal.models.action import action_checkpoint_meta

    return list(action_checkpoint_meta(args.checkpoint).get("class_names") or [])


def _pool(args: argparse.Namespace, dataset: Any, out: Path) -> tuple[Any, Path, bool]:
    """The label pool (read, or new and empty), its path and whether it is new."""
    from vidal.pool import LabelPool

    pool_path = Path(args.pool) if args.pool else out / "pool.json"
    if not pool_path.is_file():
        return LabelPool.from_dataset(dataset), pool_path, True
    return load_pool(pool_path, dataset), pool_path, False


# --------------------------------------------------------------------------- score and select
def _scores(
    args: argparse.Namespace, cfg: Any, dataset: Any, pool: Any, selector: Any, world: Any
) -> Any:
    """Every unlabeled frame's scores, complete on rank 0 (or, for a score-free selector,
    only the unreadable videos)."""
    from vidal._cli.common import frozen_detector
    from vidal.data.check import undecodable
    from vidal.data.store import FrameStore
    from vidal.select.base import FrameScores
    from vidal.tasks import build_task

    if not getattr(selector, "requires", frozenset()):
        if not world.is_main:
            return FrameScores()
        store = FrameStore(dataset, max_bytes=64 << 20)
        todo = [v for v in pool.video_ids if not pool.mask(v).all()]
        return FrameScores(skipped=undecodable(todo, lambda v: store.get(v, [0])))
    task = build_task(cfg, dataset, dataset, progress=not args.no_progress, world=world)
    model = frozen_detector(args, dataset, task.device)
    if model is None:
        model = task.load_checkpoint(Path(args.checkpoint))
    if world.is_main:
        procs = f" ({world.size} processes)" if world.distributed else ""
        print(
            f"vidal select: scoring {pool.num_unlabeled} unlabeled frames of {len(dataset)} "
            f"videos on {task.device}{procs}",
            file=sys.stderr,
        )
    return task.score(model, pool, seed=args.seed)


def _check_selector_input(name: str, selector: Any, scores: Any, task: str) -> None:
    from vidal.errors import ConfigError

    missing = [
        r
        for r in getattr(selector, "requires", ())
        if (r.startswith("extra:") and r[6:] not in scores.extra)
        or (r == "features" and not scores.features)
    ]
    if missing:
        raise ConfigError(
            f"selector {name!r} needs {sorted(missing)}, which the {task} model's scores "
            "do not hold; choose a selector made for this task"
        )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vidal.data import VideoDataset
    from vidal.distributed import init_world
    from vidal.errors import VidalError
    from vidal.experiment import load_data
    from vidal.loop import save_scores
    from vidal.pool import Budget

    cfg = _config(args)
    world = init_world(cfg.device)
    out = writable_dir(args.out)
    if not args.overwrite:
        check_out(out, overwrite=False)  # before any work
    name, options, selector = _selector(args, cfg)
    with world.main_first():  # rank 0 draws a synthetic dataset first
        dataset = load_data(cfg.data, args.split, progress=not args.no_progress)
    class_names = _class_names(args, cfg, dataset)
    if not dataset.class_names:  # your own videos: the classes are the checkpoint's or given
        dataset = VideoDataset(
            class_names,
            dataset.videos,
            root=dataset.root,
            splits=dataset.splits,
            unreadable=dataset.unreadable,
        )
    pool, pool_path, new_pool = _pool(args, dataset, out)
    budget = Budget(frames=args.frames, cost=args.cost, videos=args.video_labels)
    check_budget(pool, budget)
    if new_pool and world.is_main:
        _create_pool(pool, pool_path)
    scores = _scores(args, cfg, dataset, pool, selector, world)
    if not world.is_main:  # rank 0 selects and writes the round
        return 0
    _check_selector_input(name, selector, scores, cfg.task)
    for vid, why in scores.skipped.items():
        print(f"vidal select: warning: skipping video {vid}: {why}", file=sys.stderr)
    candidates = pool.without(scores.skipped) if scores.skipped else pool
    selection = selector(scores, candidates, budget, np.random.default_rng(args.seed))
    for vid, frames in selection.frames.items():
        if len(frames) and pool.mask(vid)[np.asarray(frames)].any():
            raise VidalError(f"selector {name!r} chose a frame of {vid!r} that is labeled already")
    if args.overwrite:  # only now that the new round can be written
        check_out(out, overwrite=True)
    if getattr(selector, "requires", frozenset()):
        save_scores(out / "scores.npz", scores)
    scores.skipped.update(dataset.unreadable)  # files of --videos that could not be read
    record = _record(args, cfg, name, options, class_names, pool, pool_path, selection, scores)
    _write_round(out, record, selection, dataset, class_names, pool_path)
    return 0


def _create_pool(pool: Any, pool_path: Path) -> None:
    from vidal._io import locked

    with locked(pool_path):  # `vidal label` may be creating it at this moment
        if not pool_path.is_file():
            pool.save(pool_path)
            print(f"vidal select: new empty label pool {pool_path}", file=sys.stderr)


# --------------------------------------------------------------------------- write and print
def _record(
    args: argparse.Namespace,
    cfg: Any,
    name: str,
    options: dict,
    class_names: list[str],
    pool: Any,
    pool_path: Path,
    selection: Any,
    scores: Any,
) -> dict:
    """What ``selection.json`` holds: the choice and everything that made it."""
    from vidal.config import to_dict

    return {
        "selector": name,
        "options": options,
        "budget": {"frames": args.frames, "cost": args.cost, "videos": args.video_labels},
        "seed": args.seed,
        "task": cfg.task,
        "checkpoint": str(Path(args.checkpoint).resolve()) if args.checkpoint else None,
        "detector": args.detector,
        "detections": args.detections,
        "pool": str(pool_path.resolve()),
        "data": {**_absolute(to_dict(cfg.data)), "split": args.split},
        "class_names": class_names,
        "scorer": cfg.score.scorer if args.checkpoint else None,
        "selected_frames": selection.num_frames,
        "selected_cost": selection.cost(pool),
        "skipped": dict(scores.skipped),
        **selection.to_json(),
    }


def _write_round(
    out: Path, record: dict, selection: Any, dataset: Any, class_names: list, pool_path: Path
) -> None:
    """``selection.json``, the labeling tasks and images, and what to do next."""
    from vidal._io import atomic_write_json
    from vidal.data import VideoDataset
    from vidal.data.store import FrameStore
    from vidal.oracle import export_tasks

    atomic_write_json(out / "selection.json", record)
    named = VideoDataset(class_names, dataset.videos, root=dataset.root)
    store = FrameStore(dataset, max_bytes=256 << 20)
    tasks = export_tasks(selection, named, out, read_frames=store.get)
    print(
        f"selected {selection.num_frames} frames in {len(selection.frames)} videos "
        f"(cost {record['selected_cost']:g})"
        + (f" and {len(selection.videos)} videos for a class label" if selection.videos else "")
        + (f"; {len(record['skipped'])} videos skipped" if record["skipped"] else "")
    )
    print(f"selection: {out / 'selection.json'}\ntasks:     {tasks} (images in {out / 'images'})")
    videos = out / "video_labels.csv"
    print(
        f"next: label {out / 'images'} in CVAT (task from {out / 'cvat_tasks.xml'} labels), export "
        f"'CVAT for images 1.1' as {out / 'annotations.xml'}"
        + (f", write a class name per video in {videos}" if selection.videos else "")
        + f", then\n  vidal label --tasks {quote(tasks)} --cvat {quote(out / 'annotations.xml')} "
        + (f"--video-labels {quote(videos)} " if selection.videos else "")
        + f"--pool {quote(pool_path)} --labels LABELS.json"
    )


def _absolute(data: dict) -> dict:
    """The data section with its paths made absolute (so `vidal label` finds them later)."""
    out = dict(data)
    for key in ("annotations", "videos", "split_file"):
        if out.get(key):
            out[key] = str(Path(out[key]).expanduser().resolve())
    return out
