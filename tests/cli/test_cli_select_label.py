"""`vidal select` and `vidal label`: one real round, from a checkpoint to imported labels."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from vidal.cli import main
from vidal.data import load_dataset, read_vidal
from vidal.loop import load_scores
from vidal.pool import LabelPool

FAST = ["--device", "cpu", "--no-progress"]
SCORE = ["--passes", "2", "--stride", "8"]


def _select(trained, tiny_dataset, out, *extra):
    args = ["select", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    args += ["--annotations", str(tiny_dataset), "--split", "train", "--out", str(out)]
    return main([*args, *extra, *FAST])


def _draw(tasks_dir, label="walk", box=(4, 6, 30, 40)):
    """What a person returns from CVAT: a box on every other exported image, none on the rest."""
    tree = ET.parse(tasks_dir / "cvat_tasks.xml")
    for i, image in enumerate(tree.getroot().iter("image")):
        if i % 2 == 0:
            x1, y1, x2, y2 = (str(v) for v in box)
            ET.SubElement(image, "box", label=label, xtl=x1, ytl=y1, xbr=x2, ybr=y2, occluded="0")
    tree.write(tasks_dir / "annotations.xml")
    return tasks_dir / "annotations.xml"


def test_select_writes_tasks_and_never_picks_a_labeled_frame(trained, tiny_dataset, tmp_path):
    pool = LabelPool.load(trained / "pool.json")  # half of the train frames labeled
    pool_path = pool.save(tmp_path / "pool.json")
    out = tmp_path / "round"
    assert (
        _select(trained, tiny_dataset, out, "--pool", str(pool_path), "--frames", "6", *SCORE) == 0
    )

    selection = json.loads((out / "selection.json").read_text())
    assert selection["selector"] == "apu" and selection["selected_frames"] == 6
    chosen = {v: np.asarray(f) for v, f in selection["frames"].items()}
    assert sum(len(f) for f in chosen.values()) == 6
    for vid, frames in chosen.items():
        assert not pool.mask(vid)[frames].any()
        assert len(selection["scores"][vid]) == len(frames)

    scores = load_scores(out / "scores.npz")
    unlabeled_videos = {v for v in pool.video_ids if not pool.mask(v).all()}
    assert set(scores.frames) == unlabeled_videos
    tasks = json.loads((out / "tasks.json").read_text())
    assert len(tasks) == 6 and all((out / "images" / t["image"]).is_file() for t in tasks)
    xml = ET.parse(out / "cvat_tasks.xml").getroot()
    assert len(xml.findall("image")) == 6
    assert [e.text for e in xml.iter("name")][:2] == ["walk", "run"]
    assert LabelPool.load(pool_path) == pool  # selecting labels nothing


def test_select_unknown_selector_lists_names(trained, tiny_dataset, tmp_path, capsys):
    assert _select(trained, tiny_dataset, tmp_path, "--selector", "apx", "--frames", "2") == 1
    err = capsys.readouterr().err
    assert "unknown selector 'apx'" in err
    assert all(name in err for name in ("apu", "claus", "random", "equidistant"))


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (["--frames", "49"], "budget of 49 frames exceeds the 48 unlabeled frames"),
        (["--cost", "1e6"], "exceeds the cost"),
        (["--selector", "claus", "--video-labels", "4"], "exceeds the 3 videos"),
        ([], "give a budget"),
    ],
)
def test_select_budget_beyond_the_pool_is_an_error(
    trained, tiny_dataset, tmp_path, capsys, budget, message
):
    assert _select(trained, tiny_dataset, tmp_path, *budget) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "selection.json").exists()


def test_select_on_a_folder_of_videos_then_label_round_trip(
    trained, tiny_dataset, tmp_path, capsys
):
    videos = tiny_dataset.parent / "videos"
    work, round1, round2 = tmp_path / "work", tmp_path / "round1", tmp_path / "round2"
    pool_path, labels_path = work / "pool.json", work / "labels.json"
    base = ["select", "--checkpoint", str(trained / "checkpoint.pt"), "--videos", str(videos)]
    base += ["--pool", str(pool_path), *SCORE, *FAST]
    # round 1: no annotations, no pool yet (--format frames is implied by --videos alone)
    assert main([*base, "--selector", "equidistant", "--frames", "4", "--out", str(round1)]) == 0
    assert LabelPool.load(pool_path).num_labeled == 0
    xml = _draw(round1)
    label = ["label", "--tasks", str(round1 / "tasks.json"), "--cvat", str(xml)]
    label += ["--pool", str(pool_path), "--labels", str(labels_path)]
    assert main(label) == 0
    labels, pool = read_vidal(labels_path), LabelPool.load(pool_path)
    tasks = json.loads((round1 / "tasks.json").read_text())
    assert pool.num_labeled == 4 and all(pool.is_labeled(t["video"], t["frame"]) for t in tasks)
    assert labels.num_boxes == 2 and labels.class_names[0] == "walk"
    first = {v.video_id: [(tb.first_frame, tb.boxes.tolist()) for tb in v.tubes] for v in labels}
    assert all(labels.video_path(v).is_file() for v in labels)  # absolute paths to the videos

    # importing the same file again changes nothing
    assert main(label) == 0
    again = LabelPool.load(pool_path)
    assert read_vidal(labels_path).num_boxes == 2
    assert (
        again.state_dict()["labeled"] == pool.state_dict()["labeled"] and again.spent == pool.spent
    )

    # round 2 never offers a frame labeled in round 1, and its import keeps round 1's labels
    assert main([*base, "--selector", "random", "--frames", "3", "--out", str(round2)]) == 0
    chosen = json.loads((round2 / "selection.json").read_text())["frames"]
    assert all(not pool.mask(v)[f].any() for v, f in chosen.items())
    xml2 = _draw(round2, label="run", box=(10, 10, 20, 20))
    label2 = ["label", "--tasks", str(round2 / "tasks.json"), "--cvat", str(xml2)]
    assert main([*label2, "--pool", str(pool_path), "--labels", str(labels_path)]) == 0
    labels2, pool2 = read_vidal(labels_path), LabelPool.load(pool_path)
    assert pool2.num_labeled == 7 and labels2.num_boxes == 4
    for vid, tubes in first.items():
        kept = [(tb.first_frame, tb.boxes.tolist()) for tb in labels2[vid].tubes]
        assert all(t in kept for t in tubes)
    capsys.readouterr()


def test_label_refuses_an_image_it_did_not_export(trained, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "round"
    assert _select(trained, tiny_dataset, out, "--selector", "random", "--frames", "2") == 0
    xml = _draw(out)
    tree = ET.parse(xml)
    ET.SubElement(tree.getroot(), "image", id="9", name="other.jpg", width="64", height="48")
    tree.write(xml)
    args = ["label", "--tasks", str(out / "tasks.json"), "--cvat", str(xml)]
    args += ["--pool", str(out / "pool.json"), "--labels", str(tmp_path / "labels.json")]
    assert main(args) == 1
    assert "'other.jpg' is not one of the exported tasks" in capsys.readouterr().err
    assert not (tmp_path / "labels.json").exists()
    assert LabelPool.load(out / "pool.json").num_labeled == 0


@pytest.mark.slow
def test_train_on_human_labels(trained, tiny_dataset, tmp_path):
    out = tmp_path / "round"
    assert _select(trained, tiny_dataset, out, "--selector", "random", "--frames", "3") == 0
    labels, pool = tmp_path / "labels.json", out / "pool.json"
    args = ["label", "--tasks", str(out / "tasks.json"), "--cvat", str(_draw(out))]
    assert main([*args, "--pool", str(pool), "--labels", str(labels)]) == 0
    args = ["train", "--labels", str(labels), "--pool", str(pool), "--size", "48", "64"]
    args += ["--steps", "1", "--batch-size", "1", "--cluster-weight", "0"]
    args += ["--weights", str(trained / "checkpoint.pt"), "--out", str(tmp_path / "run")]
    assert main([*args, *FAST]) == 0
    report = json.loads((tmp_path / "run" / "train.json").read_text())
    assert report["labeled_frames"] == 3 and report["videos"] == len(load_dataset("vidal", labels))


def test_claus_round_with_video_labels(trained, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "round"
    args = ["--selector", "claus", "--frames", "4", "--video-labels", "2", *SCORE]
    assert _select(trained, tiny_dataset, out, *args) == 0
    rows = (out / "video_labels.csv").read_text().splitlines()
    assert rows[0] == "video,label" and len(rows) == 3
    videos = [r.split(",")[0] for r in rows[1:]]
    (out / "filled.csv").write_text("video,label\n" + "".join(f"{v},run\n" for v in videos))
    labels, pool = tmp_path / "labels.json", out / "pool.json"
    base = [
        "label",
        "--tasks",
        str(out / "tasks.json"),
        "--pool",
        str(pool),
        "--labels",
        str(labels),
    ]
    assert main(base) == 1  # neither boxes nor video labels
    assert "--video-labels" in capsys.readouterr().err
    assert main([*base, "--cvat", str(_draw(out)), "--video-labels", str(out / "filled.csv")]) == 0
    assert "imported 2 video labels" in capsys.readouterr().out
    human = read_vidal(labels)
    assert all(human[v].label == human.class_names.index("run") for v in videos)
    saved = LabelPool.load(pool)
    frame_tasks = [t for t in json.loads((out / "tasks.json").read_text()) if t["image"]]
    assert set(saved.labeled_videos) == set(videos) and saved.num_labeled == len(frame_tasks) > 0
