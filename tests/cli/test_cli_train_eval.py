"""`vidal train` and `vidal eval` on a tiny synthetic dataset."""

from __future__ import annotations

import json

import torch

from vidal.cli import main
from vidal.data import load_dataset, write_vidal
from vidal.pool import LabelPool

FAST = ["--device", "cpu", "--no-progress"]

KEYS = [f"{kind}_loc@{t}" for kind in ("frame", "video") for t in ("0.1", "0.2", "0.3", "0.5")]


def test_train_writes_checkpoint_report_and_pool(trained, tiny_dataset):
    state = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert state["format"] == "vidal-action"
    assert state["config"]["num_classes"] == 6
    extra = state["extra"]
    assert (extra["clip_len"], extra["size"], extra["steps"]) == (8, [48, 64], 2)
    assert extra["class_names"][0] == "walk"

    report = json.loads((trained / "train.json").read_text())
    assert report["config"]["train"]["steps"] == 2  # the flag beats the config file
    assert report["config"]["train"]["loss"] == "mgw"  # the config file beats the default
    assert report["config"]["train"]["sigma"] == 2.5
    assert report["config"]["seeds"] == [3]
    assert report["steps_total"] == 2 and "loss" in report["train"]

    pool = LabelPool.load(trained / "pool.json")
    train_ids = load_dataset("vidal", tiny_dataset, split="train").video_ids
    assert sorted(pool.video_ids) == sorted(train_ids)
    assert 0.4 <= pool.fraction_labeled <= 0.6
    assert report["labeled_frames"] == pool.num_labeled


def test_eval_writes_metrics_and_baselines(trained, tiny_dataset, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    args = ["eval", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    args += ["--annotations", str(tiny_dataset), "--out", str(out), "--json"]
    assert main([*args, "--baseline", "whole-frame", "centre-box", *FAST]) == 0
    report = json.loads(out.read_text())
    assert report == json.loads(capsys.readouterr().out)
    assert (report["split"], report["videos"]) == ("test", 1)
    model = report["model"]
    assert set(KEYS + ["classification_accuracy", "mean_frame_iou"]) <= set(model)
    assert all(0 <= model[k] <= 1 for k in KEYS)
    assert model["classification_accuracy"] in (0.0, 1.0)  # one test video
    for name in ("whole-frame", "centre-box"):
        base = report["baselines"][name]
        assert set(KEYS) <= set(base) and base["classification_accuracy"] is None


def test_eval_baseline_only_needs_no_checkpoint(tiny_dataset, capsys):
    args = ["eval", "--format", "vidal", "--annotations", str(tiny_dataset), "--split", "train"]
    assert main([*args, "--baseline", "whole-frame", "--json", *FAST]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "model" not in report and report["videos"] == 3
    base = report["baselines"]["whole-frame"]
    assert 0 < base["mean_frame_iou"] < 1 and all(0 <= base[k] <= 1 for k in KEYS)


def test_eval_checkpoint_for_another_class_count_is_refused(
    trained, tiny_dataset, tmp_path, capsys
):
    ds = load_dataset("vidal", tiny_dataset)
    ds.class_names = ds.class_names[:3]  # the tiny dataset's labels are 0..2
    for v in ds:
        v.path = str(ds.video_path(v))
    three = write_vidal(ds, tmp_path / "three.json")
    args = ["eval", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    assert main([*args, "--annotations", str(three), *FAST]) == 1
    err = capsys.readouterr().err
    assert "num_classes=6" in err and "has 3" in err


def test_eval_unknown_split_lists_known(trained, tiny_dataset, capsys):
    args = ["eval", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    assert main([*args, "--annotations", str(tiny_dataset), "--split", "val", *FAST]) == 1
    assert "known splits: ['test', 'train']" in capsys.readouterr().err


def test_train_refuses_bad_labeled_fraction_and_missing_resume(tiny_dataset, tmp_path, capsys):
    base = [
        "train",
        "--format",
        "vidal",
        "--annotations",
        str(tiny_dataset),
        "--out",
        str(tmp_path),
    ]
    assert main([*base, "--labeled-fraction", "1.5", *FAST]) == 1
    assert "--labeled-fraction must lie in (0, 1]" in capsys.readouterr().err
    assert main([*base, "--resume", *FAST]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    # without --format, --annotations must not fall back to the synthetic default
    assert main(["train", "--annotations", str(tiny_dataset), "--out", str(tmp_path), *FAST]) == 1
    assert "give --format" in capsys.readouterr().err


def test_train_resume_continues_steps_on_the_same_pool(trained, tiny_dataset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.pt", "pool.json"):
        (run / name).write_bytes((trained / name).read_bytes())
    args = ["train", "--format", "vidal", "--annotations", str(tiny_dataset), "--size", "48", "64"]
    args += ["--steps", "1", "--batch-size", "1", "--cluster-weight", "0", "--out", str(run)]
    assert main([*args, "--resume", *FAST]) == 0
    report = json.loads((run / "train.json").read_text())
    assert (report["steps_total"], report["resumed_from_steps"]) == (3, 2)
    assert LabelPool.load(run / "pool.json") == LabelPool.load(trained / "pool.json")


def test_train_resume_equals_training_at_once(tiny_dataset, tmp_path):
    args = ["train", "--format", "vidal", "--annotations", str(tiny_dataset), "--size", "48", "64"]
    args += ["--batch-size", "1", "--cluster-weight", "0", "--labeled-fraction", "0.5", *FAST]
    assert main([*args, "--steps", "3", "--out", str(tmp_path / "once")]) == 0
    assert main([*args, "--steps", "1", "--out", str(tmp_path / "split")]) == 0
    resume = [a for a in args if a not in ("--labeled-fraction", "0.5")]
    assert main([*resume, "--steps", "2", "--out", str(tmp_path / "split"), "--resume"]) == 0
    report = json.loads((tmp_path / "split" / "train.json").read_text())
    assert report["resumed_exactly"] is True and report["steps_total"] == 3
    once = torch.load(tmp_path / "once" / "checkpoint.pt", weights_only=True)["model"]
    split = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=True)["model"]
    for name, value in once.items():
        assert torch.equal(value, split[name]), name
