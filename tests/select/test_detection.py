"""Detection acquisition (thesis ch. 2): per-frame scores from detections, per-video selection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import ConfigError, VidalError
from vidal.pool import Budget, LabelPool
from vidal.scoring.detection import (
    detection_entropy,
    detection_frame_scores,
    detection_least_confidence,
    detection_margin,
    frame_error_counts,
    frame_uncertainty,
    oracle_frame_errors,
)
from vidal.select.base import FrameScores
from vidal.select.detection import (
    DETECTION_SELECTORS,
    DetectionSelector,
    per_video_select,
    temporal_window_mask,
)


def det(scores, probs, boxes=None, labels=None):
    """One frame's detections; ``probs`` rows over background + K classes."""
    probs = np.asarray(probs, dtype=np.float32)
    return {
        "boxes": np.asarray(boxes if boxes is not None else np.zeros((len(scores), 4)), np.float32),
        "labels": np.asarray(labels if labels is not None else probs[:, 1:].argmax(1), np.int64),
        "scores": np.asarray(scores, np.float32),
        "probs": probs,
    }


# ---------------------------------------------------------------- per-detection scores
def test_least_confidence_ranks_an_unsure_frame_first():
    dets = [det([0.99], [[0.01, 0.99]]), det([0.51], [[0.49, 0.51]])]
    lc = frame_uncertainty(dets, method="least_confidence")
    np.testing.assert_allclose(lc, [0.01, 0.49], atol=1e-6)
    pool = LabelPool({"v": 2})
    scores = FrameScores(extra=detection_frame_scores({"v": dets}))
    sel = DETECTION_SELECTORS["least_confidence_det"](
        scores, pool, Budget(frames=1), np.random.default_rng(0)
    )
    assert sel.frames["v"].tolist() == [1]


def test_uncertainty_measures_on_known_distributions():
    p = np.array([[0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.6, 0.3]])
    np.testing.assert_allclose(detection_least_confidence(p), [0.0, 2 / 3, 0.4])
    np.testing.assert_allclose(
        detection_entropy(p),
        [0.0, np.log(3), -(0.1 * np.log(0.1) + 0.6 * np.log(0.6) + 0.3 * np.log(0.3))],
    )
    np.testing.assert_allclose(detection_margin(p), [0.0, 1.0, 0.7])
    # without background the foreground probabilities are renormalised
    np.testing.assert_allclose(
        detection_least_confidence(p, include_background=False), [0.0, 0.5, 1 / 3]
    )
    with pytest.raises(VidalError, match=r"\[N, K \+ 1\]"):
        detection_entropy(np.ones(3))


def test_frame_aggregation_mean_sum_and_empty_frames():
    two = det([0.9, 0.6], [[0.1, 0.9, 0.0], [0.3, 0.6, 0.1]])
    dets = [two, det([], np.zeros((0, 3))), None]
    np.testing.assert_allclose(
        frame_uncertainty(dets, method="least_confidence"), [(0.1 + 0.4) / 2, 0, 0]
    )
    np.testing.assert_allclose(
        frame_uncertainty(dets, method="margin"), [(1 - 0.8) + (1 - 0.3), 0, 0]
    )
    np.testing.assert_allclose(frame_uncertainty(dets, method="entropy", empty=-1.0)[1:], [-1, -1])
    # detections below min_score do not count
    np.testing.assert_allclose(
        frame_uncertainty(dets, method="least_confidence", min_score=0.7), [0.1, 0, 0], rtol=1e-6
    )
    with pytest.raises(VidalError, match="unknown uncertainty"):
        frame_uncertainty(dets, method="variance")  # type: ignore[arg-type]


