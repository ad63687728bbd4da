"""CLAUS hybrid selection (CVPR 2023 Sec. 3.1, supplement Algorithm 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select import CLAUSSelector, FrameScores
from vidal.select.apu import proximity_table
from vidal.select.claus import kmeans, rank_frames

RNG = np.random.default_rng


def test_rank_frames_suppresses_neighbours_multiplicatively():
    table = proximity_table(1.3, 100)
    u = np.array([0.0, 1.0, 0.99, 0.98, 0.2, 0.97, 0.0, 0.0, 0.0, 0.0])
    frames, at_pick = rank_frames(u, np.ones(10, bool), 3, window=5, table=table)
    # after frame 1: frame 2 is scaled by D(1) = 0.256, frame 3 by D(2) = 0.694, 5 by D(4)
    assert frames.tolist() == [1, 5, 3]
    assert at_pick[0] == 1.0
    np.testing.assert_allclose(at_pick[1], 0.97 * table[4])
    np.testing.assert_allclose(at_pick[2], 0.98 * table[2] * table[2])


def test_rank_frames_skips_labeled_and_stops_at_the_candidates():
    table = proximity_table(1.3, 10)
    candidates = np.array([True, False, True])
    frames, _ = rank_frames(np.array([0.1, 0.9, 0.5]), candidates, 5, window=5, table=table)
    assert frames.tolist() == [2, 0]


def test_kmeans_is_seeded_and_finds_separated_groups():
    rng = RNG(0)
    x = np.concatenate([rng.normal(c, 0.1, size=(10, 3)) for c in (0.0, 5.0, 10.0)])
    a = kmeans(x, 3, RNG(1))
    b = kmeans(x, 3, RNG(1))
    assert a.tolist() == b.tolist()
    assert len(set(a[:10])) == len(set(a[10:20])) == len(set(a[20:])) == 1 and len(set(a)) == 3
    same = kmeans(np.zeros((4, 2)), 3, RNG(0))  # identical points: no crash, one cluster
    assert same.tolist() == [0, 0, 0, 0]
    assert kmeans(x[:2], 5, RNG(0)).shape == (2,)


def make(num_videos=12, length=40, seed=0):
    rng = RNG(seed)
    pool = LabelPool({f"v{i:02d}": length for i in range(num_videos)})
    frames = {v: rng.random(length) for v in pool.num_frames}
    # two obvious clusters: the first half of the videos near 0, the rest near 10
    features = {
        v: np.full(3, 0.0 if i < num_videos // 2 else 10.0) + rng.normal(0, 0.1, 3)
        for i, v in enumerate(pool.num_frames)
    }
    return pool, FrameScores(frames=frames, features=features)


def test_cluster_quota_keeps_selection_diverse():
    pool, scores = make()
    for i, v in enumerate(pool.num_frames):  # the first cluster is far more uncertain
        scores.frames[v] = scores.frames[v] + (10.0 if i < 6 else 0.0)
    sel = CLAUSSelector(clusters=2)(scores, pool, Budget(videos=4), RNG(0))
    assert len(sel.videos) == 4
    first = sum(int(v[1:]) < 6 for v in sel.videos)
    assert first == 2  # quota n_c * B_v / N_U = 6 * 4 / 12 = 2 per cluster
    assert sorted(sel.info["taken"]) == [2, 2] and sel.info["quota"] == [2.0, 2.0]
    without = CLAUSSelector(clusters=1)(scores, pool, Budget(videos=4), RNG(0))
    assert all(int(v[1:]) < 6 for v in without.videos) and without.info["assignment"] == "none"
    json.dumps(sel.to_json())


def test_frames_are_a_fraction_of_each_chosen_video():
    pool, scores = make(length=40)
    sel = CLAUSSelector(frame_fraction=0.1, clusters=2)(scores, pool, Budget(videos=3), RNG(0))
    assert set(sel.frames) == set(sel.videos)
    assert all(len(f) == 4 for f in sel.frames.values())  # ceil(0.1 * 40)
    for v in sel.videos:  # the video score is the mean of the ranked frames' scores (Eq. 1)
        assert sel.info["video_scores"][v] == pytest.approx(scores.frames[v][sel.frames[v]].mean())
    ranked = sorted(sel.videos, key=lambda v: -sel.info["video_scores"][v])
    assert ranked == sel.videos


def test_frame_budget_caps_frames_and_stops_video_selection():
    pool, scores = make(length=40)
    sel = CLAUSSelector(frame_fraction=0.1, clusters=2)(
        scores, pool, Budget(videos=10, frames=6), RNG(0)
    )
    assert sel.num_frames == 6 and len(sel.videos) == 2  # 4 + 2, then the frame budget is spent


def test_labeled_videos_are_not_candidates_and_centers_assign_clusters():
    pool, scores = make()
    pool.add_video_label("v00", 0)
    scores.centers = np.array([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    sel = CLAUSSelector()(scores, pool, Budget(videos=11), RNG(0))
    assert "v00" not in sel.videos and len(sel.videos) == 11
    assert sel.info["assignment"] == "centers" and sel.info["cluster_sizes"] == [5, 6]


def test_missing_or_bad_features_are_named():
    pool, scores = make()
    del scores.features["v03"]
    with pytest.raises(VidalError, match="v03"):
        CLAUSSelector()(scores, pool, Budget(videos=2), RNG(0))
    pool, scores = make()
    scores.features["v04"][1] = np.nan
    with pytest.raises(VidalError, match="v04"):
        CLAUSSelector()(scores, pool, Budget(videos=2), RNG(0))
    pool, scores = make()
    scores.centers = np.zeros((2, 5))
    with pytest.raises(VidalError, match="centers"):
        CLAUSSelector()(scores, pool, Budget(videos=2), RNG(0))
