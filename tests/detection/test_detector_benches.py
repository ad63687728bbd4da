"""The detector speed benchmark and the anchor-coverage measurement, at their smallest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_bench_detectors_runs(load_tool, shared_data: Path, tmp_path: Path, capsys):
    bench = load_tool("bench/bench_detectors.py")
    args = bench.get_args_parser().parse_args(
        [
            "--data",
            str(shared_data),
            "--frames",
            "1",
            "--repeats",
            "1",
            "--min-size",
            "64",
            "--backends",
            "yolo_fastest",
            "--opencv-python",
            sys.executable,
            "--json",
            str(tmp_path / "bench.json"),
        ]
    )
    report = bench.main(args)
    assert set(report["ms_per_frame"]) >= {"frcnn_mobilenet_v3_fpn", "yolo_fastest"}
    assert report["ratio_to_baseline"]["frcnn_mobilenet_v3_fpn"] == 1.0
    out = capsys.readouterr().out
    assert "yolo_fastest" in out and (tmp_path / "bench.json").exists()
    import cv2

    if not hasattr(cv2.dnn, "readNetFromDarknet"):  # OpenCV 5: said, not failed
        assert "has no cv2.dnn.readNetFromDarknet" in report["setup"]["opencv4"]
        assert report["opencv4_vs_torch_boxes"] is None


def test_anchor_coverage_runs(load_tool, capsys):
    tool = load_tool("bench/anchor_coverage.py")
    report = tool.main(tool.get_args_parser().parse_args(["--videos", "1", "--frames", "8"]))
    assert set(report) == set(tool.VARIANTS)
    fine, coarse = report["mobilenet_v2_fpn_p3"], report["mobilenet_v2"]
    small = [b for b in coarse if b in ("0-16px", "16-32px")]
    assert small and all(fine[b]["mean_iou"] > coarse[b]["mean_iou"] for b in small)
    assert "mobilenet_v2_fpn_p3" in capsys.readouterr().out
