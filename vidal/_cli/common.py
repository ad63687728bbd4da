"""What several commands share: flag groups defined once, the config they build, checkpoints.

Every command that reads a dataset takes the same data flags (:func:`add_data_args`) and
builds an :class:`~vidal.config.ExperimentConfig` from ``--config`` and its flags
(:func:`config_from_args`); the commands that read a checkpoint learn its task and model
settings from it (:func:`config_for_checkpoint`). The commands that look at a dataset
without an experiment (``info``, ``show``) name it with :func:`add_dataset_args` and read it
with :func:`dataset_from_args`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

__all__ = [
    "add_data_args",
    "add_device_args",
    "add_model_size_args",
    "add_dataset_args",
    "dataset_from_args",
    "config_from_args",
    "config_for_checkpoint",
    "check_pool_matches",
    "load_pool",
    "writable_dir",
    "quote",
    "add_detector_args",
    "frozen_detector",
]


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


def add_device_args(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--no-progress``."""
    p.add_argument("--device", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_model_size_args(p: argparse.ArgumentParser, *, default: str = "the checkpoint's") -> None:
    """``--size`` and ``--clip-len``, whose values default to ``default`` (in the help)."""
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help=f"model input size: H W (action) or MIN MAX (detection); default: {default}",
    )
    p.add_argument("--clip-len", type=int, help=f"frames per clip (action; default: {default})")


def add_dataset_args(
    p: argparse.ArgumentParser, *, split_help: str, required: bool = True, when: str = ""
) -> None:
    """The flags naming one dataset on disk, without an experiment config: ``--format`` and
    ``--annotations`` (``required``), ``--videos``, ``--split`` and ``--split-file``; ``when``
    prefixes each help (e.g. ``"first use only: "``)."""
    from vidal.data import FORMATS

    p.add_argument(
        "--format", required=required, choices=sorted(FORMATS), help=f"{when}annotation format"
    )
    p.add_argument(
        "--annotations", required=required, help=f"{when}annotation file or dataset root"
    )
    p.add_argument(
        "--videos", default=None, help=f"{when}folder of the videos (formats that keep them apart)"
    )
    p.add_argument("--split", default=None, help=f"{when}{split_help}")
    p.add_argument("--split-file", default=None, help=f"{when}file listing the split's video ids")


