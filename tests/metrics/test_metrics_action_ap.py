import numpy as np
import pytest

from vidal.data.annotations import Tube, VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics import (
    VIDEO_AP_THRESHOLDS,
    DetectedTube,
    Detections,
    FrameAPAccumulator,
    VideoAPAccumulator,
    detections_from_maps,
    ground_truth_detections,
    link_tubes,
    tube_iou,
)

BOX = np.array([10, 10, 30, 40], np.float32)


def _video(video_id: str = "c/v", *, label: int = 1, num_frames: int = 10) -> VideoAnnotation:
    """Actor of class ``label`` on frames 2..7, a second actor of class 0 on frames 0..9."""
    return VideoAnnotation(
        video_id,
        num_frames,
        64,
        48,
        label=label,
        tubes=[
            Tube(0, label, 2, np.tile(BOX, (6, 1))),
            Tube(1, 0, 0, np.tile(BOX + [30, 0, 30, 0], (num_frames, 1))),
        ],
    )


def test_frame_ap_of_ground_truth_is_one_and_wrong_frames_are_false_positives():
    video = _video()
    acc = FrameAPAccumulator(3, iou_thresholds=(0.5, 0.75))
    acc.update(video, ground_truth_detections(video))
    result = acc.compute()
    assert result["frame_map"] == {0.5: 1.0, 0.75: 1.0}
    assert result["per_class"][0.5] == [1.0, 1.0, None]
    assert result["num_gt"] == [10, 6, 0]
    # class-1 boxes also on frames 0 and 1 (no class-1 actor there), scored above the true
    # ones: the ranking is FP FP TP TP TP TP TP TP
    gt = ground_truth_detections(video, score=0.5)
    extra = Detections([0, 1], [1, 1], [0.9, 0.8], np.tile(BOX, (2, 1)))
    acc = FrameAPAccumulator(3)
    acc.update(video, Detections.concatenate([gt, extra]))
    ap1 = acc.compute()["per_class"][0.5][1]
    # (r, p): (0, 1) (0, 0) (0, 0) (1/6, 1/3) (2/6, 2/4) (3/6, 3/5) (4/6, 4/6) (5/6, 5/7) (6/6, 6/8)
    p = [1 / 3, 2 / 4, 3 / 5, 4 / 6, 5 / 7, 6 / 8]
    expected = (1 / 6) * (0 + p[0]) / 2 + sum((1 / 6) * (p[i] + p[i + 1]) / 2 for i in range(5))
    assert ap1 == pytest.approx(expected)


def test_frame_ap_accumulates_over_videos_and_restricts_frames():
    acc = FrameAPAccumulator(2)
    a, b = _video("c/a"), _video("c/b")
    acc.update(a, ground_truth_detections(a))
    acc.update(b, Detections())  # nothing found in the second video
    result = acc.compute()
    # each class: half of its ground truth found at precision 1 -> AP 0.5
    assert result["per_class"][0.5] == [0.5, 0.5] and result["frame_map"][0.5] == 0.5
    # evaluated on frames 0, 4, 8 only: ground truth elsewhere does not count
    acc = FrameAPAccumulator(2)
    gt = ground_truth_detections(a)
    acc.update(a, gt.select(np.isin(gt.frames, [0, 4, 8])), frames=[0, 4, 8])
    assert acc.compute()["num_gt"] == [3, 1] and acc.compute()["frame_map"][0.5] == 1.0
    with pytest.raises(
        VidalError, match=r"detections on frames \[1, 3, 4, 5, 6\] not listed in frames"
    ):
        acc.update(a, gt, frames=[0, 2])


def test_frame_ap_checks_its_arguments():
    acc = FrameAPAccumulator(2)
    with pytest.raises(VidalError, match="a detection on frame 12, but the video has 10 frames"):
        acc.update(_video(), Detections([12], [0], [1.0], [BOX]))
    with pytest.raises(VidalError, match="detections.labels holds class indices"):
        acc.update(_video(), Detections([1], [7], [1.0], [BOX]))
    with pytest.raises(VidalError, match="Detections table"):
        acc.update(_video(), [BOX])
    with pytest.raises(VidalError, match=r"iou_thresholds values must lie in \[0, 1\]"):
        FrameAPAccumulator(2, iou_thresholds=(1.5,))


def test_detections_from_maps():
    maps = np.zeros((3, 24, 32), np.float32)
    maps[0, 4:8, 2:10] = 0.8
    maps[2, 10:20, 10:20] = 0.6
    det = detections_from_maps(maps, label=1)
    assert det.frames.tolist() == [0, 2] and det.labels.tolist() == [1, 1]
    np.testing.assert_array_equal(det.boxes, [[2, 4, 10, 8], [10, 10, 20, 20]])
    # class scores for the video: one row per box and class, score = box score x class score
    det = detections_from_maps(
        maps, class_scores=[0.1, 0.7, 0.2], top_k_classes=2, image_size=(64, 48)
    )
    assert det.frames.tolist() == [0, 0, 2, 2] and det.labels.tolist() == [1, 2, 1, 2]
    np.testing.assert_allclose(det.scores, [0.56, 0.16, 0.42, 0.12], rtol=1e-6)
    np.testing.assert_array_equal(det.boxes[0], [4, 8, 20, 16])
    det = detections_from_maps(
        maps, class_scores=np.array([[1, 0], [1, 0], [0, 1]]), frames=[3, 5, 7]
    )
    assert det.frames.tolist() == [3, 3, 7, 7] and det.labels.tolist() == [0, 1, 1, 0]
    with pytest.raises(VidalError, match="exactly one of class_scores"):
        detections_from_maps(maps)
    with pytest.raises(VidalError, match=r"class_scores must have shape \[K\] or \[T, K\]"):
        detections_from_maps(maps, class_scores=np.ones((2, 4)))


