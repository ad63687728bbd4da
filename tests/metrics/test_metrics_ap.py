import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vidal.errors import VidalError
from vidal.metrics import (
    DetectionAPAccumulator,
    average_precision,
    box_iou,
    match_detections,
    match_ious,
    postprocess_detections,
    precision_recall,
    voc_ap,
)

BOX = np.array([0, 0, 10, 10], np.float64)


def _pr_example() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Three ground truths over two frames and five ranked detections: TP FP TP FP FP."""
    frame_a_gt = np.array([BOX, BOX + [20, 0, 20, 0]])  # g1, g2
    frame_b_gt = np.array([BOX + [0, 20, 0, 20]])  # g3, never found
    far = BOX + 50
    return [
        # frame A: d1 (0.9) on g1, d3 (0.7) on g2, d4 (0.6) a duplicate of g1
        (np.array([BOX, frame_a_gt[1], BOX]), np.array([0.9, 0.7, 0.6]), frame_a_gt),
        # frame B: d2 (0.8) and d5 (0.5) far from g3
        (np.array([far, far + 10]), np.array([0.8, 0.5]), frame_b_gt),
    ]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        # curve (recall, precision): (0, 1) start, then (1/3, 1) (1/3, 1/2) (2/3, 2/3) (2/3, 1/2) (2/3, 2/5)
        # trapezoids: 1/3 * (1 + 1)/2 + 0 + 1/3 * (1/2 + 2/3)/2 + 0 + 0 = 12/36 + 7/36 = 19/36
        ("trapezoid", 19 / 36),
        # envelope: precision 1 up to recall 1/3, 2/3 up to recall 2/3: 1/3 * 1 + 1/3 * 2/3 = 5/9
        ("voc", 5 / 9),
        # 11 points: t = 0, .1, .2, .3 -> 1; t = .4, .5, .6 -> 2/3; t = .7 .. 1 -> 0: (4 + 2) / 11
        ("voc11", 6 / 11),
    ],
)
def test_small_pr_curve_by_hand(method, expected):
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    is_tp = np.array([True, False, True, False, False])
    assert average_precision(scores, is_tp, 3, method=method) == pytest.approx(expected)
    # the same ranking built from boxes, one frame at a time, with either matching
    for matching in ("act", "voc"):
        acc = DetectionAPAccumulator(1, matching=matching, method=method)
        for boxes, s, gt in _pr_example():
            acc.update(boxes, np.zeros(len(boxes)), s, gt, np.zeros(len(gt)))
        result = acc.compute()
        assert result["per_class"][0] == pytest.approx(expected)
        assert result["map"] == pytest.approx(expected)
        assert result["num_gt"] == [3] and result["num_detections"] == [5]


def test_precision_recall_is_ranked_by_score():
    p, r = precision_recall(np.array([0.1, 0.9, 0.5]), np.array([True, False, True]), 2)
    # ranking: 0.9 FP, 0.5 TP, 0.1 TP
    np.testing.assert_allclose(p, [0, 1 / 2, 2 / 3])
    np.testing.assert_allclose(r, [0, 1 / 2, 1])


def test_average_precision_edge_cases():
    assert average_precision(np.zeros(0), np.zeros(0, bool), 4) == 0.0
    assert average_precision(np.array([0.5]), np.array([False]), 0) is None
    assert average_precision(np.array([0.5, 0.4]), np.array([True, True]), 2) == 1.0
    assert average_precision(np.array([0.5, 0.4]), np.array([False, False]), 2) == 0.0
    with pytest.raises(VidalError, match="method must be one of"):
        average_precision(np.array([0.5]), np.array([True]), 1, method="coco")


def test_act_and_voc_matching_differ_on_duplicates_and_the_boundary():
    gt = np.array([BOX, [2, 0, 12, 10]])  # A and B, IoU 2/3 with each other
    det = np.array([BOX, [0.5, 0, 10.5, 10]])  # d2 overlaps A by 0.905 and B by 0.739
    scores = np.array([0.9, 0.8])
    # ACT: A is used by d1, so d2 takes the best unmatched ground truth, B
    assert match_detections(det, scores, gt, matching="act").tolist() == [True, True]
    # VOC: d2's best ground truth is A, already matched: a duplicate
    assert match_detections(det, scores, gt, matching="voc").tolist() == [True, False]
    # IoU exactly 0.5: ACT accepts (>=), VOC needs more (>)
    half = np.array([[0, 0, 10, 20]])
    assert match_detections(BOX[None], [1.0], half, matching="act").tolist() == [True]
    assert match_detections(BOX[None], [1.0], half, matching="voc").tolist() == [False]
    with pytest.raises(VidalError, match=r"ious must have shape \[N, M\]"):
        match_ious(np.zeros((2, 2)), np.zeros(3))


def test_perfect_disjoint_and_empty_predictions():
    gt = np.array([BOX, BOX + 30])
    labels = np.array([0, 2])
    perfect = DetectionAPAccumulator(3)
    disjoint = DetectionAPAccumulator(3)
    empty = DetectionAPAccumulator(3)
    for _ in range(3):
        perfect.update(gt, labels, [0.9, 0.8], gt, labels)
        disjoint.update(gt + 100, labels, [0.9, 0.8], gt, labels)
        empty.update(np.zeros((0, 4)), [], [], gt, labels)
    assert perfect.compute()["map"] == 1.0
    assert disjoint.compute()["map"] == 0.0
    assert empty.compute()["map"] == 0.0
    # class 1 has no ground truth: None, and out of the mean
    assert perfect.compute()["per_class"] == [1.0, None, 1.0]


def test_class_without_ground_truth_is_excluded_even_with_detections():
    acc = DetectionAPAccumulator(3)
    acc.update(np.array([BOX, BOX + 40]), [0, 1], [0.9, 0.9], np.array([BOX]), [0])
    result = acc.compute()
    assert result["per_class"] == [1.0, None, None]
    assert result["map"] == 1.0 and result["num_detections"] == [1, 1, 0]
    assert DetectionAPAccumulator(2).compute()["map"] is None


def test_wrong_class_is_a_false_positive():
    acc = DetectionAPAccumulator(2)
    acc.update(np.array([BOX]), [1], [0.9], np.array([BOX]), [0])
    assert acc.compute()["per_class"] == [0.0, None]


def test_accumulator_checks_its_arguments():
    acc = DetectionAPAccumulator(2)
    with pytest.raises(VidalError, match=r"pred_labels must have shape \[1\]"):
        acc.update(np.array([BOX]), [0, 1], [0.9], np.zeros((0, 4)), [])
    with pytest.raises(VidalError, match="gt_labels holds class indices \\[5\\] outside 0..1"):
        acc.update(np.zeros((0, 4)), [], [], np.array([BOX]), [5])
    with pytest.raises(VidalError, match="num_classes must be a positive integer"):
        DetectionAPAccumulator(0)
    with pytest.raises(VidalError, match="matching must be one of"):
        DetectionAPAccumulator(2, matching="coco")


def _reference_ap(frames, num_classes, *, matching, method, thr):
    """AP straight from the definition: rank every detection of a class over all frames."""
    aps = []
    for c in range(num_classes):
        dets, num_gt, used = [], 0, {}
        for f, (boxes, labels, scores, _, gt_labels) in enumerate(frames):
            num_gt += int((gt_labels == c).sum())
            used[f] = np.zeros(int((gt_labels == c).sum()), bool)
            dets += [(scores[i], f, boxes[i]) for i in np.flatnonzero(labels == c)]
        order = sorted(range(len(dets)), key=lambda i: -dets[i][0])  # stable on ties
        tp = np.zeros(len(dets), bool)
        for i in order:
            _, f, box = dets[i]
            gt = frames[f][3][frames[f][4] == c]
            if len(gt) == 0:
                continue
            ious = box_iou(box[None], gt)[0]
            if matching == "act":
                ious[used[f]] = -1
                j = int(np.argmax(ious))
                if ious[j] >= thr:
                    tp[i] = used[f][j] = True
            else:
                j = int(np.argmax(ious))
                if ious[j] > thr and not used[f][j]:
                    tp[i] = used[f][j] = True
        scores = np.array([d[0] for d in dets])
        aps.append(average_precision(scores, tp, num_gt, method=method))
    return aps


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    matching=st.sampled_from(["act", "voc"]),
    method=st.sampled_from(["trapezoid", "voc"]),
)
def test_streaming_accumulator_equals_the_definition(seed, matching, method):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(6):
        m = int(rng.integers(0, 4))
        xy = rng.uniform(0, 20, (m, 2))
        gt = np.concatenate([xy, xy + 8], axis=1)
        gt_labels = rng.integers(0, 2, m)
        n = int(rng.integers(0, 6))
        jitter = rng.normal(0, 3, (n, 4))
        base = gt[rng.integers(0, m, n)] if m else rng.uniform(0, 20, (n, 4))
        b = base + jitter
        boxes = np.concatenate(
            [np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])], axis=1
        )
        scores = rng.choice([0.2, 0.5, 0.7, 0.9], n)  # ties on purpose
        frames.append((boxes, rng.integers(0, 2, n), scores, gt, gt_labels))
    acc = DetectionAPAccumulator(2, matching=matching, method=method)
    for f in frames:
        acc.update(*f)
    expected = _reference_ap(frames, 2, matching=matching, method=method, thr=0.5)
    got = acc.compute()["per_class"]
    for g, e in zip(got, expected, strict=True):
        assert (g is None and e is None) or g == pytest.approx(e)


def test_postprocess_applies_nms_per_class_then_the_score_threshold():
    boxes = np.array([BOX, BOX + [1, 0, 1, 0], BOX, BOX + 40])
    labels = np.array([1, 1, 2, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.4])
    b, lab, s = postprocess_detections(boxes, labels, scores)
    # box 1 overlaps box 0 (IoU 9/11) in the same class: suppressed; box 2 is another class;
    # box 3 survives NMS but scores below 0.5
    np.testing.assert_array_equal(b, [BOX, BOX])
    assert lab.tolist() == [1, 2] and s.tolist() == pytest.approx([0.9, 0.7])
    b, lab, s = postprocess_detections(boxes, labels, scores, nms_iou=None, score_threshold=None)
    assert len(b) == 4 and s.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.4])


def test_voc_ap_on_torchvision_style_outputs():
    target = {"boxes": torch.from_numpy(np.array([BOX, BOX + 30])), "labels": torch.tensor([1, 2])}
    pred = {
        "boxes": torch.from_numpy(np.array([BOX, BOX + [1, 0, 1, 0], BOX + 30, BOX + 60])),
        "labels": torch.tensor([1, 1, 2, 2]),
        "scores": torch.tensor([0.9, 0.85, 0.3, 0.95]),
    }
    # after NMS and the 0.5 threshold: class 1 keeps one correct box (AP 1); class 2 keeps only
    # the false positive at 0.95 (AP 0); class 0 (background) has no ground truth
    result = voc_ap([pred], [target], num_classes=3)
    assert result["per_class"] == [None, 1.0, 0.0] and result["map"] == 0.5
    # without post-processing class 1 gets a duplicate (rank 2, AP still 1), class 2 finds its
    # box at rank 2: precision 1/2 at recall 1 -> VOC AP 0.5
    raw = voc_ap([pred], [target], num_classes=3, nms_iou=None, score_threshold=None)
    assert raw["per_class"] == [None, 1.0, 0.5]
    with pytest.raises(VidalError, match="targets\\[0\\] has no 'labels'"):
        voc_ap([pred], [{"boxes": target["boxes"]}], num_classes=3)
