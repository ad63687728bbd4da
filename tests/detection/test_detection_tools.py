"""The detection dataset scripts and the TC benchmark, on tiny synthetic data."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vidal.config import load_config
from vidal.data import load_dataset
from vidal.data.store import FrameStore
from vidal.data.synth import SynthConfig, make_dataset

CONFIGS = Path(__file__).resolve().parents[2] / "tools" / "configs"


def test_imagenet_vid_subset(tmp_path, capsys, load_tool):
    tool = load_tool("imagenet_vid.py")
    root = tmp_path / "ILSVRC2015"
    make_dataset(
        root,
        SynthConfig(
            kind="road",
            videos=6,
            seed=1,
            width=64,
            height=48,
            min_frames=8,
            max_frames=9,
            layout="imagenet-vid",
        ),
        progress=False,
    )
    out = tmp_path / "subset.json"
    stats = tool.main(tool.get_args_parser().parse_args([str(root), "--out", str(out)]))
    assert "wrote" in capsys.readouterr().out
    assert stats["classes"] == ["car", "bicycle", "motorcycle"]
    ds = load_dataset("vidal", out, videos=root / "Data" / "VID")
    assert ds.class_names == ["car", "bicycle", "motorcycle"] and set(ds.splits) == {
        "train",
        "test",
    }
    assert (
        len(ds.split("train")) == stats["train"]["videos"]
        and len(ds.split("test")) == stats["test"]["videos"]
    )
    full = {
        **{v.video_id: v for v in load_dataset("imagenet-vid", root, split="train")},
        **{v.video_id: v for v in load_dataset("imagenet-vid", root, split="val")},
    }
    for v in ds:  # only the three classes, boxes as in the source, frames readable
        assert v.tubes and all(0 <= tb.label < 3 for tb in v.tubes)
        kept = sum(len(tb.boxes) for tb in v.tubes)
        assert 0 < kept <= sum(len(tb.boxes) for tb in full[v.video_id].tubes)
    assert FrameStore(ds).frames(ds.video_ids[0]).shape[1:] == (48, 64, 3)
    quick = tool.main(tool.get_args_parser().parse_args([str(root), "--limit", "1", "--json"]))
    assert quick["all_videos"] == {"train": 1, "test": 1}


def _write_sequence(
    folder: Path, boxes_per_frame: list[list[tuple[int, str, list[float]]]]
) -> None:
    (folder / "RGB").mkdir(parents=True)
    (folder / "labels_kitti").mkdir()
    for t, boxes in enumerate(boxes_per_frame):
        cv2.imwrite(str(folder / "RGB" / f"{t:06d}.png"), np.full((40, 60, 3), 90, np.uint8))
        lines = [
            f"{track} {kind} 0 0 0 {' '.join(map(str, box))} 1 1 1 0 0 0 0"
            for track, kind, box in boxes
        ]
        (folder / "labels_kitti" / f"{t:06d}.txt").write_text("\n".join(lines) + "\n")


def test_synthia_al_splits(tmp_path, capsys, load_tool):
    tool = load_tool("synthia_al.py")
    root = tmp_path / "synthia"
    car = (1, "Car", [5, 5, 20, 20])
    walker = (2, "Pedestrian", [30, 10, 40, 35])
    _write_sequence(root / "train" / "seq_a", [[car], [car, walker], []])
    _write_sequence(root / "train" / "seq_b", [[walker], [walker]])
    _write_sequence(root / "test" / "seq_c", [[car, walker]])
    out = root / "synthia_al.json"
    stats = tool.main(
        tool.get_args_parser().parse_args([str(root), "--test-match", "test/*", "--out", str(out)])
    )
    assert stats["train"]["videos"] == 2 and stats["test"]["videos"] == 1
    assert stats["train"]["boxes"] == {"Car": 2, "Pedestrian": 3}
    assert stats["train"]["frames_with_boxes"] == 4
    ds = load_dataset("vidal", out)
    assert ds.splits == {"train": ["train/seq_a", "train/seq_b"], "test": ["test/seq_c"]}
    assert FrameStore(ds).frames("test/seq_c").shape == (1, 40, 60, 3)
    listed = tmp_path / "test.txt"
    listed.write_text("train/seq_b\n")
    stats = tool.main(
        tool.get_args_parser().parse_args([str(root), "--test-list", str(listed), "--json"])
    )
    assert stats["test"]["videos"] == 1 and stats["train"]["videos"] == 2
    listed.write_text("nope\n")
    with pytest.raises(Exception, match="not found"):
        tool.main(tool.get_args_parser().parse_args([str(root), "--test-list", str(listed)]))


def test_bench_tc_runs(tmp_path, capsys, load_tool):
    bench = load_tool("bench/bench_tc.py")
    args = bench.get_args_parser().parse_args(
        [
            "--parts",
            "synthetic",
            "--videos",
            "1",
            "--frames",
            "8",
            "--size",
            "48x64",
            "--min-size",
            "64",
            "--detect-frames",
            "2",
            "--batch",
            "2",
            "--backbones",
            "mobilenet_v3_fpn",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--dir",
            str(tmp_path),
            "--json",
            str(tmp_path / "bench.json"),
        ]
    )
    report = bench.main(args)["synthetic"]
    assert set(report["ms_per_frame"]) == {
        "flow_compute_dis",
        "flow_read_cache",
        "tc_estimate_errors",
        "tc_with_cache_read",
        "detector_mobilenet_v3_fpn",
    }
    assert all(v > 0 for v in report["ms_per_frame"].values())
    assert "TC / mobilenet_v3_fpn" in capsys.readouterr().out
    assert (tmp_path / "bench.json").exists()


def test_bench_tc_injects_errors_with_known_truth(load_tool):
    bench = load_tool("bench/bench_tc.py")
    gt = np.full((6, 2, 4), np.nan, np.float32)
    gt[:, 0] = [10, 10, 50, 40]
    gt[2:, 1] = [100, 60, 140, 100]  # the second object appears at frame 2
    clean = dict(miss_rate=0.0, miss_burst=1.0, false_per_frame=0.0, false_duration=1)
    dets, has_fp, has_fn = bench.inject_errors(np.random.default_rng(0), gt, (120, 160), **clean)
    assert [len(d[0]) for d in dets] == [1, 1, 2, 2, 2, 2]
    assert not has_fp.any() and not has_fn.any()
    lossy = dict(miss_rate=1.0, miss_burst=1.0, false_per_frame=3.0, false_duration=3)
    dets, has_fp, has_fn = bench.inject_errors(np.random.default_rng(0), gt, (120, 160), **lossy)
    assert has_fn.all()  # every object dropped everywhere
    for (boxes, _, _), fp in zip(dets, has_fp, strict=True):
        assert fp == (len(boxes) > 0)  # only false boxes are left, away from the objects
        assert (bench.iou(boxes, gt[0]).max(axis=1, initial=0) <= 0.5).all()


@pytest.mark.slow
def test_bench_tc_presets_and_cache_on_the_real_clips(shared_data, tmp_path, capsys, load_tool):
    if not (shared_data / "davis2016").is_dir():
        pytest.skip(f"{shared_data / 'davis2016'} not found")
    bench = load_tool("bench/bench_tc.py")
    args = bench.get_args_parser().parse_args(
        ["--parts", "presets", "cache", "--data", str(shared_data), "--clip-frames", "4"]
        + ["--ucf-videos", "1", "--seeds", "1", "--repeats", "1", "--detect-frames", "1"]
        + ["--methods", "dis-ultrafast", "--scales", "auto", "s128", "--dir", str(tmp_path)]
    )
    report = bench.main(args)
    davis = report["presets"]["davis 854x480"]
    assert set(davis["rows"]) == {  # the baseline (medium at scale 1) crossed with the options
        f"{method}@{scale}"
        for method in ("dis-medium", "dis-ultrafast")
        for scale in ("1", "auto", "s128")
    }
    assert davis["rows"]["dis-medium@1"]["speedup_vs_baseline"] == 1.0
    assert 0 <= davis["rows"]["dis-ultrafast@auto"]["fn_recall"] <= 1
    cache = report["cache"]["davis 854x480"]
    assert cache["files"] == {"old": 4, "new": 1}  # meta.json + 3 pairs, against one file
    assert "read back" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name", ["detection_synthetic_road", "detection_imagenet_vid", "detection_synthia_al"]
)
def test_detection_configs(name):
    cfg = load_config(CONFIGS / f"{name}.yaml")
    assert cfg.task == "detection" and cfg.model.preset in {"mobilenet_v3_fpn", "resnet50_fpn"}
    assert cfg.budget.initial == cfg.budget.step or name == "detection_synthetic_road"
    window = {"detection_imagenet_vid": 3}.get(name, 1)
    assert cfg.select.options.get("window", 1) == window
