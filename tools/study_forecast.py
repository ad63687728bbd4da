"""Coverage of learning-curve forecast intervals on curves from a known power law.

For each setting, ``--seeds`` curves ``acc(n) = a + b n^c + N(0, sigma^2)`` at the given
label counts are fitted (:func:`vidal.forecast.fit_power_law`) and the labels needed for the
target forecast (:func:`vidal.forecast.forecast_labels`, profile-likelihood interval).
Printed per setting: the true ``n*``, how often the interval covers it, how often the
interval is bounded, how often the forecast is judged reliable, the median width
``high / low`` of the bounded ones; and, for comparison, the same for a parametric bootstrap
from the fit's covariance (multivariate t draws, ``P - 3`` degrees of freedom).

    OMP_NUM_THREADS=1 python tools/study_forecast.py --seeds 200
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from vidal.forecast import PowerLaw, fit_power_law, forecast_labels

SETTINGS = {
    # name: (law (a, b, c), label counts, target, noise sigma)
    "saturating, 8 pts, sd 0.002": ((0.9, -3.0, -0.5), np.linspace(500, 4000, 8), 0.87, 0.002),
    "saturating, 8 pts, sd 0.005": ((0.9, -3.0, -0.5), np.linspace(500, 4000, 8), 0.87, 0.005),
    "saturating, 5 pts, sd 0.002": ((0.9, -3.0, -0.5), np.linspace(500, 4000, 5), 0.87, 0.002),
    "paper law, 8 pts, sd 0.002": (
        (0.704, 0.008, 0.251),
        np.linspace(2000, 16000, 8),
        0.8149,
        0.002,
    ),
    "paper law, 8 pts, sd 0.005": (
        (0.704, 0.008, 0.251),
        np.linspace(2000, 16000, 8),
        0.8149,
        0.005,
    ),
}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--level", type=float, default=0.9)
    p.add_argument("--draws", type=int, default=4000, help="bootstrap draws")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    return p


def bootstrap(fit, target: float, level: float, draws: int, rng) -> tuple[float, float]:
    """Percentile interval of ``n*`` over laws drawn from the fit's covariance (t, P-3 dof)."""
    mean = np.array([fit.law.a, fit.law.b, fit.law.c])
    z = rng.multivariate_normal(np.zeros(3), fit.cov, size=draws, method="eigh")
    z *= np.sqrt(fit.dof / rng.chisquare(fit.dof, size=draws))[:, None]
    need = np.sort([PowerLaw(*(mean + d)).labels_needed(target) for d in z])
    lo = need[int(np.floor((1 - level) / 2 * draws))]
    hi = need[int(np.ceil((1 + level) / 2 * draws)) - 1]
    return float(lo), float(hi)


def one(setting, seed: int, args) -> tuple:
    law, n, target, sigma = setting
    rng = np.random.default_rng(seed)
    acc = PowerLaw(*law)(n) + rng.normal(0.0, sigma, size=len(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_power_law(n, acc)
        f = forecast_labels(fit, target, level=args.level)
    boot = bootstrap(fit, target, args.level, args.draws, rng)
    return f, boot


def summary(truth: float, intervals: list[tuple[float, float]]) -> str:
    lo, hi = np.array(intervals).T
    cover = np.mean((lo <= truth) & (truth <= hi))
    bounded = np.isfinite(hi) & (lo > 0)
    width = np.median(hi[bounded] / lo[bounded]) if bounded.any() else float("nan")
    return f"covers {cover:6.1%}  bounded {bounded.mean():6.1%}  median high/low {width:5.2f}"


def main(args: argparse.Namespace) -> None:
    print(f"{args.seeds} seeds, level {args.level:.0%}")
    for name in args.settings:
        setting = SETTINGS[name]
        truth = PowerLaw(*setting[0]).labels_needed(setting[2])
        runs = [one(setting, s, args) for s in range(args.seeds)]
        reliable = np.mean([f.reliable for f, _ in runs])
        print(
            f"\n{name}: truth n* = {truth:,.0f}, points at {setting[1].min():g}..{setting[1].max():g}"
        )
        print(
            f"  profile   {summary(truth, [(f.low, f.high) for f, _ in runs])}  reliable {reliable:6.1%}"
        )
        print(f"  bootstrap {summary(truth, [b for _, b in runs])}")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
