"""tools/tc_real_video.py: truth against one annotated object, injected errors, metrics
against chance (hand-checked), and the tool end to end on a few real frames."""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torchvision.ops import box_iou

from tracking import Flows, TrackingError, estimate_errors
from vidal.errors import ConfigError, DecodeError

OBJECT = np.array([20, 20, 40, 40], np.float32)


@pytest.fixture
def tool(load_tool):
    return load_tool("tc_real_video.py")


@pytest.fixture
def ev(tool):
    """The tool's pure pieces (truth, metrics, injection): the module it imported."""
    return sys.modules["_tc_eval"]


def dets(*boxes, scores=None):
    b = np.array(boxes, np.float32).reshape(-1, 4)
    s = np.full(len(b), 0.9, np.float32) if scores is None else np.array(scores, np.float32)
    return b, np.zeros(len(b), np.int64), s


def still(num_frames, size=100):
    zero = np.zeros((num_frames - 1, size, size, 2), np.float32)
    return Flows(forward=zero, backward=zero, frame_size=(size, size))


def test_mask_box_has_exclusive_right_and_bottom_edges(tool):
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:5] = True  # rows 1-3, columns 2-4
    assert tool.mask_box(mask).tolist() == [2, 1, 5, 4]
    assert np.isnan(tool.mask_box(np.zeros((6, 8), bool))).all()


def test_detections_are_matched_in_score_order_and_sorted_by_iou(ev):
    boxes = [
        [0, 0, 10, 10],  # IoU 1.0, score 0.6: a duplicate of the higher-scoring match
        [1, 0, 11, 10],  # IoU 90 / 110 = 0.82, score 0.9: the match
        [0, 0, 10, 4],  # IoU 40 / 100 = 0.4: mislocalized
        [0, 0, 10, 0.5],  # IoU 0.05 < 0.1: other
        [20, 20, 30, 30],  # IoU 0: other
    ]
    kinds = ev.classify_detections(
        np.array(boxes, np.float32), np.array([0.6, 0.9, 0.5, 0.8, 0.99]), np.array([0, 0, 10, 10])
    )
    k = ev
    assert kinds.tolist() == [k.DUPLICATE, k.MATCHED, k.MISLOCALIZED, k.OTHER, k.OTHER]
    # a looser near-IoU moves the sliver from other to mislocalized
    loose = ev.classify_detections(
        np.array(boxes, np.float32), np.ones(5), np.array([0, 0, 10, 10]), near_iou=0.01
    )
    assert loose[3] == k.MISLOCALIZED
    absent = ev.classify_detections(np.array(boxes, np.float32), np.ones(5), np.full(4, np.nan))
    assert (absent == k.OTHER).all()
    assert ev.classify_detections(np.zeros((0, 4)), np.zeros(0), OBJECT).shape == (0,)


def test_truth_marks_misses_and_injected_boxes(ev):
    frames = [dets(OBJECT), dets(), dets([60, 60, 80, 80]), dets()]
    objects = np.stack([OBJECT, OBJECT, OBJECT, np.full(4, np.nan)])
    truth = ev.clip_truth(frames, objects)
    assert truth.missed.tolist() == [False, True, True, False]  # no object on frame 3
    assert truth.kinds[2].tolist() == [ev.OTHER]
    marked = ev.clip_truth(frames, objects, injected=[[False], [], [True], []])
    assert marked.kinds[2].tolist() == [ev.INJECTED]
    fp, fn = ev.true_counts(marked, ev.DEFINITIONS["verifiable"])
    assert fp.tolist() == [0, 0, 1, 0] and fn.tolist() == [0, 1, 1, 0]


def coherence_case(ev):
    """Seven still frames: the object everywhere but frame 3, an unannotated ghost on frame
    4 and a mislocalized box (IoU 0.35) on frame 5. By hand, TC calls the frame-3 gap a FN
    (six detections support it) and the two lone boxes FP (Eqs. 2.1-2.4)."""
    ghost, half = [60, 60, 80, 90], [20, 20, 40, 27]
    frames = [dets(OBJECT)] * 3 + [dets(), dets(OBJECT, ghost), dets(OBJECT, half), dets(OBJECT)]
    result = estimate_errors(frames, still(7), score_threshold=0.0)
    truth = ev.clip_truth(frames, np.tile(OBJECT, (7, 1)))
    return frames, result, truth


