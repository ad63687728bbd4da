"""Statistics over seeds: area under the learning curve, intervals, paired gains, headroom.

A selector saves labels when its learning curve lies above random's. One number per run
summarises a curve: the **normalised area under the learning curve** (AULC), the trapezoid
area of metric against labeled fraction divided by the fraction's range, i.e. the curve's
mean height (in the metric's units). Over seeds:

- each run's mean AULC with a t-interval (``confidence``, 95 % by default);
- each run's **paired** difference to the reference (random): seed by seed, the same seed
  starts every selector from the same initial labels and cycle-0 model, so the difference
  cancels most of the seed's luck; its mean, t-interval and the seeds it is ahead in;
- with an upper-bound run (the oracle or the look-ahead ceiling), the **headroom** (ceiling -
  random) and each selector's share of it, (selector - random) / (ceiling - random). When the
  headroom's interval reaches 0 there is no measured headroom and no share is given.

Example:
    >>> round(aulc([0.1, 0.2, 0.3], [0.2, 0.4, 0.4]), 3)
    0.35
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["aulc", "seed_aulcs", "mean_interval", "summarize", "summary_table", "verdict"]

#: selector names that are upper bounds (their runs give the headroom): the action oracles
#: and look-ahead ceiling, the detection oracles of ground-truth FP / FN counts
UPPER_BOUNDS = (
    "ceiling",
    "oracle_iou",
    "oracle_iou_spaced",
    "oracle_iou_video",
    "oracle_fp",
    "oracle_fn",
)


def aulc(x: Sequence[float], y: Sequence[float]) -> float:
    """Normalised area under the curve ``y(x)``: the trapezoid area over the range of ``x``.

    Args:
        x (Sequence[N]): increasing labeled fractions (or costs).
        y (Sequence[N]): the metric at each.

    Returns:
        The curve's mean height; ``y[0]`` for a single point; NaN if any ``y`` is missing.
    """
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(xs) == 1 or xs[-1] == xs[0]:
        return float(ys.mean())
    return float(np.trapezoid(ys, xs) / (xs[-1] - xs[0]))


def seed_aulcs(results: dict, metric: str, x: str = "labeled_fraction") -> dict[str, float]:
    """Seed -> AULC of ``metric`` for one run's results (cycles every seed has)."""
    runs = results["seeds"]
    cycles = min(len(c) for c in runs.values())
    out = {}
    for seed, c in runs.items():
        ys = [
            np.nan if c[k]["metrics"].get(metric) is None else c[k]["metrics"][metric]
            for k in range(cycles)
        ]
        out[seed] = aulc([c[k][x] for k in range(cycles)], ys)
    return out


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean of ``values`` and its t-interval (``lo``/``hi`` None for fewer than 2 values)."""
    from scipy import stats

    v = np.asarray([x for x in values if np.isfinite(x)], np.float64)
    if len(v) == 0:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    mean = float(v.mean())
    if len(v) < 2:
        return {"mean": mean, "lo": None, "hi": None, "n": 1}
    half = float(stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": int(len(v))}


def _pick(all_results: Sequence[dict], given: str | None, names: Sequence[str]) -> str | None:
    """The run named ``given``, else the first run whose selector is one of ``names``."""
    if given is not None:
        return given
    for r in all_results:
        if r.get("selector") in names or r["name"] in names:
            return r["name"]
    return None


def summarize(
    all_results: Sequence[dict],
    *,
    metric: str | None = None,
    x: str = "labeled_fraction",
    reference: str | None = None,
    ceiling: str | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """AULC statistics of runs compared over seeds (see the module docstring).

    Args:
        all_results: results of each run (``results.json``), seeds merged.
        metric: the metric (default: the first run's primary metric).
        x: ``"labeled_fraction"`` or ``"cost_fraction"``.
        reference: the run differences are taken to (default: the run of selector ``random``).
        ceiling: the upper-bound run (default: a run whose selector is in :data:`UPPER_BOUNDS`).
        confidence: of the intervals.

    Returns:
        ``{"metric", "x", "confidence", "reference", "ceiling", "runs": {name: {"seeds":
        {seed: aulc}, "mean", "lo", "hi", "n"}}, "vs_reference": {name: {"mean", "lo", "hi",
        "n", "ahead"}}, "headroom": {"mean", "lo", "hi", "n"} | None, "shares": {name: share}}``.
    """
    metric = metric or all_results[0]["primary_metric"]
    reference = _pick(all_results, reference, ("random", "random_tr_det"))
    ceiling = _pick(all_results, ceiling, UPPER_BOUNDS)
    per_run = {r["name"]: seed_aulcs(r, metric, x) for r in all_results}
    out: dict[str, Any] = {"metric": metric, "x": x, "confidence": confidence}
    out |= {"reference": reference, "ceiling": ceiling, "vs_reference": {}, "shares": {}}
    out["runs"] = {
        name: {"seeds": seeds, **mean_interval(list(seeds.values()), confidence)}
        for name, seeds in per_run.items()
    }
    out["headroom"] = None
    if reference is None or reference not in per_run:
        return out
    ref = per_run[reference]
    for name, seeds in per_run.items():
        common = [s for s in seeds if s in ref]
        diffs = [seeds[s] - ref[s] for s in common]
        out["vs_reference"][name] = {
            **mean_interval(diffs, confidence),
            "ahead": int(sum(d > 0 for d in diffs)),
        }
    if ceiling is not None and ceiling in per_run and ceiling != reference:
        gap = out["vs_reference"][ceiling]
        out["headroom"] = {k: gap[k] for k in ("mean", "lo", "hi", "n")}
        if gap["lo"] is not None and gap["lo"] > 0:  # headroom measured
            out["shares"] = {
                name: d["mean"] / gap["mean"]
                for name, d in out["vs_reference"].items()
                if name not in (reference, ceiling) and d["mean"] is not None
            }
    return out


def _fmt(d: dict[str, Any]) -> str:
    if d.get("mean") is None:
        return "n/a"
    if d.get("lo") is None:
        return f"{d['mean']:+.4f}" if "ahead" in d else f"{d['mean']:.4f}"
    sign = "+" if "ahead" in d else ""
    return f"{d['mean']:{sign}.4f} [{d['lo']:{sign}.4f}, {d['hi']:{sign}.4f}]"


def summary_table(summary: dict[str, Any]) -> str:
    """A plain-text table of :func:`summarize`: AULC, paired difference, share of headroom."""
    pct = int(round(100 * summary["confidence"]))
    ref = summary["reference"] or "-"
    head = [f"AULC of {summary['metric']} ({pct}% intervals over seeds)", ""]
    rows = [("run", "seeds", "AULC", f"- {ref} (paired)", "ahead", "share of headroom")]
    for name, r in summary["runs"].items():
        d = summary["vs_reference"].get(name, {})
        share = summary["shares"].get(name)
        rows.append(
            (
                name,
                str(r["n"]),
                _fmt(r),
                "" if name == summary["reference"] or not d else _fmt(d),
                "" if name == summary["reference"] or not d else f"{d['ahead']}/{d['n']}",
                "" if share is None else f"{100 * share:.0f}%",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if summary["ceiling"] and summary["headroom"]:
        h = summary["headroom"]
        measured = h["lo"] is not None and h["lo"] > 0
        lines.append(
            f"headroom ({summary['ceiling']} - {ref}): {_fmt({**h, 'ahead': 0})}"
            + ("" if measured else "; not measurably above 0, so no shares")
        )
    return "\n".join(head + lines)


def verdict(summary: dict[str, Any]) -> str:
    """One sentence that says what the intervals support, never more."""
    ref = summary["reference"]
    if ref is None:
        return "no random run to compare with."
    better, worse, unclear = [], [], []
    for name, d in summary["vs_reference"].items():
        if name in (ref, summary["ceiling"]) or d["mean"] is None:
            continue
        if d["lo"] is not None and d["lo"] > 0:
            better.append(name)
        elif d["hi"] is not None and d["hi"] < 0:
            worse.append(name)
        else:
            unclear.append(name)
    parts = []
    if better:
        parts.append(f"{', '.join(better)} beat{'s' if len(better) == 1 else ''} {ref}")
    if worse:
        parts.append(f"{', '.join(worse)} fall{'s' if len(worse) == 1 else ''} below {ref}")
    if unclear:
        parts.append(f"{', '.join(unclear)} cannot be told apart from {ref} at these seeds")
    pct = int(round(100 * summary["confidence"]))
    return "; ".join(parts) + f" ({pct}% intervals of the paired AULC difference)."
