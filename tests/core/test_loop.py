"""The loop with a stand-in task: resume, determinism, files written."""

import json

import numpy as np
import pytest

from vidal.config import BudgetConfig
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.errors import VidalError
from vidal.loop import ActiveLoop, initial_selection
from vidal.oracle import SimulatedOracle
from vidal.pool import LabelPool
from vidal.select.base import FrameScores, Selection


class CountingTask:
    """Model = a dict; scores are a deterministic function of the seed and the pool."""

    primary_metric = "labeled"

    def __init__(self, interrupt_at=None):
        self.interrupt_at = interrupt_at
        self.trained = 0

    def build_model(self, *, seed):
        return {"seed": seed, "steps": 0}

    def train(self, model, pool, *, seed):
        self.trained += 1
        model["steps"] += pool.num_labeled
        return {"steps": pool.num_labeled}

    def score(self, model, pool, *, seed):
        if self.interrupt_at is not None and pool.num_labeled >= self.interrupt_at:
            raise KeyboardInterrupt
        rng = np.random.default_rng([seed, model["steps"]])
        return FrameScores(frames={v: rng.random(n) for v, n in pool.num_frames.items()})

    def evaluate(self, model):
        return {"labeled": model["steps"]}

    def save_checkpoint(self, model, path):
        path.write_text(json.dumps(model))

    def load_checkpoint(self, path):
        return json.loads(path.read_text())


def top_k(scores, pool, budget, rng):
    flat = [
        (s, v, t)
        for v in pool.num_frames
        for t, s in enumerate(scores.frames[v])
        if not pool.is_labeled(v, t)
    ]
    flat.sort(key=lambda x: -x[0])
    picked: dict[str, list[int]] = {}
    for _, v, t in flat[: budget.frames]:
        picked.setdefault(v, []).append(t)
    return Selection(frames={v: np.array(sorted(f)) for v, f in picked.items()})


def _dataset():
    return VideoDataset(["a"], [VideoAnnotation(f"v{i}", 30 + i, 8, 8, label=0) for i in range(5)])


def _loop(tmp_path, task, name="run", *, selector=top_k, step=0.05, cycles=4, seed=3, log=None):
    ds = _dataset()
    return ActiveLoop(
        task,
        selector,
        LabelPool.from_dataset(ds),
        SimulatedOracle(ds),
        tmp_path / name,
        budget=BudgetConfig(initial=0.05, step=step),
        cycles=cycles,
        seed=seed,
        log=log,
    )


def test_resume_gives_the_same_final_pool(tmp_path):
    whole = _loop(tmp_path, CountingTask(), "whole")
    results = whole.run()
    assert [r["labeled_frames"] for r in results] == [8, 16, 24, 32]
    interrupted = _loop(tmp_path, CountingTask(interrupt_at=16), "cut")
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    assert (tmp_path / "cut/cycle_001/checkpoint.pt").exists()
    assert not (tmp_path / "cut/cycle_002").exists()
    resumed_task = CountingTask()
    resumed = _loop(tmp_path, resumed_task, "cut")
    again = resumed.run()
    assert resumed_task.trained == 2  # cycles 0 and 1 were not trained again
    assert resumed.pool == whole.pool
    assert [r["metrics"] for r in again] == [r["metrics"] for r in results]
    for k in range(4):
        assert (tmp_path / f"cut/cycle_{k:03d}/metrics.json").exists()
    assert (
        json.loads((tmp_path / "cut/results.json").read_text())["cycles"][-1]["labeled_frames"]
        == 32
    )


def test_initial_selection_covers_every_video():
    pool = LabelPool({f"v{i}": 20 for i in range(10)})
    sel = initial_selection(pool, 0.1, np.random.default_rng(0))
    assert sel.num_frames == 20 and set(sel.frames) == set(pool.num_frames)
    with pytest.raises(VidalError):
        initial_selection(pool, 1.5, np.random.default_rng(0))


def test_cost_budget():
    pool = LabelPool({"a": 10}, frame_costs={"a": np.arange(10.0)})
    assert BudgetConfig(step=0.1, unit="cost").for_pool(pool).cost == pytest.approx(4.5)
    with pytest.raises(VidalError, match="unit"):
        BudgetConfig(unit="boxes").for_pool(pool)


def test_initial_selection_of_a_video_subset():
    pool = LabelPool({f"v{i}": 50 for i in range(10)})
    sel = initial_selection(pool, 0.1, np.random.default_rng(1), videos_fraction=0.3)
    assert len(sel.videos) == 3 and set(sel.frames) == set(sel.videos)
    assert sel.num_frames == 15


class SkippingTask(CountingTask):
    """Video v2 cannot be decoded: it has no scores and is reported as skipped."""

    def score(self, model, pool, *, seed):
        scores = super().score(model, pool, seed=seed)
        del scores.frames["v2"]
        scores.skipped["v2"] = "v2.mp4: truncated"
        return scores


def test_unscorable_video_is_left_out_of_selection(tmp_path):
    logs = []
    loop = _loop(tmp_path, SkippingTask(), "r", step=0.2, cycles=3, seed=0, log=logs.append)
    results = loop.run()
    assert len(results) == 3
    initial = LabelPool.load(tmp_path / "r/cycle_000/pool.json").labeled_frames("v2")
    assert loop.pool.labeled_frames("v2").tolist() == initial.tolist()  # nothing new chosen there
    assert any("v2 left out of selection: v2.mp4: truncated" in m for m in logs)


class NoScoringTask(CountingTask):
    """Scoring fails loudly; v2 cannot be decoded."""

    def score(self, model, pool, *, seed):
        raise AssertionError("a score-free selector must not run the model over the pool")

    def unreadable(self, pool):
        return {"v2": "v2.mp4: truncated"}


def test_score_free_selector_skips_the_model_pass_and_unreadable_videos(tmp_path):
    from vidal.select import SELECTORS

    loop = _loop(
        tmp_path, NoScoringTask(), selector=SELECTORS["random"], step=0.1, cycles=3, seed=0
    )
    results = loop.run()
    assert len(results) == 3
    first = LabelPool.load(tmp_path / "run/cycle_000/pool.json")
    assert loop.pool.labeled_frames("v2").tolist() == first.labeled_frames("v2").tolist()
    assert loop.pool.num_labeled > first.num_labeled
    assert not (tmp_path / "run/cycle_000/scores.npz").exists()
