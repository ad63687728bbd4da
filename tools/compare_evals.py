"""Compare two training settings over seeds from their ``vidal eval`` JSON files, paired by seed.

Each setting is a list of ``eval.json`` files written by ``vidal eval --true-class`` (one per
seed, in the same seed order for both). For every localization metric it prints the mean of
each setting, the mean paired difference ``b - a``, its t statistic (mean over standard error)
and how many seeds ``b`` leads. Used for the MGW-vs-masking comparison of Rana & Rawat,
*Are all Frames Equal? Active Sparse Labeling for Video Action Detection* (NeurIPS 2022),
Fig. 4.

Example:
    python tools/compare_evals.py --a runs/masking_s{0,1,2}/eval.json \\
        --b runs/mgw_s{0,1,2}/eval.json --names masking mgw
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vidal.errors import VidalError

#: (row label, report key, metric) compared, the model's own class first, then the true class.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("f@0.5 own class", "model", "frame_loc@0.5"),
    ("f@0.3 own class", "model", "frame_loc@0.3"),
    ("IoU own class", "model", "mean_frame_iou"),
    ("v@0.5 own class", "model", "video_loc@0.5"),
    ("f@0.5 true class", "model_true_class", "frame_loc@0.5"),
    ("IoU true class", "model_true_class", "mean_frame_iou"),
    ("classification", "model", "classification_accuracy"),
)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", nargs="+", required=True, help="eval.json files of setting a")
    p.add_argument("--b", nargs="+", required=True, help="eval.json files of setting b")
    p.add_argument("--names", nargs=2, default=["a", "b"], help="the two settings' names")
    return p


def _read(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VidalError(f"cannot read the eval report {path}: {e}") from e


def _metric(report: dict, key: str, metric: str, path: str) -> float:
    try:
        return float(report[key][metric])
    except (KeyError, TypeError) as e:
        hint = " (run vidal eval with --true-class)" if key == "model_true_class" else ""
        raise VidalError(f"{path} has no {key}.{metric}{hint}") from e


def compare(a: list[str], b: list[str]) -> list[dict]:
    """Paired comparison of the reports ``a[i]`` and ``b[i]``, one dict per row of :data:`ROWS`.

    Each dict has ``row``, ``mean_a``, ``mean_b``, ``diff`` (mean of ``b - a``), ``t`` (``diff``
    over its standard error; NaN with one seed or identical differences) and ``b_ahead``.
    """
    if len(a) != len(b):
        raise VidalError(f"--a has {len(a)} reports and --b {len(b)}: they pair by seed")
    ra, rb = [_read(p) for p in a], [_read(p) for p in b]
    out = []
    for row, key, metric in ROWS:
        x = np.array([_metric(r, key, metric, p) for r, p in zip(ra, a, strict=True)])
        y = np.array([_metric(r, key, metric, p) for r, p in zip(rb, b, strict=True)])
        d = y - x
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        out.append(
            {
                "row": row,
                "mean_a": float(x.mean()),
                "mean_b": float(y.mean()),
                "diff": float(d.mean()),
                "t": float(d.mean() / se) if se > 0 else float("nan"),
                "b_ahead": int((d > 0).sum()),
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        rows = compare(args.a, args.b)
    except VidalError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    na, nb = args.names
    n = len(args.a)
    print(f"{n} seeds, paired; diff = {nb} - {na}")
    wa, wb = max(10, len(na)), max(10, len(nb))
    print(f"{'metric':18s} {na:>{wa}s} {nb:>{wb}s} {'diff':>8s} {'t':>6s}  {nb} ahead")
    for r in rows:
        print(
            f"{r['row']:18s} {r['mean_a']:{wa}.3f} {r['mean_b']:{wb}.3f} {r['diff']:+8.3f} "
            f"{r['t']:6.2f}  {r['b_ahead']}/{n}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
