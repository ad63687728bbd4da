"""Named evaluation protocols, each checked on a case worked out by hand."""

import dataclasses

import numpy as np
import pytest

from vidal.data.annotations import Tube, VideoAnnotation
from vidal.errors import ConfigError, VidalError
from vidal.metrics import (
    DATASET_PROTOCOLS,
    PROTOCOLS,
    DetectedTube,
    DetectionAPAccumulator,
    Detections,
    FrameAPAccumulator,
    VideoAPAccumulator,
    box_iou,
    default_protocol,
    evaluate_action_detections,
    get_protocol,
    link_tubes,
    tube_iou,
    tube_nms,
    voc_ap,
)

B = np.array([0, 0, 10, 10], np.float32)


def _video(video_id: str, boxes: np.ndarray, *, first: int = 0, num_frames: int = 10):
    """One class-0 actor with the given box per frame."""
    return VideoAnnotation(video_id, num_frames, 64, 48, label=0, tubes=[Tube(0, 0, first, boxes)])


def test_protocols_are_found_by_name_and_settings_can_be_overridden():
    assert list(PROTOCOLS) == ["act", "vidal", "voc07", "voc10"]
    act = get_protocol("act")
    assert (act.matching, act.method, act.inclusive, act.tube_nms) == (
        "act",
        "trapezoid",
        True,
        0.3,
    )
    assert get_protocol(act) is act and get_protocol("act", inclusive=True) is act
    plain = get_protocol("act", inclusive=False)
    assert plain.name == "custom" and not plain.inclusive and plain.tube_nms == 0.3
    with pytest.raises(
        ConfigError,
        match="unknown evaluation protocol 'coco'; known protocols: act, vidal, voc07, voc10",
    ):
        get_protocol("coco")
    with pytest.raises(ConfigError, match="known protocols"):
        FrameAPAccumulator(2, protocol="ACT")
    with pytest.raises(VidalError, match="method must be one of"):
        get_protocol("voc10", method="coco")
    with pytest.raises(VidalError, match=r"tube_nms must lie in \[0, 1\]"):
        dataclasses.replace(act, tube_nms=1.5)
    # ACT ends a tube at its first missed step: max_gap 0 on every frame, 7 on every 8th
    assert act.link_options()["max_gap"] == 0 and act.link_options(frame_step=8)["max_gap"] == 7
    assert PROTOCOLS["vidal"].link_options() == {
        "link_iou": 0.2,
        "max_gap": 5,
        "top_k": None,
        "inclusive": False,
    }


def test_default_protocol_per_dataset():
    assert default_protocol("ucf101-24", task="action") == "act"
    assert default_protocol("jhmdb-21", task="action") == "act"
    assert default_protocol("imagenet-vid", task="detection") == "voc10"
    assert default_protocol("synthia-al", task="detection") == "voc10"
    assert default_protocol("vidal", task="action") == "vidal"
    assert default_protocol(None, task="detection") == "voc10"
    assert set(DATASET_PROTOCOLS.values()) <= set(PROTOCOLS)
    with pytest.raises(VidalError, match="task must be one of"):
        default_protocol("vidal", task="segmentation")


def test_inclusive_areas_flip_a_match_at_the_threshold():
    # frame 0: ground truth 10 x 21, detection 10 x 10 at its top (score 0.9)
    #   continuous: inter 10*10 = 100, union 100 + 210 - 100 = 210 -> IoU 0.476 < 0.5: FP
    #   inclusive:  inter 11*11 = 121, union 121 + 11*22 - 121 = 242 -> IoU 121/242 = 0.5: TP
    # frame 1: ground truth and detection the same 10 x 10 box (score 0.8): TP either way
    tall = np.array([0, 0, 10, 21], np.float32)
    assert box_iou(B[None], tall[None])[0, 0] == pytest.approx(100 / 210)
    assert box_iou(B[None], tall[None], inclusive=True)[0, 0] == 0.5
    video = _video("v", np.stack([tall, B]), num_frames=2)
    det = Detections([0, 1], [0, 0], [0.9, 0.8], np.stack([B, B]))
    results = {}
    for name in ("vidal", "act"):
        acc = FrameAPAccumulator(1, protocol=name)
        acc.update(video, det)
        results[name] = acc.compute()
    # vidal: FP then TP, 2 ground truths: (r, p) = (0, 1) (0, 0) (1/2, 1/2)
    #   trapezoids: 0 + 1/2 * (0 + 1/2) / 2 = 1/8
    assert results["vidal"]["frame_map"][0.5] == pytest.approx(1 / 8)
    # act: TP TP: (0, 1) (1/2, 1) (1, 1) -> 1; the protocol moves frame-mAP by 7/8
    assert results["act"]["frame_map"][0.5] == 1.0
    assert (results["act"]["protocol"], results["act"]["inclusive"]) == ("act", True)
    assert (results["vidal"]["protocol"], results["vidal"]["inclusive"]) == ("vidal", False)


