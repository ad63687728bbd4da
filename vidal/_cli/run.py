"""``vidal run CONFIG.yaml``: a whole simulated active-learning experiment (resumable)."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a simulated active-learning experiment from a YAML config (resumes if interrupted)",
        description=__doc__,
    )
    p.add_argument("config", help="experiment YAML (see tools/configs/ for examples)")
    p.add_argument("--out", help="output folder (default: the config's out, else runs/<name>)")
    p.add_argument("--seeds", type=int, nargs="+", help="override the config's seeds")
    p.add_argument("--cycles", type=int, help="override the number of cycles")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vidal.config import load_config
    from vidal.experiment import results_table, run_experiment

    overrides: dict = {}
    if args.out:
        overrides["out"] = args.out
    if args.seeds:
        overrides["seeds"] = args.seeds
    if args.cycles:
        overrides["cycles"] = args.cycles
    if args.device:
        overrides["device"] = args.device
    cfg = load_config(args.config, overrides)
    results = run_experiment(cfg, progress=not args.no_progress)
    print(results_table([results]))
    print(f"results: {cfg.out_dir() / 'results.json'}\nplot:    {cfg.out_dir() / 'learning_curve.png'}")
    return 0