def test_estimated_and_true_counts_under_both_definitions(ev):
    _, result, truth = coherence_case(ev)
    assert result.fp_per_frame.tolist() == [0, 0, 0, 0, 1, 1, 0]
    assert truth.kinds[4].tolist() == [ev.MATCHED, ev.OTHER]
    assert truth.kinds[5].tolist() == [ev.MATCHED, ev.MISLOCALIZED]
    verifiable, complete = ev.DEFINITIONS["verifiable"], ev.DEFINITIONS["complete"]
    # verifiable: the ghost is left out of the truth and of the estimate
    assert [c.tolist() for c in ev.true_counts(truth, verifiable)] == [
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 1, 0, 0, 0],
    ]
    est_fp, est_fn = ev.estimated_counts(result, truth, verifiable)
    assert est_fp.tolist() == [0, 0, 0, 0, 0, 1, 0] and est_fn.tolist() == [0, 0, 0, 1, 0, 0, 0]
    # complete: the ghost is false, and TC called it so
    assert ev.true_counts(truth, complete)[0].tolist() == [0, 0, 0, 0, 1, 1, 0]
    assert ev.estimated_counts(result, truth, complete)[0].tolist() == [0, 0, 0, 0, 1, 1, 0]
    # candidates tracked only from the ghost are not counted under 'verifiable'
    counted = ev.counted_candidates(result, truth, verifiable)
    from_ghost = np.isin(
        np.arange(len(result.candidates)),
        result.candidates.support[result.candidates.support[:, 1] == 4, 0],  # ghost: flat 4
    )
    assert len(result.detections) == 8 and result.detections.boxes[4].tolist() == [60, 60, 80, 90]
    assert from_ghost.any() and not counted[from_ghost].any() and counted[~from_ghost].all()
    assert ev.counted_candidates(result, truth, complete).all()


def test_detection_counts_by_hand_and_pooling(ev):
    _, result, truth = coherence_case(ev)
    d = ev.detection_counts(result, truth, ev.DEFINITIONS["verifiable"])
    # 7 counted (6 matched + the mislocalized box), 1 false, labelled FP; the frame-3 miss
    # found by one FN candidate on the object
    assert (d.detections, d.false, d.labelled_fp, d.fp_hits) == (7, 1, 1, 1)
    assert (d.targets, d.targets_found, d.labelled_fn, d.fn_hits) == (1, 1, 1, 1)
    assert (d.misses, d.misses_found) == (1, 1)
    c = ev.detection_counts(result, truth, ev.DEFINITIONS["complete"])
    assert (c.detections, c.false, c.labelled_fp, c.fp_hits) == (8, 2, 2, 2)
    both = (d + c).summary()
    assert both["detections"] == 15 and both["fp_precision"] == 1.0
    assert both["fp_chance"] == pytest.approx(3 / 15) and both["fn_recall"] == 1.0


def test_frame_metrics_by_hand(ev):
    est, true = np.array([1, 0, 2, 0, 0, 1]), np.array([1, 1, 0, 0, 0, 1])
    m = ev.frame_metrics(est, true, rng=np.random.default_rng(0), draws=20000)
    # flagged 0, 2, 5; true 0, 1, 5; hits 0 and 5
    assert (m.frames, m.positives, m.flagged, m.hits) == (6, 3, 3, 2)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    assert m.chance_precision == 0.5
    # 3 random frames of 6: E[hits] = 3 * 3 / 6 = 1.5, precision 0.5, recall 0.5
    assert m.random_precision == pytest.approx(0.5, abs=0.01)
    assert m.random_recall == pytest.approx(0.5, abs=0.01)
    kept = ev.frame_metrics(est, true, rng=np.random.default_rng(0), keep=np.arange(6) != 2)
    assert (kept.frames, kept.flagged, kept.hits, kept.precision) == (5, 2, 2, 1.0)
    none = ev.frame_metrics(np.zeros(4), np.zeros(4), rng=np.random.default_rng(0))
    assert none.precision is None and none.recall is None and none.random_precision is None
    with pytest.raises(ConfigError, match="same"):
        ev.frame_metrics(np.zeros(3), np.zeros(4), rng=np.random.default_rng(0))


