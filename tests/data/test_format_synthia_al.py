"""SYNTHIA-AL: RGB frame folders with KITTI-style per-frame label files."""

from __future__ import annotations

import numpy as np
import pytest

from vidal.data import load_dataset, read_synthia_al
from vidal.errors import AnnotationError, ConfigError


def kitti(kind, box, *, track=None, frame=None, score=None):
    x1, y1, x2, y2 = box
    fields = [kind, "0.00", "0", "-1.57", f"{x1:.2f}", f"{y1:.2f}", f"{x2:.2f}", f"{y2:.2f}"]
    fields += ["1.5", "1.6", "3.9", "1.0", "1.5", "10.0", "0.01"]
    if score is not None:
        fields.append(str(score))
    ids = [str(i) for i in (frame, track) if i is not None]
    return " ".join(ids + fields)


@pytest.fixture
def make_sequence(tmp_path):
    import cv2

    def make(name, labels: dict[int, list[str]], num_frames=4):
        seq = tmp_path / "synthia" / name
        (seq / "RGB").mkdir(parents=True)
        (seq / "labels_kitti").mkdir()
        (seq / "Depth").mkdir()  # other modalities are ignored
        for t in range(num_frames):
            cv2.imwrite(str(seq / "RGB" / f"{t:06d}.png"), np.full((30, 40, 3), 20 * t, np.uint8))
        for t, lines in labels.items():
            (seq / "labels_kitti" / f"{t:06d}.txt").write_text("\n".join(lines) + "\n")
        return tmp_path / "synthia"

    return make


def test_boxes_without_ids_are_single_frame_tubes(make_sequence):
    root = make_sequence(
        "seq_a",
        {0: [kitti("Car", (1, 2, 10, 12)), kitti("Pedestrian", (20, 5, 25, 25), score=0.9)],
         2: [kitti("Car", (2, 2, 11, 12)), kitti("DontCare", (0, 0, 5, 5))]},
    )  # fmt: skip
    ds = read_synthia_al(root)
    assert ds.class_names == ["Car", "Pedestrian"]
    (v,) = ds.videos
    assert (v.video_id, v.num_frames, v.width, v.height, v.path) == (
        "seq_a",
        4,
        40,
        30,
        "seq_a/RGB",
    )
    assert [(t.track_id, t.label, t.first_frame, len(t.boxes)) for t in v.tubes] == [
        (0, 0, 0, 1),
        (1, 1, 0, 1),
        (2, 0, 2, 1),
    ]
    np.testing.assert_allclose(v.tubes[2].boxes, [[2, 2, 11, 12]])
    assert load_dataset("synthia-al", root).num_tubes == 3


def test_track_ids_link_boxes(make_sequence):
    root = make_sequence(
        "seq_b",
        {t: [kitti("Car", (t, 1, t + 5, 6), track=4), kitti("Cyclist", (30, 1, 35, 9), track=9, frame=t)][: 1 + (t < 2)]
         for t in (0, 1, 3)},
    )  # fmt: skip
    v = read_synthia_al(root / "seq_b").videos[0]  # a single sequence as root
    # track 4 is in frames 0, 1, 3: split at the gap; track 9 in frames 0, 1
    assert [(t.track_id, t.label, t.first_frame, len(t.boxes)) for t in v.tubes] == [
        (4, 0, 0, 2),
        (10, 0, 3, 1),
        (9, 1, 0, 2),
    ]


def test_bad_lines(make_sequence):
    root = make_sequence("seq_c", {1: ["Car 0.0 0 1.0 5 5 9"]})
    with pytest.raises(AnnotationError, match=r"000001\.txt:1: 6 numbers after the type 'Car'"):
        read_synthia_al(root)


def test_box_outside_and_mixed_ids(make_sequence):
    root = make_sequence("seq_d", {0: [kitti("Car", (1, 2, 80, 12))]})
    with pytest.raises(AnnotationError, match=r"000000\.txt:1: box .* outside the 40x30 frame"):
        read_synthia_al(root)
    with pytest.warns(UserWarning, match="clipped"):
        ds = read_synthia_al(root, clip_boxes=True)
    np.testing.assert_allclose(ds.videos[0].tubes[0].boxes, [[1, 2, 40, 12]])
    root = make_sequence(
        "seq_e", {0: [kitti("Car", (1, 2, 8, 12)), kitti("Car", (1, 2, 8, 12), track=1)]}
    )
    with pytest.raises(AnnotationError, match="some lines have a track id"):
        read_synthia_al(root / "seq_e")


def test_label_without_frame_and_splits(make_sequence, tmp_path):
    root = make_sequence("seq_f", {0: []})
    make_sequence("seq_g", {})
    (tmp_path / "test.txt").write_text("seq_g\n")
    ds = read_synthia_al(root, split="test", split_file=tmp_path / "test.txt")
    assert ds.video_ids == ["seq_g"]
    with pytest.raises(ConfigError, match="no split"):
        read_synthia_al(root, split="train")
    (root / "seq_f/labels_kitti/000077.txt").write_text(kitti("Car", (1, 1, 2, 2)))
    with pytest.raises(AnnotationError, match=r"000077\.txt: no RGB frame"):
        read_synthia_al(root)
