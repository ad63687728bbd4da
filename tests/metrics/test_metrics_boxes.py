import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vidal.data.annotations import Tube, VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics import (
    DetectedTube,
    box_area,
    box_iou,
    boxes_from_map,
    paired_box_iou,
    tube_iou,
)


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 50, (n, 2))
    wh = rng.uniform(0, 30, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_box_iou_matches_torchvision():
    rng = np.random.default_rng(0)
    a, b = _random_boxes(rng, 7), _random_boxes(rng, 5)
    expected = torchvision.ops.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(box_iou(a, b), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(paired_box_iou(a[:5], b), np.diag(expected[:5]), rtol=1e-12)


def test_box_iou_hand_cases():
    a = np.array([[0, 0, 10, 10]], np.float32)
    assert box_iou(a, a).tolist() == [[1.0]]
    assert box_iou(a, a + 20).tolist() == [[0.0]]
    # half overlap: inter 50, union 150
    assert box_iou(a, np.array([[5, 0, 15, 10]]))[0, 0] == pytest.approx(1 / 3)
    # inclusive areas: 11x11 boxes, inter 6x11 = 66, union 121 + 121 - 66 = 176
    assert box_iou(a, np.array([[5, 0, 15, 10]]), inclusive=True)[0, 0] == pytest.approx(66 / 176)
    assert box_area(np.array([[0, 0, 2, 3]]), inclusive=True).tolist() == [12.0]
    # degenerate (zero-area) boxes and empty inputs
    assert box_iou(np.array([[1, 1, 1, 1]]), np.array([[1, 1, 1, 1]])).tolist() == [[0.0]]
    assert box_iou(np.zeros((0, 4)), a).shape == (0, 1)


def test_box_iou_rejects_bad_shapes():
    with pytest.raises(VidalError, match=r"boxes1 must have shape \[N, 4\]"):
        box_iou(np.zeros((3, 5)), np.zeros((1, 4)))
    with pytest.raises(VidalError, match="non-finite"):
        box_iou(np.array([[0, 0, np.nan, 1]]), np.zeros((1, 4)))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (4, 4), elements=st.floats(0, 100)),
    arrays(np.float64, (3, 4), elements=st.floats(0, 100)),
)
def test_box_iou_is_symmetric_and_bounded(a, b):
    a = np.concatenate([np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])], axis=1)
    b = np.concatenate([np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])], axis=1)
    ab = box_iou(a, b)
    np.testing.assert_allclose(ab, box_iou(b, a).T)
    assert np.isfinite(ab).all() and (ab >= 0).all() and (ab <= 1 + 1e-12).all()


def test_tube_iou_hand_case():
    a = Tube(0, 0, 0, np.tile([0, 0, 10, 10], (4, 1)))  # frames 0..3
    b = Tube(1, 0, 2, np.tile([0, 0, 10, 5], (4, 1)))  # frames 2..5
    # temporal IoU: frames 2..3 shared of 0..5 -> 2/6; spatial IoU 50/100 on both shared frames
    assert tube_iou(a, b) == pytest.approx(2 / 6 * 0.5)
    assert tube_iou(a, a) == 1.0
    assert tube_iou(a, Tube(2, 0, 4, np.tile([0, 0, 10, 10], (2, 1)))) == 0.0
    # a tube skipping a shared frame: that frame counts with IoU 0
    gappy = DetectedTube(0, 1.0, [0, 1, 3], np.tile([0, 0, 10, 10], (3, 1)))
    assert tube_iou(a, gappy) == pytest.approx(3 / 4)


def test_detected_tube_checks_its_frames():
    with pytest.raises(VidalError, match="strictly increasing"):
        DetectedTube(0, 1.0, [2, 1], np.zeros((2, 4)))
    with pytest.raises(VidalError, match="one box per frame"):
        DetectedTube(0, 1.0, [0, 1], np.zeros((3, 4)))


def test_boxes_from_map_components_and_scores():
    m = np.zeros((20, 30), np.float32)
    m[2:6, 3:8] = 0.9  # 20 px, mean 0.9
    m[2, 3] = 1.0  # max 1.0, mean (19 * 0.9 + 1) / 20 = 0.905
    m[10:12, 20:29] = 0.6  # 18 px
    m[15, 15] = 0.8  # a single pixel
    m[0, 29] = 0.4  # below threshold
    boxes, scores = boxes_from_map(m)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_array_equal(boxes, [[3, 2, 8, 6], [15, 15, 16, 16], [20, 10, 29, 12]])
    np.testing.assert_allclose(scores, [0.905, 0.8, 0.6], rtol=1e-6)
    boxes, scores = boxes_from_map(m, min_area=2, score="max", class_score=0.5)
    np.testing.assert_array_equal(boxes, [[3, 2, 8, 6], [20, 10, 29, 12]])
    np.testing.assert_allclose(scores, [0.5, 0.3], rtol=1e-6)
    # the map at half resolution of a 60x40 frame: boxes scaled by 2
    boxes, _ = boxes_from_map(m, min_area=2, image_size=(60, 40))
    np.testing.assert_array_equal(boxes[0], [6, 4, 16, 12])


def test_boxes_from_map_connectivity_and_empty():
    m = np.zeros((5, 5), bool)
    m[0, 0] = m[1, 1] = True  # diagonal neighbours
    assert len(boxes_from_map(m)[0]) == 1
    assert len(boxes_from_map(m, connectivity=4)[0]) == 2
    boxes, scores = boxes_from_map(np.zeros((5, 5)))
    assert boxes.shape == (0, 4) and scores.shape == (0,)
    with pytest.raises(VidalError, match=r"prob must have shape \[H, W\]"):
        boxes_from_map(np.zeros((2, 5, 5)))
    with pytest.raises(VidalError, match="score must be one of"):
        boxes_from_map(m, score="median")


def test_boxes_from_map_round_trips_annotation_foreground():
    box = np.array([[12, 7, 40, 33]], np.float32)
    video = VideoAnnotation("v", 1, 64, 48, tubes=[Tube(0, 0, 0, box)])
    boxes, scores = boxes_from_map(video.foreground(0))
    np.testing.assert_array_equal(boxes, box)
    assert scores.tolist() == [1.0]
