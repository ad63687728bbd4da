"""``vidal report RUN_DIR [RUN_DIR ...]``: redraw tables and learning curves from saved results.

Runs of the same name in several folders are joined into one curve over all their seeds, so
seeds can run in parallel (``vidal run CFG --seeds 0 --out a`` beside ``--seeds 1 --out b``,
then ``vidal report a b``).

Besides the per-cycle table it prints, over seeds, each run's normalised area under the
learning curve (AULC) with a 95% interval, its paired difference to random (seed by seed)
with its interval and the seeds it is ahead in, and with an upper-bound run (an oracle or
the look-ahead ceiling) each selector's share of the headroom; then a one-line verdict that
says only what the intervals support. All of it also goes to ``report.json`` beside the PNG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="redraw tables and plots from saved results", description=__doc__
    )
    p.add_argument("runs", nargs="+", help="run folders (each with a results.json)")
    p.add_argument("--metric", help="metric to show (default: the run's primary metric)")
    p.add_argument(
        "--x", choices=["frames", "cost"], default="frames", help="x axis: %% frames or %% cost"
    )
    p.add_argument(
        "--out", help="PNG to write (default: RUN_DIR/learning_curve.png of the first run)"
    )
    p.add_argument(
        "--reference", help="run the others are compared with (default: the random selector's)"
    )
    p.add_argument(
        "--ceiling", help="upper-bound run that measures the headroom (default: an oracle's)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidal._io import atomic_write_json
    from vidal.experiment import (
        load_results,
        merge_seeds,
        plot_learning_curves,
        results_table,
        summarize,
        summary_table,
        verdict,
    )

    results = []
    for d in args.runs:
        r = load_results(d)
        if "seeds" not in r:  # a demo folder holds one results.json per selector
            results.extend(r["runs"])
        else:
            results.append(r)
    results = merge_seeds(results)
    x = "labeled_fraction" if args.x == "frames" else "cost_fraction"
    print(results_table(results, metric=args.metric, x=x))
    statistics = summarize(
        results, metric=args.metric, x=x, reference=args.reference, ceiling=args.ceiling
    )
    print()
    print(summary_table(statistics))
    print(f"verdict: {verdict(statistics)}")
    out = Path(args.out) if args.out else Path(args.runs[0]) / "learning_curve.png"
    plot_learning_curves(results, out, metric=args.metric, x=x)
    atomic_write_json(out.with_name("report.json"), {"runs": results, "statistics": statistics})
    print(f"plot:   {out}\nreport: {out.with_name('report.json')}")
    return 0