def test_rank_correlation_against_shuffles(ev):
    rng = np.random.default_rng(0)
    est, true = np.array([0, 2, 1, 3, 0, 5]), np.array([0, 1, 1, 2, 0, 3])
    r = ev.rank_correlation(est, true, rng=rng, draws=2000)
    assert r.rho == pytest.approx(spearmanr(est, true).statistic)
    assert r.rho > 0.9 and r.p_value < 0.05 and abs(r.random_mean) < 0.1
    worst = ev.rank_correlation(est, -true, rng=rng, draws=2000)
    assert worst.rho < -0.9 and worst.p_value > 0.95
    assert ev.rank_correlation(est, np.zeros(6), rng=rng).rho is None  # nothing to rank


def test_drop_frames_rates_runs_and_eligibility(ev):
    rng = np.random.default_rng(1)
    every = np.ones(20000, bool)
    assert not ev.drop_frames(rng, every, rate=0.0).any()
    assert ev.drop_frames(rng, every, rate=1.0).all()
    some = np.arange(20) % 2 == 0
    assert not (ev.drop_frames(rng, some, rate=1.0, burst=3.0) & ~some).any()
    single = ev.drop_frames(rng, every, rate=0.2)
    bursty = ev.drop_frames(rng, every, rate=0.2, burst=3.0)
    assert single.mean() == pytest.approx(0.2, abs=0.01)
    assert bursty.mean() == pytest.approx(0.2, abs=0.015)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, bursty.astype(int), 0])))[::2]  # run lengths
    assert 2.7 < runs.mean() < 3.8  # geometric mean 3 (adjacent runs merge now and then)
    with pytest.raises(ConfigError, match="burst"):
        ev.drop_frames(rng, every, rate=0.2, burst=0.5)


def test_false_boxes_keep_away_from_what_they_avoid(ev):
    rng = np.random.default_rng(2)
    avoid = np.array([[0, 0, 50, 100]], np.float32)
    for _ in range(20):
        box = ev.place_false_box(rng, (20, 20), (100, 100), avoid)
        assert box[0] >= 0 and box[2] <= 100 and box[2] - box[0] == pytest.approx(20)
        inter = max(0.0, min(50.0, box[2]) - box[0]) * 20  # the box spans 20 rows inside
        assert inter / (400 + 5000 - inter) < 0.1
    # a 20 px grid: a 20 x 20 box anywhere has IoU >= 100 / 700 with one of its cells
    grid = np.array([[x, y, x + 20, y + 20] for x in range(0, 100, 20) for y in range(0, 100, 20)])
    assert ev.place_false_box(rng, (20, 20), (100, 100), grid, tries=50) is None
    # IoU is the rule: a small box inside a large one has a small IoU
    inside = ev.place_false_box(rng, (20, 20), (100, 100), np.array([[0, 0, 100, 100]]))
    assert inside is not None


