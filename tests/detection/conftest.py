"""Tiny synthetic road videos on disk and stub detectors with known output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vidal.data import load_dataset
from vidal.data.annotations import VideoDataset
from vidal.data.synth import SynthConfig, make_dataset


@pytest.fixture(autouse=True)
def _single_thread(one_thread: None) -> None:
    """Every detection test runs on one torch thread (``one_thread``, tests/conftest.py)."""


@pytest.fixture(scope="session")
def road_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 8-10 frame 64x48 synthetic road videos (three train, one test), vidal format."""
    root = tmp_path_factory.mktemp("road")
    config = SynthConfig(
        kind="road",
        videos=4,
        seed=3,
        width=64,
        height=48,
        min_frames=8,
        max_frames=10,
        test_fraction=0.25,
    )
    return make_dataset(root, config, progress=False)


@pytest.fixture(scope="session")
def road(road_root: Path) -> tuple[VideoDataset, VideoDataset]:
    ds = load_dataset("vidal", road_root)
    return ds.split("train"), ds.split("test")


class StubDetector(nn.Module):
    """A "detector" whose output comes from ``respond(image) -> dict`` (torchvision format:
    ``boxes [N, 4]``, ``labels [N]`` in ``1..K``, ``scores [N]``, ``probs [N, K + 1]``)."""

    def __init__(self, respond: Callable[[torch.Tensor], dict]) -> None:
        super().__init__()
        self.respond = respond
        self.weight = nn.Parameter(torch.zeros(1))  # so .to() and state_dict() work

    def forward(self, images: list[torch.Tensor]) -> list[dict]:
        return [self.respond(image) for image in images]


def detections(boxes, labels, num_classes: int, score: float = 0.9) -> dict:
    """A torchvision result dict for dataset classes ``labels`` (shifted to ``1..K``)."""
    boxes = torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4))
    labels = torch.as_tensor(np.asarray(labels, np.int64).reshape(-1)) + 1
    probs = torch.full((len(labels), num_classes + 1), (1 - score) / num_classes)
    probs[torch.arange(len(labels)), labels] = score
    return {
        "boxes": boxes,
        "labels": labels,
        "scores": torch.full((len(labels),), score),
        "probs": probs,
    }


def empty_detections(num_classes: int) -> dict:
    return detections(np.zeros((0, 4)), np.zeros(0), num_classes)


@pytest.fixture
def stub() -> type[StubDetector]:
    """The :class:`StubDetector` class (fixtures, since test modules cannot import conftest)."""
    return StubDetector


@pytest.fixture
def make_detections() -> Callable[..., dict]:
    """:func:`detections`; ``make_detections(boxes, labels, num_classes, score=0.9)``."""
    return detections
