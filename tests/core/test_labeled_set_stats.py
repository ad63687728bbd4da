"""tools/labeled_set_stats.py: class balance and metadata spread of a run's labeled sets."""

from __future__ import annotations

import numpy as np
import pytest

from vidal.errors import VidalError
from vidal.pool import LabelPool


def test_balance_and_metadata_of_hand_made_pools(load_tool, tmp_path):
    tool = load_tool("labeled_set_stats.py")
    labels = {"a": 0, "b": 0, "c": 1}
    tuples = {"a": ("normal",), "b": ("normal",), "c": ("dark",)}
    pool = LabelPool({"a": 10, "b": 10, "c": 10})
    pool.add_frames("a", [0, 1, 2])
    pool.add_frames("c", [5])
    s = tool.cycle_stats(pool, labels, tuples, num_classes=2)
    # shares 3/4 and 1/4 against 1/2 each: TV distance 1/4; one of 4 frames is "dark"
    assert s == {"frames": 4.0, "class_tv": 0.25, "tuples": 2.0, "uncommon_share": 0.25}

    for seed, extra in ((0, [3]), (1, [6, 7, 8])):
        p = LabelPool({"a": 10, "b": 10, "c": 10})
        p.add_frames("a", [0])
        p.add_frames("c", extra)
        p.save(tmp_path / "run" / f"seed_{seed}" / "cycle_000" / "pool.json")
    stats = tool.run_stats(tmp_path / "run", labels, tuples, 2)
    tv = np.mean([0.0, 0.25])  # 1+1 frames: balanced; 1+3: shares 1/4, 3/4
    assert stats["cycle_000"]["seeds"] == 2
    assert stats["cycle_000"]["class_tv"] == pytest.approx(tv)

    with pytest.raises(VidalError, match="no labeled frame"):
        tool.cycle_stats(LabelPool({"a": 4}), labels, tuples, 2)
    with pytest.raises(VidalError, match="no seed_"):
        tool.run_stats(tmp_path / "empty", labels, tuples, 2)
