"""The contract every selector in ``SELECTORS`` keeps, detection selectors included.

A selector states what it reads in a class attribute ``requires`` (``"frames"``,
``"features"``, ``"centers"``, ``"extra:<name>"``, ``"lookahead"``) and whether it uses the ``rng``
(``stochastic``); the fixtures feed it accordingly. A selector without these attributes is
fed frame scores and features and treated as stochastic.

Selectors whose options change what they read are run with those options too (``CASES``).

The contract: it never picks a labeled frame; never exceeds ``budget.frames``,
``budget.cost`` or ``budget.videos``; gives the same selection for the same seed; handles a
pool with no videos and a fully labeled pool (an empty selection); rejects non-finite scores
with a :class:`VidalError`; takes a budget larger than the pool without error (at most
what is left); returns a JSON-able selection; and, when deterministic, does not depend on
the order of the pool's videos.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select import SELECTORS, FrameScores, Selection, get_selector

# every registered selector with its defaults, and variants whose options change what they read
CASES = {
    **SELECTORS,
    "metadata_cycle[scene,subject]": get_selector("metadata_cycle", fields=("scene", "subject")),
    "metadata_cycle[video,scene,random]": get_selector(
        "metadata_cycle", fields=("video", "scene"), pick="random"
    ),
    "dispersion[ties=frames]": get_selector("dispersion", ties="frames"),
}
NAMES = sorted(CASES)
DETERMINISTIC = [n for n in NAMES if not getattr(CASES[n], "stochastic", True)]
LENGTHS = {"v0": 30, "v1": 1, "v2": 17, "v3": 45, "v4": 8, "v5": 60}


# per-frame arrays with more than one column (see FrameScores.extra); others are [T] floats
EXTRA = {
    "probs": lambda rng, n: rng.dirichlet(np.ones(3), size=n),  # [T, C] class probabilities
    "frame_features": lambda rng, n: rng.normal(size=(n, 4)),  # [T, D] frame features
    "meta:": lambda rng, n: rng.integers(0, 3, n).astype(np.float64),  # metadata codes
}


def requirements(selector) -> frozenset[str]:
    return getattr(selector, "requires", frozenset({"frames", "features"}))


def make_scores(selector, pool: LabelPool, seed: int = 0) -> FrameScores:
    """Non-negative random scores for every video, and whatever else ``selector`` requires."""
    rng = np.random.default_rng(seed)
    needs = requirements(selector)
    scores = FrameScores(
        frames={v: rng.random(n) for v, n in pool.num_frames.items()},
        features={v: rng.normal(size=4) for v in pool.num_frames},
    )
    if "centers" in needs:
        scores.centers = rng.normal(size=(3, 4))
    for need in sorted(needs):
        if need.startswith("extra:"):
            name = need.split(":", 1)[1]
            make = EXTRA.get(name, lambda rng, n: rng.random(n) * 3)
            if name.startswith("meta:"):  # categorical codes of a metadata field
                make = EXTRA["meta:"]
            scores.extra[name] = {v: make(rng, n) for v, n in pool.num_frames.items()}
    if "lookahead" in needs:  # a made-up gain: the batch's summed frame scores
        scores.lookahead = lambda sel: float(
            sum(scores.frames[v][f].sum() for v, f in sel.frames.items())
        )
    return scores


def make_pool(lengths=LENGTHS, order=None, seed=0) -> LabelPool:
    rng = np.random.default_rng(seed)
    ids = list(lengths) if order is None else order
    costs = {v: rng.choice([2.0, 4.0, 6.0], size=lengths[v]) for v in sorted(lengths)}
    pool = LabelPool({v: lengths[v] for v in ids}, frame_costs=costs)
    for v in sorted(lengths):
        n = lengths[v]
        k = int(rng.integers(0, max(1, n // 6) + 1))
        pool.add_frames(v, rng.choice(n, size=k, replace=False))
    if "v2" in lengths:
        pool.add_video_label("v2", 1)
    return pool


BUDGETS = [
    Budget(frames=7),
    Budget(cost=15.0),
    Budget(frames=5, cost=11.0),
    Budget(frames=9, videos=2),
    Budget(frames=0, videos=0),
]


def check_valid(sel: Selection, pool: LabelPool, budget: Budget) -> None:
    assert isinstance(sel, Selection)
    for v, frames in sel.frames.items():
        assert v in pool.num_frames
        frames = np.asarray(frames)
        assert frames.dtype.kind == "i"
        assert np.all(np.diff(frames) > 0), f"{v}: frames not sorted and unique"
        assert frames.min() >= 0 and frames.max() < pool.num_frames[v]
        assert not pool.mask(v)[frames].any(), f"{v}: a labeled frame was selected"
        if v in sel.scores:
            assert len(sel.scores[v]) == len(frames)
    if budget.frames is not None:
        assert sel.num_frames <= budget.frames
    if budget.cost is not None:
        assert sel.cost(pool) <= budget.cost + 1e-9
    if budget.videos is not None:
        assert len(sel.videos) <= budget.videos
    assert len(set(sel.videos)) == len(sel.videos) and set(sel.videos) <= set(pool.num_frames)
    json.dumps(sel.to_json())


def same(a: Selection, b: Selection) -> bool:
    return json.dumps(a.to_json(), sort_keys=True) == json.dumps(b.to_json(), sort_keys=True)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("budget", BUDGETS, ids=repr)
def test_respects_labels_and_budget(name, budget):
    selector = CASES[name]
    pool = make_pool()
    sel = selector(make_scores(selector, pool), pool, budget, np.random.default_rng(0))
    check_valid(sel, pool, budget)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_selection(name):
    selector = CASES[name]
    pool = make_pool()
    scores = make_scores(selector, pool)
    budget = Budget(frames=10, videos=3)
    a = selector(scores, pool, budget, np.random.default_rng(42))
    b = selector(scores, pool, budget, np.random.default_rng(42))
    assert same(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_empty_pool(name):
    selector = CASES[name]
    pool = LabelPool({})
    sel = selector(
        FrameScores(), pool, Budget(frames=5, videos=2, cost=10.0), np.random.default_rng(0)
    )
    assert sel.num_frames == 0 and sel.videos == []


@pytest.mark.parametrize("name", NAMES)
def test_fully_labeled_pool(name):
    selector = CASES[name]
    pool = make_pool()
    for v, n in pool.num_frames.items():
        pool.add_frames(v, range(n))
        pool.add_video_label(v, 0)
    sel = selector(
        make_scores(selector, pool), pool, Budget(frames=5, videos=2), np.random.default_rng(0)
    )
    assert sel.num_frames == 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_scores_are_rejected(name, bad):
    selector = CASES[name]
    pool = make_pool()
    needs = requirements(selector)
    arrays = ["frames"] if "frames" in needs else []
    arrays += [n.split(":", 1)[1] for n in needs if n.startswith("extra:")]
    if not arrays:
        arrays = ["frames"]  # a selector that reads no scores still rejects bad ones it is given
    for where in arrays:
        scores = make_scores(selector, pool)
        target = scores.frames if where == "frames" else scores.extra[where]
        target["v5"][int(np.flatnonzero(~pool.mask("v5"))[3])] = bad  # v5 has room everywhere
        with pytest.raises(VidalError):
            selector(scores, pool, Budget(frames=5, videos=2), np.random.default_rng(0))


@pytest.mark.parametrize("name", NAMES)
def test_budget_larger_than_the_pool_takes_at_most_what_is_left(name):
    selector = CASES[name]
    pool = make_pool()
    budget = Budget(frames=10**6, videos=10**3, cost=1e9)
    sel = selector(make_scores(selector, pool), pool, budget, np.random.default_rng(0))
    check_valid(sel, pool, budget)
    assert 0 < sel.num_frames <= pool.num_unlabeled


@pytest.mark.parametrize("name", DETERMINISTIC)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_property_permuting_videos_permutes_results(name, data):
    selector = CASES[name]
    lengths = data.draw(
        st.dictionaries(
            st.sampled_from([f"v{i}" for i in range(8)]), st.integers(1, 40), min_size=1, max_size=6
        )
    )
    seed = data.draw(st.integers(0, 1000))
    order = data.draw(st.permutations(sorted(lengths)))
    budget = Budget(frames=data.draw(st.integers(0, 30)), videos=data.draw(st.integers(0, 4)))
    pool = make_pool(lengths, seed=seed)
    shuffled = make_pool(lengths, order=list(order), seed=seed)
    assert list(shuffled.num_frames) == list(order)
    scores = make_scores(selector, pool, seed)
    a = selector(scores, pool, budget, np.random.default_rng(0))
    b = selector(scores, shuffled, budget, np.random.default_rng(0))
    assert same(a, b)