# ---------------------------------------------------------------- oracle errors
def test_oracle_counts_on_a_hand_case():
    gt = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32)
    gt_labels = np.array([0, 0, 1])
    boxes = np.array(
        [
            [0, 0, 10, 10],  # TP of gt 0
            [0, 0, 10, 9],  # IoU 0.9 with gt 0, already matched: duplicate -> FP
            [20, 20, 30, 30],  # right place, wrong class -> FP; gt 1 stays missed
            [40, 40, 50, 50],  # TP of gt 2
            [100, 100, 110, 110],  # nothing there -> FP
        ],
        np.float32,
    )
    labels = np.array([0, 0, 1, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.95, 0.6])
    assert frame_error_counts(boxes, labels, scores, gt, gt_labels) == (3, 1)
    assert frame_error_counts(boxes, labels, scores, gt, gt_labels, class_aware=False) == (2, 0)
    # IoU must exceed the threshold: exactly 0.5 is not a match
    half = np.array([[0, 0, 10, 5]], np.float32)
    assert frame_error_counts(half, [0], [0.9], gt[:1], [0]) == (1, 1)
    # the higher-scoring of two overlapping detections takes the match
    assert frame_error_counts(boxes[[1, 0]], [0, 0], [0.3, 0.9], gt[:1], [0]) == (1, 0)
    assert frame_error_counts(np.zeros((0, 4)), [], [], gt, gt_labels) == (0, 3)
    assert frame_error_counts(boxes, labels, scores, np.zeros((0, 4)), []) == (5, 0)


def test_oracle_frame_errors_over_a_video():
    video = VideoAnnotation(
        "v", 3, 100, 100, tubes=[Tube(0, 0, 0, np.array([[10, 10, 30, 30]] * 2, np.float32))]
    )
    dets = [
        det([0.9], [[0.1, 0.9]], boxes=[[10, 10, 30, 30]], labels=[0]),  # TP
        det(
            [0.9, 0.3],
            [[0.1, 0.9], [0.7, 0.3]],
            boxes=[[60, 60, 80, 80], [10, 10, 30, 30]],
            labels=[0, 0],
        ),
        det([0.8], [[0.2, 0.8]], boxes=[[1, 1, 5, 5]], labels=[0]),  # no ground truth in frame 2
    ]
    fp, fn = oracle_frame_errors(dets, video)  # the 0.3 detection is below min_score 0.5
    assert fp.tolist() == [0, 1, 1] and fn.tolist() == [0, 1, 0]
    fp, fn = oracle_frame_errors(dets, video, min_score=0.0)
    assert fp.tolist() == [0, 1, 1] and fn.tolist() == [0, 0, 0]
    with pytest.raises(VidalError, match="2 frames of detections"):
        oracle_frame_errors(dets[:2], video)
    extra = detection_frame_scores({"v": dets}, dataset=VideoDataset(["car"], [video]))
    assert set(extra) == {"least_confidence", "entropy", "margin", "gt_fp", "gt_fn"}
    sel = DETECTION_SELECTORS["oracle_fn"](
        FrameScores(extra=extra), LabelPool({"v": 3}), Budget(frames=1), np.random.default_rng(0)
    )
    assert {k: v.tolist() for k, v in sel.frames.items()} == {"v": [1]}


# ---------------------------------------------------------------- per-video selection
def test_per_video_sampling_spreads_picks_over_videos():
    # the long video has every high score, yet each video gets a frame first
    pool = LabelPool({"long": 100, "s1": 5, "s2": 5})
    values = {"long": np.linspace(10, 20, 100), "s1": np.arange(5.0), "s2": np.arange(5.0) / 10}
    sel = per_video_select(values, pool, Budget(frames=3), np.random.default_rng(0), window=0)
    assert {k: v.tolist() for k, v in sel.frames.items()} == {"long": [99], "s1": [4], "s2": [4]}
    # the budget for a partial round goes to the videos with the best frames
    sel = per_video_select(values, pool, Budget(frames=5), np.random.default_rng(0), window=0)
    assert {k: v.tolist() for k, v in sel.frames.items()} == {
        "long": [98, 99],
        "s1": [3, 4],
        "s2": [4],
    }
    assert sel.info["rounds"] == 2
    np.testing.assert_allclose(sel.scores["s1"], [3.0, 4.0])


def test_window_keeps_picks_away_from_labeled_frames_and_each_other():
    pool = LabelPool({"v": 10})
    pool.add_frames("v", [5])
    values = {"v": np.array([0, 1, 2, 3, 9, 8, 9, 7, 6, 5.0])}
    sel = per_video_select(values, pool, Budget(frames=10), np.random.default_rng(0), window=1)
    # 4 and 6 touch labeled 5; 7 is picked first, then 8 is its neighbour, 9 is not
    assert sel.frames["v"].tolist() == [1, 3, 7, 9]
    assert temporal_window_mask(pool.mask("v"), 3).astype(int).tolist() == [
        0,
        0,
        1,
        1,
        1,
        1,
        1,
        1,
        1,
        0,
    ]
    sel3 = per_video_select(values, pool, Budget(frames=10), np.random.default_rng(0), window=3)
    assert sel3.frames["v"].tolist() == [1, 9]
    sel0 = per_video_select(values, pool, Budget(frames=10), np.random.default_rng(0), window=0)
    assert sel0.frames["v"].tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9]


