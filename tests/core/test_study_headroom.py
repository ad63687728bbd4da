"""tools/study_headroom.py: regimes run as resumable campaigns, headroom joined over seeds."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_the_study_runs_a_regime_and_reports_its_headroom(load_tool, tmp_path, capsys):
    study = load_tool("study_headroom.py")
    base = tmp_path / "base.yaml"
    base.write_text(
        "task: action\n"
        f"data: {{format: synthetic, synth_videos: 12, synth_dir: '{tmp_path / 'synth'}', "
        "synth_options: {width: 64, height: 48, min_frames: 16, max_frames: 16}}\n"
        "model: {size: [48, 64]}\n"
        "train: {steps: 2, batch_size: 2, cluster_weight: 0}\n"
        "score: {passes: 2, stride: 8}\n"
        "select: {selector: ceiling, options: {candidates: 2}}\n"
        "budget: {initial: 0.1, step: 0.1}\ncycles: 2\ndevice: cpu\n"
    )
    args = ["--base", str(base), "--regimes", "rare_classes", "--seeds", "0", "1"]
    args += ["--selectors", "random", "ceiling", "--out", str(tmp_path / "out"), "--no-progress"]
    assert study.main(study.get_args_parser().parse_args(args)) == 0
    out = capsys.readouterr().out
    assert "== rare_classes" in out and "rare_classes" in out.splitlines()[-1]
    stats = json.loads((tmp_path / "out" / "study.json").read_text())["rare_classes"]
    assert stats["runs"]["random"]["n"] == 2 and stats["ceiling"] == "ceiling"
    stamp = json.loads((tmp_path / "synth-rare_classes" / "synth.json").read_text())
    assert stamp["config"]["class_skew"] == 2.0  # the regime's data


def test_the_entropy_baseline_is_spaced_topk_by_the_entropy_scorer(load_tool, tmp_path):
    study = load_tool("study_headroom.py")
    from vidal.config import ExperimentConfig

    base = ExperimentConfig(name="study")
    configs = study.regime_configs(base, "static", ["random", "entropy", "apu"], tmp_path)
    assert [c.name for c in configs] == ["random", "entropy", "apu"]
    assert [c.select.selector for c in configs] == ["random", "topk_spaced", "apu"]
    assert [c.score.scorer for c in configs] == ["uncertainty", "entropy", "uncertainty"]
    assert configs[1].out == str(tmp_path / "static" / "entropy")
    assert configs[1].data.synth_options["pause_prob"] == 0.9  # the regime's data
    (mixed,) = study.regime_configs(base, "base", ["ceiling_mixed"], tmp_path)
    assert mixed.select.selector == "ceiling" and "apu" in mixed.select.options["proposers"]
    assert mixed.score.scorer == "uncertainty"
