"""tools/compare_first_cycles.py: runs compared over their first cycles, paired by seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidal.errors import VidalError


def _run(name: str, seeds: dict[str, list[float]]) -> dict:
    return {
        "name": name,
        "selector": name,
        "loss": "mgw",
        "primary_metric": "map",
        "seeds": {
            seed: [
                {"labeled_fraction": 0.02 * (k + 1), "metrics": {"map": v}}
                for k, v in enumerate(values)
            ]
            for seed, values in seeds.items()
        },
    }


def _write(folder: Path, results: dict) -> str:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    return str(folder)


def test_first_cycle_paired_by_seed_by_hand(tmp_path, capsys, load_tool):
    tool = load_tool("compare_first_cycles.py")
    scratch = _write(tmp_path / "scratch", _run("scratch", {"0": [0.01], "1": [0.03], "2": [0.02]}))
    # one folder per seed of a --selectors run (every selector shares the first cycle)
    per_seed = [
        _write(
            tmp_path / f"s{s}",
            {"runs": [_run("tc", {str(s): [v, 0.9]}), _run("entropy", {str(s): [v, 0.1]})]},
        )
        for s, v in ((0, 0.02), (1, 0.06), (2, 0.02))
    ]
    args = tool.get_args_parser().parse_args(
        [scratch, *per_seed, "--only", "scratch", "tc", "--reference", "scratch"]
    )
    stats = tool.main(args)
    assert set(stats["runs"]) == {"scratch", "tc"}  # entropy left out
    assert stats["runs"]["tc"]["mean"] == pytest.approx(0.1 / 3)  # the later cycles cut off
    d = stats["vs_reference"]["tc"]  # differences 0.01, 0.03, 0.00
    assert d["mean"] == pytest.approx(0.04 / 3) and d["ahead"] == 2 and d["n"] == 3
    # t(0.975, 2) = 4.303, sample std 0.01528, half width 0.03795
    assert d["hi"] - d["mean"] == pytest.approx(0.03795, abs=1e-4)
    assert "scratch" in capsys.readouterr().out


def test_bad_requests_are_named(tmp_path, load_tool):
    tool = load_tool("compare_first_cycles.py")
    a = _write(tmp_path / "a", _run("a", {"0": [0.1, 0.2]}))
    with pytest.raises(VidalError, match=r"no run named \['b'\]"):
        tool.first_cycles([a], cycles=1, only=["a", "b"])
    with pytest.raises(VidalError, match="seed 0 has 2 cycles, < 3"):
        tool.first_cycles([a], cycles=3)
    with pytest.raises(VidalError, match="--cycles must be >= 1"):
        tool.first_cycles([a], cycles=0)
    with pytest.raises(VidalError, match="cannot read results"):
        tool.first_cycles([str(tmp_path / "none")], cycles=1)
    args = tool.get_args_parser().parse_args([a, "--reference", "z"])
    with pytest.raises(VidalError, match="--reference 'z' is none of the runs"):
        tool.main(args)
