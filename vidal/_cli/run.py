"""``vidal run CONFIG.yaml``: a whole simulated active-learning experiment (resumable).

Under ``torchrun --nproc_per_node N -m vidal run CONFIG`` the N processes share each cycle
(see the README's "Several processes and machines"); rank 0 prints and writes.

With ``--selectors A B C`` the config runs once per selector (each into ``OUT/<name>``,
sharing the first cycle, the ``select.options`` each selector takes and, for detection, the
optical-flow cache in ``OUT/flows``), and ``OUT/learning_curve.png`` compares them, e.g.::

    vidal run tools/configs/detection_synthetic_road_quick.yaml \\
        --selectors tc entropy_det random_tr_det --out runs/road
"""

from __future__ import annotations

import argparse

from vidal._cli.common import add_device_args

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a simulated active-learning experiment from a YAML config (resumes if interrupted)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", help="experiment YAML (see tools/configs/ for examples)")
    p.add_argument("--out", help="output folder (default: the config's out, else runs/<name>)")
    p.add_argument(
        "--selectors",
        nargs="+",
        metavar="NAME",
        help="run the config once per selector into OUT/NAME and plot them together",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="override the config's seeds")
    p.add_argument("--cycles", type=int, help="override the number of cycles")
    add_device_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from vidal.config import load_config
    from vidal.distributed import init_world
    from vidal.errors import ConfigError
    from vidal.experiment import compare_selectors, results_table, run_experiment
    from vidal.select import get_selector

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
    world = init_world(cfg.device)
    if not args.selectors:
        results = run_experiment(cfg, progress=not args.no_progress, world=world)
        if not world.is_main:
            return 0
        print(results_table([results]))
        print(
            f"results: {cfg.out_dir() / 'results.json'}\nplot:    {cfg.out_dir() / 'learning_curve.png'}"
        )
        return 0
    if len(set(args.selectors)) != len(args.selectors):
        raise ConfigError(f"--selectors names a selector twice: {args.selectors}")
    out = cfg.out_dir()
    score = cfg.score
    if cfg.task == "detection" and not score.flow_cache:
        score = dataclasses.replace(score, flow_cache=str(out / "flows"))
    get_selector(cfg.select.selector, **cfg.select.options)  # a bad option fails before work
    configs = []
    for name in args.selectors:
        options = _options_taken(name, cfg.select.options)
        sub = dataclasses.replace(
            cfg,
            name=name,
            out=str(out / name),
            score=score,
            select=dataclasses.replace(cfg.select, selector=name, options=options),
        )
        get_selector(name, **options)  # a bad name fails before any work
        configs.append(sub)
    all_results = compare_selectors(configs, out, progress=not args.no_progress)
    if not world.is_main:
        return 0
    print(results_table(all_results))
    print(f"results: {out / 'results.json'}\nplot:    {out / 'learning_curve.png'}")
    return 0


def _options_taken(name: str, options: dict) -> dict:
    """The config's ``select.options`` that selector ``name`` takes (``--selectors`` runs
    selectors with different options side by side: ``window`` reaches every detection
    selector, ``fields`` only ``metadata_cycle``)."""
    import dataclasses

    from vidal.select import SELECTORS

    selector = SELECTORS.get(name)
    if selector is None or not dataclasses.is_dataclass(selector):
        return {}
    taken = {f.name for f in dataclasses.fields(selector)}
    return {k: v for k, v in options.items() if k in taken}
