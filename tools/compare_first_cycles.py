"""Compare runs over their first cycles, paired by seed (``vidal report``'s statistics).

For settings that differ in more than the selector and whose curves differ in length, e.g.
a detector from ImageNet weights against the same detector from scratch at equal steps
(docs/detection_imagenet.md): every run folder (the ``results.json`` of ``vidal run``, with
or without ``--selectors``) is cut to its first ``--cycles`` cycles, runs of one name are
joined over seeds, and the per-cycle table and the AULC statistics of
:func:`vidal.experiment.summarize` are printed -- with one cycle, a run's AULC is its first
cycle's metric, with a 95% interval over seeds and the paired difference to ``--reference``.

Example:
    python tools/compare_first_cycles.py runs/road_scratch runs/road_imagenet_s{0,1,2} \\
        --only detection_synthetic_road_imagenet_scratch tc \\
        --reference detection_synthetic_road_imagenet_scratch
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from _common import run

from vidal.errors import VidalError
from vidal.experiment import load_results, merge_seeds, results_table, summarize, summary_table


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run folders (each with a results.json)")
    p.add_argument("--cycles", type=int, default=1, help="cycles to compare (default 1)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="keep only the runs of these names")
    p.add_argument("--reference", required=True, help="the run the others are compared with")
    p.add_argument("--metric", help="metric (default: the runs' primary metric)")
    return p


def first_cycles(
    folders: Sequence[str], *, cycles: int, only: Sequence[str] | None = None
) -> list[dict]:
    """The runs in ``folders``, seeds joined by name, each seed cut to its first ``cycles``.

    Raises:
        VidalError: ``cycles < 1``, a folder without results, a name in ``only`` that no
            folder holds, or a seed with fewer than ``cycles`` cycles.
    """
    if cycles < 1:
        raise VidalError(f"--cycles must be >= 1, got {cycles}")
    runs = []
    for folder in folders:
        r = load_results(folder)
        runs.extend(r["runs"] if "seeds" not in r else [r])
    runs = merge_seeds(runs)
    if only is not None:
        missing = sorted(set(only) - {r["name"] for r in runs})
        if missing:
            raise VidalError(f"no run named {missing} in {list(folders)}")
        runs = [r for r in runs if r["name"] in only]
    for r in runs:
        for seed, c in r["seeds"].items():
            if len(c) < cycles:
                raise VidalError(f"run {r['name']!r} seed {seed} has {len(c)} cycles, < {cycles}")
    return [{**r, "seeds": {s: c[:cycles] for s, c in r["seeds"].items()}} for r in runs]


def main(args: argparse.Namespace) -> dict:
    runs = first_cycles(args.runs, cycles=args.cycles, only=args.only)
    if args.reference not in {r["name"] for r in runs}:
        raise VidalError(f"--reference {args.reference!r} is none of the runs")
    print(results_table(runs, metric=args.metric))
    statistics = summarize(runs, metric=args.metric, reference=args.reference)
    print()
    print(summary_table(statistics))
    return statistics


if __name__ == "__main__":
    run(main, get_args_parser())
