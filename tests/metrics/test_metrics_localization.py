import numpy as np
import pytest
import torch

from vidal.data.annotations import Tube, VideoAnnotation
from vidal.errors import VidalError
from vidal.metrics import (
    LocalizationAccumulator,
    centre_box_prediction,
    localization_accuracy,
    whole_frame_prediction,
)


def _video(video_id: str = "c/v", label: int | None = 1) -> VideoAnnotation:
    """10x10 frames, 4 frames; one actor (box 0..4 x 0..4, 16 px) on frames 1..3."""
    return VideoAnnotation(
        video_id, 4, 10, 10, label=label, tubes=[Tube(0, 1, 1, np.tile([0, 0, 4, 4], (3, 1)))]
    )


def _maps() -> np.ndarray:
    maps = np.zeros((4, 10, 10), np.float32)
    maps[0, 8:, 8:] = 0.9  # 4 px on the frame without actor
    maps[1, :4, :4] = 0.7  # the box: IoU 1
    maps[2, :4, :2] = 0.6  # half of it: IoU 8 / 16
    maps[2, :4, 2:4] = 0.4  # below the threshold
    maps[3, 6:, 6:] = 1.0  # disjoint 16 px: IoU 0
    return maps


def test_hand_built_maps():
    acc = LocalizationAccumulator(2, taus=(0.3, 0.4, 0.5, 0.6))
    acc.update(_maps(), _video())
    r = acc.compute()
    # frame IoUs on the annotated frames 1..3: 1, 1/2, 0
    assert r["frame"] == {
        0.3: pytest.approx(2 / 3),
        0.4: pytest.approx(2 / 3),
        0.5: pytest.approx(2 / 3),
        0.6: pytest.approx(1 / 3),
    }
    # video IoU: (16 + 8 + 0) / (16 + 16 + 32) = 0.375
    assert r["video"] == {0.3: 1.0, 0.4: 0.0, 0.5: 0.0, 0.6: 0.0}
    assert r["mean_frame_iou"] == pytest.approx(0.5) and r["mean_video_iou"] == pytest.approx(0.375)
    assert r["num_frames"] == [0, 3] and r["num_videos"] == [0, 1]
    # class 0 has no video: None per class, left out of the mean
    assert r["frame_per_class"][0.5] == [None, pytest.approx(2 / 3)]


def test_frames_without_actor_count_only_when_asked():
    acc = LocalizationAccumulator(2, taus=0.3, include_empty_frames=True)
    acc.update(_maps(), _video())
    r = acc.compute()
    # frame 0 has predicted pixels and no actor: IoU 0; its 4 px join the video union
    assert r["num_frames"] == [0, 4] and r["frame"][0.3] == pytest.approx(2 / 4)
    assert r["mean_video_iou"] == pytest.approx(24 / 68)
    empty = _maps()
    empty[0] = 0
    acc = LocalizationAccumulator(2, taus=0.3, include_empty_frames=True)
    acc.update(empty, _video())
    assert acc.compute()["mean_frame_iou"] == pytest.approx(
        (1 + 1 + 0.5 + 0) / 4
    )  # empty agrees: 1


def test_classes_are_averaged_with_equal_weight():
    acc = LocalizationAccumulator(2, taus=0.5)
    acc.update(_maps(), _video("c/a"))  # class 1: f@0.5 = 2/3 over 3 frames
    perfect = np.zeros((4, 10, 10), bool)
    perfect[1:, :4, :4] = True
    for i in range(3):  # class 0: three perfect videos, 9 frames
        acc.update(perfect, _video(f"c/b{i}", label=0))
    r = acc.compute()
    assert r["frame_per_class"][0.5] == [1.0, pytest.approx(2 / 3)]
    assert r["frame"][0.5] == pytest.approx((1 + 2 / 3) / 2)
    assert r["video_per_class"][0.5] == [1.0, 0.0] and r["num_videos"] == [3, 1]


