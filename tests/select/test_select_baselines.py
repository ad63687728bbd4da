"""Baseline selectors: random, equidistant, spaced random, top-k, spaced top-k, video-level."""

from __future__ import annotations

import numpy as np

from vidal.pool import Budget, LabelPool
from vidal.select import (
    EquidistantSelector,
    FrameScores,
    RandomSelector,
    RandomSpacedSelector,
    TopKSelector,
    TopKSpacedSelector,
    VideoSelector,
)
from vidal.select._common import allocate

RNG = np.random.default_rng


def frames_of(sel):
    return {v: f.tolist() for v, f in sel.frames.items()}


def test_random_is_uniform_over_unlabeled_frames():
    pool = LabelPool({"a": 10, "b": 30})
    pool.add_frames("a", range(5))
    hits = np.zeros(40)
    for seed in range(400):
        sel = RandomSelector()(FrameScores(), pool, Budget(frames=5), RNG(seed))
        for f in sel.frames.get("a", []):
            hits[f] += 1
        for f in sel.frames.get("b", []):
            hits[10 + f] += 1
    assert hits[:5].sum() == 0
    rate = hits[5:] / 400  # 5 of 35 frames each time: 1/7 each
    assert abs(rate.mean() - 1 / 7) < 1e-9 and rate.min() > 0.08 and rate.max() < 0.21


def test_random_does_not_depend_on_pool_order():
    a = LabelPool({"a": 10, "b": 30, "c": 4})
    b = LabelPool({"c": 4, "b": 30, "a": 10})
    sa = RandomSelector()(FrameScores(), a, Budget(frames=9), RNG(3))
    sb = RandomSelector()(FrameScores(), b, Budget(frames=9), RNG(3))
    assert frames_of(sa) == frames_of(sb)


def test_allocate_is_proportional_with_caps():
    assert allocate(10, np.array([1.0, 1.0, 2.0]), np.array([1, 10, 10])).tolist() == [1, 3, 6]
    assert allocate(100, np.array([1.0, 2.0]), np.array([3, 4])).tolist() == [3, 4]
    assert allocate(3, np.array([1.0, 1.0, 1.0, 1.0]), np.array([5, 5, 5, 5])).tolist() == [
        1,
        1,
        1,
        0,
    ]
    assert allocate(0, np.array([1.0]), np.array([5])).tolist() == [0]


def test_equidistant_spreads_evenly_and_proportionally():
    pool = LabelPool({"long": 100, "short": 50})
    sel = EquidistantSelector()(FrameScores(), pool, Budget(frames=6), RNG(0))
    assert frames_of(sel) == {"long": [12, 37, 62, 87], "short": [12, 37]}


def test_equidistant_uses_only_unlabeled_frames():
    pool = LabelPool({"v": 20})
    pool.add_frames("v", range(10))
    sel = EquidistantSelector()(FrameScores(), pool, Budget(frames=2), RNG(0))
    assert frames_of(sel) == {"v": [12, 17]}


def test_equidistant_under_cost_takes_the_most_frames_that_fit():
    pool = LabelPool({"v": 40}, frame_costs={"v": np.full(40, 3.0)})
    sel = EquidistantSelector()(FrameScores(), pool, Budget(cost=10.0), RNG(0))
    assert sel.num_frames == 3 and sel.cost(pool) == 9.0


def test_random_spaced_keeps_its_distance():
    pool = LabelPool({"v": 200})
    pool.add_frames("v", [100])
    for seed in range(20):
        sel = RandomSpacedSelector(window=4)(FrameScores(), pool, Budget(frames=15), RNG(seed))
        picks = np.array(sorted(sel.frames["v"].tolist() + [100]))
        assert np.diff(picks).min() > 4


def test_random_spaced_stops_when_nothing_is_far_enough():
    pool = LabelPool({"v": 10})
    sel = RandomSpacedSelector(window=4)(FrameScores(), pool, Budget(frames=10), RNG(0))
    assert 1 <= sel.num_frames <= 2


def test_topk_takes_the_best_with_ties_by_video_then_frame():
    pool = LabelPool({"b": 3, "a": 3})
    scores = FrameScores(frames={"a": np.array([0.5, 0.9, 0.9]), "b": np.array([0.9, 0.1, 0.2])})
    sel = TopKSelector()(scores, pool, Budget(frames=3), RNG(0))
    assert frames_of(sel) == {"a": [1, 2], "b": [0]}
    assert sel.scores["a"].tolist() == [0.9, 0.9]


def test_topk_skips_what_does_not_fit_the_cost():
    pool = LabelPool({"a": 4}, frame_costs={"a": np.array([2.0, 10.0, 2.0, 2.0])})
    scores = FrameScores(frames={"a": np.array([0.1, 0.9, 0.5, 0.4])})
    sel = TopKSelector()(scores, pool, Budget(cost=5.0), RNG(0))
    assert frames_of(sel) == {"a": [2, 3]}


def test_topk_spaced_ignores_the_neighbours_of_each_pick():
    pool = LabelPool({"v": 30})
    scores = FrameScores(frames={"v": np.linspace(1.0, 0.0, 30)})  # best first: 0, 1, 2, ...
    sel = TopKSpacedSelector()(scores, pool, Budget(frames=3), RNG(0))
    assert frames_of(sel) == {"v": [0, 6, 12]}
    pool.add_frames("v", [3])
    near = TopKSpacedSelector(exclude_labeled=True)(scores, pool, Budget(frames=2), RNG(0))
    assert frames_of(near) == {"v": [9, 15]}
    assert frames_of(TopKSpacedSelector()(scores, pool, Budget(frames=2), RNG(0))) == {"v": [0, 6]}


def test_video_selector_takes_whole_videos_by_mean_score():
    pool = LabelPool({"a": 4, "b": 4, "c": 2})
    pool.add_frames("b", [0])
    scores = FrameScores(frames={"a": np.full(4, 0.2), "b": np.full(4, 0.9), "c": np.full(2, 0.5)})
    sel = VideoSelector()(scores, pool, Budget(videos=2), RNG(0))
    assert sel.videos == ["b", "c"] and frames_of(sel) == {"b": [1, 2, 3], "c": [0, 1]}
    # a video that does not fit the frame budget is passed over for one that does
    small = VideoSelector()(scores, pool, Budget(frames=2), RNG(0))
    assert small.videos == ["c"]
    assert small.info["video_scores"] == {"c": 0.5}
