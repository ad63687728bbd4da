"""Where does frame selection matter? The ceiling's headroom over random, regime by regime.

Issue 16's study: with a base model that localizes, measure in regimes that real video has
how much a selector *could* win over random (the empirical ceiling, :mod:`vidal.select.
ceiling`: the best of several candidate batches by a short look-ahead), as the normalised
area under the learning curve (AULC) with a t-interval over seeds; where the headroom is
clear, how much of it each selector recovers, ``(selector - random) / (ceiling - random)``.

Regimes (synthetic action videos, :class:`vidal.data.synth.SynthConfig` settings on top of
the base config's):

- ``base``: the base config's data as it is;
- ``long_partial``: long videos (80-160 frames) whose actions fill only part of them;
- ``static``: long redundant stretches (actors pause most of the time, slow motion, still camera);
- ``rare_classes``: a long tail of classes (frequencies ~ (k + 1)^-2);
- ``rare_conditions``: a third of the videos dark, noisy or blurred;
- ``crowded``: two or three actors in most videos;
- ``ucf_tubes``: tubes that replay the real UCF-101-24 tube geometry and lengths
  (``../shared/data/ucf101-24/pyannot.pkl``).

Runs are named by their selector (``random``, ``apu``, ``claus``, ``kcenter``, ...), or by one
of :data:`VARIANTS`: ``entropy`` (Aghdam et al.'s baseline, spaced top-k by the entropy
scorer) and ``ceiling_mixed`` (the ceiling over batches from random and the study's selectors).

Every (regime, selector) is a resumable ``vidal run`` under ``OUT/<regime>/<selector>``;
the selectors of a regime share their first cycle. Seeds can run in separate processes and
be joined later (``--seeds 0 1`` here, ``--seeds 2 3 4`` elsewhere, same ``--out``).

Example:
    python tools/study_headroom.py --base tools/configs/synthetic_study.yaml \\
        --regimes base long_partial --selectors random ceiling --seeds 0 1 2 3 4 --out runs/study
    python tools/study_headroom.py --base ... --report-only --out runs/study   # the table
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from _common import run

from vidal.config import load_config
from vidal.errors import VidalError
from vidal.experiment import compare_selectors, load_results, merge_seeds, summarize
from vidal.experiment.stats import summary_table

#: regime -> (SynthConfig settings over the base config's, what it stands for)
REGIMES: dict[str, tuple[dict[str, Any], str]] = {
    "base": ({}, "the base config's data"),
    "long_partial": (
        {"min_frames": 80, "max_frames": 160, "partial_prob": 1.0},
        "long videos, actions in part of them",
    ),
    "static": (
        {"pause_prob": 0.9, "tempo": 0.1, "camera_motion_prob": 0.0},
        "long redundant stretches",
    ),
    "rare_classes": ({"class_skew": 2.0}, "a long tail of classes"),
    "rare_conditions": ({"rare_prob": 0.33}, "dark, noisy or blurred videos"),
    "crowded": ({"multi_actor_prob": 0.9}, "several actors"),
    "ucf_tubes": (
        {"replay": "../shared/data/ucf101-24/pyannot.pkl"},
        "real UCF-101-24 tube geometry and lengths",
    ),
}


#: a run name that is not a selector -> (selector, scorer or None for the base config's,
#: selector options)
VARIANTS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    # Aghdam et al.'s entropy baseline as the ASL/CLAUS papers run it: the highest-entropy
    # frames, ignoring the 5 either side of each pick
    "entropy": ("topk_spaced", "entropy", {}),
    # the ceiling over batches from random and from each selector of the study
    "ceiling_mixed": (
        "ceiling",
        None,
        {"candidates": 8, "proposers": ("random", "apu", "claus", "kcenter", "typicality")},
    ),
}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--base", required=True, help="the base experiment config (action task)")
    p.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    p.add_argument(
        "--selectors",
        nargs="+",
        default=["random", "ceiling"],
        help="selector names, 'entropy' (spaced top-k by the entropy scorer) or "
        "'ceiling_mixed' (the ceiling over random, APU, CLAUS, k-center and typicality batches)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--cycles", type=int, help="override the base config's cycles")
    p.add_argument("--out", default="runs/study", help="output folder")
    p.add_argument("--report-only", action="store_true", help="only join what has run")
    p.add_argument("--no-progress", action="store_true")
    return p


def regime_configs(base: Any, regime: str, selectors: list[str], out: Path) -> list[Any]:
    """One config per selector for ``regime``: the base config with the regime's data."""
    options, _ = REGIMES[regime]
    data = dataclasses.replace(
        base.data,
        synth_options={**base.data.synth_options, **options},
        synth_dir=f"{base.data.synth_dir}-{regime}",
    )
    configs = []
    for name in selectors:
        selector, scorer, options = VARIANTS.get(name, (name, None, {}))
        select = dataclasses.replace(base.select, selector=selector, options=options)
        if name == base.select.selector:
            select = base.select
        configs.append(
            dataclasses.replace(
                base,
                name=name,
                data=data,
                select=select,
                score=dataclasses.replace(base.score, scorer=scorer or base.score.scorer),
                out=str(out / regime / name),
            )
        )
    return configs


def report(out: Path, regimes: list[str], selectors: list[str]) -> dict[str, Any]:
    """Each regime's statistics (from the runs written so far) and one table for all."""
    rows, stats = [], {}
    for regime in regimes:
        runs = []
        for name in selectors:
            path = out / regime / name / "results.json"
            if path.is_file():
                runs.append(load_results(path.parent))
        if len(runs) < 2:
            continue
        s = summarize(
            merge_seeds(runs),
            reference="random",
            ceiling="ceiling" if "ceiling" in selectors else None,
        )
        stats[regime] = s
        print(f"\n== {regime}: {REGIMES[regime][1]}\n{summary_table(s)}")
        rows.append(_row(regime, s))
    if rows:
        print("\nregime            seeds  random AULC        ceiling - random          shares")
        for row in rows:
            print(row)
    return stats


def _row(regime: str, s: dict[str, Any]) -> str:
    ref = s["runs"].get("random", {})
    head = s.get("headroom") or {}
    gap = "n/a" if head.get("mean") is None else f"{head['mean']:+.4f}"
    if head.get("lo") is not None:
        gap += f" [{head['lo']:+.4f}, {head['hi']:+.4f}]"
    shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in s["shares"].items()) or "-"
    mean = "n/a" if ref.get("mean") is None else f"{ref['mean']:.4f}"
    return f"{regime:<17} {ref.get('n', 0):>5}  {mean:<18} {gap:<25} {shares}"


def main(args: argparse.Namespace) -> int:
    base = load_config(args.base)
    if base.task != "action" or base.data.format != "synthetic":
        raise VidalError(
            f"{args.base}: the study draws synthetic action data (task action, format synthetic)"
        )
    base = dataclasses.replace(
        base, seeds=tuple(args.seeds), **({"cycles": args.cycles} if args.cycles else {})
    )
    out = Path(args.out)
    if not args.report_only:
        for regime in args.regimes:
            configs = regime_configs(base, regime, args.selectors, out)
            compare_selectors(configs, out / regime, progress=not args.no_progress)
    stats = report(out, args.regimes, args.selectors)
    (out / "study.json").write_text(json.dumps(stats, indent=1, default=str))
    return 0


if __name__ == "__main__":
    run(main, get_args_parser())
