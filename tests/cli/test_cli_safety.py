"""Issue 13's wrong-data and lost-label cases: each test failed before its fix."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
import xml.etree.ElementTree as ET

import numpy as np
import torch

import vidal.data
from vidal._cli.common import config_from_args
from vidal.cli import main
from vidal.data import read_vidal, write_vidal
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.models.action import load_action_checkpoint
from vidal.oracle import export_tasks, task_image_names
from vidal.pool import LabelPool
from vidal.select.base import Selection
from vidal.train.action import SparseClipSampler

FAST = ["--device", "cpu", "--no-progress"]


# ---------------------------------------------------------------- 1: data flags kept
def test_a_split_flag_keeps_the_dataset_flags(tiny_dataset):
    args = argparse.Namespace(
        config=None, format="vidal", annotations=str(tiny_dataset), videos=None, split_file=None
    )
    cfg = config_from_args(args, {"data": {"train_split": "train"}, "train": {}}, name="t")
    assert cfg.data.format == "vidal" and cfg.data.annotations == str(tiny_dataset)
    assert cfg.data.train_split == "train"


def test_train_with_a_split_trains_on_the_given_annotations(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--format", "vidal", "--annotations", str(tiny_dataset)]
    args += ["--train-split", "train", "--steps", "1", "--batch-size", "1", "--size", "48", "64"]
    assert main([*args, "--cluster-weight", "0", "--out", str(out), *FAST]) == 0
    report = json.loads((out / "train.json").read_text())
    assert report["data"]["format"] == "vidal" and report["videos"] == 3


# ---------------------------------------------------------------- 2: concurrent imports
def _round(tmp_path, name, frames):
    """A round of tasks over video ``v`` with a box drawn on every exported image."""
    ds = VideoDataset(["run", "jump"], [VideoAnnotation("v", 10, 16, 12)])
    out = tmp_path / name
    export_tasks(Selection(frames={"v": np.asarray(frames)}), ds, out)
    tree = ET.parse(out / "cvat_tasks.xml")
    for image in tree.getroot().iter("image"):
        ET.SubElement(image, "box", label="run", xtl="1", ytl="1", xbr="5", ybr="6")
    tree.write(out / "annotations.xml")
    return ["label", "--tasks", str(out / "tasks.json"), "--cvat", str(out / "annotations.xml")]


def test_two_concurrent_label_imports_both_land(tmp_path, monkeypatch):
    labels, pool = tmp_path / "labels.json", tmp_path / "pool.json"
    write_vidal(VideoDataset(["run", "jump"], [VideoAnnotation("v", 10, 16, 12)]), labels)
    LabelPool({"v": 10}).save(pool)
    files = ["--labels", str(labels), "--pool", str(pool)]
    first, second = _round(tmp_path, "r1", [1, 2, 3]), _round(tmp_path, "r2", [6, 7, 8])

    # the first import pauses after reading the files, while the second one runs
    read, go = vidal.data.read_vidal, threading.Event()

    def slow_read(path):
        dataset = read(path)
        if threading.current_thread().name == "first":
            go.wait(10)
        return dataset

    monkeypatch.setattr(vidal.data, "read_vidal", slow_read)
    codes = {}
    threads = [
        threading.Thread(target=lambda a=a, n=n: codes.update({n: main([*a, *files])}), name=n)
        for n, a in (("first", first), ("second", second))
    ]
    threads[0].start()
    time.sleep(0.5)
    threads[1].start()
    time.sleep(1.0)
    go.set()
    for t in threads:
        t.join(30)
    assert codes == {"first": 0, "second": 0}
    assert LabelPool.load(pool).labeled_frames("v").tolist() == [1, 2, 3, 6, 7, 8]
    assert read_vidal(labels).num_boxes == 6


# ---------------------------------------------------------------- 3: image names
def test_ids_differing_only_in_non_ascii_characters_get_distinct_images(tmp_path):
    ids = ["café", "cafè", *[chr(0x4E00 + i) * 4 for i in range(38)]]
    ds = VideoDataset(["a"], [VideoAnnotation(v, 5, 16, 12) for v in ids])
    read = lambda vid, idx: np.zeros((len(idx), 12, 16, 3), np.uint8)  # noqa: E731
    selection = Selection(frames={v: np.array([2]) for v in ids})
    tasks = json.loads(export_tasks(selection, ds, tmp_path, read_frames=read).read_text())
    assert len(tasks) == 40 and len({t["image"] for t in tasks}) == 40
    assert len(list((tmp_path / "images").iterdir())) == 40
    assert {t["video"] for t in tasks} == set(ids)


def test_image_stems_stay_distinct_when_hash_prefixes_collide(monkeypatch):
    import vidal.oracle as oracle

    real = oracle._video_stem
    monkeypatch.setattr(  # every id shares its first 10 hex digits with every other
        oracle, "_video_stem", lambda v, digits=10: "x__0" if digits == 10 else real(v, digits)
    )
    stems = task_image_names(["a", "b", "c"])
    assert len(set(stems.values())) == 3 and stems["a"] == real("a", 16)


# ---------------------------------------------------------------- 4: select into a used folder
def test_select_refuses_a_folder_holding_a_round(trained, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "round"
    base = ["select", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    base += ["--annotations", str(tiny_dataset), "--split", "train", "--out", str(out)]
    base += ["--selector", "random", "--passes", "2", "--stride", "8", *FAST]
    assert main([*base, "--frames", "3", "--seed", "1"]) == 0
    before = {p.name: p.read_bytes() for p in (out / "images").iterdir()}
    tasks_before = (out / "tasks.json").read_bytes()
    assert main([*base, "--frames", "2", "--seed", "2"]) == 1
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err
    assert (out / "tasks.json").read_bytes() == tasks_before
    assert {p.name: p.read_bytes() for p in (out / "images").iterdir()} == before

    assert main([*base, "--frames", "2", "--seed", "2", "--overwrite"]) == 0
    tasks = json.loads((out / "tasks.json").read_text())
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(t["image"] for t in tasks)
    assert len(tasks) == 2


# ---------------------------------------------------------------- 5: interrupted training
def test_interrupted_train_keeps_an_exact_checkpoint(tiny_dataset, tmp_path, monkeypatch, capsys):
    common = [
        "train",
        "--format",
        "vidal",
        "--annotations",
        str(tiny_dataset),
        "--size",
        "48",
        "64",
    ]
    common += ["--batch-size", "1", "--cluster-weight", "0", "--labeled-fraction", "0.5", *FAST]
    assert main([*common, "--steps", "6", "--out", str(tmp_path / "whole")]) == 0

    draw, calls = SparseClipSampler.draw, []

    def interrupting(self, batch_size):  # each step draws its batch once
        calls.append(1)
        if len(calls) == 3:  # Ctrl-C during the third step
            os.kill(os.getpid(), signal.SIGINT)
        return draw(self, batch_size)

    monkeypatch.setattr(SparseClipSampler, "draw", interrupting)
    parts = tmp_path / "parts"
    assert main([*common, "--steps", "6", "--out", str(parts)]) == 130
    err = capsys.readouterr().err
    assert "interrupted after 3 of 6 steps" in err and "--resume --steps 3" in err
    assert json.loads((parts / "train.json").read_text())["steps_total"] == 3
    monkeypatch.setattr(SparseClipSampler, "draw", draw)
    assert main([*common, "--steps", "3", "--resume", "--out", str(parts)]) == 0

    whole = load_action_checkpoint(tmp_path / "whole" / "checkpoint.pt").state_dict()
    resumed = load_action_checkpoint(parts / "checkpoint.pt").state_dict()
    assert whole.keys() == resumed.keys()
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_selectors_side_by_side_take_only_the_options_they_know():
    """``vidal run --selectors metadata_cycle topk random`` with ``fields`` in the config:
    only metadata_cycle gets them; the detection selectors all get ``window``."""
    from vidal._cli.run import _options_taken

    options = {"fields": ["condition", "camera"], "pick": "best"}
    assert _options_taken("metadata_cycle", options) == options
    assert _options_taken("topk", options) == {}
    assert _options_taken("random", options) == {}
    assert _options_taken("nonexistent", options) == {}
    assert _options_taken("topk_spaced", {"window": 3, "fields": ["x"]}) == {"window": 3}
