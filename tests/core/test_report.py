"""``vidal report``: seeds of one experiment run in separate folders join into one curve."""

from __future__ import annotations

import json

import pytest

from vidal.cli import main
from vidal.errors import ConfigError
from vidal.experiment import merge_seeds


def _run(name: str, seeds: dict[str, list[float]], selector: str = "tc") -> dict:
    return {
        "name": name,
        "selector": selector,
        "loss": "mgw",
        "primary_metric": "map",
        "seeds": {
            seed: [
                {
                    "labeled_fraction": 0.02 * (k + 1),
                    "cost_fraction": 0.02 * (k + 1),
                    "metrics": {"map": v},
                }
                for k, v in enumerate(values)
            ]
            for seed, values in seeds.items()
        },
    }


def test_merge_seeds_joins_runs_of_one_name():
    a = _run("tc", {"0": [0.1, 0.2]})
    b = _run("tc", {"1": [0.3, 0.4]})
    c = _run("random", {"0": [0.1, 0.1]}, selector="random_tr_det")
    merged = merge_seeds([a, c, b])
    assert [r["name"] for r in merged] == ["tc", "random"]
    assert merged[0]["seeds"] == {**a["seeds"], **b["seeds"]}
    assert a["seeds"] == {"0": a["seeds"]["0"]}  # inputs untouched
    assert merge_seeds([a, a])[0]["seeds"] == a["seeds"]  # the same folder twice
    with pytest.raises(ConfigError, match="both hold seed 0"):
        merge_seeds([a, _run("tc", {"0": [0.5, 0.5]})])
    with pytest.raises(ConfigError, match="differ in selector"):
        merge_seeds([a, _run("tc", {"1": [0.5, 0.5]}, selector="entropy_det")])


def test_report_draws_one_curve_over_seeds_from_two_folders(tmp_path, capsys):
    for folder, seed, values in (("s0", "0", [0.1, 0.2]), ("s1", "1", [0.3, 0.4])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "results.json").write_text(json.dumps(_run("tc", {seed: values})))
    png = tmp_path / "curve.png"
    args = ["report", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(png)]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "0.200±0.100" in table and "0.300±0.100" in table  # mean ± std of the two seeds
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
