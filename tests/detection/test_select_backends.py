"""`vidal select` on the real J-HMDB clip with each detector backend (issue 15, item 2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from vidal.cli import main

FAST = ["--device", "cpu", "--no-progress"]
CLIP = "jhmdb21/Frames/catch"
YOLO = "models/yolo-fastest-1.1-coco/yolo-fastest-1.1"


def _round(out, *args):
    assert main(["select", *args, "--frames", "4", "--out", str(out), *FAST]) == 0
    tasks = json.loads((out / "tasks.json").read_text())
    assert len(tasks) == 4 and all((out / "images" / t["image"]).is_file() for t in tasks)
    names = [e.text for e in ET.parse(out / "cvat_tasks.xml").getroot().iter("name")]
    selection = json.loads((out / "selection.json").read_text())
    return names, selection


@pytest.mark.slow
def test_select_with_a_frozen_darknet_detector(shared_data, tmp_path):
    detector = f"darknet:{shared_data / YOLO}.cfg:{shared_data / YOLO}.weights"
    videos = ["--videos", str(shared_data / CLIP), "--classes", "person", "--detector", detector]
    for selector in ("tc", "entropy_det", "margin_det", "least_confidence_det"):
        names, selection = _round(tmp_path / selector, *videos, "--selector", selector)
        assert names == ["person"] and selection["task"] == "detection"
    scores = json.loads((tmp_path / "entropy_det" / "selection.json").read_text())["scores"]
    assert max(max(v) for v in scores.values()) > 0  # real class vectors, real entropy


@pytest.mark.slow
def test_select_with_your_own_detections(shared_data, tmp_path):
    from vidal.data import load_dataset
    from vidal.data.store import FrameStore
    from vidal.models.darknet import load_darknet_detector
    from vidal.models.detection_file import write_coco_results

    dataset = load_dataset("frames", shared_data / CLIP)
    frames = FrameStore(dataset).frames(dataset.video_ids[0])
    yolo = load_darknet_detector(f"{shared_data / YOLO}.cfg", f"{shared_data / YOLO}.weights",
                                 class_map={"person": ["person"]})  # fmt: skip
    write_coco_results(tmp_path / "dets.json", {dataset.video_ids[0]: yolo.detect_frames(frames)})
    args = ["--videos", str(shared_data / CLIP), "--classes", "person", "--selector", "tc"]
    names, selection = _round(
        tmp_path / "round", *args, "--detections", str(tmp_path / "dets.json")
    )
    assert names == ["person"] and selection["detections"].endswith("dets.json")


@pytest.mark.slow
def test_select_with_a_detector_checkpoint(shared_data, tmp_path):
    from vidal.models.detector import build_detector
    from vidal.models.detector_checkpoint import save_detector_checkpoint

    build = {"num_classes": 1, "backbone": "mobilenet_v3_fpn", "min_size": 120, "max_size": 160}
    build["options"] = {"rpn_pre_nms_top_n_test": 100, "rpn_post_nms_top_n_test": 50}
    model = build_detector(1, backbone="mobilenet_v3_fpn", min_size=120, max_size=160,
                           **build["options"])  # fmt: skip
    save_detector_checkpoint(model, tmp_path / "ck.pt", build=build, class_names=["person"])
    args = ["--videos", str(shared_data / CLIP), "--checkpoint", str(tmp_path / "ck.pt")]
    names, selection = _round(tmp_path / "round", *args, "--selector", "entropy_det")
    assert names == ["person"] and selection["task"] == "detection"


def test_bad_detector_flags_are_one_line(shared_data, tmp_path, capsys):
    base = ["select", "--videos", str(shared_data / CLIP), "--classes", "person", "--frames", "2"]
    bad = [
        (["--detector", "yolo:a.cfg"], "darknet:CFG:WEIGHTS"),
        (["--detector", "darknet:x.cfg:y.weights", "--detections", "d.json"], "not both"),
        (["--detections", str(tmp_path / "none.json")], "none.json"),
        (
            [
                "--detector",
                f"darknet:{shared_data / YOLO}.cfg:{shared_data / YOLO}.weights",
                "--class-map",
                "dog=cat",
            ],
            "CLASS=A,B",
        ),  # fmt: skip
    ]
    for flags, needle in bad:
        assert main([*base, *flags, "--out", str(tmp_path / "r"), *FAST]) == 1
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err, err