def test_link_tubes_follows_two_actors_and_bridges_gaps():
    a = np.array([0, 0, 10, 10], np.float32)
    b = a + 40
    rows = []
    for t in range(8):
        rows.append((t, 0, 0.9, a + [t, 0, t, 0]))  # actor A drifts right
        if t != 3 and t != 4:  # actor B missed on frames 3 and 4
            rows.append((t, 0, 0.6, b))
    rows.append((5, 1, 0.5, a))  # one detection of another class
    f, lab, s, bx = zip(*rows, strict=True)
    tubes = link_tubes(Detections(f, lab, s, np.array(bx)))
    assert [(t.label, t.frames[0], t.frames[-1]) for t in tubes] == [
        (0, 0, 7),
        (0, 0, 7),
        (1, 5, 5),
    ]
    assert tubes[0].score == pytest.approx(0.9) and tubes[1].score == pytest.approx(0.6)
    np.testing.assert_allclose(tubes[0].boxes[:, 0], np.arange(8))
    np.testing.assert_allclose(tubes[1].boxes, np.tile(b, (8, 1)))  # frames 3, 4 interpolated
    # a gap longer than max_gap splits actor B; min_length drops short tubes
    tubes = link_tubes(Detections(f, lab, s, np.array(bx)), max_gap=1, min_length=2)
    assert sorted((t.frames[0], t.frames[-1]) for t in tubes) == [(0, 2), (0, 7), (5, 7)]


def test_link_tubes_prefers_the_best_scoring_overlapping_candidate():
    a = np.array([0, 0, 10, 10], np.float32)
    det = Detections([0, 1, 1], [0, 0, 0], [0.9, 0.3, 0.8], np.array([a, a, a + [1, 0, 1, 0]]))
    tubes = link_tubes(det)
    assert [(t.frames.tolist(), round(t.score, 2)) for t in tubes] == [([0, 1], 0.85), ([1], 0.3)]
    assert len(link_tubes(det, top_k=1)) == 1
    assert link_tubes(Detections()) == []
    with pytest.raises(VidalError, match="max_gap must be >= 0"):
        link_tubes(det, max_gap=-1)


def test_video_ap_perfect_partial_and_missing():
    video = _video()
    perfect = [DetectedTube(tb.label, 0.9, tb.frames, tb.boxes) for tb in video.tubes]
    acc = VideoAPAccumulator(3)
    acc.update(video, perfect)
    result = acc.compute()
    assert set(result["video_map"]) == set(VIDEO_AP_THRESHOLDS)
    assert all(v == 1.0 for v in result["video_map"].values()) and result["video_map_50_95"] == 1.0
    assert result["per_class"][0.5] == [1.0, 1.0, None]
    # a tube covering half of the class-1 actor's frames exactly: tIoU 3/6, spatial IoU 1
    half = DetectedTube(1, 0.9, [2, 3, 4], np.tile(BOX, (3, 1)))
    assert tube_iou(half, video.tubes[0]) == 0.5
    acc = VideoAPAccumulator(3, iou_thresholds=(0.2, 0.5, 0.75))
    acc.update(video, [half])
    result = acc.compute()
    assert result["per_class"][0.2] == [0.0, 1.0, None]  # class 0 has no tube: AP 0
    assert result["per_class"][0.5][1] == 1.0  # ACT: >= threshold
    assert result["per_class"][0.75][1] == 0.0
    assert result["video_map"][0.2] == 0.5 and result["video_map_50_95"] is None


def test_video_ap_ranks_tubes_across_videos():
    # class 1: two videos, one tube each. Detections: FP (0.9, wrong place), TP (0.8), TP (0.7)
    a, b = _video("c/a"), _video("c/b")
    wrong = DetectedTube(1, 0.9, [2, 3, 4, 5, 6, 7], np.tile(BOX + 30, (6, 1)))
    acc = VideoAPAccumulator(2, iou_thresholds=0.5)
    acc.update(a, [wrong, DetectedTube(1, 0.8, a.tubes[0].frames, a.tubes[0].boxes)])
    acc.update(b, [DetectedTube(1, 0.7, b.tubes[0].frames, b.tubes[0].boxes)])
    # (r, p): (0, 1) (0, 0) (1/2, 1/2) (1, 2/3): 1/2 * (0 + 1/2)/2 + 1/2 * (1/2 + 2/3)/2 = 1/8 + 7/24
    assert acc.compute()["per_class"][0.5] == [0.0, pytest.approx(1 / 8 + 7 / 24)]
    assert acc.compute()["num_detections"] == [0, 3] and acc.compute()["num_gt"] == [2, 2]


def test_video_ap_of_linked_ground_truth_is_one():
    video = _video()
    acc = VideoAPAccumulator(2)
    acc.update(video, link_tubes(ground_truth_detections(video)))
    assert acc.compute()["video_map_50_95"] == 1.0
