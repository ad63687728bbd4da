"""How much of a learning curve is training noise? Retrain a finished run's cycles.

A selector can only be told apart from random when choosing other frames moves the test
metric more than training does. This script measures the second part: for each seed of a
finished ``vidal run`` (or ``tools/study_headroom.py``) run folder and each ``--cycles`` cycle
``k``, it trains cycle ``k`` again as the loop did -- the same labels (``cycle_k/pool.json``),
from the same start (cycle ``k - 1``'s checkpoint; a fresh model for the first cycle) -- with
``--retrains`` other training seeds, and evaluates each on the test set.

Printed per cycle: the metric of the run and of its retrains per seed, and the training noise
``sd_train`` (the pooled standard deviation over training seeds on the same labels). With
``--against`` runs that share the first cycle (other selectors), their paired differences to
this run at cycle ``k`` are printed next to ``sqrt(2) * sd_train``, the spread a difference
between two runs would have from training alone: when the two are alike, the selectors'
differences are what training noise gives.

Every retrain is stored under ``RUN/training_noise/`` as it finishes, so an interrupted call
resumes; the summary goes to ``RUN/training_noise.json``.

Example:
    python tools/training_noise.py runs/study/base/random --retrains 3 --cycles 1 \\
        --against runs/study/base/ceiling runs/study/base/apu
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from _common import run

from vidal import seeding
from vidal._io import atomic_write_json
from vidal.config import load_config
from vidal.errors import VidalError
from vidal.experiment import load_results
from vidal.experiment.data import load_experiment_data
from vidal.loop import TRAINING
from vidal.pool import LabelPool
from vidal.tasks import build_task


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a finished run folder (config.json, results.json, seed_*/)")
    p.add_argument("--retrains", type=int, default=3, help="training seeds per cycle (default 3)")
    p.add_argument("--cycles", type=int, nargs="+", default=[1], help="cycles (default: 1)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: every seed of the run)")
    p.add_argument("--against", nargs="*", default=[], help="runs to compare, paired by seed")
    p.add_argument("--metric", help="metric (default: the run's primary metric)")
    p.add_argument("--no-progress", action="store_true")
    return p


def retrain(task: Any, run_dir: Path, seed: int, cycle: int, training_seed: int) -> dict:
    """Train ``cycle`` of ``run_dir``'s ``seed`` again with ``training_seed``.

    The loop's cycle (:class:`vidal.loop.ActiveLoop`) with another training seed: cycle
    ``cycle``'s labels, trained from cycle ``cycle - 1``'s checkpoint (fine-tuning), or from
    a fresh model built with the run's seed for the first cycle.

    Returns:
        ``{"train": training statistics, "metrics": test metrics}``, as in the cycle's
        ``metrics.json``.
    """
    seed_dir = run_dir / f"seed_{seed}"
    pool = LabelPool.load(seed_dir / f"cycle_{cycle:03d}" / "pool.json")
    if cycle == 0:
        model = task.build_model(seed=seed)
    else:
        model = task.load_checkpoint(seed_dir / f"cycle_{cycle - 1:03d}" / "checkpoint.pt")
    stats = task.train(model, pool, seed=training_seed)
    return {"train": stats, "metrics": task.evaluate(model)}


def main(args: argparse.Namespace) -> dict:
    run_dir = Path(args.run)
    if args.retrains < 1:
        raise VidalError(f"--retrains must be >= 1, got {args.retrains}")
    if not (run_dir / "config.json").is_file():
        raise VidalError(f"{run_dir}: no config.json; is it a `vidal run` folder?")
    results = load_results(run_dir)
    if "seeds" not in results:
        raise VidalError(f"{run_dir}: holds several runs; name one of its run folders")
    metric = args.metric or results["primary_metric"]
    seeds = args.seeds if args.seeds is not None else sorted(int(s) for s in results["seeds"])
    for seed in seeds:
        done = len(results["seeds"].get(str(seed), []))
        for k in args.cycles:
            if not 0 <= k < done:
                raise VidalError(f"{run_dir}: seed {seed} has {done} cycles, no cycle {k}")

    cfg = load_config(run_dir / "config.json")
    progress = not args.no_progress
    train_set, test_set = load_experiment_data(cfg, progress=progress)
    task = build_task(cfg, train_set, test_set, progress=progress)
    store = run_dir / "training_noise"
    summary: dict[str, Any] = {"metric": metric, "retrains": args.retrains, "cycles": {}}
    for k in args.cycles:
        per_seed = {}
        for seed in seeds:
            original = results["seeds"][str(seed)][k]["metrics"][metric]
            values = []
            for r in range(args.retrains):
                path = store / f"seed_{seed}_cycle_{k:03d}_retrain_{r}.json"
                if not path.is_file():
                    training_seed = seeding.seed(seed, k, TRAINING, 1 + r)
                    again = retrain(task, run_dir, seed, k, training_seed)
                    atomic_write_json(path, {"training_seed": training_seed, **again})
                    print(
                        f"seed {seed}, cycle {k}, retrain {r}: {metric} = "
                        f"{again['metrics'][metric]:.4f} (the run's: {original:.4f})",
                        flush=True,
                    )
                values.append(json.loads(path.read_text())["metrics"][metric])
            per_seed[str(seed)] = {"run": original, "retrains": values}
        summary["cycles"][str(k)] = cycle_summary(per_seed, _against(args.against, k, metric))
        print(cycle_table(k, metric, summary["cycles"][str(k)]))
    atomic_write_json(run_dir / "training_noise.json", summary)
    return summary


def _against(folders: list[str], cycle: int, metric: str) -> dict[str, dict[str, float]]:
    """``{run name: {seed: metric at cycle}}`` of the ``--against`` runs."""
    out = {}
    for folder in folders:
        r = load_results(folder)
        if "seeds" not in r:
            raise VidalError(f"{folder}: holds several runs; name one of its run folders")
        out[r["name"]] = {
            s: c[cycle]["metrics"][metric] for s, c in r["seeds"].items() if len(c) > cycle
        }
    return out


def cycle_summary(
    per_seed: dict[str, dict[str, Any]], against: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """Training noise of one cycle, and the ``against`` runs' paired differences.

    ``sd_train`` pools the per-seed variances of the run's metric and its retrains (each
    seed's labels held fixed); ``sd_difference`` (``sqrt(2) * sd_train``) is the spread of a
    difference between two runs on the same labels; ``retrains_minus_run``, the mean over
    seeds of (mean of the retrains - the run), says how lucky the run's own training seeds
    were: a selector compared with this run starts that far behind or ahead.

    Example:
        >>> s = cycle_summary({"0": {"run": 0.2, "retrains": [0.4]},
        ...                    "1": {"run": 0.5, "retrains": [0.3]}}, {"b": {"0": 0.3, "1": 0.4}})
        >>> round(s["sd_train"], 4), round(s["retrains_minus_run"], 4), s["against"]["b"]["n"]
        (0.1414, 0.0, 2)
    """
    variances = [np.var([d["run"], *d["retrains"]], ddof=1) for d in per_seed.values()]
    sd_train = math.sqrt(float(np.mean(variances)))
    out: dict[str, Any] = {
        "seeds": per_seed,
        "sd_train": sd_train,
        "sd_difference": math.sqrt(2) * sd_train,
        "retrains_minus_run": float(
            np.mean([np.mean(d["retrains"]) - d["run"] for d in per_seed.values()])
        ),
        "against": {},
    }
    for name, metrics in against.items():
        diffs = [metrics[s] - d["run"] for s, d in per_seed.items() if s in metrics]
        if diffs:
            out["against"][name] = {
                "n": len(diffs),
                "mean": float(np.mean(diffs)),
                "sd": float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan"),
            }
    return out


def cycle_table(cycle: int, metric: str, s: dict[str, Any]) -> str:
    """The printed lines of one cycle's :func:`cycle_summary`."""
    lines = [f"cycle {cycle}, {metric}:", "seed  run     retrains"]
    for seed, d in s["seeds"].items():
        lines.append(f"{seed:<5} {d['run']:.4f}  " + " ".join(f"{v:.4f}" for v in d["retrains"]))
    lines.append(
        f"training noise: sd {s['sd_train']:.4f} over training seeds on the same labels; "
        f"a difference between two runs on the same labels: sd {s['sd_difference']:.4f}"
    )
    lines.append(f"the retrains - this run: mean {s['retrains_minus_run']:+.4f} over seeds")
    for name, d in s["against"].items():
        lines.append(
            f"{name} - this run: mean {d['mean']:+.4f}, sd {d['sd']:.4f} over {d['n']} seeds"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    run(main, get_args_parser())
