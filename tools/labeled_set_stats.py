"""What the labeled set of each run looks like, cycle by cycle: class balance and metadata.

For every run folder (``OUT/<selector>`` of ``vidal run``) and cycle, over its seeds: the
total-variation distance of the labeled frames' class shares to uniform (0: balanced; the
thesis' ch. 4 balancing target), the number of distinct metadata tuples with a labeled frame
and the share of labeled frames whose videos carry a metadata value other than the common one
(e.g. a rare capture condition). Classes and metadata are the videos' own (``vidal`` JSON).

Issue 18: how much more balanced class-balanced selection makes the labeled set, and how
metadata cycling spreads it.

Example:
    python tools/labeled_set_stats.py --annotations ~/.cache/vidal/longtail-synth/annotations.json \\
        --fields condition,camera runs/longtail/topk runs/longtail/balanced
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from _common import run

from vidal.data import load_dataset
from vidal.errors import VidalError
from vidal.pool import LabelPool


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders (with seed_*/cycle_*/pool.json)")
    p.add_argument("--annotations", required=True, help="the dataset's vidal JSON")
    p.add_argument(
        "--fields", default="", help="per-video metadata fields, comma-separated (condition,camera)"
    )
    return p


def cycle_stats(
    pool: LabelPool, labels: dict[str, int], tuples: dict[str, tuple], num_classes: int
) -> dict[str, float]:
    """Class balance and metadata spread of one pool's labeled frames.

    Args:
        pool: the pool.
        labels: video id -> class index.
        tuples: video id -> its metadata tuple (empty tuples when no fields are asked).
        num_classes: ``C``.

    Returns:
        ``{"frames", "class_tv", "tuples", "uncommon_share"}``: labeled frames, total-variation
        distance of their class shares to ``1 / C``, distinct metadata tuples among them, and
        the share of them whose tuple is not the pool's most common one.
    """
    counts = np.zeros(num_classes)
    seen: set[tuple] = set()
    uncommon = 0
    common = Counter(tuples[v] for v in pool.num_frames).most_common(1)[0][0]
    for video in pool.num_frames:
        n = len(pool.labeled_frames(video))
        if n:
            counts[labels[video]] += n
            seen.add(tuples[video])
            uncommon += n * (tuples[video] != common)
    total = counts.sum()
    if total == 0:
        raise VidalError("a pool with no labeled frame")
    return {
        "frames": float(total),
        "class_tv": float(0.5 * np.abs(counts / total - 1 / num_classes).sum()),
        "tuples": float(len(seen)),
        "uncommon_share": float(uncommon / total),
    }


def run_stats(run: Path, labels: dict, tuples: dict, num_classes: int) -> dict[str, Any]:
    """Cycle name -> the mean of :func:`cycle_stats` over the run's seeds."""
    per_cycle: dict[str, list[dict[str, float]]] = {}
    for path in sorted(run.glob("seed_*/cycle_*/pool.json")):
        pool = LabelPool.load(path)
        per_cycle.setdefault(path.parent.name, []).append(
            cycle_stats(pool, labels, tuples, num_classes)
        )
    if not per_cycle:
        raise VidalError(f"{run}: no seed_*/cycle_*/pool.json")
    return {
        cycle: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} | {"seeds": len(rows)}
        for cycle, rows in per_cycle.items()
    }


def main(args: argparse.Namespace) -> int:
    dataset = load_dataset("vidal", args.annotations)
    labels = {a.video_id: a.label for a in dataset.videos}
    fields = [f for f in args.fields.split(",") if f]
    tuples = {a.video_id: tuple(a.metadata.get(f) for f in fields) for a in dataset.videos}
    print("run / cycle                seeds  frames  class TV  tuples  uncommon share")
    for folder in map(Path, args.runs):
        for cycle, s in run_stats(folder, labels, tuples, dataset.num_classes).items():
            print(
                f"{folder.name + ' / ' + cycle:<26} {s['seeds']:>5} {s['frames']:>7.0f} "
                f"{s['class_tv']:>9.3f} {s['tuples']:>7.1f} {s['uncommon_share']:>15.2f}"
            )
    return 0


if __name__ == "__main__":
    run(main, get_args_parser())