def test_cost_budget():
    costs = {"a": np.array([2.0, 2, 8, 2]), "b": np.array([2.0, 2, 2, 2])}
    pool = LabelPool({"a": 4, "b": 4}, frame_costs=costs)
    values = {"a": np.array([0, 0, 9.0, 0]), "b": np.array([5.0, 0, 0, 0])}
    sel = per_video_select(values, pool, Budget(cost=9.0), np.random.default_rng(0), window=0)
    # a:2 (value 9, cost 8) goes first; b:0 (cost 2) no longer fits the 1 left
    assert sel.cost(pool) <= 9.0
    assert sel.frames["a"].tolist() == [2]
    sel = per_video_select(values, pool, Budget(cost=7.0), np.random.default_rng(0), window=0)
    assert sel.cost(pool) == 6.0 and 2 not in sel.frames.get("a", [])


def test_criteria_read_their_extra_arrays():
    pool = LabelPool({"a": 4})
    rng = np.random.default_rng
    fp = {"a": np.array([0, 3, 0, 0.0])}
    fn = {"a": np.array([0, 0, 0, 2.0])}
    frames = {"a": np.array([5, 0, 0, 0.0])}
    scores = FrameScores(frames=frames, extra={"fp": fp, "fn": fn})

    def pick(name, s):
        return DETECTION_SELECTORS[name](s, pool, Budget(frames=1), rng(0)).frames["a"].tolist()

    assert pick("tc", scores) == [1]
    assert pick("tc_fn", scores) == [3]
    assert pick(
        "tc_fpfn", FrameScores(extra={"fp": fp, "fn": {"a": np.array([0, 0, 0, 4.0])}})
    ) == [3]
    assert DETECTION_SELECTORS["tc_fpfn"].requires == {"extra:fp", "extra:fn"}
    assert DETECTION_SELECTORS["random_tr_det"].requires == frozenset()
    with pytest.raises(VidalError, match=r"extra \[.gt_fp.\]: no frame scores"):
        pick("oracle_fp", scores)  # FrameScores.frames is not read
    with pytest.raises(VidalError, match="no frame scores"):
        pick("tc_fpfn", FrameScores(extra={"fp": fp}))
    with pytest.raises(VidalError, match="shape"):
        pick("tc", FrameScores(extra={"fp": {"a": np.zeros(3)}}))
    with pytest.raises(VidalError, match="not finite"):
        pick("tc", FrameScores(extra={"fp": {"a": np.array([0, np.nan, 0, 0])}}))
    with pytest.raises(ConfigError, match="known"):
        DetectionSelector(criterion="loss")
    with pytest.raises(ConfigError, match="window"):
        DetectionSelector(criterion="tc", window=-1)
    sel = DETECTION_SELECTORS["tc"](scores, pool, Budget(frames=1), rng(0))
    assert sel.info["criterion"] == "tc" and sel.info["window"] == 1


def test_ties_are_broken_at_random_and_reproducibly():
    pool = LabelPool({"a": 50})
    scores = FrameScores(extra={"fp": {"a": np.ones(50)}})
    picks = {
        tuple(
            DETECTION_SELECTORS["tc"](
                scores, pool, Budget(frames=3), np.random.default_rng(s)
            ).frames["a"]
        )
        for s in range(5)
    }
    assert len(picks) > 1
    one = DETECTION_SELECTORS["tc"](scores, pool, Budget(frames=3), np.random.default_rng(7))
    two = DETECTION_SELECTORS["tc"](scores, pool, Budget(frames=3), np.random.default_rng(7))
    assert one.to_json() == two.to_json()