def test_injection_drops_matches_and_adds_known_false_boxes(ev):
    frames = [dets(OBJECT, [70, 70, 90, 90], scores=[0.9, 0.4]) for _ in range(30)]
    truth = ev.clip_truth(frames, np.tile(OBJECT, (30, 1)))
    profile = ev.InjectionProfile(drop_rate=1.0, false_rate=2.0, false_duration=3)
    inj = ev.inject_errors(
        np.random.default_rng(3), frames, truth, (120, 160), profile, score_range=(0.25, 1.0)
    )
    assert inj.dropped.all()
    added = 0
    for (boxes, labels, scores), injected in zip(inj.detections, inj.injected, strict=True):
        real = boxes[~injected]
        np.testing.assert_array_equal(real, [[70, 70, 90, 90]])  # the match gone, other kept
        assert (labels == 0).all() and (scores[injected] >= 0.25).all()
        iou = box_iou(torch.from_numpy(boxes[injected]), torch.from_numpy(boxes[~injected]))
        assert (iou < 0.15).all()  # placed below 0.1, then jittered
        iou = box_iou(torch.from_numpy(boxes[injected]), torch.from_numpy(OBJECT[None]))
        assert (iou < 0.15).all()
        added += int(injected.sum())
    assert added > 30  # about 2 a frame, each lasting 1-3 frames
    after = ev.clip_truth(inj.detections, truth.object_boxes, injected=inj.injected)
    assert after.missed.all()
    none = ev.inject_errors(
        np.random.default_rng(3), frames, truth, (120, 160), ev.InjectionProfile(0.0, 1.0, 0.0)
    )
    assert not none.dropped.any() and not any(i.any() for i in none.injected)


def test_tc_finds_injected_lone_boxes_and_isolated_drops_on_a_still_scene(tool, ev):
    """A still scene, the object detected on all 40 frames: every injected one-frame false
    box is a lone detection (FP by Eq. 2.1) and every isolated drop is supported by its six
    neighbours (FN), so TC finds them all; frames where the detector erred itself are left
    out of the per-frame figures."""
    frames = [dets(OBJECT) for _ in range(40)]
    truth = ev.clip_truth(frames, np.tile(OBJECT, (40, 1)))
    profile = ev.InjectionProfile(drop_rate=0.1, false_rate=0.2, false_duration=1)
    seeds = [np.random.SeedSequence(0, spawn_key=(s,)) for s in range(3)]
    counts, unplaced = tool.injected_counts(frames, truth, still(40), profile, seeds)
    s = counts.summary(draws=100)
    assert unplaced == 0 and s["fp"]["positives"] > 5 and s["fn"]["positives"] > 3
    assert s["fp"]["precision"] == 1.0 and s["fp"]["recall"] == 1.0
    assert s["detections"]["fp_recall"] == 1.0 and s["detections"]["fp_precision"] == 1.0
    isolated = s["fn"]["recall"]
    assert isolated > 0.7 and s["fn"]["precision"] == 1.0
    assert s["fp"]["chance_precision"] < 0.5 and s["rank"]["rho"] > 0.8
    assert len(counts.est_fp) == 120  # three draws pooled


def test_flow_specs_and_methods(tool):
    assert tool.FlowSpec.parse("dis-medium") == tool.FlowSpec("dis-medium", 1.0)
    half = tool.FlowSpec.parse("dis-ultrafast@0.5")
    assert half.scale == 0.5 and str(half) == "dis-ultrafast@0.5"
    short = tool.FlowSpec.parse("dis-ultrafast@s160")
    assert short.scale_for(480, 854) == pytest.approx(160 / 480) and short.scale_for(100, 90) == 1
    for bad in ("dis@2", "dis@0", "@0.5", "dis@sx", "dis@s0"):
        with pytest.raises(ConfigError, match="flow"):
            tool.FlowSpec.parse(bad)
    assert tool.flow_method("dis-ultrafast").tag == "dis-ultrafast"
    assert tool.flow_method("dis-medium").tag == "dis-medium"
    zero = tool.flow_method("zero")  # the no-motion control
    assert zero.tag == "zero" and not zero(np.ones((2, 8, 9, 3), np.uint8), None).any()
    assert zero(np.ones((2, 8, 9, 3), np.uint8), None).shape == (2, 8, 9, 2)
    with pytest.raises(TrackingError, match="known: dis, dis-fast"):
        tool.flow_method("dis-bogus")
    with pytest.raises(TrackingError, match="unknown flow method"):
        tool.flow_method("nope")


