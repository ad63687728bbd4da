"""share_first_cycle: runs that differ only in selector or scorer reuse one first cycle."""

from __future__ import annotations

import dataclasses

import pytest

from vidal.config import ExperimentConfig, ScoreConfig, SelectConfig
from vidal.experiment.run import share_first_cycle

FILES = ("pool.json", "checkpoint.pt", "metrics.json")


def _finished(cfg: ExperimentConfig) -> ExperimentConfig:
    first = cfg.out_dir() / "seed_0" / "cycle_000"
    first.mkdir(parents=True)
    for name in FILES:
        (first / name).write_text(name)
    return cfg


def _like(source: ExperimentConfig, tmp_path, name: str, **changes) -> ExperimentConfig:
    return dataclasses.replace(source, name=name, out=str(tmp_path / name), **changes)


@pytest.fixture
def source(tmp_path) -> ExperimentConfig:
    return _finished(ExperimentConfig(name="random", out=str(tmp_path / "random")))


def test_another_selector_and_scorer_share_the_first_cycle(source, tmp_path):
    entropy = _like(
        source,
        tmp_path,
        "entropy",
        select=SelectConfig(selector="topk_spaced"),
        score=ScoreConfig(scorer="entropy"),
    )
    assert share_first_cycle(source, entropy)
    copied = entropy.out_dir() / "seed_0" / "cycle_000"
    assert sorted(p.name for p in copied.iterdir()) == sorted(FILES)
    assert not share_first_cycle(source, entropy)  # already there: nothing is copied again


def test_label_dispersion_does_not_share_with_another_scorer(source, tmp_path):
    # dispersion records predictions while the first cycle trains
    dispersion = _like(source, tmp_path, "dispersion", score=ScoreConfig(scorer="dispersion"))
    assert not share_first_cycle(source, dispersion)
    assert not (dispersion.out_dir() / "seed_0").exists()


def test_another_training_setting_does_not_share(source, tmp_path):
    longer = _like(source, tmp_path, "longer", train=dataclasses.replace(source.train, steps=999))
    assert not share_first_cycle(source, longer)
