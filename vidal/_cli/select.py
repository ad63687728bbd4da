"""``vidal select``: one real active-learning round on your own videos.

Scores every unlabeled frame with a trained detector (MC-dropout uncertainty by default),
lets a selector choose what to label under a budget, and writes into ``--out``:

- ``selection.json``: the chosen frames (and videos), the score each had when chosen, and
  how they were chosen (selector, budget, checkpoint, data, class names);
- ``scores.npz``: every frame's score (:func:`vidal.loop.load_scores` reads it);
- ``tasks.json``, ``cvat_tasks.xml`` and ``images/``: labeling tasks. Create a CVAT task
  from ``images/``, draw boxes, export "CVAT for images 1.1" as ``annotations.xml`` and
  import it with ``vidal label``.

The pool (``--pool``) holds the frames already labeled; they are never selected. It is
created empty when the file does not exist (``OUT/pool.json`` without ``--pool``).

Examples:
    vidal select --checkpoint runs/train/checkpoint.pt --videos my_videos/ --frames 100 --out round1/
    vidal select --checkpoint ck.pt --videos my_videos/ --pool work/pool.json --cost 400 --out round2/
    vidal select --checkpoint ck.pt --format vidal --annotations a.json --split train \\
        --selector claus --frames 50 --video-labels 5 --out round1/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vidal._cli.train import (
    add_data_args,
    check_pool_matches,
    checkpoint_meta,
    config_from_args,
    load_data,
)

__all__ = ["add_parser", "run", "check_budget"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "select",
        help="score your videos with a checkpoint, choose frames to label, export labeling tasks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint written by `vidal train`")
    add_data_args(
        p,
        format_help="dataset format (default: 'frames' when only --videos is given, else the config's)",
    )
    p.add_argument("--split", help="select only among this split's videos (default: all videos)")
    p.add_argument(
        "--pool", help="label pool JSON of the frames already labeled (created if absent)"
    )
    p.add_argument("--selector", help="selector name (default: the config's, apu)")
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
        help="videos to give a video-level class label (hybrid selection: claus)",
    )
    p.add_argument(
        "--scorer", help="uncertainty, entropy or bald (default: the config's, uncertainty)"
    )
    p.add_argument("--passes", type=int, help="MC-dropout passes R (default: the config's, 8)")
    p.add_argument(
        "--stride", type=int, help="frames between scoring clips (default: the config's, 4)"
    )
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="model input size (default: the checkpoint's)",
    )
    p.add_argument("--clip-len", type=int, help="frames per clip (default: the checkpoint's)")
    p.add_argument("--device", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--out", required=True, help="folder for the selection and the labeling tasks")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a round already in --out (its selection, scores and tasks; a pool there is kept)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
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


#: what a round writes into ``--out`` (a pool kept there is not part of it)
ROUND_FILES = ("selection.json", "scores.npz", "tasks.json", "cvat_tasks.xml", "video_labels.csv")


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


def _without(pool: Any, skip: set[str]) -> Any:
    """A copy of ``pool`` without the videos in ``skip`` (labels, costs and spent kept)."""
    from vidal.pool import LabelPool

    state = pool.state_dict()
    for key in ("num_frames", "labeled", "frame_costs"):
        state[key] = {k: v for k, v in state[key].items() if k not in skip}
    state["labeled_videos"] = {k: v for k, v in state["labeled_videos"].items() if k not in skip}
    return LabelPool.from_state_dict(state)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vidal._io import atomic_write_json
    from vidal.config import to_dict
    from vidal.data import VideoDataset
    from vidal.data.store import FrameStore
    from vidal.errors import ConfigError, VidalError
    from vidal.experiment import choose_device
    from vidal.loop import save_scores
    from vidal.oracle import export_tasks
    from vidal.pool import Budget, LabelPool
    from vidal.select import get_selector
    from vidal.tasks import ActionTask
    from vidal.train.action import ActionTrainConfig, load_action_checkpoint

    if args.format is None and args.config is None and args.annotations is None and args.videos:
        args.format = "frames"
    cfg = config_from_args(args, {"device": args.device}, name="select")
    out = Path(args.out)
    if not args.overwrite:
        check_out(out, overwrite=False)  # before any work

    # cheap checks first: selector name, data, pool, budget; the model comes last
    name = args.selector or cfg.select.selector
    options = dict(cfg.select.options) if name == cfg.select.selector else {}
    options |= _options(args.option)
    selector = get_selector(name, **options)
    needs = {r for r in getattr(selector, "requires", ()) if r.startswith("extra:")}
    if needs:
        raise ConfigError(
            f"selector {name!r} needs {sorted(needs)} from the object-detection scorer; "
            "vidal select scores with the action detector (frames, features)"
        )
    dataset = load_data(cfg.data, args.split)
    pool_path = Path(args.pool) if args.pool else out / "pool.json"
    new_pool = not pool_path.is_file()
    if new_pool:
        pool = LabelPool.from_dataset(dataset)
    else:
        pool = LabelPool.load(pool_path)
        check_pool_matches(pool, dataset, pool_path)
    budget = Budget(frames=args.frames, cost=args.cost, videos=args.video_labels)
    check_budget(pool, budget)
    if new_pool:
        from vidal._io import locked

        with locked(pool_path):  # `vidal label` may be creating it at this moment
            if not pool_path.is_file():
                pool.save(pool_path)
        print(f"vidal select: new empty label pool {pool_path}", file=sys.stderr)
    if budget.frames is None and budget.cost is None:
        print(
            "vidal select: warning: no --frames or --cost: the selector may take every unlabeled "
            "frame (of the chosen videos)",
            file=sys.stderr,
        )

    meta = checkpoint_meta(args.checkpoint)
    model = load_action_checkpoint(
        args.checkpoint, num_classes=dataset.num_classes if dataset.num_classes else None
    )
    k = model.config.num_classes
    class_names = list(dataset.class_names) or list(meta.get("class_names") or [])
    if len(class_names) != k:
        class_names = [f"class_{i}" for i in range(k)]
        print(
            f"vidal select: the checkpoint names no classes; using {class_names[0]}..",
            file=sys.stderr,
        )
    clip_len = args.clip_len or int(meta.get("clip_len", cfg.model.clip_len))
    size = tuple(int(s) for s in (args.size or meta.get("size", cfg.model.size)))
    scorer = args.scorer or cfg.score.scorer
    device = choose_device(cfg.device)
    task = ActionTask(
        dataset,
        dataset,
        model_config=model.config,
        train_config=ActionTrainConfig(clip_len=clip_len, size=(size[0], size[1])),
        scorer=scorer,
        scorer_options={"tau": cfg.score.tau} if scorer == "uncertainty" else {},
        passes=args.passes or cfg.score.passes,
        score_stride=args.stride or cfg.score.stride,
        device=device,
        progress=not args.no_progress,
    )
    print(
        f"vidal select: scoring {pool.num_unlabeled} unlabeled frames of {len(dataset)} videos "
        f"on {device} ({task.passes} passes)",
        file=sys.stderr,
    )
    scores = task.score(model.to(device), pool, seed=args.seed)
    if args.overwrite:  # only now that the new round can be written
        check_out(out, overwrite=True)
    save_scores(out / "scores.npz", scores)
    skipped = dict(getattr(scores, "skipped", {}) or {})
    for vid, why in skipped.items():
        print(f"vidal select: warning: skipping video {vid}: {why}", file=sys.stderr)
    candidates = _without(pool, set(skipped)) if skipped else pool
    selection = selector(scores, candidates, budget, np.random.default_rng(args.seed))
    for vid, frames in selection.frames.items():
        if len(frames) and pool.mask(vid)[np.asarray(frames)].any():
            raise VidalError(f"selector {name!r} chose a frame of {vid!r} that is labeled already")

    record = {
        "selector": name,
        "options": options,
        "budget": {"frames": args.frames, "cost": args.cost, "videos": args.video_labels},
        "seed": args.seed,
        "checkpoint": str(Path(args.checkpoint).resolve()),
        "pool": str(pool_path.resolve()),
        "data": {**_absolute(to_dict(cfg.data)), "split": args.split},
        "class_names": class_names,
        "scorer": scorer,
        "passes": task.passes,
        "selected_frames": selection.num_frames,
        "selected_cost": selection.cost(pool),
        "skipped": skipped,
        **selection.to_json(),
    }
    atomic_write_json(out / "selection.json", record)
    named = VideoDataset(class_names, dataset.videos, root=dataset.root)
    store = FrameStore(dataset, size=None, max_bytes=256 << 20)
    tasks = export_tasks(selection, named, out, read_frames=store.get)
    print(
        f"selected {selection.num_frames} frames in {len(selection.frames)} videos "
        f"(cost {record['selected_cost']:g})"
        + (f" and {len(selection.videos)} videos for a class label" if selection.videos else "")
    )
    print(f"selection: {out / 'selection.json'}\ntasks:     {tasks} (images in {out / 'images'})")
    videos = out / "video_labels.csv"
    print(
        f"next: label {out / 'images'} in CVAT (task from {out / 'cvat_tasks.xml'} labels), export "
        f"'CVAT for images 1.1' as {out / 'annotations.xml'}"
        + (f", write a class name per video in {videos}" if selection.videos else "")
        + f", then\n  vidal label --tasks {tasks} --cvat {out / 'annotations.xml'} "
        + (f"--video-labels {videos} " if selection.videos else "")
        + f"--pool {pool_path} --labels LABELS.json"
    )
    return 0


def _absolute(data: dict) -> dict:
    """The data section with its paths made absolute (so `vidal label` finds them later)."""
    out = dict(data)
    for key in ("annotations", "videos", "split_file"):
        if out.get(key):
            out[key] = str(Path(out[key]).expanduser().resolve())
    return out
