"""A tiny synthetic dataset and a checkpoint trained on it by `vidal train`, made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidal.cli import main
from vidal.data.synth import SynthConfig, make_dataset

#: 4 videos of 16 frames at 64x48: 3 train, 1 test, 6 classes.
TINY = SynthConfig(videos=4, width=64, height=48, min_frames=16, max_frames=16, seed=0)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``annotations.json`` of :data:`TINY` (videos under ``videos/``)."""
    return make_dataset(tmp_path_factory.mktemp("cli-synth"), TINY, progress=False)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_dataset: Path) -> Path:
    """Output folder of `vidal train` from a config file with flags on top, on half the frames."""
    out = tmp_path_factory.mktemp("cli-train")
    config = out / "exp.yaml"
    config.write_text(
        f"data: {{format: vidal, annotations: '{tiny_dataset}'}}\n"
        "model: {preset: small, clip_len: 8, size: [48, 64]}\n"
        "train: {loss: mgw, steps: 50, batch_size: 2, cluster_weight: 0}\n"
    )
    args = ["train", "--config", str(config), "--steps", "2", "--labeled-fraction", "0.5"]
    args += ["--seed", "3", "--sigma", "2.5", "--out", str(out / "run")]
    assert main([*args, "--device", "cpu", "--no-progress"]) == 0
    return out / "run"
