"""Issue 13, items 8-10 and the small things: one-line errors, checks before work, cold start."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vidal.cli import main

FAST = ["--device", "cpu", "--no-progress"]
ROOT = Path(__file__).resolve().parents[2]


def _one_line_error(capsys, *needles):
    """The one ``error:`` line on stderr (notes before it are fine), holding ``needles``."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert "Traceback" not in err and len(errors) == 1, err
    assert all(n in errors[0] for n in needles), err
    return errors[0]


# ---------------------------------------------------------------- 8: a first round, no model
def test_a_first_round_needs_no_checkpoint(tiny_dataset, tmp_path, capsys):
    videos = tiny_dataset.parent / "videos"
    out = tmp_path / "round1"
    args = ["select", "--videos", str(videos), "--selector", "equidistant", "--frames", "4"]
    assert main([*args, "--classes", "person", "dog", "--out", str(out), *FAST]) == 0
    assert "scoring" not in capsys.readouterr().err  # no model pass
    names = [e.text for e in ET.parse(out / "cvat_tasks.xml").getroot().iter("name")]
    assert names == ["person", "dog"] and len(json.loads((out / "tasks.json").read_text())) == 4
    assert json.loads((out / "selection.json").read_text())["checkpoint"] is None

    (tmp_path / "classes.txt").write_text("cat\n\nbird\n")
    args[-1] = "2"
    more = ["--classes-file", str(tmp_path / "classes.txt"), "--out", str(tmp_path / "r2")]
    assert main([*args, *more, *FAST]) == 0
    names = [e.text for e in ET.parse(tmp_path / "r2" / "cvat_tasks.xml").getroot().iter("name")]
    assert names == ["cat", "bird"]


def test_a_scoring_selector_without_checkpoint_says_what_to_do(tiny_dataset, tmp_path, capsys):
    args = ["select", "--videos", str(tiny_dataset.parent / "videos"), "--frames", "2"]
    assert main([*args, "--selector", "apu", "--out", str(tmp_path), *FAST]) == 1
    _one_line_error(capsys, "--checkpoint", "equidistant")
    assert main([*args[:-2], "--frames", "2", "--selector", "random", "--out", str(tmp_path)]) == 1
    _one_line_error(capsys, "no class names", "--classes")


def test_select_help_lists_the_selectors(capsys):
    with pytest.raises(SystemExit):
        main(["select", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("apu", "claus", "equidistant", "tc", "random_tr_det"))


# ---------------------------------------------------------------- 9: one-line errors
def _blocked(tmp_path: Path) -> Path:
    """A folder that cannot be created (its parent is a file), also for root."""
    (tmp_path / "file").write_text("")
    return tmp_path / "file" / "out"


def test_unwritable_output_folders_are_one_line_errors(trained, tiny_dataset, tmp_path, capsys):
    bad = str(_blocked(tmp_path))
    data = ["--format", "vidal", "--annotations", str(tiny_dataset)]
    commands = [
        ["train", *data, "--steps", "1", "--out", bad, *FAST],
        ["select", *data, "--selector", "random", "--frames", "1", "--out", bad, *FAST],
        ["synth", "--out", bad, "--videos", "2"],
        ["show", *data, "--out", bad + "/sheet.png"],
        ["run", str(tmp_path / "exp.yaml"), "--out", bad, *FAST],
        ["report", str(tmp_path / "results"), "--out", bad + "/curve.png"],
    ]
    (tmp_path / "exp.yaml").write_text(f"data: {{synth_dir: '{tmp_path / 'synth'}'}}\n")
    (tmp_path / "results").mkdir()
    one = {"cycle": 0, "labeled_fraction": 0.1, "metrics": {"m": 0.5}}
    results = {"name": "a", "selector": "random", "primary_metric": "m", "seeds": {"0": [one]}}
    (tmp_path / "results" / "results.json").write_text(json.dumps(results))
    for args in commands:
        assert main(args) == 1, args
        _one_line_error(capsys, str(Path(bad)))


def test_eval_prints_its_metrics_before_a_failed_write(trained, tiny_dataset, tmp_path, capsys):
    bad = _blocked(tmp_path) / "m.json"
    args = ["eval", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    assert main([*args, "--annotations", str(tiny_dataset), "--out", str(bad), *FAST]) == 1
    out = capsys.readouterr()
    assert "frame_loc@0.5" in out.out and "printed above" in out.err and "Traceback" not in out.err


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.parametrize("kind", ["garbage", "malicious", "empty", "missing"])
def test_a_bad_checkpoint_is_one_line(tiny_dataset, tmp_path, capsys, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ck.pt"
    if kind == "garbage":
        path.write_bytes(b"\x00garbage" * 10)
    elif kind == "malicious":
        path.write_bytes(pickle.dumps({"model": _Evil()}))
    elif kind == "empty":
        path.write_bytes(b"")
    args = ["eval", "--checkpoint", str(path), "--format", "vidal", "--annotations"]
    assert main([*args, str(tiny_dataset), *FAST]) == 1
    err = _one_line_error(capsys, str(path))
    assert "weights_only" not in err and not (tmp_path / "PWNED").exists()
    expected = {"garbage": "not a", "malicious": "not a", "empty": "empty", "missing": "no such"}
    assert expected[kind] in err


@pytest.mark.parametrize(
    ("header", "needle"),
    [({}, 'no "classes"'), ({"classes": "abc"}, '"classes" must be a list')],
)
def test_a_vidal_json_without_a_class_list(tmp_path, capsys, header, needle):
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"format": "vidal", "version": 1, **header, "videos": []}))
    assert main(["info", "--format", "vidal", "--annotations", str(path)]) == 1
    _one_line_error(capsys, str(path), needle)