def test_maps_at_another_resolution():
    maps = _maps()
    big = maps.repeat(2, axis=1).repeat(2, axis=2)  # [4, 20, 20]: same maps at twice the size
    for m in (big, big >= 0.5, torch.from_numpy(big)):
        acc = LocalizationAccumulator(2, taus=(0.5, 0.6))
        acc.update(m, _video())  # resized to the 10x10 annotation
        assert acc.compute()["frame"] == {0.5: pytest.approx(2 / 3), 0.6: pytest.approx(1 / 3)}
    # the ground truth scaled to the maps instead: box 0..8 x 0..8 on 20x20
    acc = LocalizationAccumulator(2, taus=(0.5, 0.6), resolution="prediction")
    acc.update(big, _video())
    assert acc.compute()["mean_video_iou"] == pytest.approx(0.375)
    # a smaller map: ground truth box 0..2 x 0..2 on 5x5
    small = np.zeros((4, 5, 5), bool)
    small[1:, :2, :1] = True  # half the box on every annotated frame
    acc = LocalizationAccumulator(2, taus=0.5, resolution="prediction")
    acc.update(small, _video())
    assert acc.compute()["mean_frame_iou"] == pytest.approx(0.5)


def test_video_fed_in_chunks_equals_one_update():
    maps = _maps()
    whole = LocalizationAccumulator(2)
    whole.update(maps, _video())
    chunked = LocalizationAccumulator(2)
    chunked.update(maps[:2], _video(), frames=[0, 1])
    chunked.update(maps[2:], _video(), frames=[2, 3])
    assert chunked.compute() == whole.compute()
    with pytest.raises(VidalError, match=r"frames \[2\] were already added"):
        chunked.update(maps[2:3], _video(), frames=[2])


def test_label_comes_from_argument_video_or_tubes():
    acc = LocalizationAccumulator(3, taus=0.5)
    acc.update(_maps(), _video("c/a", label=None))  # tube label 1
    acc.update(_maps(), _video("c/b"), label=2)
    assert acc.compute()["num_videos"] == [0, 1, 1]
    mixed = _video("c/m", label=None)
    mixed.tubes.append(Tube(1, 0, 0, np.array([[5, 5, 9, 9]])))
    with pytest.raises(VidalError, match=r"c/m: tubes have labels \[0, 1\].*pass label="):
        acc.update(_maps(), mixed)


def test_argument_errors():
    acc = LocalizationAccumulator(2)
    with pytest.raises(
        VidalError, match="pred_maps has 3 frames but the video has 4; pass frames="
    ):
        acc.update(np.zeros((3, 10, 10)), _video())
    with pytest.raises(VidalError, match=r"pred_maps must have shape \[T, H, W\]"):
        acc.update(np.zeros((4, 10)), _video())
    with pytest.raises(VidalError, match=r"frames must lie in 0..3"):
        acc.update(np.zeros((1, 10, 10)), _video(), frames=[4])
    with pytest.raises(VidalError, match="class 5 outside 0..1"):
        acc.update(_maps(), _video(), label=5)
    with pytest.raises(VidalError, match=r"taus values must lie in \[0, 1\]"):
        LocalizationAccumulator(2, taus=(2.0,))
    with pytest.raises(VidalError, match="resolution must be one of"):
        LocalizationAccumulator(2, resolution="native")


def test_empty_predictions_score_zero():
    acc = LocalizationAccumulator(2, taus=(0.1, 0.5))
    acc.update(np.zeros((4, 10, 10)), _video())
    r = acc.compute()
    assert r["frame"] == {0.1: 0.0, 0.5: 0.0} and r["video"] == {0.1: 0.0, 0.5: 0.0}
    assert LocalizationAccumulator(2).compute()["frame"][0.5] is None


def test_trivial_baselines():
    video = _video()
    whole = whole_frame_prediction(video)
    assert whole.shape == (4, 10, 10) and whole.all()
    centre = centre_box_prediction(video, [1, 2], fraction=0.5, size=(20, 10))
    assert centre.shape == (2, 10, 20) and centre[0].sum() == 10 * 5
    assert centre[0, 2:7, 5:15].all()
    # whole frame: 16 / 100 on each annotated frame; centre box 2..7: 4 / (16 + 25 - 4)
    r = localization_accuracy([video], whole_frame_prediction, num_classes=2, taus=0.1)
    assert r["mean_frame_iou"] == pytest.approx(0.16) and r["frame"][0.1] == 1.0
    r = localization_accuracy([video], centre_box_prediction, num_classes=2, taus=0.1, frame_step=2)
    assert r["num_frames"] == [0, 1] and r["mean_frame_iou"] == pytest.approx(4 / 37)
    with pytest.raises(VidalError, match=r"fraction must lie in \(0, 1\]"):
        centre_box_prediction(video, fraction=1.5)
