import numpy as np
import pytest

from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import AnnotationError, BudgetError
from vidal.pool import Budget, CostModel, LabelPool


def _dataset() -> VideoDataset:
    boxes = np.tile(np.array([[1, 1, 5, 5]], np.float32), (4, 1))
    a = VideoAnnotation("a", 6, 10, 10, tubes=[Tube(0, 0, 1, boxes), Tube(1, 1, 2, boxes)])
    b = VideoAnnotation("b", 3, 10, 10)
    return VideoDataset(["x", "y"], [a, b])


def test_costs_follow_actor_counts():
    pool = LabelPool.from_dataset(_dataset(), cost_model=CostModel(clicks_per_actor=2))
    # frame 0: no actor (costs one actor's clicks), 1: one actor, 2-4: two actors, 5: one
    assert pool.frame_costs("a").tolist() == [2, 2, 4, 4, 4, 2]
    assert pool.add_frames("a", [0, 2]) == 6
    assert pool.add_frames("a", [2]) == 0  # already labeled: free, no double count
    assert pool.spent == 6
    assert pool.num_labeled == 2 and pool.num_unlabeled == 7
    assert pool.add_video_label("b", 1) == 1.0 and pool.add_video_label("b", 1) == 0.0


def test_pool_round_trip_and_atomic_save(tmp_path):
    pool = LabelPool.from_dataset(_dataset())
    pool.add_frames("a", [5, 1])
    pool.add_video_label("a", 0)
    pool.history.append({"cycle": 0, "frames": 2})
    path = pool.save(tmp_path / "pool.json")
    again = LabelPool.load(path)
    assert again == pool
    assert again.labeled_frames("a").tolist() == [1, 5]
    assert not list(tmp_path.glob(".*tmp"))


def test_pool_rejects_bad_input(tmp_path):
    pool = LabelPool({"a": 3})
    with pytest.raises(IndexError, match="frame 3 outside 0..2 of video 'a'"):
        pool.add_frames("a", [3])
    with pytest.raises(KeyError, match="not in the pool"):
        pool.labeled_frames("zzz")
    with pytest.raises(BudgetError, match="exceeds the 3 unlabeled"):
        pool.check_budget(4)
    with pytest.raises(BudgetError):
        Budget(frames=-1)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AnnotationError, match="bad.json"):
        LabelPool.load(tmp_path / "bad.json")
    with pytest.raises(ValueError):
        pool.mask("a")[0] = True  # views are read-only: the pool owns its state


def test_annotation_frame_view_and_validation():
    ds = _dataset()
    f = ds["a"].frame(2)
    assert f.boxes.shape == (2, 4) and f.labels.tolist() == [0, 1]
    assert ds["a"].frame(0).boxes.shape == (0, 4)
    assert ds["a"].actors_per_frame().tolist() == [0, 1, 2, 2, 2, 1]
    assert ds.summary()["tubes"] == 2 and ds.class_histogram() == {"x": 1, "y": 1}
    bad = VideoAnnotation("c", 3, 10, 10, tubes=[Tube(0, 0, 1, np.zeros((4, 4), np.float32))])
    with pytest.raises(AnnotationError, match="ends at frame 4 but the video has 3 frames"):
        bad.validate()
    out = VideoAnnotation(
        "d", 3, 10, 10, tubes=[Tube(0, 0, 0, np.array([[0, 0, 30, 5]], np.float32))]
    )
    with pytest.raises(AnnotationError, match="outside the 10x10 frame"):
        out.validate()
    out.validate(clip_boxes=True)
    assert out.tubes[0].boxes[0].tolist() == [0, 0, 10, 5]
    with pytest.raises(AnnotationError, match="duplicate video ids"):
        VideoDataset(["x"], [VideoAnnotation("a", 1, 1, 1), VideoAnnotation("a", 1, 1, 1)])
