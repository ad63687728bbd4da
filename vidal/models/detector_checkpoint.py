"""The checkpoint format of vidal's frame detector (:func:`vidal.models.detector.build_detector`).

A checkpoint is a dict read with ``torch.load(weights_only=True)``::

    {"format": "vidal-detector", "version": 1,
     "build": {"num_classes", "backbone", "min_size", "max_size", "options", "pretrained"},
     "class_names": [...], "steps_trained": int, "state_dict": {...}}

``build`` is what rebuilds the same layers; ``build["pretrained"]`` records how the model
normalises: frozen batch norm (built on pretrained weights) or ordinary batch norm (trained
from scratch, also when fine-tuned from such a model's checkpoint), so that a resumed run
trains the model an uninterrupted one would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from vidal._io import atomic_write
from vidal.errors import VidalError
from vidal.models._files import read_checkpoint
from vidal.models.detector import build_detector

__all__ = [
    "STEPS_TRAINED",
    "build_from_args",
    "save_detector_checkpoint",
    "load_detector_checkpoint",
    "own_checkpoint_state",
    "checkpoint_class_names",
    "checkpoint_build",
]

FORMAT = "vidal-detector"
#: attribute of a detector that counts the optimisation steps it was trained for (the
#: action model's ``steps_trained`` attribute says the same)
STEPS_TRAINED = "steps_trained"


def build_from_args(
    build: dict[str, Any],
    weights: str | os.PathLike | None,
    *,
    backbone_weights: str | os.PathLike | None = None,
) -> nn.Module:
    """``build_detector`` from a checkpoint's ``build`` dict (and optional weights)."""
    return build_detector(
        build["num_classes"],
        backbone=build["backbone"],
        weights_path=weights,
        backbone_weights=backbone_weights,
        min_size=build["min_size"],
        max_size=build["max_size"],
        **build["options"],
    )


def save_detector_checkpoint(
    model: nn.Module, path: str | os.PathLike, *, build: dict[str, Any], class_names: list[str]
) -> Path:
    """Write the weights and what rebuilds the model (atomically)."""
    frozen = any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())
    state = {
        "format": FORMAT,
        "version": 1,
        "build": {**build, "pretrained": frozen},
        "class_names": list(class_names),
        "steps_trained": int(getattr(model, STEPS_TRAINED, 0)),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_detector_checkpoint(
    path: str | os.PathLike, *, class_names: list[str] | None = None
) -> nn.Module:
    """The detector saved by :func:`save_detector_checkpoint`, on the CPU, in eval mode.

    Raises:
        VidalError: the file is not a detector checkpoint, or it was saved for other classes.
    """
    ckpt = _read(path)
    if class_names is not None and ckpt.get("class_names") != list(class_names):
        raise VidalError(
            f"{path}: saved for classes {ckpt.get('class_names')}, the dataset has {list(class_names)}"
        )
    build = ckpt["build"]
    # a model built on pretrained weights has frozen batch norm: rebuild it the same way,
    # loading the checkpoint itself as its weights (load_detector_weights unwraps "state_dict")
    if _frozen_bn(ckpt):
        model = build_from_args(build, path)
    else:
        model = build_from_args(build, None)
        model.load_state_dict(ckpt["state_dict"])
    setattr(model, STEPS_TRAINED, int(ckpt.get("steps_trained", 0)))
    return model.eval()


def checkpoint_class_names(path: str | os.PathLike) -> list[str]:
    """The class names a detector checkpoint was trained for."""
    return list(_read(path).get("class_names") or [])


def checkpoint_build(path: str | os.PathLike) -> dict[str, Any]:
    """What rebuilds the detector of a checkpoint (``num_classes``, ``backbone``, sizes...)."""
    return dict(_read(path)["build"])


def own_checkpoint_state(path: str | os.PathLike, class_names: list[str]) -> dict | None:
    """The state dict of ``path`` when it is a from-scratch vidal checkpoint for ``class_names``.

    Such a checkpoint (e.g. one cycle of another run) continues the model as it was trained,
    ordinary batch norm included; anything else (``None``) is loaded as pretrained weights.
    """
    try:
        ckpt = read_checkpoint(path, what="weights file")
    except VidalError:
        return None  # build_detector reports what is wrong with the file
    if (
        isinstance(ckpt, dict)
        and ckpt.get("format") == FORMAT
        and ckpt.get("class_names") == list(class_names)
        and not _frozen_bn(ckpt)
    ):
        return ckpt["state_dict"]
    return None


def _read(path: str | os.PathLike) -> dict:
    ckpt = read_checkpoint(path, what="vidal detector checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise VidalError(f"{path}: not a vidal detector checkpoint")
    return ckpt


def _frozen_bn(ckpt: dict) -> bool:
    """Whether a vidal detector checkpoint holds a model with frozen batch norm.

    Ordinary batch norm counts its batches (``num_batches_tracked``); checkpoints written
    before the build recorded the layers say ``"pretrained"`` also for a from-scratch model
    fine-tuned from another run's checkpoint.
    """
    ordinary = any(k.endswith("num_batches_tracked") for k in ckpt.get("state_dict", {}))
    return bool(ckpt.get("build", {}).get("pretrained")) and not ordinary
