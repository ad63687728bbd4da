"""APU (ASL Eq. 2-3): the fast global selector picks exactly what re-scoring everything picks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidal.pool import Budget, LabelPool
from vidal.select import APUSelector, FrameScores, LocalAPUSelector, get_selector
from vidal.select.apu import nearest_distance, proximity, proximity_table


def naive_apu(scores, pool, budget, *, lam=0.5, sigma=1.3, normalize="global"):
    """ASL Sec. 3.1 as written: after every pick, re-score every frame of every video.

    Returns the picks in order as ``(video, frame, score)``.
    """
    ids = sorted(v for v in pool.num_frames if not pool.mask(v).all())
    labeled = {v: pool.mask(v).copy() for v in ids}
    alive = {v: ~pool.mask(v) for v in ids}
    u = {v: np.asarray(scores.frames[v], dtype=np.float64) for v in ids}
    if normalize == "global":
        values = np.concatenate([u[v][alive[v]] for v in ids] or [np.zeros(0)])
        ranges = {v: (values.min(), values.max()) for v in ids}
    else:
        ranges = {v: (u[v][alive[v]].min(), u[v][alive[v]].max()) for v in ids}
    un = {
        v: (u[v] - lo) / (hi - lo) if hi > lo else np.zeros_like(u[v])
        for v, (lo, hi) in ranges.items()
    }
    table = proximity_table(sigma, max((pool.num_frames[v] for v in ids), default=1))
    frames_left = math.inf if budget.frames is None else budget.frames
    cost_left = math.inf if budget.cost is None else budget.cost
    picks = []
    while frames_left > 0:
        best = (-math.inf, None, None)
        for v in ids:  # in id order: a strictly greater score is needed to win a tie
            cost = pool.frame_costs(v)
            d = proximity(labeled[v], table)
            s = np.where(alive[v] & (cost <= cost_left), lam * un[v] + (1 - lam) * d, -np.inf)
            f = int(np.argmax(s))
            if s[f] > best[0]:
                best = (s[f], v, f)
        score, v, f = best
        if v is None:
            break
        picks.append((v, f, score))
        labeled[v][f] = True
        alive[v][f] = False
        frames_left -= 1
        cost_left -= pool.frame_costs(v)[f]
    return picks


def as_picks(selection):
    return sorted(
        (v, int(f), float(s))
        for v in selection.frames
        for f, s in zip(selection.frames[v], selection.scores[v], strict=True)
    )


def random_case(seed, *, videos=8, ties=False, costs=False):
    rng = np.random.default_rng(seed)
    lengths = {f"v{i:02d}": int(rng.integers(1, 60)) for i in range(videos)}
    frame_costs = (
        {v: rng.choice([2.0, 4.0, 6.0], size=n) for v, n in lengths.items()} if costs else None
    )
    pool = LabelPool(lengths, frame_costs=frame_costs)
    for v, n in lengths.items():
        k = int(rng.integers(0, max(1, n // 8) + 1))
        pool.add_frames(v, rng.choice(n, size=k, replace=False))
    if ties:  # few distinct values: many exact ties in U and hence in U_APU
        frames = {v: rng.integers(0, 3, size=n) / 2.0 for v, n in lengths.items()}
    else:
        frames = {v: rng.random(n) for v, n in lengths.items()}
    return FrameScores(frames=frames), pool


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("normalize", ["global", "video"])
def test_fast_global_picks_exactly_the_naive_frames(seed, ties, normalize):
    scores, pool = random_case(seed, ties=ties)
    budget = Budget(frames=int(0.3 * pool.num_unlabeled))
    sel = APUSelector(normalize=normalize)(scores, pool, budget, np.random.default_rng(0))
    assert as_picks(sel) == sorted(naive_apu(scores, pool, budget, normalize=normalize))


@pytest.mark.parametrize("seed", range(8))
def test_fast_global_matches_naive_under_a_cost_budget(seed):
    scores, pool = random_case(seed, ties=seed % 2 == 0, costs=True)
    budget = Budget(frames=40, cost=float(np.random.default_rng(seed).integers(20, 120)) + 1.0)
    sel = APUSelector()(scores, pool, budget, np.random.default_rng(0))
    assert as_picks(sel) == sorted(naive_apu(scores, pool, budget))
    assert sel.cost(pool) <= budget.cost


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lam=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    sigma=st.sampled_from([0.5, 1.3, 4.0, 100.0]),
    frames=st.integers(0, 200),
)
def test_property_fast_equals_naive(seed, lam, sigma, frames):
    scores, pool = random_case(seed, videos=5, ties=seed % 3 == 0)
    budget = Budget(frames=frames)
    sel = APUSelector(lam=lam, sigma=sigma)(scores, pool, budget, np.random.default_rng(0))
    assert as_picks(sel) == sorted(naive_apu(scores, pool, budget, lam=lam, sigma=sigma))


def test_proximity_is_eq_2():
    sigma = 1.3
    table = proximity_table(sigma, 1000)
    d = np.arange(40)
    exact = 1 - np.exp(-0.5 * (d / sigma) ** 2)
    np.testing.assert_allclose(table[np.minimum(d, len(table) - 1)], exact, rtol=0, atol=1e-15)
    assert table[0] == 0.0 and table[-1] == 1.0 and len(table) < 14
    labeled = np.zeros(10, dtype=bool)
    np.testing.assert_array_equal(proximity(labeled, table), 1.0)  # no label: no Gaussian
    labeled[[2, 7]] = True
    assert nearest_distance(labeled).tolist() == [2, 1, 0, 1, 2, 2, 1, 0, 1, 2]
    np.testing.assert_allclose(proximity(labeled, table)[:3], [exact[2], exact[1], 0.0])
    # a wide Gaussian on short videos: the table stops at the longest distance, unsaturated
    wide = proximity_table(100.0, 9)
    assert len(wide) == 10 and wide[-1] < 1.0
    np.testing.assert_array_equal(proximity(np.zeros(9, bool), wide), 1.0)


def test_global_prefers_the_more_uncertain_video():
    pool = LabelPool({"calm": 50, "busy": 50})
    scores = FrameScores(frames={"calm": np.full(50, 0.1), "busy": np.linspace(0.5, 1.0, 50)})
    sel = APUSelector()(scores, pool, Budget(frames=6), np.random.default_rng(0))
    assert list(sel.frames) == ["busy"]
    picks = sel.frames["busy"]
    assert np.diff(picks).min() >= 2  # the proximity term spreads the picks
    assert 49 in picks.tolist()


def test_proximity_term_spreads_picks_in_time():
    """With lam = 0 only D counts: picks go as far as possible from labels and each other."""
    pool = LabelPool({"v": 101})
    pool.add_frames("v", [0])
    scores = FrameScores(frames={"v": np.random.default_rng(0).random(101)})
    sel = APUSelector(lam=0.0, sigma=20.0)(scores, pool, Budget(frames=2), np.random.default_rng(0))
    assert sel.frames["v"].tolist() == [50, 100]


def test_local_shares_the_budget_equally():
    scores, pool = random_case(3, videos=6)
    n = len([v for v in pool.num_frames if not pool.mask(v).all()])
    sel = LocalAPUSelector()(scores, pool, Budget(frames=2 * n + 1), np.random.default_rng(0))
    counts = {v: len(f) for v, f in sel.frames.items()}
    unlabeled = {v: int((~pool.mask(v)).sum()) for v in pool.num_frames}
    assert sel.num_frames == min(2 * n + 1, pool.num_unlabeled)
    for v in pool.num_frames:
        assert counts.get(v, 0) == min(unlabeled[v], 2) or counts.get(v, 0) == 3


def test_local_equals_per_video_global_runs():
    """Each video's local picks are what global APU picks in that video alone."""
    scores, pool = random_case(5, videos=4)
    sel = LocalAPUSelector(normalize="video")(
        scores, pool, Budget(frames=12), np.random.default_rng(0)
    )
    for v, frames in sel.frames.items():
        alone = LabelPool({v: pool.num_frames[v]})
        alone.add_frames(v, pool.labeled_frames(v))
        own = APUSelector(normalize="video")(
            FrameScores(frames={v: scores.frames[v]}),
            alone,
            Budget(frames=len(frames)),
            np.random.default_rng(0),
        )
        assert own.frames[v].tolist() == frames.tolist()


def test_registry_names_and_info():
    assert get_selector("apu") == APUSelector() and get_selector("apu_local") == LocalAPUSelector()
    scores, pool = random_case(1)
    sel = get_selector("apu", lam=0.7)(scores, pool, Budget(frames=3), np.random.default_rng(0))
    assert sel.info["lam"] == 0.7 and sel.info["sigma"] == 1.3 and len(sel.info["u_range"]) == 2
