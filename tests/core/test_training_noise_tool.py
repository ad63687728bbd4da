"""tools/training_noise.py: a finished run's cycles trained again with other training seeds."""

from __future__ import annotations

import json

import pytest

from vidal import seeding
from vidal.config import load_config
from vidal.experiment import run_experiment
from vidal.experiment.data import load_experiment_data
from vidal.loop import TRAINING
from vidal.tasks import build_task


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("noise")
    path = tmp / "run.yaml"
    path.write_text(
        "task: action\n"
        f"data: {{format: synthetic, synth_videos: 10, synth_dir: '{tmp / 'synth'}', "
        "synth_options: {width: 64, height: 48, min_frames: 16, max_frames: 16}}\n"
        "model: {size: [48, 64]}\n"
        "train: {steps: 2, batch_size: 2, cluster_weight: 0}\n"
        "score: {passes: 2, stride: 8}\n"
        "budget: {initial: 0.2, step: 0.1}\ncycles: 2\nseeds: [0, 1]\ndevice: cpu\n"
        f"out: '{tmp / 'run'}'\n"
    )
    cfg = load_config(path)
    run_experiment(cfg, progress=False, log=lambda _m: None)
    return tmp / "run"


@pytest.mark.slow
def test_a_retrain_with_the_run_s_own_training_seed_gives_the_run_s_cycle(load_tool, finished_run):
    tool = load_tool("training_noise.py")
    cfg = load_config(finished_run / "config.json")
    task = build_task(cfg, *load_experiment_data(cfg, progress=False), progress=False)
    saved = json.loads((finished_run / "seed_1" / "cycle_001" / "metrics.json").read_text())
    again = tool.retrain(task, finished_run, 1, 1, seeding.seed(1, 1, TRAINING))
    assert again["metrics"] == pytest.approx(saved["metrics"])
    assert again["train"]["loss"] == pytest.approx(saved["train"]["loss"], rel=1e-4)
    other = tool.retrain(task, finished_run, 1, 1, seeding.seed(1, 1, TRAINING, 1))
    assert other["train"]["loss"] != pytest.approx(saved["train"]["loss"], rel=1e-4)


@pytest.mark.slow
def test_retrains_are_stored_resumed_and_summarized(load_tool, finished_run, capsys):
    tool = load_tool("training_noise.py")
    args = [str(finished_run), "--retrains", "2", "--no-progress", "--metric", "mean_frame_iou"]
    args += ["--against", str(finished_run)]
    first = tool.main(tool.get_args_parser().parse_args(args))
    stored = sorted(p.name for p in (finished_run / "training_noise").iterdir())
    assert stored == [f"seed_{s}_cycle_001_retrain_{r}.json" for s in (0, 1) for r in (0, 1)]
    seeds = first["cycles"]["1"]["seeds"]
    assert set(seeds) == {"0", "1"} and all(len(d["retrains"]) == 2 for d in seeds.values())
    assert first["cycles"]["1"]["sd_train"] >= 0
    shift = sum(sum(d["retrains"]) / 2 - d["run"] for d in seeds.values()) / 2
    assert first["cycles"]["1"]["retrains_minus_run"] == pytest.approx(shift)
    (name,) = first["cycles"]["1"]["against"]
    assert first["cycles"]["1"]["against"][name]["mean"] == 0  # the run against itself
    printed = capsys.readouterr().out
    assert "training noise: sd" in printed and f"{name} - this run" in printed
    # a second call reads the stored retrains: the same summary, nothing trained again
    mtimes = {p: p.stat().st_mtime_ns for p in (finished_run / "training_noise").iterdir()}
    assert tool.main(tool.get_args_parser().parse_args(args)) == first
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_a_cycle_the_run_does_not_have_is_a_one_line_error(load_tool, tmp_path):
    tool = load_tool("training_noise.py")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "results.json").write_text(
        json.dumps({"name": "r", "primary_metric": "m", "seeds": {"0": [{"metrics": {}}]}})
    )
    from vidal.errors import VidalError

    with pytest.raises(VidalError, match="seed 0 has 1 cycles, no cycle 1"):
        tool.main(tool.get_args_parser().parse_args([str(tmp_path)]))
    with pytest.raises(VidalError, match="no config.json"):
        tool.main(tool.get_args_parser().parse_args([str(tmp_path / "nope")]))


def test_the_summary_example_holds(load_tool):
    import doctest

    tool = load_tool("training_noise.py")
    assert doctest.testmod(tool, raise_on_error=False).failed == 0
    assert doctest.testmod(tool).attempted >= 2
