"""ImageNet VID: frame folders, per-frame XMLs, ImageSets lists; the writer round-trips."""

from __future__ import annotations

import numpy as np
import pytest

from vidal.data import (
    VID_CLASSES,
    Tube,
    VideoAnnotation,
    VideoDataset,
    load_dataset,
    open_video,
    read_imagenet_vid,
    write_imagenet_vid,
)
from vidal.errors import AnnotationError


def _dataset(video_path, class_names=("airplane", "zebra")) -> VideoDataset:
    v = VideoAnnotation(
        "ILSVRC2015_VID_train_0000/clip_a",
        12,
        64,
        48,
        tubes=[
            Tube(
                3,
                0,
                0,
                np.array([[4, 16, 16, 28]] * 12) + np.array([2, 0, 2, 0]) * np.arange(12)[:, None],
            ),
            Tube(7, 1, 5, [[40, 2, 60, 20]] * 3),
        ],
        path=str(video_path),
    )
    return VideoDataset(list(class_names), [v])


def test_round_trip(tiny_video, tmp_path):
    ds = _dataset(tiny_video)
    listing = write_imagenet_vid(ds, tmp_path / "vid", split="train")
    assert listing.read_text() == "train/ILSVRC2015_VID_train_0000/clip_a 1 0 12\n"
    xml = (
        tmp_path / "vid/Annotations/VID/train/ILSVRC2015_VID_train_0000/clip_a/000005.xml"
    ).read_text()
    assert (
        "<name>n02691156</name>" in xml and "<trackid>7</trackid>" in xml
    )  # airplane's WordNet id
    back = read_imagenet_vid(tmp_path / "vid", split="train")
    assert back.class_names == VID_CLASSES  # only VID classes: the standard 30-class list
    (v,) = back.videos
    assert (v.video_id, v.num_frames, v.width, v.height) == (
        "ILSVRC2015_VID_train_0000/clip_a",
        12,
        64,
        48,
    )
    assert [
        (t.track_id, back.class_names[t.label], t.first_frame, len(t.boxes)) for t in v.tubes
    ] == [
        (3, "airplane", 0, 12),
        (7, "zebra", 5, 3),
    ]
    for a, b in zip(ds.videos[0].tubes, v.tubes, strict=True):
        np.testing.assert_array_equal(a.boxes, b.boxes)
    with open_video(back.video_path(v)) as frames, open_video(tiny_video) as original:
        assert len(frames) == 12
        assert np.abs(frames[6].astype(int) - original[6]).mean() < 3  # JPEG at quality 95
    assert load_dataset("imagenet-vid", tmp_path / "vid", split="train").video_ids == [v.video_id]


def test_round_trip_non_vid_classes(tiny_video, tmp_path):
    ds = _dataset(tiny_video, class_names=("circle", "square"))
    write_imagenet_vid(ds, tmp_path / "vid", split="val")
    back = read_imagenet_vid(tmp_path / "vid")
    assert back.class_names == ["circle", "square"]
    assert [t.label for t in back.videos[0].tubes] == [0, 1]


def _xml(objects, width=64, height=48):
    objs = "".join(
        f"<object><trackid>{tid}</trackid><name>{name}</name><bndbox><xmax>{b[2]}</xmax><xmin>{b[0]}</xmin>"
        f"<ymax>{b[3]}</ymax><ymin>{b[1]}</ymin></bndbox><occluded>0</occluded><generated>0</generated></object>"
        for tid, name, b in objects
    )
    return f"<annotation><size><width>{width}</width><height>{height}</height></size>{objs}</annotation>"


@pytest.fixture
def hand_built(tiny_frame_folder, tmp_path):
    """``Data/VID/val/v0`` with 12 frames; annotation XMLs written by each test."""
    import shutil

    data = tmp_path / "root/Data/VID/val/v0"
    data.parent.mkdir(parents=True)
    shutil.copytree(tiny_frame_folder, data)
    for k, f in enumerate(sorted(data.iterdir(), key=lambda p: int(p.stem.split("_")[1]))):
        f.rename(data / f"{k:06d}.JPEG")
    ann = tmp_path / "root/Annotations/VID/val/v0"
    ann.mkdir(parents=True)
    return tmp_path / "root", ann


