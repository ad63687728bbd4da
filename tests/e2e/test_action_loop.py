"""The action-detection loop end to end on tiny synthetic videos: resume and corrupt videos."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import pytest

from vidal.config import (
    BudgetConfig,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    ScoreConfig,
    SelectConfig,
    TrainConfig,
)
from vidal.data.synth import SynthConfig, make_dataset
from vidal.experiment import run_experiment
from vidal.pool import LabelPool
from vidal.tasks.action import ActionTask

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = SynthConfig(videos=12, width=64, height=48, min_frames=16, max_frames=24, seed=1)
    return make_dataset(tmp_path_factory.mktemp("loop-synth"), cfg, progress=False)


def _config(ann, out, selector="apu"):
    return ExperimentConfig(
        name=selector,
        data=DataConfig(format="vidal", annotations=str(ann)),
        model=ModelConfig(size=(48, 64), clip_len=8),
        train=TrainConfig(steps=2, batch_size=2),
        score=ScoreConfig(passes=2, stride=8),
        select=SelectConfig(selector),
        budget=BudgetConfig(initial=0.1, step=0.1),
        cycles=3,
        seeds=(0,),
        device="cpu",
        out=str(out),
    )


@pytest.mark.parametrize("selector", ["apu", "random"])
def test_interrupted_run_resumes_to_the_same_pool(tiny, tmp_path, monkeypatch, selector):
    whole = run_experiment(
        _config(tiny, tmp_path / "whole", selector), progress=False, log=lambda m: None
    )
    # interrupted before selecting in the second cycle: while scoring (apu) or while checking
    # which videos decode (random needs no scores)
    method = "score" if selector == "apu" else "unreadable"
    real = getattr(ActionTask, method)
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ActionTask, method, flaky)
    cfg = _config(tiny, tmp_path / "cut", selector)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, progress=False, log=lambda m: None)
    monkeypatch.setattr(ActionTask, method, real)
    resumed = run_experiment(cfg, progress=False, log=lambda m: None)
    final = lambda root: LabelPool.load(root / "seed_0" / "cycle_002" / "pool.json")  # noqa: E731
    assert final(tmp_path / "cut") == final(tmp_path / "whole")
    assert [c["labeled_frames"] for c in resumed["seeds"]["0"]] == [
        c["labeled_frames"] for c in whole["seeds"]["0"]
    ]
    assert (tmp_path / "cut" / "learning_curve.png").stat().st_size > 0


@pytest.mark.parametrize("selector", ["apu", "random"])
def test_corrupt_video_is_skipped_with_a_warning(tiny, tmp_path, selector):
    root = tmp_path / "data"
    shutil.copytree(tiny.parent, root)
    from vidal.data import load_dataset

    train_ids = load_dataset("vidal", root / "annotations.json").splits["train"]
    victim = load_dataset("vidal", root / "annotations.json")[train_ids[0]]
    path = root / victim.path
    path.write_bytes(path.read_bytes()[:300])  # truncated
    cfg = _config(root / "annotations.json", tmp_path / "run", selector)
    cfg = dataclasses.replace(cfg, cycles=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = run_experiment(cfg, progress=False, log=lambda m: None)
    assert len(results["seeds"]["0"]) == 2
    assert any(victim.video_id in str(w.message) for w in caught)
    selection = json.loads(
        (tmp_path / "run" / "seed_0" / "cycle_000" / "selection.json").read_text()
    )
    assert selection["frames"] and victim.video_id not in selection["frames"]


@pytest.mark.parametrize(
    "selector",
    ["ceiling", "oracle_iou_video", "kcenter", "typicality", "balanced", "metadata_cycle"],
)
def test_references_and_cold_start_selectors_in_a_campaign(tiny, tmp_path, selector):
    cfg = _config(tiny, tmp_path / selector, selector)
    options = {"ceiling": {"candidates": 2, "proposers": ["random", "kcenter"]}}
    cfg = dataclasses.replace(
        cfg, cycles=2, select=SelectConfig(selector, options.get(selector, {}))
    )
    results = run_experiment(cfg, progress=False, log=lambda m: None)
    cycles = results["seeds"]["0"]
    assert cycles[1]["labeled_frames"] > cycles[0]["labeled_frames"]
    chosen = json.loads(
        (tmp_path / selector / "seed_0" / "cycle_000" / "selection.json").read_text()
    )
    if selector == "ceiling":  # two batches tried, the better one kept
        tried = chosen["info"]["tried"]
        assert [p for p, _ in tried] == ["random", "kcenter"]
        gains = [g for _, g in tried if g is not None]  # None: no metric on this tiny test set
        assert chosen["info"]["gain"] == (max(gains) if gains else None)


@pytest.mark.parametrize("selector", ["dispersion", "apu", "claus"])
def test_label_dispersion_as_the_scorer_of_a_campaign(tiny, tmp_path, selector):
    """Dispersion recorded while training, used by its own top-k, APU and CLAUS; resumable."""
    from vidal.loop import load_scores

    cfg = _config(tiny, tmp_path / "run", selector)
    score = ScoreConfig(scorer="dispersion", dispersion_points=3, dispersion_videos=0.5)
    cfg = dataclasses.replace(cfg, cycles=2, score=score)
    results = run_experiment(cfg, progress=False, log=lambda m: None)
    cycles = results["seeds"]["0"]
    assert cycles[1]["labeled_frames"] > cycles[0]["labeled_frames"]
    scores = load_scores(tmp_path / "run" / "seed_0" / "cycle_000" / "scores.npz")
    recorded = [v for v in scores.frames if v not in scores.skipped]
    assert recorded and all(
        ((scores.frames[v] >= 0) & (scores.frames[v] < 1)).all() for v in recorded
    )
    chosen = json.loads((tmp_path / "run" / "seed_0" / "cycle_000" / "selection.json").read_text())
    assert set(chosen["frames"]) <= set(recorded)  # only recorded videos are candidates