def test_random_selectors_spread_over_videos():
    pool = LabelPool({"long": 1000, "short": 4, "mid": 30})
    for name in ("random_det", "random_tr_det"):
        sel = DETECTION_SELECTORS[name](
            FrameScores(), pool, Budget(frames=6), np.random.default_rng(3)
        )
        assert {k: len(v) for k, v in sel.frames.items()} == {"long": 2, "short": 2, "mid": 2}
    assert (
        DETECTION_SELECTORS["random_tr_det"].window == 1
        and DETECTION_SELECTORS["random_det"].window == 0
    )


def test_registered_with_the_generic_selectors():
    from vidal.select import SELECTORS, get_selector

    assert all(SELECTORS[name] is sel for name, sel in DETECTION_SELECTORS.items())
    assert get_selector("tc", window=3) == DetectionSelector(criterion="tc", window=3)
    assert {"tc", "tc_fn", "tc_fpfn", "oracle_fp", "oracle_fn"} <= set(DETECTION_SELECTORS)


# ---------------------------------------------------------------- the selector contract
def _full_scores(pool: LabelPool, seed: int) -> FrameScores:
    r = np.random.default_rng(seed)
    per = lambda: {v: r.integers(0, 4, n).astype(float) for v, n in pool.num_frames.items()}  # noqa: E731
    keys = ("fp", "fn", "gt_fp", "gt_fn", "least_confidence", "entropy", "margin")
    return FrameScores(frames=per(), extra={k: per() for k in keys})


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 30), min_size=1, max_size=5),
    labeled_frac=st.floats(0, 1),
    frames=st.integers(0, 40),
    cost=st.one_of(st.none(), st.floats(0, 60)),
    seed=st.integers(0, 2**16),
    name=st.sampled_from(sorted(DETECTION_SELECTORS)),
    window=st.integers(0, 3),
)
def test_detection_contract(lengths, labeled_frac, frames, cost, seed, name, window):
    r = np.random.default_rng(seed)
    pool = LabelPool(
        {f"v{i}": n for i, n in enumerate(lengths)},
        frame_costs={f"v{i}": r.integers(1, 5, n).astype(float) for i, n in enumerate(lengths)},
    )
    for v, n in pool.num_frames.items():
        pool.add_frames(v, np.flatnonzero(r.random(n) < labeled_frac))
    scores = _full_scores(pool, seed)
    selector = DetectionSelector(criterion=DETECTION_SELECTORS[name].criterion, window=window)
    budget = Budget(frames=frames, cost=cost)
    sel = selector(scores, pool, budget, np.random.default_rng(seed))
    assert sel.num_frames <= frames
    if cost is not None:
        assert sel.cost(pool) <= cost + 1e-9
    for v, picked in sel.frames.items():
        assert picked.dtype == np.int64 and (np.diff(picked) > 0).all()
        assert not pool.mask(v)[picked].any()  # never a labeled frame
        near = temporal_window_mask(pool.mask(v), window)
        assert not near[picked].any()  # never next to one
        if len(picked) > 1:
            assert np.diff(picked).min() > window  # nor next to another pick
        if DETECTION_SELECTORS[name].requires:
            assert sel.scores[v].shape == picked.shape
    again = selector(scores, pool, budget, np.random.default_rng(seed))
    assert again.to_json() == sel.to_json()
    # a full budget stops only when no allowed frame is left
    if budget.cost is None and sel.num_frames < frames:
        for v in pool.video_ids:
            blocked = temporal_window_mask(pool.mask(v), window)
            for t in sel.frames.get(v, []):
                blocked[max(t - window, 0) : t + window + 1] = True
            assert blocked.all()


def test_fully_labeled_pool_gives_an_empty_selection():
    pool = LabelPool({"a": 3})
    pool.add_frames("a", [0, 1, 2])
    for selector in DETECTION_SELECTORS.values():
        sel = selector(_full_scores(pool, 0), pool, Budget(frames=2), np.random.default_rng(0))
        assert sel.num_frames == 0 and sel.frames == {}


def test_selection_does_not_depend_on_the_pool_order():
    lengths = {"b": 9, "a": 5, "c": 12}
    one = LabelPool(lengths)
    two = LabelPool(dict(sorted(lengths.items())))
    scores = _full_scores(one, seed=0)
    for selector in DETECTION_SELECTORS.values():
        a = selector(scores, one, Budget(frames=5), np.random.default_rng(1))
        b = selector(scores, two, Budget(frames=5), np.random.default_rng(1))
        assert a.to_json() == b.to_json()
