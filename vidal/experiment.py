"""From an :class:`~vidal.config.ExperimentConfig` to results on disk: datasets, task, loop.

``run_experiment`` runs one loop per seed under ``out/seed_<s>/`` (each resumable), then
writes ``out/results.json`` (every cycle of every seed) and ``out/learning_curve.png``.
``report`` redraws tables and plots from saved results, for one run or several side by side.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidal._io import atomic_write, atomic_write_json
from vidal.config import ExperimentConfig, to_dict
from vidal.data.annotations import VideoDataset
from vidal.errors import ConfigError, VidalError
from vidal.loop import ActiveLoop, CycleBudget
from vidal.oracle import SimulatedOracle
from vidal.pool import LabelPool
from vidal.select import get_selector

__all__ = [
    "choose_device",
    "load_experiment_data",
    "name_splits_from_file",
    "build_task",
    "run_experiment",
    "share_first_cycle",
    "compare_selectors",
    "load_results",
    "merge_seeds",
    "results_table",
    "plot_learning_curves",
]


def choose_device(name: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ConfigError(f"unknown device {name!r}: {e}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for, but CUDA is not available on this machine")
    return device


def _synthetic(cfg: ExperimentConfig, *, progress: bool = True) -> Path:
    from vidal.data.synth import SynthConfig, make_dataset

    root = Path(os.path.expanduser(cfg.data.synth_dir))
    ann = root / "annotations.json"
    synth = SynthConfig(
        videos=cfg.data.synth_videos, seed=cfg.data.synth_seed, kind=cfg.data.synth_kind
    )
    stamp = root / "synth.json"
    if ann.exists() and stamp.exists():
        try:
            saved = json.loads(stamp.read_text()).get("config", {})
        except json.JSONDecodeError:
            saved = {}
        # every setting, so a dataset from an older generator (other defaults) is redrawn
        if saved == dataclasses.asdict(synth):
            return ann
    return make_dataset(root, synth, progress=progress)


def name_splits_from_file(dataset: VideoDataset, split_file: str | os.PathLike) -> None:
    """Give a dataset without ``train``/``test`` splits those two from its split file.

    A split file names one split (e.g. UCF-101-24's ``testlist01.txt``); the dataset's other
    videos form the other split. A file whose name contains "train" is the train split.
    """
    stem = Path(split_file).stem
    listed = dataset.splits.get(stem)
    if listed is None or ("train" in dataset.splits and "test" in dataset.splits):
        return
    chosen = set(listed)
    rest = [v for v in dataset.video_ids if v not in chosen]
    named, other = ("train", "test") if "train" in stem.lower() else ("test", "train")
    dataset.splits.setdefault(named, list(listed))
    dataset.splits.setdefault(other, rest)


def load_experiment_data(
    cfg: ExperimentConfig, *, progress: bool = True
) -> tuple[VideoDataset, VideoDataset]:
    """The train (pool) and test datasets an experiment describes."""
    from vidal.data import load_dataset

    d = cfg.data
    if d.format == "synthetic":
        ds = load_dataset("vidal", _synthetic(cfg, progress=progress))
    else:
        if d.annotations is None:
            raise ConfigError(f"data.annotations is required for format {d.format!r}")
        ds = load_dataset(d.format, d.annotations, videos=d.videos, split_file=d.split_file)
        if d.split_file is not None:
            name_splits_from_file(ds, d.split_file)
    if d.train_split in ds.splits and d.test_split in ds.splits:
        return ds.split(d.train_split), ds.split(d.test_split)
    raise ConfigError(
        f"the dataset has splits {sorted(ds.splits)}; data.train_split={d.train_split!r} and "
        f"data.test_split={d.test_split!r} must both be among them"
    )


def build_task(
    cfg: ExperimentConfig, train_set: VideoDataset, test_set: VideoDataset, *, progress: bool
) -> Any:
    """The :class:`~vidal.loop.Task` for ``cfg.task``."""
    device = choose_device(cfg.device)
    if cfg.task == "action":
        from vidal.models.action import ActionDetectorConfig
        from vidal.tasks import ActionTask
        from vidal.train.action import ActionTrainConfig

        presets = {"small": ActionDetectorConfig.small, "full": ActionDetectorConfig.full}
        if cfg.model.preset not in presets:
            raise ConfigError(
                f"unknown action model preset {cfg.model.preset!r}; known: {sorted(presets)}"
            )
        model_config = dataclasses.replace(
            presets[cfg.model.preset](num_classes=train_set.num_classes),
            capsule_dropout=cfg.model.dropout,
        )
        t = cfg.train
        train_config = ActionTrainConfig(
            loss=t.loss,
            steps=t.steps,
            batch_size=t.batch_size,
            lr=t.lr,
            sigma=t.sigma,
            cls_weight=t.cls_weight,
            cluster_weight=t.cluster_weight,
            initial_steps=t.initial_steps,
            pos_weight=t.pos_weight,
            clip_len=cfg.model.clip_len,
            size=tuple(cfg.model.size),
        )
        return ActionTask(
            train_set,
            test_set,
            model_config=model_config,
            train_config=train_config,
            scorer=cfg.score.scorer,
            scorer_options={"tau": cfg.score.tau} if cfg.score.scorer == "uncertainty" else {},
            passes=cfg.score.passes,
            score_stride=cfg.score.stride,
            device=device,
            i3d_weights=cfg.model.i3d_weights,
            progress=progress,
        )
    if cfg.task == "detection":
        from vidal.detection_task import build_detection_task

        return build_detection_task(cfg, train_set, test_set, device=device, progress=progress)
    raise ConfigError(f"unknown task {cfg.task!r}; known tasks: ['action', 'detection']")


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


def run_experiment(cfg: ExperimentConfig, *, progress: bool = True, log: Any = print) -> dict:
    """Run (or resume) every seed of ``cfg``; returns and writes the combined results."""
    out = cfg.out_dir()
    out.mkdir(parents=True, exist_ok=True)
    remember_config(out, cfg)
    selector = get_selector(cfg.select.selector, **cfg.select.options)
    train_set, test_set = load_experiment_data(cfg, progress=progress)
    task = build_task(cfg, train_set, test_set, progress=progress)
    b = cfg.budget
    budget = CycleBudget(
        initial=b.initial,
        step=b.step,
        videos=b.videos,
        unit=b.unit,
        initial_videos=b.initial_videos,
    )
    per_seed = {}
    for seed in cfg.seeds:
        log(
            f"[{cfg.name}] seed {seed}: {len(train_set)} videos to select from, {len(test_set)} to test on"
        )
        loop = ActiveLoop(
            task,
            selector,
            LabelPool.from_dataset(train_set),
            SimulatedOracle(train_set),
            out / f"seed_{seed}",
            budget=budget,
            cycles=cfg.cycles,
            seed=seed,
            log=lambda msg, s=seed: log(f"[{cfg.name}] seed {s}: {msg}"),
        )
        per_seed[str(seed)] = loop.run()
    results = {
        "name": cfg.name,
        "selector": cfg.select.selector,
        "loss": cfg.train.loss,
        "primary_metric": task.primary_metric,
        "seeds": per_seed,
    }
    atomic_write_json(out / "results.json", results)
    plot_learning_curves([results], out / "learning_curve.png")
    return results


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
    all_results = []
    for cfg in configs:
        if share_first_cycle(configs[0], cfg):
            log(f"[{cfg.name}] first cycle shared with [{configs[0].name}]")
        all_results.append(run_experiment(cfg, progress=progress, log=log))
    atomic_write_json(out / "results.json", {"runs": all_results})
    plot_learning_curves(all_results, out / "learning_curve.png")
    return all_results


def share_first_cycle(source: ExperimentConfig, target: ExperimentConfig) -> bool:
    """Reuse ``source``'s finished first cycle in ``target`` when it would compute the same.

    The first cycle (random initial labels, training from scratch, evaluation) does not
    depend on the selector, so experiments that differ only in their selector can share it:
    its pool, checkpoint and metrics are copied into ``target``'s seed folders, and
    ``target``'s loop resumes from them. Nothing is copied when any other setting differs or
    ``target`` already has a first cycle.

    Returns:
        True when something was copied.
    """
    import shutil

    def essence(cfg: ExperimentConfig) -> dict:
        d = to_dict(cfg)
        for key in ("name", "out", "select", "cycles"):
            d.pop(key)
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
            if seed in into["seeds"] and into["seeds"][seed] != cycles:
                raise ConfigError(
                    f"runs named {name!r} both hold seed {seed}, with different results"
                )
            into["seeds"][seed] = cycles
    return list(merged.values())


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
) -> Path:
    """Draw annotation % against ``metric`` for each run (mean ± std over seeds) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = metric or all_results[0]["primary_metric"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for r in all_results:
        xs, ys, sd = _curve(r, metric, x)
        ax.plot(
            xs,
            ys,
            marker="o",
            label=f"{r['name']} ({len(r['seeds'])} seed{'s' if len(r['seeds']) > 1 else ''})",
        )
        if len(r["seeds"]) > 1:
            ax.fill_between(xs, ys - sd, ys + sd, alpha=0.2)
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
