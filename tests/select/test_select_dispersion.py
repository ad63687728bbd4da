"""The dispersion selector: highest label dispersion first, ties at random or by score."""

from __future__ import annotations

import numpy as np
import pytest

from vidal.errors import ConfigError, VidalError
from vidal.pool import Budget, LabelPool
from vidal.select import DispersionSelector, FrameScores, get_selector

# dispersion takes few values (T = 4 points here): many ties
D = {
    "a": np.array([0.0, 0.75, 0.5, 0.5, 0.0, 0.25]),
    "b": np.array([0.5, 0.5, 0.0, 0.75, 0.5, 0.5]),
}


def test_takes_the_highest_dispersion_then_breaks_ties_at_random():
    pool = LabelPool({"a": 6, "b": 6})
    pool.add_frames("b", [3])  # the other 0.75 is labeled
    scores = FrameScores(extra={"dispersion": D})
    chosen = []
    for seed in range(40):
        sel = DispersionSelector()(scores, pool, Budget(frames=3), np.random.default_rng(seed))
        frames = {(v, int(f)) for v, fs in sel.frames.items() for f in fs}
        assert ("a", 1) in frames and len(frames) == 3
        assert all(D[v][f] == 0.5 for v, f in frames - {("a", 1)})
        assert np.allclose(sorted(np.concatenate(list(sel.scores.values()))), [0.5, 0.5, 0.75])
        chosen.append(frozenset(frames))
    # six frames tie at 0.5 for two places: the seed decides, and every one of them gets in
    assert len(set(chosen)) > 3
    assert set().union(*chosen) == {
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 0),
        ("b", 1),
        ("b", 4),
        ("b", 5),
    }


def test_ties_by_frame_scores():
    pool = LabelPool({"a": 6, "b": 6})
    u = {"a": np.linspace(0, 1, 6), "b": np.linspace(1, 0, 6)}
    scores = FrameScores(frames=u, extra={"dispersion": D})
    sel = get_selector("dispersion", ties="frames")(
        scores, pool, Budget(frames=3), np.random.default_rng(0)
    )
    # 0.75: a1 and b3; then of the 0.5 frames the one of highest uncertainty: b0 (u = 1)
    assert {v: f.tolist() for v, f in sel.frames.items()} == {"a": [1], "b": [0, 3]}


def test_needs_the_recorded_dispersion():
    pool = LabelPool({"a": 6})
    with pytest.raises(VidalError, match="DispersionRecorder"):
        DispersionSelector()(FrameScores(), pool, Budget(frames=1), np.random.default_rng(0))
    with pytest.raises(VidalError, match="shape"):
        DispersionSelector()(
            FrameScores(extra={"dispersion": {"a": np.zeros(5)}}),
            pool,
            Budget(frames=1),
            np.random.default_rng(0),
        )
    with pytest.raises(ConfigError, match="ties"):
        get_selector("dispersion", ties="first")
