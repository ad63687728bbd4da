"""Class-balanced selection (thesis ch. 4): the program's optimum, its limits, the selectors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from vidal.errors import ConfigError, VidalError
from vidal.pool import Budget, LabelPool
from vidal.select import SELECTORS, CLAUSSelector, FrameScores, TopKSelector
from vidal.select.balanced import (
    MILP_MAX_ITEMS,
    BalancedCLAUSSelector,
    BalancedKCenterSelector,
    BalancedSelector,
    balance_objective,
    balance_target,
    kcenter_balanced,
    l1_score,
    pick_balanced,
)

RNG = np.random.default_rng


def instance(seed: int, n: int = 9, classes: int = 3, hard: bool = True):
    """Random gains, class rows (one-hot or soft), costs and a target."""
    rng = RNG(seed)
    gain = rng.random(n) * 2
    probs = rng.dirichlet(np.full(classes, 0.7), size=n)
    if hard:
        probs = np.eye(classes)[probs.argmax(1)]
    labeled = rng.integers(0, 6, size=classes)
    costs = rng.choice([1.0, 2.0, 3.0], size=n)
    return gain, probs, labeled, costs


def exhaustive(gain, probs, count, omega, lam, costs=None, max_cost=None, groups=None, caps=None):
    """The least cost of Eq. 4.8 over every feasible set of ``count`` items."""
    best = np.inf
    for subset in itertools.combinations(range(len(gain)), count):
        s = np.array(subset, dtype=np.int64)
        if max_cost is not None and costs[s].sum() > max_cost + 1e-9:
            continue
        if groups is not None and np.any(np.bincount(groups[s], minlength=len(caps)) > caps):
            continue
        best = min(best, balance_objective(gain, probs, s, omega, lam=lam))
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("hard", [True, False], ids=["hard", "soft"])
@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 5.0])
def test_optimum_equals_exhaustive_search(seed, hard, lam):
    gain, probs, labeled, _ = instance(seed, hard=hard)
    for count in (1, 3, 5):
        omega = balance_target(labeled, count)
        best = exhaustive(gain, probs, count, omega, lam)
        solvers = ["auto", "milp"] if hard else ["milp"]
        for solver in solvers:
            pick = pick_balanced(gain, probs, count, omega, lam=lam, solver=solver)
            assert len(pick.indices) == count and len(set(pick.indices.tolist())) == count
            assert pick.objective == pytest.approx(best, abs=1e-7), (solver, count)
            assert pick.gap == 0.0
        if hard:
            assert pick_balanced(gain, probs, count, omega, lam=lam).method == "sorted"
        # the rounded LP relaxation is feasible and within its stated gap of the optimum
        pick = pick_balanced(gain, probs, count, omega, lam=lam, solver="lp")
        assert pick.method == "lp" and len(set(pick.indices.tolist())) == count
        assert pick.objective - pick.gap - 1e-7 <= best <= pick.objective + 1e-7


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("hard", [True, False], ids=["hard", "soft"])
def test_optimum_with_cost_and_group_limits_equals_exhaustive_search(seed, hard):
    gain, probs, labeled, costs = instance(seed, hard=hard)
    groups = RNG(seed + 100).integers(0, 3, size=len(gain))
    caps = np.array([1, 2, 2])
    for count in (2, 4):
        omega = balance_target(labeled, count)
        max_cost = float(np.sort(costs)[: count + 1].sum())
        best = exhaustive(gain, probs, count, omega, 1.0, costs, max_cost)
        pick = pick_balanced(gain, probs, count, omega, lam=1.0, costs=costs, max_cost=max_cost)
        assert pick.method == "milp" and pick.objective == pytest.approx(best, abs=1e-7)
        assert costs[pick.indices].sum() <= max_cost + 1e-9
        best = exhaustive(gain, probs, count, omega, 1.0, groups=groups, caps=caps)
        if np.isfinite(best):
            pick = pick_balanced(gain, probs, count, omega, lam=1.0, groups=groups, group_caps=caps)
            assert pick.objective == pytest.approx(best, abs=1e-7)
            assert np.all(np.bincount(groups[pick.indices], minlength=3) <= caps)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("counts", ["hard", "soft"])
def test_lambda_zero_is_plain_top_k(seed, counts):
    pool = LabelPool({"a": 15, "b": 9, "c": 20})
    rng = RNG(seed)
    pool.add_frames("a", [0, 3])
    scores = FrameScores(
        frames={v: rng.random(n) for v, n in pool.num_frames.items()},
        extra={"probs": {v: rng.dirichlet(np.ones(4), size=n) for v, n in pool.num_frames.items()}},
    )
    for budget in (Budget(frames=6), Budget(frames=13)):
        plain = TopKSelector()(scores, pool, budget, RNG(0))
        balanced = BalancedSelector(lam=0.0, counts=counts)(scores, pool, budget, RNG(0))
        assert {v: f.tolist() for v, f in plain.frames.items()} == {
            v: f.tolist() for v, f in balanced.frames.items()
        }


@pytest.mark.parametrize("seed", range(6))
def test_large_lambda_gives_the_most_balanced_feasible_counts(seed):
    gain, probs, labeled, _ = instance(seed, n=10, hard=True)
    for count in (2, 4, 6):
        omega = balance_target(labeled, count)
        least_l1 = min(
            np.abs(omega - probs[list(s)].sum(0)).sum()
            for s in itertools.combinations(range(len(gain)), count)
        )
        for solver in ("auto", "milp"):
            pick = pick_balanced(gain, probs, count, omega, lam=1e4, solver=solver)
            got = np.abs(omega - probs[pick.indices].sum(0)).sum()
            assert got == pytest.approx(least_l1)


def test_large_lambda_brings_a_skewed_pool_to_the_target():
    # 30 frames predicted class 0 (high scores), 6 class 1, 4 class 2 (low scores)
    cls = np.r_[np.zeros(30, int), np.ones(6, int), np.full(4, 2)]
    gain = np.r_[np.linspace(2, 1, 30), np.linspace(0.5, 0.2, 6), np.linspace(0.4, 0.1, 4)]
    probs = np.eye(3)[cls]
    omega = balance_target(np.array([10, 4, 4]), 9)  # [0, 3, 3] ... the mean is 9
    assert omega.tolist() == [0.0, 5.0, 5.0]
    plain = pick_balanced(gain, probs, 9, omega, lam=0.0)
    assert np.bincount(cls[plain.indices], minlength=3).tolist() == [9, 0, 0]
    balanced = pick_balanced(gain, probs, 9, omega, lam=10.0)
    # class 2 has only 4 candidates: the nearest feasible counts are [0, 5, 4]
    assert np.bincount(cls[balanced.indices], minlength=3).tolist() == [0, 5, 4]


def test_balance_target_is_eq_4_4_and_4_5():
    # a uniform initial set of b0 = 12 over C = 4 classes: Omega(1) = b / C (Eq. 4.5)
    np.testing.assert_allclose(balance_target(np.full(4, 3), 8), np.full(4, 2.0))
    # an over-represented class gets 0, the rest fill towards (|L| + b) / C
    np.testing.assert_allclose(balance_target(np.array([10, 2, 0]), 6), [0.0, 4.0, 6.0])
    np.testing.assert_allclose(
        balance_target(np.array([0, 0]), 10, proportions=np.array([3.0, 1.0])), [7.5, 2.5]
    )


def test_l1_score_is_eq_4_10():
    assert l1_score(np.array([4, 4, 4, 4])) == 0.0
    assert l1_score(np.array([0, 12, 0, 0])) == 1.0
    # [6, 2, 0, 0]: |6-2| + 0 + 2 + 2 = 8, normalised by 2 * 8 * 3 / 4 = 12
    assert l1_score(np.array([6, 2, 0, 0])) == pytest.approx(8 / 12)


def frame_pool(seed: int = 0):
    rng = RNG(seed)
    lengths = {"a": 20, "b": 12, "c": 30}
    pool = LabelPool(lengths)
    pool.add_frames("a", [1, 2, 3])
    probs = {v: np.eye(3)[rng.choice(3, size=n, p=[0.8, 0.15, 0.05])] for v, n in lengths.items()}
    scores = FrameScores(
        frames={v: rng.random(n) for v, n in lengths.items()}, extra={"probs": probs}
    )
    return pool, scores


def test_selector_records_target_and_counts_and_balances():
    pool, scores = frame_pool()
    scores.extra["labels"] = {v: np.full(n, -1) for v, n in pool.num_frames.items()}
    scores.extra["labels"]["a"][[1, 2, 3]] = [0, 0, 1]
    sel = BalancedSelector(lam=5.0)(scores, pool, Budget(frames=9), RNG(0))
    info = sel.info
    assert info["labeled_counts"] == [2.0, 1.0, 0.0] and info["labeled_counts_from"] == "labels"
    assert info["target"] == [2.0, 3.0, 4.0] and info["method"] == "sorted"
    assert sum(info["picked_counts"]) == 9 == sel.num_frames
    plain = TopKSelector()(scores, pool, Budget(frames=9), RNG(0))
    cls = {v: scores.extra["probs"][v].argmax(1) for v in pool.num_frames}

    def picked(s):
        return np.bincount(np.concatenate([cls[v][f] for v, f in s.frames.items()]), minlength=3)

    assert l1_score(picked(sel) + [2, 1, 0]) < l1_score(picked(plain) + [2, 1, 0])
    without = FrameScores(frames=scores.frames, extra={"probs": scores.extra["probs"]})
    info = BalancedSelector(lam=5.0)(without, pool, Budget(frames=9), RNG(0)).info
    assert info["labeled_counts_from"] == "predictions" and sum(info["labeled_counts"]) == 3


def test_selector_under_a_cost_budget_takes_as_many_frames_as_top_k():
    pool, scores = frame_pool(1)
    costs = {v: RNG(3).choice([2.0, 4.0], size=n) for v, n in pool.num_frames.items()}
    pool = LabelPool(pool.num_frames, frame_costs=costs)
    budget = Budget(cost=30.0)
    plain = TopKSelector()(scores, pool, budget, RNG(0))
    sel = BalancedSelector(lam=2.0)(scores, pool, budget, RNG(0))
    assert sel.num_frames == plain.num_frames and sel.cost(pool) <= 30.0
    assert sel.info["method"] == "milp"


def test_unreachable_target_warns_and_names_the_fallback():
    pool = LabelPool({"a": 6})
    scores = FrameScores(
        frames={"a": np.linspace(1, 0, 6)}, extra={"probs": {"a": np.eye(3)[[0, 0, 0, 0, 1, 0]]}}
    )
    with pytest.warns(
        UserWarning, match=r"unreachable: classes \[2\] need \[1.0\].*closest counts"
    ):
        sel = BalancedSelector(lam=10.0)(scores, pool, Budget(frames=3), RNG(0))
    assert sel.info["picked_counts"] == [2.0, 1.0, 0.0]


def test_budget_larger_than_the_pool_warns_and_takes_everything():
    pool, scores = frame_pool()
    for name in ("balanced", "balanced_kcenter"):
        s = FrameScores(frames=scores.frames, extra=dict(scores.extra))
        s.extra["frame_features"] = {
            v: RNG(1).normal(size=(n, 2)) for v, n in pool.num_frames.items()
        }
        with pytest.warns(UserWarning, match="covers all 59 candidate frames"):
            sel = SELECTORS[name](s, pool, Budget(frames=1000), RNG(0))
        assert sel.num_frames == pool.num_unlabeled


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lam": -1.0}, "lam"),
        ({"counts": "fuzzy"}, "counts"),
        ({"target": (0.0, 0.0, 0.0)}, "target"),
        ({"target": (1.0, -1.0, 1.0)}, "target"),
        ({"solver": "gurobi"}, "solver"),
    ],
)
def test_bad_options_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BalancedSelector(**kwargs)


def test_bad_inputs_are_one_line_errors():
    pool, scores = frame_pool()
    call = BalancedSelector()
    with pytest.raises(VidalError, match="target has 2 class proportions"):
        BalancedSelector(target=(1.0, 1.0))(scores, pool, Budget(frames=3), RNG(0))
    with pytest.raises(VidalError, match=r"extra\['probs'\]\['a'\]"):
        call(FrameScores(frames=scores.frames), pool, Budget(frames=3), RNG(0))
    bad = dict(scores.extra["probs"])
    bad["b"] = bad["b"] * 0.5
    with pytest.raises(VidalError, match="'b'.*frame 0 is not a probability row"):
        call(
            FrameScores(frames=scores.frames, extra={"probs": bad}), pool, Budget(frames=3), RNG(0)
        )
    bad = dict(scores.extra["probs"])
    bad["c"] = bad["c"][:, :2]
    with pytest.raises(VidalError, match=r"shape \(30, 2\), expected \(30, 3\)"):
        call(
            FrameScores(frames=scores.frames, extra={"probs": bad}), pool, Budget(frames=3), RNG(0)
        )
    labels = {v: np.full(n, 7) for v, n in pool.num_frames.items()}
    with pytest.raises(VidalError, match="class 7"):
        call(
            FrameScores(
                frames=scores.frames, extra={"probs": scores.extra["probs"], "labels": labels}
            ),
            pool,
            Budget(frames=3),
            RNG(0),
        )
    gain, probs, _, _ = instance(0)
    with pytest.raises(VidalError, match="no 4 items meet the constraints"):
        pick_balanced(
            gain, probs, 4, np.ones(3), lam=1.0, groups=np.zeros(9, int), group_caps=np.array([2])
        )


def test_milp_time_limit_falls_back_with_a_warning():
    rng = RNG(0)
    n, c = 3000, 24
    probs = rng.dirichlet(np.ones(c), size=n)
    gain = -(probs * np.log(probs)).sum(1)
    with pytest.warns(UserWarning, match="HiGHS (stopped at|found no integer solution in)"):
        pick = pick_balanced(
            gain, probs, 100, np.full(c, 100 / c), lam=5.0, solver="milp", time_limit=0.05
        )
    assert pick.method in ("milp-limit", "lp") and len(pick.indices) == 100
    assert pick.gap > 0


def test_auto_rounds_the_lp_relaxation_on_large_soft_problems():
    rng = RNG(1)
    n, c = MILP_MAX_ITEMS + 500, 24
    probs = rng.dirichlet(np.ones(c), size=n)
    gain = -(probs * np.log(probs)).sum(1)
    omega = np.full(c, 60 / c)
    pick = pick_balanced(gain, probs, 60, omega, lam=1.0)
    assert pick.method == "lp" and len(set(pick.indices.tolist())) == 60
    # within 1 % of the relaxation's bound, and better than Algorithm 2's greedy order
    assert pick.gap <= 0.01 * abs(pick.objective)
    greedy = pick_balanced(gain, probs, 60, omega, lam=1.0, solver="greedy")
    assert pick.objective <= greedy.objective


def test_kcenter_balanced_follows_algorithm_2():
    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    probs = np.eye(2)[[0, 1, 1, 0, 0]]
    labeled = np.array([[0.5]])
    # lam = 0: farthest first from the labeled frame at 0.5, then from what was picked
    picks, dist = kcenter_balanced(x, labeled, probs, 3, np.array([1.5, 1.5]), lam=0.0)
    assert picks.tolist() == [4, 2, 3]
    np.testing.assert_allclose(dist, [10.5, 1.5, 1.0])
    # lam large, Omega = [1, 2]: frame 4 first (either class leaves L1 = 2), then only
    # class 1 lowers L1: frames 2 and 1, not frame 3 (class 0) farther away
    picks, dist = kcenter_balanced(x, labeled, probs, 3, np.array([1.0, 2.0]), lam=100.0)
    assert picks.tolist() == [4, 2, 1]
    np.testing.assert_allclose(dist, [10.5, 1.5, 0.5])


def test_kcenter_selector_balances_and_skips_frames_near_labels():
    rng = RNG(0)
    lengths = {"a": 40, "b": 40}
    pool = LabelPool(lengths)
    pool.add_frames("a", [0])
    cls = {v: rng.choice(3, size=n, p=[0.85, 0.1, 0.05]) for v, n in lengths.items()}
    embed = {v: rng.normal(size=(n, 3)) + cls[v][:, None] * 0.1 for v, n in lengths.items()}
    embed["b"][5] = embed["a"][0]  # a duplicate of the labeled frame
    scores = FrameScores(
        extra={"probs": {v: np.eye(3)[c] for v, c in cls.items()}, "frame_features": embed}
    )
    picked = {}
    for lam in (0.0, 100.0):
        sel = BalancedKCenterSelector(lam=lam)(scores, pool, Budget(frames=12), RNG(0))
        assert 5 not in sel.frames.get("b", np.zeros(0)).tolist()
        picked[lam] = np.bincount(
            np.concatenate([cls[v][f] for v, f in sel.frames.items()]), minlength=3
        )
    assert l1_score(picked[100.0]) < l1_score(picked[0.0])


def video_pool(seed: int = 0):
    rng = RNG(seed)
    lengths = {f"v{i:02d}": int(rng.integers(20, 40)) for i in range(16)}
    pool = LabelPool(lengths)
    video_class = {v: int(c) for v, c in zip(lengths, [0] * 11 + [1] * 3 + [2] * 2, strict=True)}
    probs = {
        v: np.tile(np.eye(3)[video_class[v]] * 0.8 + 0.2 / 3, (n, 1)) for v, n in lengths.items()
    }
    scores = FrameScores(
        frames={
            v: rng.random(n) + (0.5 if video_class[v] == 0 else 0.0) for v, n in lengths.items()
        },
        features={v: rng.normal(size=2) for v in lengths},
        extra={"probs": probs},
    )
    pool.add_video_label("v00", 0)
    return pool, scores, video_class


def test_balanced_claus_with_lambda_zero_is_claus():
    pool, scores, _ = video_pool()
    budget = Budget(frames=40, videos=5)
    a = CLAUSSelector()(scores, pool, budget, RNG(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = BalancedCLAUSSelector(lam=0.0)(scores, pool, budget, RNG(3))
    assert a.videos == b.videos
    assert {v: f.tolist() for v, f in a.frames.items()} == {
        v: f.tolist() for v, f in b.frames.items()
    }


def test_balanced_claus_picks_videos_of_rare_classes_within_cluster_quotas():
    pool, scores, video_class = video_pool()
    budget = Budget(frames=40, videos=6)
    plain = CLAUSSelector(clusters=1)(scores, pool, budget, RNG(3))
    sel = BalancedCLAUSSelector(lam=5.0, clusters=1, counts="hard")(scores, pool, budget, RNG(3))
    count = lambda s: np.bincount([video_class[v] for v in s.videos], minlength=3).tolist()  # noqa: E731
    assert count(plain) == [6, 0, 0]
    # labeled [1, 0, 0] -> target [1.33, 2.33, 2.33]; only 2 videos of class 2 exist, and
    # [2, 2, 2] ties [1, 3, 2] on L1 (1.33) with class 0's higher scores
    assert count(sel) == [2, 2, 2]
    # soft rows (0.87 on the video's class): [1, 3, 2] has soft counts [1.2, 2.8, 2.0],
    # L1 0.93 from the target, [2, 2, 2] has [2, 2, 2], L1 1.33
    soft = BalancedCLAUSSelector(lam=5.0, clusters=1)(scores, pool, budget, RNG(3))
    assert count(soft) == [1, 3, 2]
    assert soft.info["balance"]["l1_to_target"] == pytest.approx(14 / 15)
    assert sel.info["balance"]["labeled_counts"] == [1.0, 0.0, 0.0]
    quota_sel = BalancedCLAUSSelector(lam=5.0, clusters=3)(scores, pool, budget, RNG(3))
    cluster = quota_sel.info["clusters"]
    taken = np.bincount(list(cluster.values()), minlength=3)
    assert np.all(taken <= np.ceil(np.array(quota_sel.info["quota"])))