def test_track_with_gap_is_split(hand_built):
    root, ann = hand_built
    for t in (0, 1, 2, 6, 7):
        (ann / f"{t:06d}.xml").write_text(_xml([(0, "n02391049", [t, 1, t + 10, 11])]))
    (ann / "000003.xml").write_text(_xml([]))
    v = read_imagenet_vid(root).videos[0]
    assert [(t.track_id, t.first_frame, len(t.boxes)) for t in v.tubes] == [(0, 0, 3), (1, 6, 2)]
    assert {t.label for t in v.tubes} == {VID_CLASSES.index("zebra")}


def test_box_outside_frame(hand_built):
    root, ann = hand_built
    (ann / "000004.xml").write_text(_xml([(0, "n02391049", [10, 10, 90, 20])]))
    with pytest.raises(
        AnnotationError, match=r"000004\.xml: object 0: box .* outside the 64x48 frame"
    ):
        read_imagenet_vid(root)
    with pytest.warns(UserWarning, match="clipped"):
        ds = read_imagenet_vid(root, clip_boxes=True)
    np.testing.assert_array_equal(ds.videos[0].tubes[0].boxes, [[10, 10, 64, 20]])


def test_track_changing_class_and_orphan_xml(hand_built):
    root, ann = hand_built
    (ann / "000000.xml").write_text(_xml([(0, "n02391049", [1, 1, 5, 5])]))
    (ann / "000001.xml").write_text(_xml([(0, "n02691156", [1, 1, 5, 5])]))
    with pytest.raises(AnnotationError, match="trackid 0 changes class"):
        read_imagenet_vid(root)
    (ann / "000001.xml").unlink()
    (ann / "000099.xml").write_text(_xml([]))
    with pytest.raises(AnnotationError, match=r"000099\.xml: no frame 000099"):
        read_imagenet_vid(root)


def test_missing_annotations_and_list_counts(hand_built):
    root, ann = hand_built
    ann.rmdir()
    with pytest.raises(AnnotationError, match="no annotations for video v0"):
        read_imagenet_vid(root)
    assert read_imagenet_vid(root, require_annotations=False).videos[0].num_frames == 12
    listing = root / "ImageSets/VID/VID_val_videos.txt"
    listing.parent.mkdir(parents=True)
    listing.write_text("val/v0 1 0 13\n")
    with pytest.raises(AnnotationError, match="declares 13 frames but the folder holds 12"):
        read_imagenet_vid(root, require_annotations=False)
    listing.write_text("val/v0 1 0 12\nval/v1 13 0 5\n")
    with pytest.raises(AnnotationError, match="no frames for listed video v1"):
        read_imagenet_vid(root, require_annotations=False)
    with pytest.warns(UserWarning, match="skipped"):
        ds = read_imagenet_vid(root, require_annotations=False, skip_missing=True)
    assert ds.video_ids == ["v0"]


def test_real_frame_folder_without_annotations(shared_data):
    root = shared_data / "imagenet-vid"
    if not (root / "ILSVRC2015_val_00007010").is_dir():
        pytest.skip(f"{root / 'ILSVRC2015_val_00007010'} not found")
    for path in (root, root / "ILSVRC2015_val_00007010"):
        ds = read_imagenet_vid(path, split="val", require_annotations=False)
        (v,) = ds.videos
        assert (v.video_id, v.num_frames, v.width, v.height) == (
            "ILSVRC2015_val_00007010",
            144,
            1280,
            720,
        )
        assert ds.video_path(v) == root / "ILSVRC2015_val_00007010"
    with pytest.raises(AnnotationError, match="no annotations"):
        read_imagenet_vid(root, split="val")
    frames = load_dataset("frames", root / "ILSVRC2015_val_00007010")
    assert len(frames) == 1 and frames.videos[0].num_frames == 144


def test_real_val_list_parses(shared_data, tmp_path):
    listing = shared_data / "imagenet-vid" / "VID_val_videos.txt"
    if not listing.is_file():
        pytest.skip(f"{listing} not found")
    with pytest.raises(AnnotationError, match="no frames for listed video ILSVRC2015_val_00000000"):
        read_imagenet_vid(tmp_path, list_file=listing, require_annotations=False)
