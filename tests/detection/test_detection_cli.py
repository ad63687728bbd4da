"""`vidal train`, `eval`, `select` and `label` on a detection config (issue 14)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from vidal.cli import main
from vidal.data import read_vidal
from vidal.pool import LabelPool

FAST = ["--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def detection(road_root, tmp_path_factory, tiny_detector):
    """A detection config over the tiny road videos (the tiny detector, 2 steps) and a
    detector `vidal train` wrote."""
    root = tmp_path_factory.mktemp("det-cli")
    config = root / "det.yaml"
    sizes = ("min_size", "max_size")
    model = {
        "preset": "mobilenet_v3_fpn",
        "size": [tiny_detector[k] for k in sizes],
        "options": {k: v for k, v in tiny_detector.items() if k not in sizes},
    }
    config.write_text(  # YAML flow style is JSON
        f"task: detection\ndata: {{format: vidal, annotations: '{road_root}'}}\n"
        f"model: {json.dumps(model)}\ntrain: {{steps: 2, batch_size: 2, lr: 0.01}}\n"
    )
    out = root / "run"
    assert main(["train", "--config", str(config), "--out", str(out), *FAST]) == 0
    return config, out


def test_train_writes_a_detector_checkpoint(detection):
    _, out = detection
    report = json.loads((out / "train.json").read_text())
    assert report["task"] == "detection" and report["steps_total"] == 2
    assert report["config"]["train"]["lr"] == 0.01 and report["labeled_fraction"] == 1.0


def test_train_resumes_a_detector(detection, tmp_path):
    config, out = detection
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.pt", "pool.json"):
        (run / name).write_bytes((out / name).read_bytes())
    args = ["train", "--config", str(config), "--out", str(run), "--resume", "--steps", "1"]
    assert main([*args, *FAST]) == 0
    report = json.loads((run / "train.json").read_text())
    assert (report["steps_total"], report["resumed_from_steps"]) == (3, 2)


def test_eval_reports_voc_ap(detection, tmp_path, capsys):
    config, out = detection
    args = ["eval", "--checkpoint", str(out / "checkpoint.pt"), "--config", str(config)]
    assert main([*args, "--out", str(tmp_path / "m.json"), *FAST]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["task"] == "detection" and "map" in report["model"]
    assert report["frames"] == report["model"]["frames"] > 0
    assert "map" in capsys.readouterr().out
    assert report["model"]["protocol"] == "voc10"  # the default for detection
    assert main([*args, "--baseline", "centre-box", *FAST]) == 1
    assert "not for detection" in capsys.readouterr().err
    assert main([*args, "--protocol", "voc07", "--out", str(tmp_path / "m7.json"), *FAST]) == 0
    assert json.loads((tmp_path / "m7.json").read_text())["model"]["protocol"] == "voc07"


@pytest.mark.parametrize("selector", ["tc", "entropy_det", "random_tr_det"])
def test_select_and_label_a_detection_round(detection, road_root, tmp_path, selector):
    config, out = detection
    round_dir = tmp_path / "round"
    args = ["select", "--checkpoint", str(out / "checkpoint.pt"), "--config", str(config)]
    args += ["--split", "train", "--selector", selector, "--frames", "3"]
    assert main([*args, "--out", str(round_dir), *FAST]) == 0
    selection = json.loads((round_dir / "selection.json").read_text())
    assert selection["task"] == "detection" and selection["selected_frames"] == 3
    # the scores (TC among them) keep their optical flow in the round; Random+R runs no model
    assert (round_dir / "flows").is_dir() == (selector != "random_tr_det")
    tasks = json.loads((round_dir / "tasks.json").read_text())
    assert len(tasks) == 3 and all((round_dir / "images" / t["image"]).is_file() for t in tasks)
    names = [e.text for e in ET.parse(round_dir / "cvat_tasks.xml").getroot().iter("name")]
    assert names[:2] == ["car", "truck"]

    tree = ET.parse(round_dir / "cvat_tasks.xml")
    for image in tree.getroot().iter("image"):
        ET.SubElement(image, "box", label="car", xtl="2", ytl="3", xbr="20", ybr="15")
    tree.write(round_dir / "annotations.xml")
    labels, pool = tmp_path / "labels.json", round_dir / "pool.json"
    args = ["label", "--tasks", str(round_dir / "tasks.json"), "--cvat"]
    assert (
        main(
            [
                *args,
                str(round_dir / "annotations.xml"),
                "--pool",
                str(pool),
                "--labels",
                str(labels),
            ]
        )
        == 0
    )
    assert LabelPool.load(pool).num_labeled == 3 and read_vidal(labels).num_boxes == 3
