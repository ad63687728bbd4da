"""Reporting saved results: tables and learning curves, for one run or several side by side."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidal._io import atomic_write
from vidal.errors import ConfigError, VidalError

__all__ = ["load_results", "merge_seeds", "results_table", "plot_learning_curves"]


def load_results(run_dir: str | os.PathLike) -> dict:
    """The ``results.json`` of a run folder (or of the newest complete seed folders)."""
    path = Path(run_dir) / "results.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VidalError(f"{path}: cannot read results: {e}") from e


def merge_seeds(all_results: Sequence[dict]) -> list[dict]:
    """Join runs of the same experiment whose seeds ran apart (other processes or machines).

    Runs with the same ``name`` become one run holding all their seeds, in first-seen order;
    e.g. ``vidal run CFG --seeds 0 --out a`` and ``vidal run CFG --seeds 1 --out b`` give one
    curve with two seeds.

    Raises:
        ConfigError: two runs of one name disagree on their selector, loss or metric, or
            both hold the same seed with different results.
    """
    merged: dict[str, dict] = {}
    for r in all_results:
        name = r["name"]
        if name not in merged:
            merged[name] = {**r, "seeds": dict(r["seeds"])}
            continue
        into = merged[name]
        for key in ("selector", "loss", "primary_metric"):
            if into.get(key) != r.get(key):
                raise ConfigError(
                    f"runs named {name!r} differ in {key}: {into.get(key)!r} vs {r.get(key)!r}"
                )
        for seed, cycles in r["seeds"].items():
            if seed in into["seeds"] and _results(into["seeds"][seed]) != _results(cycles):
                raise ConfigError(
                    f"runs named {name!r} both hold seed {seed}, with different results"
                )
            into["seeds"][seed] = cycles
    return list(merged.values())


def _results(cycles: list[dict]) -> list[dict]:
    """A seed's cycles without what differs between identical reruns (wall-clock seconds)."""

    def strip(obj: object) -> object:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k != "seconds"}
        return obj

    return [strip(c) for c in cycles]  # type: ignore[misc]


def _curve(results: dict, metric: str, x: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over seeds of ``metric`` per cycle; x = mean labeled percent."""
    runs = list(results["seeds"].values())
    cycles = min(len(r) for r in runs)
    xs = np.array([[100 * r[k][x] for k in range(cycles)] for r in runs])
    ys = np.array(
        [
            [
                np.nan if r[k]["metrics"].get(metric) is None else r[k]["metrics"][metric]
                for k in range(cycles)
            ]
            for r in runs
        ],
        dtype=np.float64,
    )
    with warnings.catch_warnings():  # a metric that is None in every seed stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return xs.mean(axis=0), np.nanmean(ys, axis=0), np.nanstd(ys, axis=0)


def results_table(
    all_results: Sequence[dict], *, metric: str | None = None, x: str = "labeled_fraction"
) -> str:
    """A plain-text table: one row per cycle, one column per run (mean ± std over seeds)."""
    metric = metric or all_results[0]["primary_metric"]
    curves = [(r["name"], *_curve(r, metric, x)) for r in all_results]
    cycles = max(len(c[1]) for c in curves)
    label = "% frames" if x == "labeled_fraction" else "% cost"
    header = f"{'cycle':>5} " + " ".join(
        f"{name + ' ' + label:>22} {metric:>16}" for name, *_ in curves
    )
    lines = [header, "-" * len(header)]
    for k in range(cycles):
        cells = []
        for _name, xs, ys, sd in curves:
            if k < len(xs):
                value = (
                    "n/a"
                    if np.isnan(ys[k])
                    else f"{ys[k]:.3f}" + (f"±{sd[k]:.3f}" if sd[k] > 0 else "")
                )
                cells.append(f"{xs[k]:>22.2f} {value:>16}")
            else:
                cells.append(" " * 39)
        lines.append(f"{k:>5} " + " ".join(cells))
    return "\n".join(lines)


def plot_learning_curves(
    all_results: Sequence[dict],
    path: str | os.PathLike,
    *,
    metric: str | None = None,
    x: str = "labeled_fraction",
    confidence: float = 0.95,
) -> Path:
    """Draw annotation % against ``metric`` for each run as a PNG: the mean over seeds, and a
    band of its ``confidence`` t-interval where there are several seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = metric or all_results[0]["primary_metric"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for r in all_results:
        xs, ys, sd = _curve(r, metric, x)
        n = len(r["seeds"])
        band = f", {int(100 * confidence)}% interval" if n > 1 else ""
        ax.plot(xs, ys, marker="o", label=f"{r['name']} ({n} seed{'s' if n > 1 else ''}{band})")
        if n > 1:  # the t-interval of the mean at each point
            from scipy import stats

            half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd * np.sqrt(n / (n - 1)) / np.sqrt(n)
            ax.fill_between(xs, ys - half, ys + half, alpha=0.2)
    ax.set_xlabel("annotated frames (%)" if x == "labeled_fraction" else "annotation cost (%)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("vidal: learning curves")
    fig.tight_layout()

    def write(tmp: str) -> None:
        fig.savefig(tmp, format="png")

    out = atomic_write(path, write)
    plt.close(fig)
    return out
