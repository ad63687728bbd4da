"""The model families the active-learning loop drives, side by side.

A task builds, trains, scores, evaluates and saves one kind of model; the loop and every
command reach it through :data:`TASKS` (the config's ``task`` field names one):

=============  ==============================================  =====================
name           model, scores, metric                           module
=============  ==============================================  =====================
``action``     capsule action detector, MC-dropout pixel       :mod:`.action`
               uncertainty, localization accuracy (ASL, CLAUS)
``detection``  Faster R-CNN frame detector, temporal            :mod:`.detection`
               coherence and detection uncertainty, VOC AP
=============  ==============================================  =====================

Each family gives its builder from an :class:`~vidal.config.ExperimentConfig`, a check of
that config's fields that reads no data, and how a checkpoint of its model sets the config's
model fields (so ``vidal eval`` and ``vidal select`` read a checkpoint as it was trained).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vidal.errors import ConfigError, VidalError
from vidal.pool import LabelPool
from vidal.select.base import FrameScores

__all__ = ["Task", "TaskFamily", "TASKS", "build_task", "check_config", "checkpoint_task"]


class Task(Protocol):
    """What the loop and the commands need from a model family."""

    primary_metric: str
    device: Any

    def build_model(self, *, seed: int) -> Any: ...

    def train(self, model: Any, pool: LabelPool, *, seed: int, resume: bool = False) -> dict: ...

    def score(self, model: Any, pool: LabelPool, *, seed: int) -> FrameScores: ...

    def unreadable(self, pool: LabelPool) -> dict[str, str]: ...

    def evaluate(self, model: Any, *, protocol: str | None = None) -> dict: ...

    def save_checkpoint(self, model: Any, path: Path) -> None: ...

    def load_checkpoint(self, path: Path) -> Any: ...


@dataclass(frozen=True)
class TaskFamily:
    """One model family: how to build its task and read its checkpoints.

    Attributes:
        build: ``(cfg, train_set, test_set, *, device, progress, world) -> Task``.
        check: ``(cfg) -> None``; raises :class:`ConfigError` on a field this family cannot use.
        from_checkpoint: ``(cfg, path) -> cfg`` with the model fields the checkpoint was
            trained with.
        checkpoint_format: the ``"format"`` key of its checkpoints.
    """

    build: Callable[..., Task]
    check: Callable[[Any], None]
    from_checkpoint: Callable[[Any, Any], Any]
    checkpoint_format: str


def _action() -> TaskFamily:
    from vidal.tasks import action

    return TaskFamily(
        action.build_action_task,
        action.check_action_config,
        action.action_config_from_checkpoint,
        "vidal-action",
    )


def _detection() -> TaskFamily:
    from vidal.tasks import detection

    return TaskFamily(
        detection.build_detection_task,
        detection.check_detection_config,
        detection.detection_config_from_checkpoint,
        "vidal-detector",
    )


#: task name -> its family (imported when first asked for: detection needs torchvision)
TASKS: dict[str, Callable[[], TaskFamily]] = {"action": _action, "detection": _detection}


def family(name: str) -> TaskFamily:
    """The family called ``name``; an unknown name lists the known ones."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}")
    return TASKS[name]()


def check_config(cfg: Any) -> None:
    """Check every field of ``cfg`` that can be checked without data (selector included).

    Raises:
        ConfigError: naming the field and the problem.
    """
    from vidal.select import get_selector

    family(cfg.task).check(cfg)
    get_selector(cfg.select.selector, **cfg.select.options)
    if cfg.data.format == "synthetic":  # the generator's settings, before drawing anything
        from vidal.data.synth import SynthConfig

        try:
            SynthConfig(
                videos=cfg.data.synth_videos,
                seed=cfg.data.synth_seed,
                kind=cfg.data.synth_kind,
                **cfg.data.synth_options,
            )
        except TypeError as e:
            raise ConfigError(f"data.synth_options: {e}") from e


def build_task(
    cfg: Any, train_set: Any, test_set: Any, *, progress: bool = True, world: Any = None
) -> Task:
    """The task ``cfg`` describes, on the device it names, in ``world`` (default: this
    launch's, :func:`vidal.distributed.init_world`, one process without a launcher)."""
    from vidal.distributed import init_world

    world = init_world(cfg.device) if world is None else world
    return family(cfg.task).build(
        cfg, train_set, test_set, device=world.device, progress=progress, world=world
    )


def checkpoint_task(path: str | os.PathLike) -> str:
    """Which task a checkpoint file belongs to (``"action"`` or ``"detection"``).

    Raises:
        VidalError: the file is missing, unreadable, or no vidal checkpoint.
    """
    from vidal.models._files import read_checkpoint

    state = read_checkpoint(path)
    fmt = state.get("format") if isinstance(state, dict) else None
    for name in TASKS:
        if family(name).checkpoint_format == fmt:
            return name
    raise VidalError(f'{path}: not a vidal checkpoint (no known "format" in it)')
