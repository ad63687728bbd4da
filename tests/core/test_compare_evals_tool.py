"""tools/compare_evals.py: paired seed comparison of two training settings' eval reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vidal.errors import VidalError


def _report(path: Path, f05: float, *, true_class: bool = True) -> str:
    metrics = {
        "frame_loc@0.5": f05,
        "frame_loc@0.3": 0.7,
        "mean_frame_iou": 0.4,
        "video_loc@0.5": 0.2,
        "classification_accuracy": 0.5,
    }
    report = {"model": metrics}
    if true_class:
        report["model_true_class"] = dict(metrics, **{"frame_loc@0.5": f05 + 0.1})
    path.write_text(json.dumps(report))
    return str(path)


def test_paired_differences_means_and_t_statistic_by_hand(tmp_path, capsys, load_tool):
    tool = load_tool("compare_evals.py")
    a = [_report(tmp_path / f"a{i}.json", v) for i, v in enumerate([0.30, 0.40, 0.20])]
    b = [_report(tmp_path / f"b{i}.json", v) for i, v in enumerate([0.35, 0.38, 0.30])]
    rows = {r["row"]: r for r in tool.compare(a, b)}
    f05 = rows["f@0.5 own class"]
    # differences 0.05, -0.02, 0.10: mean 0.04333, sample std 0.06028, t = 0.04333 / 0.03480
    assert f05["mean_a"] == pytest.approx(0.30) and f05["mean_b"] == pytest.approx(1.03 / 3)
    assert f05["diff"] == pytest.approx(0.13 / 3)
    assert f05["t"] == pytest.approx(1.2452, abs=1e-3)
    assert f05["b_ahead"] == 2
    assert rows["f@0.5 true class"]["diff"] == pytest.approx(0.13 / 3)
    same = rows["IoU own class"]  # equal in every seed: no difference, no t
    assert same["diff"] == 0 and math.isnan(same["t"]) and same["b_ahead"] == 0

    assert tool.main(["--a", *a, "--b", *b, "--names", "masking", "mgw"]) == 0
    out = capsys.readouterr().out
    assert "3 seeds, paired; diff = mgw - masking" in out
    assert "+0.043" in out and "2/3" in out


def test_bad_reports_are_named(tmp_path, capsys, load_tool):
    tool = load_tool("compare_evals.py")
    a = _report(tmp_path / "a.json", 0.3)
    b = _report(tmp_path / "b.json", 0.3, true_class=False)
    with pytest.raises(VidalError, match="pair by seed"):
        tool.compare([a, a], [a])
    with pytest.raises(VidalError, match=r"b\.json has no model_true_class.*--true-class"):
        tool.compare([a], [b])
    (tmp_path / "broken.json").write_text("{not json")
    assert tool.main(["--a", a, "--b", str(tmp_path / "broken.json")]) == 2
    assert "broken.json" in capsys.readouterr().err