def _nms_case() -> tuple[list[VideoAnnotation], list[list[DetectedTube]]]:
    """Two videos, one class-0 actor each on frames 0..9 at box B.

    Video a: T1 (0.9) exactly on the actor, T2 (0.8) shifted 2 px (a duplicate of T1),
    T3 (0.6) shifted 6 px. Video b: T4 (0.7) exactly on the actor.
    """
    frames = np.arange(10)
    a, b = _video("a", np.tile(B, (10, 1))), _video("b", np.tile(B, (10, 1)))

    def tube(score: float, dx: float) -> DetectedTube:
        return DetectedTube(0, score, frames, np.tile(B + [dx, 0, dx, 0], (10, 1)))

    return [a, b], [[tube(0.9, 0), tube(0.8, 2), tube(0.6, 6)], [tube(0.7, 0)]]


def test_tube_nms_at_0_3_removes_a_duplicate_tube():
    videos, tubes = _nms_case()
    t1, t2, t3 = tubes[0]
    # same frames (tIoU 1), so tube IoU = box IoU of the shifted 10 x 10 boxes
    #   T2 vs T1: continuous 8*10 / (200 - 80) = 2/3; inclusive 9*11 / (242 - 99) = 0.692
    #   T3 vs T1: continuous 4*10 / (200 - 40) = 0.25; inclusive 5*11 / (242 - 55) = 0.294
    assert tube_iou(t2, t1) == pytest.approx(2 / 3)
    assert tube_iou(t3, t1, inclusive=True) == pytest.approx(55 / 187)
    for inclusive in (False, True):
        kept = tube_nms([t3, t2, t1], 0.3, inclusive=inclusive)
        assert [t.score for t in kept] == [0.9, 0.6]
    # another class is never suppressed
    other = DetectedTube(1, 0.5, t2.frames, t2.boxes)
    assert [t.label for t in tube_nms([t1, other], 0.3)] == [0, 1]
    results = {}
    for name, protocol in (
        ("vidal", "vidal"),
        ("act", "act"),
        ("vidal+nms", dataclasses.replace(PROTOCOLS["vidal"], tube_nms=0.3)),
    ):
        acc = VideoAPAccumulator(1, iou_thresholds=0.5, protocol=protocol)
        for video, found in zip(videos, tubes, strict=True):
            acc.update(video, found)
        results[name] = acc.compute()
    # Without NMS, at 0.5: T1 TP (0.9); T2 FP (0.8, its ground truth is used); T4 TP (0.7);
    # T3 FP (0.6, IoU 0.25). (r, p) = (1/2, 1) (1/2, 1/2) (1, 2/3) (1, 1/2); trapezoids from
    # (0, 1): 1/2 * (1 + 1)/2 + 0 + 1/2 * (1/2 + 2/3)/2 + 0 = 1/2 + 7/24 = 19/24
    assert results["vidal"]["video_map"][0.5] == pytest.approx(19 / 24)
    assert results["vidal"]["num_detections"] == [4]
    # With NMS at 0.3 T2 is gone: TP TP FP -> (1/2, 1) (1, 1) (1, 2/3) -> AP 1, up by 5/24
    assert results["act"]["video_map"][0.5] == 1.0 and results["act"]["num_detections"] == [3]
    assert results["vidal+nms"]["video_map"][0.5] == 1.0


