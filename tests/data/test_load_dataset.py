"""load_dataset: format names map to readers; a typo lists the known names."""

from __future__ import annotations

import pytest

from vidal.data import FORMATS, Tube, VideoAnnotation, VideoDataset, load_dataset, write_vidal
from vidal.errors import ConfigError


def test_known_formats():
    assert set(FORMATS) == {
        "vidal",
        "ucf101-24",
        "ucf101-24-act",
        "jhmdb-21",
        "imagenet-vid",
        "synthia-al",
        "frames",
    }


def test_unknown_format_lists_names():
    with pytest.raises(
        ConfigError, match=r"unknown dataset format 'ucf24'.*ucf101-24.*imagenet-vid"
    ):
        load_dataset("ucf24", "x.pkl")


def test_vidal_format_with_split(tmp_path, tiny_video):
    ds = VideoDataset(
        ["a"],
        [
            VideoAnnotation(
                "v0", 12, 64, 48, tubes=[Tube(0, 0, 0, [[1, 1, 5, 5]])], path=tiny_video.name
            ),
            VideoAnnotation("v1", 12, 64, 48, path=tiny_video.name),
        ],
        splits={"train": ["v0"], "test": ["v1"]},
    )
    write_vidal(ds, tmp_path / "annotations.json")
    back = load_dataset("vidal", tmp_path / "annotations.json", split="test")
    assert back.video_ids == ["v1"] and back.video_path("v1") == tiny_video
    with pytest.raises(ConfigError, match="no split 'val'"):
        load_dataset("vidal", tmp_path / "annotations.json", split="val")


def test_frames_format(tiny_video):
    ds = load_dataset("frames", None, videos=tiny_video)
    assert ds.video_ids == ["tiny"] and ds.videos[0].num_frames == 12
