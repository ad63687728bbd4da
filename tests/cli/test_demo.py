"""``vidal demo``: four selectors from one shared first cycle per seed, and the report over seeds."""

from __future__ import annotations

import json

import pytest

from vidal._cli.demo import demo_configs
from vidal.cli import main
from vidal.config import to_dict


def test_the_demo_runs_differ_only_in_their_selector():
    configs = demo_configs("runs/x", seeds=(0, 1, 2))
    assert [c.select.selector for c in configs] == ["apu", "claus", "random", "oracle_iou"]

    def essence(cfg):
        d = to_dict(cfg)
        for key in ("name", "out", "select"):
            d.pop(key)
        return d

    assert all(essence(c) == essence(configs[0]) for c in configs)
    base = configs[0]
    assert base.seeds == (0, 1, 2) and base.model.preset_for("action") == "mobilenet"
    assert base.train.initial_steps == 8 * base.train.steps
    assert [c.out for c in configs] == [
        f"runs/x/{n}" for n in ("apu", "claus", "random", "oracle_iou")
    ]


@pytest.mark.slow
def test_demo_end_to_end_prints_the_table_over_seeds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))  # the synthetic cache goes to ~/.cache/vidal/demo
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--videos", "14", "--cycles", "1", "--steps", "2"]
    assert main([*args, "--seeds", "0", "1", "--device", "cpu", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "AULC" in printed and "oracle_iou" in printed
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["runs"]] == ["apu", "claus", "random", "oracle_iou"]
    assert sorted(results["runs"][0]["seeds"]) == ["0", "1"]
    assert results["statistics"]["reference"] == "random"
    assert (out / "learning_curve.png").stat().st_size > 0
