"""End to end: detections + flow -> links, candidates, estimated FP and FN per frame."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from tracking import Flows, TrackingError, estimate_errors
from tracking._boxes import box_iou

EMPTY = (np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))


def still_flows(num_frames, height=100, width=100):
    zero = np.zeros((num_frames - 1, height, width, 2), np.float32)
    return Flows(forward=zero, backward=zero, frame_size=(height, width))


def dets(*boxes, label=1, score=0.9):
    b = np.array(boxes, np.float32).reshape(-1, 4)
    return b, np.full(len(b), label, np.int64), np.full(len(b), score, np.float32)


@pytest.mark.parametrize(
    "module",
    [
        "tracking",
        "tracking.flow",
        "tracking.flow.methods",
        "tracking.flow.flows",
        "tracking.flow.store",
        "tracking.flow.cache",
        "tracking.propagate",
        "tracking.graph",
    ],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_video_without_detections_has_no_errors():
    result = estimate_errors([EMPTY] * 6, still_flows(6))
    assert result.fp_per_frame.tolist() == [0] * 6 and result.fn_per_frame.tolist() == [0] * 6
    assert len(result.candidates) == 0 and result.links.shape == (0, 2)
    assert [len(x) for x in result.detection_labels] == [0] * 6 and result.energy == 0.0
    single = estimate_errors([EMPTY], still_flows(1))
    assert single.fp_per_frame.tolist() == [0]


def test_missing_frame_becomes_a_false_negative_and_a_lone_box_a_false_positive():
    box, ghost = [20, 20, 40, 40], [60, 60, 80, 90]
    frames = [dets(box), dets(box), dets(box), EMPTY, dets(box, ghost), dets(box), dets(box)]
    result = estimate_errors(frames, still_flows(7))
    assert result.fn_per_frame.tolist() == [0, 0, 0, 1, 0, 0, 0]
    assert result.fp_per_frame.tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert result.detection_labels[4].tolist() == [1, 0]  # the object TP, the ghost FP
    fn = result.candidate_labels == 1
    np.testing.assert_allclose(result.candidates.boxes[fn], [box])
    # the FN candidate is supported by the six detections within 3 frames
    support = result.candidates.support
    assert len(support[support[:, 0] == np.flatnonzero(fn)[0]]) == 6


def test_classes_do_not_link_and_low_scores_are_ignored():
    box = [20, 20, 40, 40]
    frames = [dets(box, label=1), dets(box, label=2), dets(box, label=1), dets(box, score=0.2)]
    result = estimate_errors(frames, still_flows(4), window=1)
    assert result.detection_labels[3].tolist() == [-1]
    assert result.detection_labels[1].tolist() == [0]  # a class-2 box among class-1 boxes
    assert result.links.shape == (0, 2)
    kept = estimate_errors(frames, still_flows(4), window=1, score_threshold=0.0)
    assert kept.detection_labels[3].tolist() == [1]


def test_boxes_outside_the_frame_are_clipped_without_a_crash():
    frames = [
        dets([-30, -30, 20, 20], [90, 90, 150, 160]),
        dets([-30, -30, 20, 20], [200, 200, 300, 300]),  # second box wholly outside
        dets([-30, -30, 20, 20]),
    ]
    result = estimate_errors(frames, still_flows(3))
    np.testing.assert_allclose(result.detections.boxes[0], [0, 0, 20, 20])
    assert result.detection_labels[1].tolist() == [1, -1]  # empty after clipping: unused
    assert result.fp_per_frame.sum() + result.fn_per_frame.sum() >= 0


def test_mismatched_input_raises_tracking_error():
    flows = still_flows(3)
    with pytest.raises(TrackingError, match="flows cover 3"):
        estimate_errors([EMPTY] * 4, flows)
    with pytest.raises(TrackingError, match=r"\[N, 4\]"):
        estimate_errors([EMPTY, (np.zeros((2, 3)), np.zeros(2, int), np.zeros(2)), EMPTY], flows)
    with pytest.raises(TrackingError, match="same length"):
        estimate_errors([EMPTY, (np.zeros((2, 4)), np.zeros(3, int), np.zeros(2)), EMPTY], flows)
    with pytest.raises(TrackingError, match=r"\(boxes, labels, scores\)"):
        estimate_errors([EMPTY, (np.zeros((2, 4)), np.zeros(2, int)), EMPTY], flows)
    with pytest.raises(TrackingError, match="integers"):
        estimate_errors([EMPTY, (np.zeros((1, 4)), np.zeros(1), np.ones(1)), EMPTY], flows)
    with pytest.raises(TrackingError, match="iou_threshold"):
        estimate_errors([EMPTY] * 3, flows, iou_threshold=1.5)
    with pytest.raises(TrackingError, match="min_visible"):
        estimate_errors([EMPTY] * 3, flows, min_visible=2.0)
    with pytest.raises(TrackingError, match="non-negative"):
        estimate_errors([EMPTY] * 3, flows, pairwise_weight=-1.0)


def precision_recall(estimated: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    hits = float((estimated & true).sum())
    return hits / max(int(estimated.sum()), 1), hits / max(int(true.sum()), 1)


DETECTORS = {
    # misses independent per frame, false boxes in one frame only
    "independent": dict(miss_rate=0.2, miss_burst=1.0, false_per_frame=0.4, false_duration=1),
    # misses in runs (mean 2.5 frames), false boxes staying 1-3 frames at one place
    "bursty": dict(miss_rate=0.2, miss_burst=2.5, false_per_frame=0.4, false_duration=3),
}


@pytest.mark.parametrize("profile", list(DETECTORS))
def test_estimated_errors_beat_chance_on_a_simulated_detector(
    coherence_cases, simulate, profile, capsys
):
    """Three rendered scenes (objects moving over texture, DIS flow from the frames) and a
    detector that drops 20% of the object-frames and invents 0.4 boxes per frame. Compare the
    estimates with the truth: FP per detection, FN per candidate and per missed object, and
    both per frame; chance is the base rate (the precision of flagging at random)."""
    est_fp, true_fp = [], []
    cand_fn, cand_real, missed_total, missed_found = [], [], 0, 0
    frame_est_fn, frame_true_fn, frame_est_fp, frame_true_fp = [], [], [], []
    for seed, case in enumerate(coherence_cases):
        sim = simulate(np.random.default_rng(100 + seed), case.scene, **DETECTORS[profile])
        result = estimate_errors(sim.detections, case.flows)
        est_fp.append(np.concatenate([labels == 0 for labels in result.detection_labels]))
        true_fp.append(np.concatenate(sim.is_fp))
        cands, fn = result.candidates, result.candidate_labels == 1
        real = np.zeros(len(cands), bool)  # candidate overlaps an object the detector missed
        for t, missed in enumerate(sim.missed):
            in_t = np.flatnonzero(cands.frame == t)
            overlap = box_iou(cands.boxes[in_t], missed)
            real[in_t] = overlap.max(axis=1, initial=0.0) > 0.5
            missed_total += len(missed)
            missed_found += int((overlap[fn[in_t]].max(axis=0, initial=0.0) > 0.5).sum())
        cand_fn.append(fn)
        cand_real.append(real)
        frame_est_fn.append(result.fn_per_frame > 0)
        frame_true_fn.append(np.array([len(m) > 0 for m in sim.missed]))
        frame_est_fp.append(result.fp_per_frame > 0)
        frame_true_fp.append(np.array([f.any() for f in sim.is_fp]))
    est_fp, true_fp = np.concatenate(est_fp), np.concatenate(true_fp)
    cand_fn, cand_real = np.concatenate(cand_fn), np.concatenate(cand_real)
    frame_est_fn, frame_true_fn = np.concatenate(frame_est_fn), np.concatenate(frame_true_fn)
    frame_est_fp, frame_true_fp = np.concatenate(frame_est_fp), np.concatenate(frame_true_fp)

    fp_p, fp_r = precision_recall(est_fp, true_fp)
    fn_p = float(cand_real[cand_fn].mean())
    fn_r = missed_found / missed_total
    ffp_p, ffp_r = precision_recall(frame_est_fp, frame_true_fp)
    ffn_p, ffn_r = precision_recall(frame_est_fn, frame_true_fn)
    with capsys.disabled():
        print(
            f"\n  detector {profile!r}:"
            f"\n  FP per detection: precision {fp_p:.3f} recall {fp_r:.3f} "
            f"(chance precision = base rate {true_fp.mean():.3f}, {len(true_fp)} detections)"
            f"\n  FN per candidate/missed object: precision {fn_p:.3f} recall {fn_r:.3f} "
            f"(chance precision {cand_real.mean():.3f}, {len(cand_real)} candidates, "
            f"{missed_total} missed objects)"
            f"\n  FP per frame: precision {ffp_p:.3f} recall {ffp_r:.3f} "
            f"(base rate {frame_true_fp.mean():.3f})"
            f"\n  FN per frame: precision {ffn_p:.3f} recall {ffn_r:.3f} "
            f"(base rate {frame_true_fn.mean():.3f}, {len(frame_true_fn)} frames)"
        )
    assert fp_p > true_fp.mean() + 0.5 and fp_r > 0.8
    assert fn_p > cand_real.mean() + 0.5 and fn_r > 0.6
    assert ffp_p > frame_true_fp.mean() + 0.3 and ffp_r > 0.8
    assert ffn_p > frame_true_fn.mean() + 0.3 and ffn_r > 0.6


def test_median_mode_and_options_run_on_the_simulated_detector(coherence_cases, simulate):
    case = coherence_cases[0]
    sim = simulate(np.random.default_rng(5), case.scene)
    base = estimate_errors(sim.detections, case.flows)
    median = estimate_errors(sim.detections, case.flows, mode="median")
    true_fp = np.concatenate(sim.is_fp)
    for result in (base, median):
        est_fp = np.concatenate([labels == 0 for labels in result.detection_labels])
        assert precision_recall(est_fp, true_fp)[0] > 0.6
    narrow = estimate_errors(sim.detections, case.flows, window=1)
    assert narrow.fp_per_frame.shape == (len(sim.detections),)
    untied = estimate_errors(sim.detections, case.flows, tie_break=False)
    assert untied.energy == pytest.approx(base.energy)  # both are minima of Eq. 2.1