def test_object_motion_is_the_iou_across_the_window(tool):
    boxes = np.array([[t, 0, 10 + t, 10] for t in range(6)], np.float32)  # 1 px a frame
    boxes[5] = np.nan  # absent: left out
    clip = tool.Clip("moving", np.zeros((6, 20, 20, 3), np.uint8), boxes, {})
    motion = tool.object_motion(clip, window=3)
    # [t, t + 10] against [t + 3, t + 13]: 70 / 130, on t = 0 and 1 (t = 2 meets the gap)
    assert motion == {"median_iou": pytest.approx(7 / 13), "min_iou": pytest.approx(7 / 13)}


def test_bench_rounds_and_per_frame_times_by_hand(load_tool):
    bench = load_tool("bench/bench_tc_real.py")
    now = [0.0]
    costs = {"a": iter([3.0, 1.0, 2.0]), "b": iter([1.0, 5.0, 1.5])}

    def job(name):
        def run():
            now[0] += next(costs[name])

        return run

    best = bench.interleaved({("x", "a"): job("a"), ("x", "b"): job("b")}, 3, lambda: now[0])
    assert best == {("x", "a"): 1.0, ("x", "b"): 1.0}
    seconds = {("flow", "f", "c1"): 2.0, ("flow", "f", "c2"): 1.0, ("detector", "d", "c1"): 0.4}
    frames = {"c1": 4, "c2": 1}
    table = bench.per_frame(
        seconds, lambda part, clip: frames[clip] // (2 if part == "detector" else 1)
    )
    assert table["f"]["c1"]["flow"] == 0.5 and table["f"]["c2"]["flow"] == 1.0
    assert table["f"]["all"]["flow"] == pytest.approx(3.0 / 5)  # every frame together
    assert table["d"]["c1"]["detector"] == 0.2 and table["d"]["all"]["detector"] == 0.2


def test_bad_data_and_arguments_are_one_line_errors(tool, tmp_path):
    parser = tool.get_args_parser()
    with pytest.raises(ConfigError, match=str(tmp_path)):
        tool.main(parser.parse_args(["--data", str(tmp_path)]))
    (tmp_path / "masks").mkdir()
    with pytest.raises(DecodeError, match="masks for 0 frames"):
        tool.read_mask_boxes(tmp_path / "masks", 3)
    with pytest.raises(DecodeError, match="not found"):
        tool.read_frames(tmp_path / "missing")


def test_contact_sheet_draws_the_estimates(tool, ev):
    frames, result, truth = coherence_case(ev)
    clip = tool.Clip("still", np.zeros((7, 100, 100, 3), np.uint8), None, {})
    assert tool.flagged_frames(result, 10) == [3, 4, 5]
    assert tool.flagged_frames(result, 1) == [3]  # ties: the earliest
    sheet = tool.estimates_sheet(clip, frames, result, [3, 4, 5], columns=2, tile_width=100)
    assert sheet.shape == (202, 202, 3)
    same = tool.tc_summary(result, result)
    assert same["flagged_jaccard"] == 1.0 and same["same_labels"] == 1.0
    fewer = dataclasses.replace(result, fp_per_frame=np.array([0, 0, 0, 0, 0, 1, 0]))
    assert tool.tc_summary(fewer, result)["flagged_jaccard"] == pytest.approx(2 / 3)  # {3, 5}
    drawn = tool.draw_estimates(clip.frames[4], 4, frames[4], result)
    assert drawn[20, 30].tolist() == list(tool.TP_COLOR)  # the object's top edge
    assert drawn[60, 70].tolist() == list(tool.FP_COLOR)  # the ghost's top edge
    boxed = tool.draw_estimates(clip.frames[3], 3, frames[3], result, np.array([5, 5, 15, 95]))
    assert boxed[50, 5].tolist() == list(tool.TRUTH_COLOR)  # the annotated box's left edge
    assert boxed[20, 30].tolist() == list(tool.FN_COLOR)  # the FN candidate at the gap
    assert (
        tool.draw_estimates(clip.frames[3], 3, frames[3], result, np.full(4, np.nan))
        == tool.draw_estimates(clip.frames[3], 3, frames[3], result)
    ).all()  # no object


