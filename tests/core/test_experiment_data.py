"""The synthetic dataset of an experiment: generated once, reused, redrawn when stale."""

from __future__ import annotations

import json
from pathlib import Path

from vidal.config import DataConfig, ExperimentConfig
from vidal.data import load_dataset
from vidal.experiment import synthetic_dataset


def test_synthetic_data_is_reused_and_redrawn_when_the_generator_settings_differ(
    tmp_path: Path,
) -> None:
    cfg = ExperimentConfig(data=DataConfig(synth_dir=str(tmp_path / "synth"), synth_videos=3))
    assert len(load_dataset("vidal", synthetic_dataset(cfg.data, progress=False))) == 3
    stamp = tmp_path / "synth" / "synth.json"
    video = next((tmp_path / "synth" / "videos").rglob("*.mp4"))
    first = video.stat().st_mtime_ns

    synthetic_dataset(cfg.data, progress=False)
    assert video.stat().st_mtime_ns == first  # same settings: reused, nothing rewritten

    # a dataset an older generator drew with other settings (actors at another tempo)
    meta = json.loads(stamp.read_text())
    meta["config"]["tempo"] = 1.0
    stamp.write_text(json.dumps(meta))
    synthetic_dataset(cfg.data, progress=False)
    assert json.loads(stamp.read_text())["config"]["tempo"] != 1.0  # redrawn
    assert video.stat().st_mtime_ns != first
