"""Experiment descriptions: frozen dataclasses that load from YAML.

Every field has a default that works on the synthetic data, so an empty YAML file is a valid
(small) experiment. Unknown keys are errors that list the known ones.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidal.errors import ConfigError

__all__ = [
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "ScoreConfig",
    "SelectConfig",
    "BudgetConfig",
    "ExperimentConfig",
    "load_config",
    "from_dict",
]


@dataclass(frozen=True)
class DataConfig:
    """Where the videos are.

    Args:
        format: a reader name known to :func:`vidal.data.load_dataset`; ``"synthetic"``
            generates (or reuses) a synthetic dataset in ``synth_dir``.
        annotations: annotation file (or dataset root, per format).
        videos: folder of the video files, where the format needs one.
        train_split / test_split: split names; ``test_split`` is what evaluation uses.
        split_file: a split list, for formats that keep splits in separate files.
        synth_dir: folder of the synthetic dataset (format ``"synthetic"``).
        synth_videos / synth_kind / synth_seed: size, kind (``action`` or ``road``) and seed
            of the synthetic dataset.
    """

    format: str = "synthetic"
    annotations: str | None = None
    videos: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    split_file: str | None = None
    synth_dir: str = "~/.cache/vidal/synth-action-v1"
    synth_videos: int = 48
    synth_kind: str = "action"
    synth_seed: int = 0


@dataclass(frozen=True)
class ModelConfig:
    """Which model and at what size.

    Args:
        preset: ``"small"`` (CPU tests and demo) or ``"full"`` (the papers' size) for the
            action detector; ``"mobilenet_v3_fpn"`` or ``"resnet50_fpn"`` for detection.
        clip_len: frames per clip.
        size: input ``[height, width]``.
        dropout: MC-dropout rate.
        i3d_weights: local path of a pytorch-i3d checkpoint to initialise the encoder.
        weights: local path of a full checkpoint to start from.
        options: detection: keyword arguments of :func:`vidal.models.build_detector` (e.g.
            ``anchor_sizes``, torchvision ``FasterRCNN`` options), over the task's defaults.
    """

    preset: str = "small"
    clip_len: int = 8
    size: tuple[int, int] = (64, 64)
    dropout: float = 0.3
    i3d_weights: str | None = None
    weights: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """How to train each cycle.

    Args:
        loss: ``masking``, ``interpolation``, ``mgw`` or ``stew``.
        steps: optimisation steps per cycle.
        batch_size: clips per step.
        lr: Adam learning rate (5e-4 in the papers).
        sigma: MGW/STeW Gaussian width (1.3).
        cluster_weight: weight of the deep-clustering loss (0 disables it).
        cls_weight: weight of the classification (margin) loss.
        workers: data-loading worker processes.
        initial_steps: steps of the first cycle, when the model starts from scratch
            (``None``: ``steps``).
        pos_weight: weight of the foreground term of the localization BCE (``None``: 1).
    """

    loss: str = "mgw"
    steps: int = 150
    batch_size: int = 8
    lr: float = 5e-4
    sigma: float = 1.3
    cluster_weight: float = 0.1
    cls_weight: float = 1.0
    workers: int = 0
    initial_steps: int | None = None
    pos_weight: float | None = None


@dataclass(frozen=True)
class ScoreConfig:
    """How to score unlabeled frames.

    Args:
        scorer: ``uncertainty`` (ASL Eq. 1 with non-activity suppression), ``entropy``,
            ``bald``, or for detection ``detection``.
        passes: MC-dropout passes R (10 in CLAUS).
        tau: non-activity suppression threshold (0.9).
        stride: frames between consecutive scoring clips (overlaps are averaged).
        flow_cache: detection: folder of the optical-flow cache (default ``<out>/flows``);
            flow depends only on the videos, so runs may share one.
        flow: detection: the optical flow of temporal coherence, a name in
            :data:`tracking.FLOW_METHODS` (``dis`` is DIS at its ``ultrafast`` preset;
            ``dis-fast``, ``dis-medium``, ``farneback``).
        flow_scale: detection: compute the flow at this fraction of the frame size, in
            ``(0, 1]``; ``None``: the shorter side at most :data:`tracking.FLOW_SHORT_SIDE` px.
    """

    scorer: str = "uncertainty"
    passes: int = 8
    tau: float = 0.9
    stride: int = 4
    flow_cache: str | None = None
    flow: str = "dis"
    flow_scale: float | None = None

    def __post_init__(self) -> None:
        from tracking import FLOW_METHODS

        if self.flow not in FLOW_METHODS:
            raise ConfigError(
                f"score.flow: unknown flow method {self.flow!r}; known: {', '.join(FLOW_METHODS)}"
            )
        if self.flow_scale is not None and not 0.0 < self.flow_scale <= 1.0:
            raise ConfigError(f"score.flow_scale must be in (0, 1] or null, got {self.flow_scale}")


@dataclass(frozen=True)
class SelectConfig:
    """Which selector, by name, with its options (passed as keyword arguments)."""

    selector: str = "apu"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetConfig:
    """Initial labels and per-cycle budgets (fractions; see :class:`vidal.loop.CycleBudget`)."""

    initial: float = 0.05
    step: float = 0.03
    videos: float = 0.0
    unit: str = "frames"
    initial_videos: float = 1.0


@dataclass(frozen=True)
class ExperimentConfig:
    """One active-learning experiment.

    Args:
        name: the run's name (the output folder's default).
        task: ``"action"`` (capsule detector, localization metrics) or ``"detection"``
            (Faster R-CNN, VOC AP).
        cycles: train/evaluate cycles.
        seeds: one run per seed.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        out: output folder (default ``runs/<name>``).
    """

    name: str = "experiment"
    task: str = "action"
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    score: ScoreConfig = ScoreConfig()
    select: SelectConfig = SelectConfig()
    budget: BudgetConfig = BudgetConfig()
    cycles: int = 4
    seeds: tuple[int, ...] = (0,)
    device: str = "auto"
    out: str | None = None

    def out_dir(self) -> Path:
        return Path(os.path.expanduser(self.out or f"runs/{self.name}"))


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where=where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        args = typing.get_args(tp)
        inner = args[0]
        return tuple(_convert(inner, v, where) for v in value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool, float):
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    return value


def from_dict(cls: type, obj: dict, *, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a plain dict, converting nested fields and checking keys."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(obj) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {names}")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in obj.items()}
    return cls(**kwargs)


def load_config(path: str | os.PathLike, overrides: dict | None = None) -> ExperimentConfig:
    """Read an :class:`ExperimentConfig` from YAML; ``overrides`` are merged in (nested dicts)."""
    path = Path(path)
    try:
        obj = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read config: {e}") from e
    if not isinstance(obj, dict):
        raise ConfigError(f"{path}: a config is a mapping of keys to values")
    obj.setdefault("name", path.stem)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(obj.get(key), dict):
            obj[key] = {**obj[key], **value}
        else:
            obj[key] = value
    return from_dict(ExperimentConfig, obj, where=str(path))


def to_dict(cfg: Any) -> dict:
    """A plain, YAML/JSON-able dict of a config dataclass."""
    return dataclasses.asdict(cfg)
