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
    p.add_argument(
        "--forecast",
        type=float,
        metavar="TARGET",
        help="fit metric = a + b * labels^c to each run's mean curve and forecast the labeled "
        "frames needed to reach TARGET, with a 90%% interval (drawn in forecast.png)",
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
    report = {"runs": results, "statistics": statistics}
    if args.forecast is not None:
        report["forecasts"] = _forecasts(results, args.forecast, args.metric, out)
    atomic_write_json(out.with_name("report.json"), report)
    print(f"plot:   {out}\nreport: {out.with_name('report.json')}")
    return 0


def _forecasts(results: list, target: float, metric: str | None, out: Path) -> dict:
    """Print and draw each run's forecast of the labeled frames needed to reach ``target``."""
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from vidal._io import atomic_write
    from vidal.forecast import ForecastError, fit_power_law, forecast_labels, plot_forecast

    metric = metric or results[0]["primary_metric"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    found: dict[str, dict] = {}
    print(f"\nforecast: labeled frames to reach {metric} = {target:g}")
    for r in results:
        runs = list(r["seeds"].values())
        k = min(len(c) for c in runs)
        n = [np.mean([c[i]["labeled_frames"] for c in runs]) for i in range(k)]
        acc = [np.nanmean([np.nan if c[i]["metrics"].get(metric) is None else c[i]["metrics"][metric] for c in runs]) for i in range(k)]  # fmt: skip
        try:
            fit = fit_power_law(n, acc)
        except ForecastError as e:
            print(f"  {r['name']}: cannot forecast: {e}")
            found[r["name"]] = {"error": str(e)}
            continue
        forecast = forecast_labels(fit, target)
        print(f"  {r['name']}: {forecast.describe()}")
        found[r["name"]] = {**dataclasses.asdict(forecast), "law": dataclasses.asdict(fit.law)}
        plot_forecast(ax, fit, forecast, label=r["name"])
    ax.set_xlabel("labeled frames")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(out.with_name("forecast.png"), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    print(f"forecast plot: {out.with_name('forecast.png')}")
    return found
