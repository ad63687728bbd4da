"""UCF-101-24: gurkirt's pyannot.pkl and ACT's UCF101v2-GT.pkl."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vidal.data import (
    Tube,
    VideoAnnotation,
    VideoDataset,
    load_dataset,
    open_video,
    read_ucf101_24,
    read_ucf101v2_gt,
    write_ucf101v2_gt,
)
from vidal.errors import AnnotationError, ConfigError


def _pyannot(tmp_path, entries, name="pyannot.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(entries, protocol=2))
    return path


def _entry(label, numf, tubes):
    return {
        "numf": np.uint16(numf),
        "label": label,
        "annotations": [
            {"label": label, "sf": sf, "ef": ef, "boxes": np.asarray(b, dtype=np.uint8)}
            for sf, ef, b in tubes
        ],
    }


def test_pyannot_minimal(tmp_path):
    # uint8 boxes: 200 + 100 overflows uint8, the reader must cast first
    path = _pyannot(
        tmp_path,
        {
            "Walk/v_Walk_g01_c01": _entry(
                1, 10, [(2, 4, [[200, 10, 100, 20], [201, 11, 100, 20]])]
            ),
            "Jump/v_Jump_g01_c01": _entry(
                0, 5, [(0, 5, [[1, 2, 3, 4]] * 5), (1, 2, [[5, 6, 7, 8]])]
            ),
        },
    )
    ds = read_ucf101_24(path)
    assert ds.class_names == ["Jump", "Walk"]
    assert ds.video_ids == ["Jump/v_Jump_g01_c01", "Walk/v_Walk_g01_c01"]
    walk = ds["Walk/v_Walk_g01_c01"]
    assert (walk.num_frames, walk.width, walk.height, walk.label) == (10, 320, 240, 1)
    (tube,) = walk.tubes
    assert tube.first_frame == 2 and tube.last_frame == 3 and tube.label == 1
    np.testing.assert_array_equal(tube.boxes[0], [200, 10, 300, 30])
    assert tube.boxes.dtype == np.float32
    assert ds.num_tubes == 3 and ds.num_boxes == 2 + 5 + 1


def test_pyannot_tube_length_mismatch(tmp_path):
    path = _pyannot(tmp_path, {"Walk/v_Walk_g01_c01": _entry(0, 10, [(2, 6, [[1, 1, 2, 2]] * 3)])})
    with pytest.raises(
        AnnotationError, match=r"pyannot\.pkl: Walk/v_Walk_g01_c01 tube 0: 3 boxes.*ef - sf = 4"
    ):
        read_ucf101_24(path)
    with pytest.warns(UserWarning, match="skipped"):
        ds = read_ucf101_24(path, skip_invalid=True)
    assert ds.num_tubes == 0 and len(ds) == 1


def test_pyannot_tube_past_the_end(tmp_path):
    path = _pyannot(tmp_path, {"Walk/v_Walk_g01_c01": _entry(0, 3, [(2, 4, [[1, 1, 2, 2]] * 2)])})
    with pytest.raises(AnnotationError, match="outside the video's 3 frames"):
        read_ucf101_24(path)


def test_pyannot_conflicting_class_folders(tmp_path):
    path = _pyannot(
        tmp_path,
        {"Walk/v_Walk_g01_c01": _entry(0, 3, []), "Run/v_Run_g01_c01": _entry(0, 3, [])},
    )
    with pytest.raises(AnnotationError, match="label 0 is used by class folders"):
        read_ucf101_24(path)


def test_split_file_and_unknown_split(tmp_path):
    path = _pyannot(tmp_path, {f"Walk/v_Walk_g0{i}_c01": _entry(0, 3, []) for i in range(3)})
    (tmp_path / "testlist01.txt").write_text("Walk/v_Walk_g01_c01\n\nWalk/v_Walk_g02_c01")
    ds = read_ucf101_24(path, split="test", split_file=tmp_path / "testlist01.txt")
    assert ds.video_ids == ["Walk/v_Walk_g01_c01", "Walk/v_Walk_g02_c01"]
    with pytest.raises(ConfigError, match="no split 'test'"):
        read_ucf101_24(path, split="test")
    (tmp_path / "bad.txt").write_text("Walk/v_Walk_g09_c01\n")
    with pytest.raises(AnnotationError, match=r"bad\.txt: 1 of 1 listed videos"):
        read_ucf101_24(path, split_file=tmp_path / "bad.txt")


def _dataset() -> VideoDataset:
    videos = [
        VideoAnnotation(
            "Walk/v_a",
            20,
            320,
            240,
            label=1,
            tubes=[
                Tube(0, 1, 3, np.array([[1, 2, 30, 40]] * 5) + np.arange(5)[:, None]),
                Tube(1, 1, 0, [[5.5, 6, 7, 8.25]] * 20),
            ],
        ),
        VideoAnnotation("Run/v_b", 8, 160, 120, label=0, tubes=[Tube(0, 0, 7, [[1, 1, 2, 2]])]),
        VideoAnnotation("Run/v_c", 4, 160, 120, label=None, tubes=[]),
    ]
    return VideoDataset(
        ["Run", "Walk"], videos, splits={"train": ["Walk/v_a", "Run/v_c"], "test": ["Run/v_b"]}
    )


def test_act_round_trip(tmp_path):
    ds = _dataset()
    path = write_ucf101v2_gt(ds, tmp_path / "UCF101v2-GT.pkl")
    for back in (read_ucf101v2_gt(path), read_ucf101_24(path), load_dataset("ucf101-24-act", path)):
        assert back.class_names == ds.class_names
        assert back.splits == ds.splits
        assert sorted(back.video_ids) == sorted(ds.video_ids)
        for v in ds:
            w = back[v.video_id]
            assert (w.num_frames, w.width, w.height) == (v.num_frames, v.width, v.height)
            assert w.label == (v.label if v.tubes else None)
            assert len(w.tubes) == len(v.tubes)
            for a, b in zip(v.tubes, w.tubes, strict=True):
                assert (a.track_id, a.label, a.first_frame) == (b.track_id, b.label, b.first_frame)
                np.testing.assert_array_equal(a.boxes, b.boxes)
    test_only = read_ucf101v2_gt(path, split="test")
    assert test_only.video_ids == ["Run/v_b"]


def test_act_multiple_splits_and_gaps(tmp_path):
    rows = np.array(
        [[1, 0, 0, 5, 5], [2, 1, 1, 6, 6], [5, 2, 2, 7, 7], [6, 3, 3, 8, 8]], np.float32
    )
    data = {
        "labels": ["a", "b"],
        "gttubes": {"v1": {1: [rows]}},
        "nframes": {"v1": 6, "v2": 3},
        "train_videos": [["v1"], ["v2"]],
        "test_videos": [["v2"], ["v1"]],
        "resolution": {"v1": (20, 30), "v2": (20, 30)},
    }
    path = tmp_path / "gt.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    ds = read_ucf101v2_gt(path)
    assert set(ds.splits) == {"train", "test", "train1", "test1", "train2", "test2"}
    assert ds.splits["train"] == ["v1"] and ds.splits["test2"] == ["v1"]
    tubes = ds["v1"].tubes  # frames 1-2 and 5-6 (1-based): a gap, so two tubes
    assert [(t.track_id, t.first_frame, len(t.boxes)) for t in tubes] == [(0, 0, 2), (1, 4, 2)]
    assert ds["v1"].label == 1 and (ds["v1"].width, ds["v1"].height) == (30, 20)


def test_act_frame_outside_video(tmp_path):
    data = {
        "labels": ["a"],
        "gttubes": {"v1": {0: [np.array([[9, 0, 0, 1, 1]], np.float32)]}},
        "nframes": {"v1": 3},
        "train_videos": [[]],
        "test_videos": [["v1"]],
        "resolution": {"v1": (20, 30)},
    }
    path = tmp_path / "gt.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(AnnotationError, match=r"gt\.pkl: v1: tube 0 covers frames 9\.\.9"):
        read_ucf101v2_gt(path)


def test_not_act(tmp_path):
    path = _pyannot(tmp_path, {"Walk/v_Walk_g01_c01": _entry(0, 3, [])})
    with pytest.raises(AnnotationError, match="not an ACT ground-truth pickle"):
        read_ucf101v2_gt(path)


@pytest.fixture(scope="module")
def pyannot(shared_data):
    path = shared_data / "ucf101-24" / "pyannot.pkl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_real_pyannot(pyannot):
    ds = read_ucf101_24(pyannot)
    assert (len(ds), ds.num_classes, ds.num_tubes) == (3194, 24, 4458)
    assert ds.class_names[0] == "Basketball" and ds.class_names[-1] == "WalkingWithDog"
    for v in ds:
        v.validate()  # every tube inside its video and its 320x240 frame
    test = read_ucf101_24(pyannot, split="test", split_file=pyannot.parent / "testlist01.txt")
    assert len(test) == 910 and test.num_classes == 24


def test_real_pyannot_scaled_to_videos(pyannot):
    videos = pyannot.parent / "videos"
    if not videos.is_dir():
        pytest.skip(f"{videos} not found")
    plain = read_ucf101_24(pyannot)
    ds = load_dataset("ucf101-24", pyannot, videos=videos)
    present = [v for v in ds if v.path is not None]
    assert len(present) == 9
    for v in present:
        assert (v.width, v.height) == (340, 256)
        ref = plain[v.video_id]
        np.testing.assert_allclose(
            ref.tubes[0].boxes * np.array([340 / 320, 256 / 240] * 2), v.tubes[0].boxes, rtol=1e-5
        )
        v.validate()
    first = present[0]
    with open_video(ds.video_path(first)) as reader:
        assert len(reader) == first.num_frames
    unscaled = read_ucf101_24(pyannot, videos_dir=videos, scale_to=None)
    assert unscaled[first.video_id].width == 320