def dataset_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~vidal.data.VideoDataset` the flags of :func:`add_dataset_args` name."""
    from vidal.data import load_dataset

    return load_dataset(
        args.format,
        args.annotations,
        videos=args.videos,
        split=args.split,
        split_file=args.split_file,
    )


def config_from_args(args: argparse.Namespace, overrides: dict[str, Any], *, name: str) -> Any:
    """An :class:`~vidal.config.ExperimentConfig` from ``--config`` (or the defaults) with the
    data flags of :func:`add_data_args` and ``overrides`` (nested dicts, None values dropped)
    merged in, section by section."""
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


def config_for_checkpoint(cfg: Any, path: str | os.PathLike, args: argparse.Namespace) -> Any:
    """``cfg`` set to the checkpoint's task and model settings; ``--size`` / ``--clip-len`` win.

    Raises:
        VidalError: the file is not a vidal checkpoint.
        ConfigError: ``--config`` names another task than the checkpoint's.
    """
    from vidal.errors import ConfigError
    from vidal.tasks import checkpoint_task, family

    task = checkpoint_task(path)
    if args.config and cfg.task != task:
        raise ConfigError(
            f"{path} is a {task} checkpoint but {args.config} describes task {cfg.task!r}"
        )
    cfg = family(task).from_checkpoint(dataclasses.replace(cfg, task=task), path)
    model = cfg.model
    if getattr(args, "size", None):
        model = dataclasses.replace(model, size=tuple(args.size))
    if getattr(args, "clip_len", None):
        model = dataclasses.replace(model, clip_len=args.clip_len)
    return dataclasses.replace(cfg, model=model)


def load_pool(path: str | os.PathLike, dataset: Any) -> Any:
    """The :class:`~vidal.pool.LabelPool` at ``path``, checked against ``dataset``
    (:func:`check_pool_matches`)."""
    from vidal.pool import LabelPool

    pool = LabelPool.load(path)
    check_pool_matches(pool, dataset, path)
    return pool


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


def writable_dir(path: str | os.PathLike) -> Path:
    """``path`` created if needed; a folder that cannot be written is a one-line error.

    Raises:
        VidalError: naming the folder and why.
    """
    from vidal.errors import VidalError

    out = Path(os.path.expanduser(path))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VidalError(f"{out}: cannot create the output folder: {e.strerror or e}") from e
    if not os.access(out, os.W_OK | os.X_OK):
        raise VidalError(f"{out}: the output folder is not writable")
    return out


def quote(path: str | os.PathLike) -> str:
    """``path`` as a shell word, for the ``next:`` hints a user copies."""
    import shlex

    return shlex.quote(str(path))


def add_detector_args(p: argparse.ArgumentParser) -> None:
    """``--detector``, ``--detections`` and ``--class-map``: a detector that is not trained here."""
    p.add_argument(
        "--detector",
        metavar="darknet:CFG:WEIGHTS",
        help="a frozen pretrained detector instead of a checkpoint, e.g. "
        "darknet:yolo-fastest-1.1-xl.cfg:yolo-fastest-1.1-xl.weights (COCO classes)",
    )
    p.add_argument(
        "--detections",
        metavar="FILE",
        help="your own detections instead of a model: a COCO results JSON (entries with "
        "video_id and 0-based frame), or a folder of MOT det.txt files (<video id>.txt)",
    )
    p.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="CLASS=A,B",
        help="--detector: which detector classes count as a class of yours (repeatable), e.g. "
        "car=car,truck,bus; default: classes of the same name",
    )
    p.add_argument(
        "--score-thresh",
        type=float,
        default=0.05,
        help="--detector: detections scoring at or below this are dropped (default: 0.05)",
    )


def frozen_detector(args: argparse.Namespace, dataset: Any, device: Any) -> Any:
    """The detector ``--detector`` or ``--detections`` names, for ``dataset``'s classes.

    Returns:
        A :class:`~vidal.models.detectors.FrameDetector`, or ``None`` when neither flag is given.

    Raises:
        ConfigError: both flags, a malformed ``--detector`` or ``--class-map``.
    """
    from vidal.errors import ConfigError

    if args.detector and args.detections:
        raise ConfigError("give --detector or --detections, not both")
    names = list(dataset.class_names)
    if args.detector:
        kind, _, rest = args.detector.partition(":")
        cfg, _, weights = rest.partition(":")
        if kind != "darknet" or not cfg or not weights:
            raise ConfigError(f"--detector must read darknet:CFG:WEIGHTS, got {args.detector!r}")
        from vidal.models.darknet import load_darknet_detector

        return load_darknet_detector(
            cfg,
            weights,
            class_map=_class_map(args.class_map, names),
            score_thresh=args.score_thresh,
            device=device,
        )
    if args.detections:
        return _detections_file(Path(args.detections), dataset)
    return None


def _class_map(pairs: list[str], names: list[str]) -> dict[str, list[str]]:
    """``["car=car,truck"]`` over the dataset's classes (each class maps to its own name)."""
    from vidal.errors import ConfigError

    mapping = {name: [name] for name in names}
    for pair in pairs:
        target, sep, sources = pair.partition("=")
        if not sep or target not in mapping or not sources.strip():
            raise ConfigError(
                f"--class-map must read CLASS=A,B with CLASS one of {names}, got {pair!r}"
            )
        mapping[target] = [s.strip() for s in sources.split(",") if s.strip()]
    return mapping


def _detections_file(path: Path, dataset: Any) -> Any:
    """A COCO results JSON, or a folder of ``<video id>.txt`` MOT files, for ``dataset``."""
    from vidal.errors import ConfigError
    from vidal.models.detection_file import read_coco_results, read_mot_detections

    counts = {v.video_id: v.num_frames for v in dataset}
    if path.is_dir():
        files = {v: path / f"{v}.txt" for v in counts if (path / f"{v}.txt").is_file()}
        if not files:
            raise ConfigError(f"{path}: no MOT detections file <video id>.txt for any video")
        return read_mot_detections(files, class_names=dataset.class_names, frame_counts=counts)
    return read_coco_results(path, class_names=dataset.class_names, frame_counts=counts)
