"""Running an experiment: one resumable loop per seed, and selectors compared side by side.

``run_experiment`` runs one loop per seed under ``out/seed_<s>/`` (each resumable), then
writes ``out/results.json`` (every cycle of every seed) and ``out/learning_curve.png``.
Under ``torchrun`` every rank runs it (:mod:`vidal.distributed`): rank 0 prepares the data
and writes every file, the others share the work of each cycle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidal._io import atomic_write_json
from vidal.config import ExperimentConfig, to_dict
from vidal.distributed import World, init_world
from vidal.errors import VidalError
from vidal.experiment.data import load_experiment_data
from vidal.experiment.report import plot_learning_curves
from vidal.experiment.stats import summarize
from vidal.loop import ActiveLoop
from vidal.oracle import SimulatedOracle
from vidal.pool import LabelPool
from vidal.select import get_selector
from vidal.tasks import build_task, check_config

__all__ = ["remember_config", "run_experiment", "compare_selectors", "share_first_cycle"]


def remember_config(out: Path, cfg: ExperimentConfig) -> None:
    """Write ``out/config.json``, refusing a folder that holds another experiment.

    More (or fewer) ``cycles`` continue the same run; any other difference is an error that
    names the differing fields.
    """
    saved = out / "config.json"
    now = json.loads(json.dumps(to_dict(cfg)))
    if saved.exists():
        before = json.loads(saved.read_text())
        changed = sorted(
            k for k in before.keys() | now.keys() if k != "cycles" and before.get(k) != now.get(k)
        )
        if changed:
            raise VidalError(
                f"{out} holds a run with another config (differs in {changed}); use another "
                "output folder or delete it"
            )
    atomic_write_json(saved, now)


def run_experiment(
    cfg: ExperimentConfig, *, progress: bool = True, log: Any = print, world: World | None = None
) -> dict:
    """Run (or resume) every seed of ``cfg``; returns and writes the combined results.

    ``world``: the processes running it together (default: this launch's,
    :func:`vidal.distributed.init_world`; one process without a launcher).
    """
    check_config(cfg)  # every field, before any work
    world = init_world(cfg.device) if world is None else world
    progress = progress and world.is_main
    out = cfg.out_dir()
    with world.main_first():  # rank 0 checks the folder and draws synthetic data first
        out.mkdir(parents=True, exist_ok=True)
        if world.is_main:
            remember_config(out, cfg)
        selector = get_selector(cfg.select.selector, **cfg.select.options)
        train_set, test_set = load_experiment_data(cfg, progress=progress)
    task = build_task(cfg, train_set, test_set, progress=progress, world=world)
    per_seed = {}
    for seed in cfg.seeds:
        if world.is_main:
            log(
                f"[{cfg.name}] seed {seed}: {len(train_set)} videos to select from, "
                f"{len(test_set)} to test on"
            )
        loop = ActiveLoop(
            task,
            selector,
            LabelPool.from_dataset(train_set),
            SimulatedOracle(train_set),
            out / f"seed_{seed}",
            budget=cfg.budget,
            cycles=cfg.cycles,
            seed=seed,
            log=_prefixed(log, f"[{cfg.name}] seed {seed}: "),
            world=world,
        )
        per_seed[str(seed)] = loop.run()
    results = {
        "name": cfg.name,
        "selector": cfg.select.selector,
        "loss": cfg.train.loss,
        "primary_metric": task.primary_metric,
        "seeds": per_seed,
    }
    if world.is_main:
        atomic_write_json(out / "results.json", results)
        plot_learning_curves([results], out / "learning_curve.png")
    world.barrier()
    return results


def _prefixed(log: Any, prefix: str) -> Any:
    """``log`` with ``prefix`` before every line."""

    def write(msg: str) -> None:
        log(prefix + msg)

    return write


def compare_selectors(
    configs: Sequence[ExperimentConfig],
    out: str | os.PathLike,
    *,
    progress: bool = True,
    log: Any = print,
) -> list[dict]:
    """Run experiments that differ only in their selector; one table, JSON and PNG for all.

    The first config's first cycle is shared with the others (:func:`share_first_cycle`),
    so every selector starts from the same labels and model. Each run resumes on its own.
    Writes ``out/results.json`` (``{"runs": [...]}``) and ``out/learning_curve.png``.

    Returns:
        the results of each run, in order.
    """
    out = Path(out)
    world = init_world(configs[0].device)
    all_results = []
    for cfg in configs:
        if world.is_main and share_first_cycle(configs[0], cfg):
            log(f"[{cfg.name}] first cycle shared with [{configs[0].name}]")
        world.barrier()
        all_results.append(run_experiment(cfg, progress=progress, log=log, world=world))
    if world.is_main:
        statistics = summarize(all_results)
        atomic_write_json(out / "results.json", {"runs": all_results, "statistics": statistics})
        plot_learning_curves(all_results, out / "learning_curve.png")
    world.barrier()
    return all_results


def share_first_cycle(source: ExperimentConfig, target: ExperimentConfig) -> bool:
    """Reuse ``source``'s finished first cycle in ``target`` when it would compute the same.

    The first cycle (random initial labels, training from scratch, evaluation) does not
    depend on the selector, nor on the scorer (scores are first computed to select the
    second cycle's labels), so experiments that differ only in these can share it: its pool,
    checkpoint and metrics are copied into ``target``'s seed folders, and ``target``'s loop
    resumes from them. Label dispersion is the exception: it records predictions while the
    first cycle trains, so a run scored by it shares only with one scored the same. Nothing is
    copied when any other setting differs or ``target`` already has a first cycle.

    Returns:
        True when something was copied.
    """
    import shutil

    def essence(cfg: ExperimentConfig) -> dict:
        d = to_dict(cfg)
        for key in ("name", "out", "select", "cycles"):
            d.pop(key)
        if "dispersion" not in (source.score.scorer, target.score.scorer):
            d.pop("score")
        return d

    if essence(source) != essence(target):
        return False
    copied = False
    for seed in target.seeds:
        src = source.out_dir() / f"seed_{seed}" / "cycle_000"
        dst = target.out_dir() / f"seed_{seed}" / "cycle_000"
        names = ("pool.json", "checkpoint.pt", "metrics.json")
        if dst.exists() or not all((src / n).exists() for n in names):
            continue
        dst.mkdir(parents=True)
        for n in names:
            shutil.copy2(src / n, dst / n)
        copied = True
    return copied