def test_voc07_and_voc10_differ_by_a_hand_computed_amount():
    # one frame, two ground truths; detections TP (0.9), FP (0.8, far away), TP (0.7)
    gt = np.array([B, B + [20, 0, 20, 0]])
    det = np.array([B, B + 50, B + [20, 0, 20, 0]])
    pred = [{"boxes": det, "labels": np.ones(3, int), "scores": np.array([0.9, 0.8, 0.7])}]
    target = [{"boxes": gt, "labels": np.ones(2, int)}]

    def ap(protocol: str) -> float:
        result = voc_ap(
            pred, target, num_classes=2, protocol=protocol, nms_iou=None, score_threshold=None
        )
        assert result["protocol"] == protocol
        return result["map"]

    # (r, p) = (1/2, 1) (1/2, 1/2) (1, 2/3)
    # voc10: envelope 1 up to recall 1/2, then 2/3: 1/2 * 1 + 1/2 * 2/3 = 5/6
    assert ap("voc10") == pytest.approx(5 / 6)
    # voc07: recall >= t for t = 0 .. 0.5 (6 points) at precision 1, for t = 0.6 .. 1
    # (5 points) at 2/3: (6 + 5 * 2/3) / 11 = 28/33, above voc10 by 28/33 - 5/6 = 1/66
    assert ap("voc07") == pytest.approx(28 / 33)
    assert ap("voc07") - ap("voc10") == pytest.approx(1 / 66)
    acc = DetectionAPAccumulator(2, protocol="voc07")
    assert (acc.matching, acc.method, acc.inclusive) == ("voc", "voc11", False)
    assert DetectionAPAccumulator(2).compute()["protocol"] == "voc10"


def test_act_linking_ends_a_tube_at_a_missed_frame():
    # the actor at B on frames 0..9; found on frames 0..4 (score 0.9) and 6..9 (0.8)
    video = _video("v", np.tile(B, (10, 1)))
    seen = [0, 1, 2, 3, 4, 6, 7, 8, 9]
    det = Detections(seen, np.zeros(9), [0.9] * 5 + [0.8] * 4, np.tile(B, (9, 1)))
    ours = evaluate_action_detections([video], {"v": det}, num_classes=1, protocol="vidal")
    act = evaluate_action_detections([video], {"v": det}, num_classes=1)
    # frame-AP is the same: 9 of 10 boxes found at precision 1 -> 0.9
    assert ours["frame"]["frame_map"][0.5] == pytest.approx(0.9)
    assert act["frame"]["frame_map"][0.5] == pytest.approx(0.9)
    # vidal bridges frame 5 (max_gap 5): one tube 0..9, tube IoU 1 -> AP 1 at every threshold
    assert [t.frames.tolist() for t in link_tubes(det)] == [list(range(10))]
    assert ours["video"]["video_map"][0.75] == 1.0
    # ACT ends the tube at frame 5: tubes 0..4 (0.9, tIoU 5/10) and 6..9 (0.8, tIoU 4/10);
    # at 0.5 the first is a TP, the second a FP behind it -> AP 1; at 0.75 both miss -> AP 0
    tubes = link_tubes(det, **PROTOCOLS["act"].link_options())
    assert [t.frames.tolist() for t in tubes] == [[0, 1, 2, 3, 4], [6, 7, 8, 9]]
    assert act["protocol"] == "act"
    assert act["video"]["video_map"][0.5] == 1.0 and act["video"]["video_map"][0.75] == 0.0
    # a model run on every 2nd frame: ACT's linking may bridge one frame, frame-AP counts
    # only the ground truth of frames 0, 2, 4, 6, 8
    even = det.select(det.frames % 2 == 0)
    sparse = evaluate_action_detections([video], {"v": even}, num_classes=1, frame_step=2)
    assert sparse["frame"]["num_gt"] == [5] and sparse["frame"]["frame_map"][0.5] == 1.0
    # one tube over frames 0..8: tIoU 9/10 -> a TP at 0.75
    assert sparse["video"]["video_map"][0.75] == 1.0
    with pytest.raises(VidalError, match="no detections given for video 'v'"):
        evaluate_action_detections([video], {}, num_classes=1)


def test_act_linking_keeps_the_ten_best_candidates_per_frame():
    # twelve disjoint boxes on one frame: ACT's linking starts a tube for the 10 best only
    boxes = np.stack([B + [12 * i, 0, 12 * i, 0] for i in range(12)])
    det = Detections(np.zeros(12), np.zeros(12), np.linspace(0.9, 0.2, 12), boxes)
    assert len(link_tubes(det)) == 12
    assert len(link_tubes(det, **PROTOCOLS["act"].link_options())) == 10