def test_tool_end_to_end_on_real_frames(tool, shared_data, tmp_path, capsys):
    """Six frames of each real clip, the small model, ultrafast flow at half size."""
    out = tmp_path / "report.json"
    args = tool.get_args_parser().parse_args(
        [
            "--data",
            str(shared_data),
            "--frames",
            "6",
            "--models",
            "small",
            "--thresholds",
            "0.25",
            "--flows",
            "dis-ultrafast@0.5",
            "--seeds",
            "1",
            "--draws",
            "20",
            "--imagenet-frames",
            "8",
            "--sheet-model",
            "small",
            "--sheet",
            str(tmp_path / "sheet.png"),
            "--clip-sheets",
            str(tmp_path / "clips"),
            "--json",
            str(out),
        ]
    )
    report = tool.main(args)
    printed = capsys.readouterr().out
    assert (
        "### real errors, definition 'verifiable'" in printed
        and "| jhmdb | small | 0.25 |" in printed
    )
    flows = json.loads(out.read_text())["flows"]["dis-ultrafast@0.5"]
    jhmdb = flows["jhmdb small 0.25"]
    # the small model finds no person on frames 1 and 2 of the J-HMDB clip (README: 38/40)
    assert jhmdb["verifiable"]["fn"]["positives"] == 2
    assert jhmdb["verifiable"]["fn"]["frames"] == 6
    davis = flows["davis small 0.25"]["verifiable"]["detections"]
    assert davis["detections"] == 6 and davis["false"] == 0  # the car matched on each frame
    assert set(flows["davis small 0.25"]) == {
        "verifiable",
        "complete",
        "injected/independent",
        "injected/bursty",
    }
    # the J-HMDB misses on frames 1 and 2 are on its sheet; DAVIS has no true error there
    assert set(report["clip_sheets"]) <= {"davis small", "jhmdb small"}
    assert (tmp_path / "clips" / "jhmdb_small_flags.png").is_file()
    assert "jhmdb: small at 0.25, flow dis-ultrafast@0.5: true errors on frames [1, 2]" in printed
    iv = report["imagenet_vid"]
    assert iv["frames"] == 8 and iv["model"] == "small"
    assert len(iv["flows"]["dis-ultrafast@0.5"]["flagged_frames"]) <= 8
    if iv["shown"]:
        assert (tmp_path / "sheet.png").is_file()


@pytest.mark.slow
def test_bench_tc_real_at_its_smallest(load_tool, shared_data, tmp_path, capsys):
    """Speed of the detector and of TC's parts on 3 frames of each real clip, the shares
    against the baseline of the same run, and the quality table (both flows see the same
    injected errors, so identical flows give identical figures)."""
    bench = load_tool("bench/bench_tc_real.py")
    args = bench.get_args_parser().parse_args(
        [
            "--data",
            str(shared_data),
            "--frames",
            "3",
            "--detect-frames",
            "1",
            "--repeats",
            "1",
            "--detectors",
            "yolo_fastest",
            "--flows",
            "dis-ultrafast@0.25",
            "dis-ultrafast@s60",
            "--seeds",
            "1",
            "--draws",
            "10",
            "--json",
            str(tmp_path / "bench.json"),
        ]
    )
    report = bench.main(args)
    printed = capsys.readouterr().out
    assert "| dis-ultrafast@0.25 | davis |" in printed and "meets the goal" in printed
    ms = report["tc_ms_per_frame"]["dis-ultrafast@0.25"]["davis"]
    det = report["detector_ms_per_frame"]["yolo_fastest"]["davis"]
    share = report["shares"]["dis-ultrafast@0.25 davis"]["tc_with_flow"]
    assert share == pytest.approx((ms["flow_compute"] + ms["graph"]) / det, rel=0.02)
    assert set(report["tc_ms_per_frame"]["dis-ultrafast@s60"]) == {
        "davis",
        "jhmdb",
        "imagenet-vid",
        "all",
    }
    q = report["quality"]
    assert set(q) == {"dis-ultrafast@0.25", "dis-ultrafast@s60"}
    assert q["dis-ultrafast@0.25"]["injected"]["fp"]["frames"] > 0
    assert json.loads((tmp_path / "bench.json").read_text())["verdicts"].keys() == q.keys()
