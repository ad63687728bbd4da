"""``vidal run`` with a detection config, end to end on the CPU: cycles, resume, report PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidal.cli import main as vidal_main
from vidal.config import ExperimentConfig, from_dict
from vidal.experiment import run_experiment
from vidal.pool import LabelPool
from vidal.tasks.detection import DetectionTask


def quiet(_message: str) -> None:
    pass


def tiny_config(annotations: Path, out: Path, selector: str, **select_options) -> ExperimentConfig:
    """Two cycles of a small detector for a few steps on the tiny road videos."""
    return from_dict(
        ExperimentConfig,
        {
            "name": selector,
            "task": "detection",
            "data": {"format": "vidal", "annotations": str(annotations)},
            "model": {"preset": "mobilenet_v3_fpn", "size": [64, 96]},
            "train": {"steps": 2, "batch_size": 2, "lr": 0.01},
            "score": {"scorer": "detection"},
            "select": {"selector": selector, "options": select_options},
            "budget": {"initial": 0.15, "step": 0.15},
            "cycles": 2,
            "seeds": [0],
            "device": "cpu",
            "out": str(out),
        },
    )


@pytest.mark.slow
def test_three_selectors_then_report(road_root, tmp_path):
    from vidal.config import to_dict

    yaml_path = tmp_path / "road.yaml"  # JSON is YAML
    yaml_path.write_text(
        json.dumps(to_dict(tiny_config(road_root, tmp_path / "x", "tc", window=1)))
    )
    out = tmp_path / "road"
    selectors = ("tc", "entropy_det", "random_tr_det")
    args = ["run", str(yaml_path), "--selectors", *selectors, "--out", str(out), "--no-progress"]
    assert vidal_main(args) == 0
    combined = json.loads((out / "results.json").read_text())["runs"]
    assert [r["selector"] for r in combined] == list(selectors)
    first = [r["seeds"]["0"][0]["metrics"] for r in combined]
    assert first[0] == first[1] == first[2]  # the first cycle is shared
    for selector, results in zip(selectors, combined, strict=True):
        cycles = results["seeds"]["0"]
        assert [c["cycle"] for c in cycles] == [0, 1]
        assert cycles[1]["labeled_frames"] > cycles[0]["labeled_frames"]
        assert all("map" in c["metrics"] and "ap_per_class" in c["metrics"] for c in cycles)
        assert (out / selector / "learning_curve.png").stat().st_size > 0
        selection = json.loads(
            (out / selector / "seed_0" / "cycle_000" / "selection.json").read_text()
        )
        assert (
            selection["info"]["criterion"]
            == {"tc": "tc", "entropy_det": "entropy", "random_tr_det": "random"}[selector]
        )
        assert selection["info"]["window"] == 1
    # one flow cache for all (random needs no scores, so no detector pass and no flow)
    assert (out / "flows").is_dir() and not (out / "tc" / "flows").exists()
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = tmp_path / "curve.png"
    assert vidal_main(["report", *(str(out / s) for s in selectors), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_rejects_a_repeated_or_unknown_selector(road_root, tmp_path, capsys):
    from vidal.config import to_dict

    yaml_path = tmp_path / "road.yaml"
    yaml_path.write_text(json.dumps(to_dict(tiny_config(road_root, tmp_path / "x", "tc"))))
    assert vidal_main(["run", str(yaml_path), "--selectors", "tc", "tc"]) != 0
    assert "twice" in capsys.readouterr().err
    assert vidal_main(["run", str(yaml_path), "--selectors", "tc", "no_such_selector"]) != 0
    assert "random_tr_det" in capsys.readouterr().err  # the error lists the known ones
    assert not (tmp_path / "x" / "tc").exists()


def _final_pool(out: Path) -> LabelPool:
    return LabelPool.load(out / "seed_0" / "cycle_001" / "pool.json")


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_pool(road_root, tmp_path, monkeypatch):
    straight = tmp_path / "straight"
    run_experiment(tiny_config(road_root, straight, "tc"), progress=False, log=quiet)

    interrupted = tmp_path / "interrupted"
    score = DetectionTask.score

    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt("stopped while scoring")

    monkeypatch.setattr(DetectionTask, "score", crash)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(tiny_config(road_root, interrupted, "tc"), progress=False, log=quiet)
    cycle0 = interrupted / "seed_0" / "cycle_000"
    assert (cycle0 / "checkpoint.pt").exists() and (cycle0 / "metrics.json").exists()
    assert not (cycle0 / "scores.npz").exists()

    calls = []

    def counted(self, *args, **kwargs):
        calls.append(1)
        return score(self, *args, **kwargs)

    monkeypatch.setattr(DetectionTask, "score", counted)
    results = run_experiment(tiny_config(road_root, interrupted, "tc"), progress=False, log=quiet)
    assert len(calls) == 1 and len(results["seeds"]["0"]) == 2
    assert _final_pool(interrupted) == _final_pool(straight)
    before = json.loads((straight / "seed_0" / "cycle_000" / "metrics.json").read_text())
    after = json.loads((cycle0 / "metrics.json").read_text())
    assert before["metrics"] == after["metrics"]
