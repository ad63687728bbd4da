import json

import numpy as np
import pytest

from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.data.formats.vidal_json import read_vidal, write_vidal
from vidal.errors import AnnotationError


def _dataset(with_masks: bool) -> VideoDataset:
    rng = np.random.default_rng(0)
    masks = rng.random((3, 8, 12)) > 0.5 if with_masks else None
    boxes = np.array([[1, 2, 5, 6], [1.5, 2, 5.5, 6], [2, 2, 6, 6.25]], np.float32)
    v = VideoAnnotation(
        "c/v0", 5, 12, 8, fps=30.0, label=1, tubes=[Tube(3, 1, 2, boxes, masks)], path="v0.mp4"
    )
    return VideoDataset(
        ["a", "b"], [v, VideoAnnotation("c/v1", 2, 12, 8)], splits={"train": ["c/v0"]}
    )


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
@pytest.mark.parametrize("with_masks", [False, True])
def test_round_trip(tmp_path, suffix, with_masks):
    ds = _dataset(with_masks)
    path = write_vidal(ds, tmp_path / f"ann{suffix}", lines=suffix == ".jsonl")
    back = read_vidal(path)
    assert back.class_names == ["a", "b"] and back.splits == {"train": ["c/v0"]}
    v, w = back["c/v0"], ds["c/v0"]
    assert (v.num_frames, v.width, v.height, v.fps, v.label, v.path) == (
        5,
        12,
        8,
        30.0,
        1,
        "v0.mp4",
    )
    np.testing.assert_array_equal(v.tubes[0].boxes, w.tubes[0].boxes)
    if with_masks:
        np.testing.assert_array_equal(v.tubes[0].masks, w.tubes[0].masks)
    else:
        assert v.tubes[0].masks is None
    assert back.root == tmp_path
    # deterministic bytes
    first = path.read_bytes()
    write_vidal(ds, path, lines=suffix == ".jsonl")
    assert path.read_bytes() == first


def test_errors_name_the_file(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    with pytest.raises(AnnotationError, match="x.json: not a vidal annotation file"):
        read_vidal(p)
    obj = {
        "format": "vidal",
        "version": 1,
        "classes": ["a"],
        "videos": [{"id": "v", "num_frames": 2}],
    }
    p.write_text(json.dumps(obj))
    with pytest.raises(AnnotationError, match="x.json: video #0: malformed entry"):
        read_vidal(p)
    obj["videos"] = [
        {
            "id": "v",
            "num_frames": 2,
            "width": 4,
            "height": 4,
            "tubes": [
                {"track_id": 0, "label": 0, "first_frame": 1, "boxes": [[0, 0, 1, 1], [0, 0, 1, 1]]}
            ],
        }
    ]
    p.write_text(json.dumps(obj))
    with pytest.raises(
        AnnotationError, match="x.json: v: tube 0 ends at frame 2 but the video has 2 frames"
    ):
        read_vidal(p)
    with pytest.raises(AnnotationError, match="cannot read"):
        read_vidal(tmp_path / "missing.json")


def _with_metadata() -> VideoDataset:
    ds = _dataset(with_masks=False)
    ds["c/v0"].metadata = {
        "scene": "night",
        "weather": None,
        "subject": {"id": 7, "age": [5, 6]},
        "score": 0.25,
        "consented": True,
    }
    ds["c/v0"].frame_metadata = {
        "prompt": ["happy", "happy", None, "sad", "sad"],
        "tilt": [0, 1, 1, None, 0.5],
    }
    ds["c/v1"].frame_metadata = {"prompt": [None, "angry"]}
    return ds


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_metadata_round_trips(tmp_path, suffix):
    ds = _with_metadata()
    path = write_vidal(ds, tmp_path / f"ann{suffix}", lines=suffix == ".jsonl")
    back = read_vidal(path)
    for vid in ("c/v0", "c/v1"):
        assert back[vid].metadata == ds[vid].metadata
        assert back[vid].frame_metadata == ds[vid].frame_metadata
    # read -> write -> read: the same dataset and the same bytes
    again = read_vidal(write_vidal(back, tmp_path / f"again{suffix}", lines=suffix == ".jsonl"))
    assert (tmp_path / f"again{suffix}").read_bytes() == path.read_bytes()
    for vid in ("c/v0", "c/v1"):
        assert again[vid].metadata == back[vid].metadata
        assert again[vid].frame_metadata == back[vid].frame_metadata
    assert back["c/v0"].metadata_values("prompt")[:3] == ["happy", "happy", None]
    assert back["c/v0"].metadata_values("scene") == ["night"] * 5


def test_files_without_metadata_read_as_before(tmp_path):
    path = write_vidal(_dataset(with_masks=False), tmp_path / "ann.json")
    assert "metadata" not in path.read_text()  # nothing written when there is none
    back = read_vidal(path)
    assert back["c/v0"].metadata == {} and back["c/v0"].frame_metadata == {}


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {"frame_metadata": {"prompt": ["a"]}},
            r"frame metadata 'prompt' needs one value per frame \(2\), got 1",
        ),
        ({"frame_metadata": {"prompt": "a"}}, "frame metadata 'prompt' needs one value per frame"),
        ({"metadata": ["night"]}, "metadata and frame_metadata must be mappings"),
    ],
)
def test_bad_metadata_names_the_file_and_video(tmp_path, entry, message):
    obj = {
        "format": "vidal",
        "version": 1,
        "classes": ["a"],
        "videos": [{"id": "v", "num_frames": 2, "width": 4, "height": 4, **entry}],
    }
    p = tmp_path / "x.json"
    p.write_text(json.dumps(obj))
    with pytest.raises(AnnotationError, match=f"x.json: v: {message}"):
        read_vidal(p)
