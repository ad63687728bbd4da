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


def _curves(name: str, selector: str, values: dict[str, list[float]]) -> dict:
    run = _run(name, values, selector=selector)
    run["primary_metric"] = "map"
    return run


# three seeds, two points at 2% and 4% of frames: a seed's AULC is the mean of its two values
RANDOM = {"0": [0.1, 0.3], "1": [0.2, 0.2], "2": [0.1, 0.5]}  # AULC 0.2, 0.2, 0.3
APU = {"0": [0.2, 0.4], "1": [0.3, 0.3], "2": [0.2, 0.6]}  # +0.1 on every seed
CEILING = {"0": [0.3, 0.5], "1": [0.4, 0.4], "2": [0.3, 0.7]}  # +0.2 on every seed
NOISY = {"0": [0.3, 0.5], "1": [0.2, 0.4], "2": [0.1, 0.5]}  # +0.2, +0.1, 0.0


def test_summary_of_a_hand_made_comparison():
    from vidal.experiment import aulc, summarize

    assert aulc([0.02, 0.04], [0.1, 0.3]) == pytest.approx(0.2)
    runs = [
        _curves("random", "random", RANDOM),
        _curves("apu", "apu", APU),
        _curves("ceiling", "ceiling", CEILING),
    ]
    s = summarize(runs)
    assert (s["reference"], s["ceiling"]) == ("random", "ceiling")
    assert s["runs"]["random"]["seeds"] == pytest.approx({"0": 0.2, "1": 0.2, "2": 0.3})
    assert s["runs"]["random"]["mean"] == pytest.approx(0.7 / 3)
    # t interval of 0.2, 0.2, 0.3: sd 0.0577, t(0.975, 2) = 4.3027 -> half width 0.1434
    assert s["runs"]["random"]["hi"] - s["runs"]["random"]["mean"] == pytest.approx(
        0.1434, abs=1e-4
    )
    apu = s["vs_reference"]["apu"]
    assert (apu["mean"], apu["lo"], apu["hi"], apu["ahead"]) == pytest.approx((0.1, 0.1, 0.1, 3))
    assert s["headroom"]["mean"] == pytest.approx(0.2) and s["shares"] == pytest.approx(
        {"apu": 0.5}
    )


def test_no_share_when_the_headroom_is_not_measured():
    from vidal.experiment import summarize, summary_table, verdict

    noisy = _curves("oracle_iou", "oracle_iou", NOISY)
    s = summarize([_curves("random", "random", RANDOM), _curves("apu", "apu", APU), noisy])
    # oracle - random: +0.2, +0.1, 0.0 -> mean 0.1, sd 0.1, interval 0.1 +- 0.248 reaches below 0
    assert s["ceiling"] == "oracle_iou" and s["headroom"]["lo"] < 0 < s["headroom"]["hi"]
    assert s["shares"] == {}
    assert "not measurably above 0" in summary_table(s)
    assert verdict(s).startswith("apu beats random")


def test_report_prints_and_stores_the_statistics(tmp_path, capsys):
    runs = [_curves("random", "random", RANDOM), _curves("apu", "apu", APU)]
    (tmp_path / "results.json").write_text(json.dumps({"runs": runs}))
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "AULC of map (95% intervals over seeds)" in out
    assert "+0.1000 [+0.1000, +0.1000]" in out and "3/3" in out
    assert "verdict: apu beats random" in out
    stored = json.loads((tmp_path / "report.json").read_text())["statistics"]
    assert stored["vs_reference"]["apu"]["mean"] == pytest.approx(0.1)


def test_report_forecasts_the_labels_to_reach_a_target(tmp_path, capsys):
    # an exact power law 0.2 + 0.01 n^0.5 at 100..900 labeled frames: 0.4 needs 400 frames,
    # 0.45 needs 625 (inside the range, so the forecast is tight)
    law = lambda n: 0.2 + 0.01 * n**0.5  # noqa: E731
    frames = [100, 200, 400, 600, 900]
    seed = [
        {"labeled_frames": n, "labeled_fraction": n / 1e4, "metrics": {"m": law(n)}} for n in frames
    ]
    long = {"name": "apu", "selector": "apu", "primary_metric": "m", "seeds": {"0": seed}}
    short = {
        "name": "random",
        "selector": "random",
        "primary_metric": "m",
        "seeds": {"0": seed[:2]},
    }
    (tmp_path / "results.json").write_text(json.dumps({"runs": [long, short]}))
    assert main(["report", str(tmp_path), "--forecast", "0.45"]) == 0
    out = capsys.readouterr().out
    assert "apu: 625 labels to reach 0.45" in out
    assert "random: cannot forecast" in out
    stored = json.loads((tmp_path / "report.json").read_text())["forecasts"]
    assert stored["apu"]["labels"] == pytest.approx(625, rel=1e-3) and "error" in stored["random"]
    assert (tmp_path / "forecast.png").stat().st_size > 0


def test_the_detection_oracles_are_upper_bounds():
    """A detection comparison's Oracle (FP) / Oracle (FN) run measures the headroom by default
    and is not judged as a selector."""
    from vidal.experiment import summarize, verdict

    for oracle in ("oracle_fp", "oracle_fn"):
        s = summarize(
            [
                _curves("random_tr_det", "random_tr_det", RANDOM),
                _curves("tc", "tc", APU),
                _curves(oracle, oracle, CEILING),
            ]
        )
        assert (s["reference"], s["ceiling"]) == ("random_tr_det", oracle)
        assert s["shares"] == pytest.approx({"tc": 0.5})
        assert oracle not in verdict(s)