def test_a_vidal_json_with_negative_frames(tmp_path, capsys):
    video = {"id": "v", "num_frames": -5, "width": 8, "height": 8, "tubes": []}
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"format": "vidal", "classes": ["a"], "videos": [video]}))
    assert main(["info", "--format", "vidal", "--annotations", str(path)]) == 1
    _one_line_error(capsys, "num_frames -5")


def test_a_cvat_box_with_a_coordinate_that_is_not_a_number(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "round"
    args = ["select", "--format", "vidal", "--annotations", str(tiny_dataset), "--frames", "2"]
    assert main([*args, "--selector", "random", "--out", str(out), *FAST]) == 0
    tree = ET.parse(out / "cvat_tasks.xml")
    image = next(tree.getroot().iter("image"))
    ET.SubElement(image, "box", label="walk", xtl="abc", ytl="1", xbr="5", ybr="5")
    tree.write(out / "a.xml")
    label = ["label", "--tasks", str(out / "tasks.json"), "--cvat", str(out / "a.xml")]
    assert (
        main([*label, "--pool", str(tmp_path / "p.json"), "--labels", str(tmp_path / "l.json")])
        == 1
    )
    _one_line_error(capsys, "not a number")
    assert not (tmp_path / "l.json").exists()


def test_a_selector_option_that_is_not_a_number(trained, tiny_dataset, tmp_path, capsys):
    args = ["select", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    args += ["--annotations", str(tiny_dataset), "--frames", "2", "--option", "lam=abc"]
    assert main([*args, "--out", str(tmp_path), *FAST]) == 1
    _one_line_error(capsys, "lam='abc' must be a number")


# ---------------------------------------------------------------- 10: checks before any work
@pytest.mark.parametrize(
    ("yaml", "needle"),
    [
        ("budget: {step: -0.1}", "budget.step=-0.1"),
        ("budget: {unit: boxes}", "budget.unit='boxes'"),
        ("model: {size: [50, 64]}", "multiples of 16"),
        ("train: {stpes: 3}", "did you mean 'steps'"),
        ("train: {lr: abc}", "expected a number"),
        ("select: {selector: apx}", "unknown selector 'apx'"),
    ],
)
def test_run_checks_the_config_before_any_work(tmp_path, capsys, yaml, needle):
    config = tmp_path / "exp.yaml"
    config.write_text(f"data: {{synth_dir: '{tmp_path / 'synth'}'}}\n{yaml}\n")
    assert main(["run", str(config), "--out", str(tmp_path / "run"), *FAST]) == 1
    _one_line_error(capsys, needle)
    assert not (tmp_path / "synth").exists() and not (tmp_path / "run").exists()


def test_yaml_numbers_in_exponent_notation_are_numbers(tmp_path):
    from vidal.config import load_config

    config = tmp_path / "exp.yaml"
    config.write_text("train: {lr: 1e-3}\n")  # YAML 1.1 reads this as a string
    assert load_config(config).train.lr == 0.001


def test_a_zero_frame_budget_is_an_error(tiny_dataset, tmp_path, capsys):
    args = ["select", "--format", "vidal", "--annotations", str(tiny_dataset), "--frames", "0"]
    assert main([*args, "--selector", "random", "--out", str(tmp_path), *FAST]) == 1
    _one_line_error(capsys, "budget of 0 frames")


# ---------------------------------------------------------------- small things
def test_importing_vidal_leaves_the_environment_alone():
    code = "import os, vidal, vidal.tasks, vidal.experiment; print('OMP_WAIT_POLICY' in os.environ)"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_tracking_error_reaches_the_user_as_one_line(capsys, monkeypatch):
    import vidal._cli.info as info
    from tracking import TrackingError

    def fail(args):
        raise TrackingError("boxes must be [N, 4]")

    monkeypatch.setattr(info, "run", fail)  # add_parser binds the command to info.run
    assert main(["info", "--format", "vidal", "--annotations", "x.json"]) == 1
    _one_line_error(capsys, "vidal info: error: boxes must be [N, 4]")


def test_show_names_valid_ids_for_an_unknown_one(tiny_dataset, tmp_path, capsys):
    args = ["show", "--format", "vidal", "--annotations", str(tiny_dataset), "--video", "zzz"]
    assert main([*args, "--out", str(tmp_path / "s.png")]) == 1
    assert "its ids include" in _one_line_error(capsys, "no video 'zzz'")


def test_run_help_keeps_its_example_lines(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert (
        "\n    vidal run tools/configs/detection_synthetic_road_quick.yaml \\\n"
        in capsys.readouterr().out
    )


def test_the_readme_python_example_runs(tiny_dataset, trained, tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API.*?```python\n(.*?)```", readme, re.S).group(1)
    data = tmp_path / "data" / "synth"
    data.mkdir(parents=True)
    for item in tiny_dataset.parent.iterdir():
        (data / item.name).symlink_to(item)
    run = tmp_path / "runs" / "train"
    args = ["train", "--format", "vidal", "--annotations", str(data / "annotations.json")]
    assert main([*args, "--steps", "1", "--batch-size", "1", "--out", str(run), *FAST]) == 0
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.startswith("{") and "[" in printed


def test_eval_warns_about_a_model_below_the_centre_box(trained, tiny_dataset, tmp_path, capsys):
    args = ["eval", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    assert main([*args, "--annotations", str(tiny_dataset), "--out", str(tmp_path / "m.json")]) == 0
    err = capsys.readouterr().err
    assert "vidal eval: warning: the model is below the centre-box baseline" in err
    assert len([line for line in err.splitlines() if "warning" in line]) == 1


def test_eval_under_a_named_protocol(trained, tiny_dataset, tmp_path, capsys):
    args = ["eval", "--checkpoint", str(trained / "checkpoint.pt"), "--format", "vidal"]
    args += ["--annotations", str(tiny_dataset), *FAST]
    assert main([*args, "--protocol", "act", "--out", str(tmp_path / "m.json")]) == 0
    model = json.loads((tmp_path / "m.json").read_text())["model"]
    assert model["protocol"] == "act" and {"frame_map@0.5", "video_map@0.5"} <= set(model)
    assert "frame_map@0.5" in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "d.json")]) == 0  # vidal data: "vidal"
    assert json.loads((tmp_path / "d.json").read_text())["model"]["protocol"] == "vidal"
    assert main([*args, "--protocol", "voc07"]) == 1
    _one_line_error(capsys, "'voc07' is not for action", "act")
    assert main([*args, "--protocol", "acd"]) == 1
    _one_line_error(capsys, "unknown protocol 'acd'")


# ---------------------------------------------------------------- 11: one corrupt video
def test_a_corrupt_video_in_a_folder_is_skipped_and_counted(tiny_dataset, tmp_path, capsys):
    import shutil

    videos = tmp_path / "videos"
    videos.mkdir()
    for f in sorted((tiny_dataset.parent / "videos").rglob("*.mp4"))[:2]:
        shutil.copy(f, videos / f.name)
    (videos / "broken.mp4").write_bytes(b"\x00\x01 not a video" * 50)
    out = tmp_path / "round"
    args = ["select", "--videos", str(videos), "--selector", "equidistant", "--frames", "4"]
    assert main([*args, "--classes", "a", "--out", str(out), *FAST]) == 0
    captured = capsys.readouterr()
    assert "warning: skipping" in captured.err and "broken.mp4" in captured.err
    assert "1 videos skipped" in captured.out
    skipped = json.loads((out / "selection.json").read_text())["skipped"]
    assert any("broken.mp4" in k for k in skipped)

    assert main(["info", "--format", "frames", "--annotations", str(videos), "--check"]) == 1
    captured = capsys.readouterr()
    assert "unreadable   1 files left out" in captured.out and "Traceback" not in captured.err
    assert "broken.mp4" in captured.out + captured.err


def test_synthetic_regimes_come_from_the_config(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text(f"data: {{synth_dir: '{tmp_path / 's'}', synth_options: {{bogus: 1}}}}\n")
    assert main(["run", str(config), "--out", str(tmp_path / "run"), *FAST]) == 1
    _one_line_error(capsys, "data.synth_options", "bogus")
    assert not (tmp_path / "s").exists()

    from vidal.config import DataConfig
    from vidal.experiment.data import synthetic_dataset

    options = {"min_frames": 16, "max_frames": 16, "width": 64, "height": 48, "class_skew": 2.0}
    data = DataConfig(synth_dir=str(tmp_path / "s"), synth_videos=4, synth_options=options)
    stamp = json.loads((synthetic_dataset(data, progress=False).parent / "synth.json").read_text())
    assert stamp["config"]["class_skew"] == 2.0 and stamp["config"]["max_frames"] == 16


def test_next_hints_quote_paths_with_spaces(tiny_dataset, tmp_path, capsys):
    import shlex

    out = tmp_path / "round one"
    args = ["select", "--format", "vidal", "--annotations", str(tiny_dataset), "--frames", "2"]
    assert main([*args, "--selector", "random", "--out", str(out), *FAST]) == 0
    hint = capsys.readouterr().out.split("next:")[1].splitlines()[1].strip()
    words = shlex.split(hint)
    assert words[:3] == ["vidal", "label", "--tasks"] and words[3] == str(out / "tasks.json")
