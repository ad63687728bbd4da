"""An experiment's data: the train (pool) and test videos its config names.

The synthetic format draws (or reuses) a cached synthetic dataset; every other format reads
annotations with :func:`vidal.data.load_dataset`. :func:`load_data` is what the commands
use to read one split; :func:`load_experiment_data` gives a loop its two.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any

from vidal.data.annotations import VideoDataset
from vidal.errors import ConfigError

__all__ = ["load_data", "load_experiment_data", "name_splits_from_file", "synthetic_dataset"]


def synthetic_dataset(data: Any, *, progress: bool = True) -> Path:
    """The ``annotations.json`` of the synthetic dataset ``data`` (a DataConfig) names, drawn
    when its folder holds none or one drawn with other settings."""
    from vidal.data.synth import SynthConfig, make_dataset
    from vidal.data.synth._dataset import FORMAT_VERSION

    root = Path(os.path.expanduser(data.synth_dir))
    ann = root / "annotations.json"
    fixed = {"videos", "seed", "kind"} & set(data.synth_options)
    if fixed:
        raise ConfigError(
            f"data.synth_options: set {sorted(fixed)} with data.synth_videos/seed/kind instead"
        )
    try:
        synth = SynthConfig(
            videos=data.synth_videos,
            seed=data.synth_seed,
            kind=data.synth_kind,
            **data.synth_options,
        )
    except TypeError as e:
        raise ConfigError(f"data.synth_options: {e}") from e
    stamp = root / "synth.json"
    if ann.exists() and stamp.exists():
        try:
            saved = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            saved = {}
        # every setting and the generator's format, so an older dataset is redrawn
        if saved.get("config") == dataclasses.asdict(synth) and (
            saved.get("format_version") == FORMAT_VERSION
        ):
            return ann
    return make_dataset(root, synth, progress=progress)


def name_splits_from_file(dataset: VideoDataset, split_file: str | os.PathLike) -> None:
    """Give a dataset without ``train``/``test`` splits those two from its split file.

    A split file names one split (e.g. UCF-101-24's ``testlist01.txt``); the dataset's other
    videos form the other split. A file whose name contains "train" is the train split.
    """
    stem = Path(split_file).stem
    listed = dataset.splits.get(stem)
    if listed is None or ("train" in dataset.splits and "test" in dataset.splits):
        return
    chosen = set(listed)
    rest = [v for v in dataset.video_ids if v not in chosen]
    named, other = ("train", "test") if "train" in stem.lower() else ("test", "train")
    dataset.splits.setdefault(named, list(listed))
    dataset.splits.setdefault(other, rest)


def _read(data: Any, *, progress: bool) -> VideoDataset:
    """Every video of the dataset ``data`` (a :class:`~vidal.config.DataConfig`) names."""
    from vidal.data import load_dataset

    if data.format == "synthetic":
        return load_dataset("vidal", synthetic_dataset(data, progress=progress))
    if data.annotations is None and data.format != "frames":
        raise ConfigError(
            f"data.annotations (--annotations) is required for format {data.format!r}"
        )
    ds = load_dataset(data.format, data.annotations, videos=data.videos, split_file=data.split_file)
    if data.split_file is not None:
        name_splits_from_file(ds, data.split_file)
    return ds


def load_data(data: Any, split: str | None, *, progress: bool = True) -> VideoDataset:
    """The videos of split ``split`` (``None``: all) of the dataset ``data`` names.

    A dataset without any split gives all its videos for any split name, with a warning;
    an unknown split of a dataset that has splits is a :class:`ConfigError`.
    """
    full = _read(data, progress=progress)
    if split is None:
        return full
    if split in full.splits:
        out = full.split(split)
        out.splits = {split: out.video_ids}
        return out
    if not full.splits:
        warnings.warn(
            f"the dataset defines no splits; using all {len(full)} videos as {split!r}",
            stacklevel=2,
        )
        return full
    raise ConfigError(f"the dataset has no split {split!r}; known splits: {sorted(full.splits)}")


def load_experiment_data(cfg: Any, *, progress: bool = True) -> tuple[VideoDataset, VideoDataset]:
    """The train (pool) and test datasets an :class:`~vidal.config.ExperimentConfig` describes."""
    d = cfg.data
    ds = _read(d, progress=progress)
    if d.train_split in ds.splits and d.test_split in ds.splits:
        for name in (d.train_split, d.test_split):
            if not ds.splits[name]:
                raise ConfigError(
                    f"the {name!r} split of the dataset holds no video (a synthetic dataset: "
                    "draw more videos than classes)"
                )
        return ds.split(d.train_split), ds.split(d.test_split)
    raise ConfigError(
        f"the dataset has splits {sorted(ds.splits)}; data.train_split={d.train_split!r} and "
        f"data.test_split={d.test_split!r} must both be among them"
    )
