"""Cycle-0 localization of candidate base models per CPU minute, on the demo's data and labels.

Each candidate is a set of model and training settings over the demo's (``vidal demo``: 40
synthetic action videos, 10% of the frames of 40% of the train videos labeled at random, the
MGW loss). For every candidate and seed the script draws the initial labels as the loop's
cycle 0 does (``initial_selection`` with the loop's generator for seed ``s``), builds and
trains the model, then evaluates on the test split with the predicted class (what the loop
reports) and with the true class (localization apart from classification), and optionally
times one MC-dropout scoring pass over the unlabeled pool (what every later cycle pays).
Frames are decoded before the clocks start, so the times are the model's. Run it with
``OMP_NUM_THREADS=1``: the seconds are then CPU seconds of one core.

Every run is one line of ``OUT/runs.jsonl`` (a rerun skips the lines already there); the
table prints the mean +- standard deviation over seeds and the centre-box baseline.

Issue 16 item 1 (and issue 13 item 7): which start gives the best cycle-0 localization.

Example:
    OMP_NUM_THREADS=1 python tools/base_model_study.py --out runs/base_study \\
        --candidates small_demo mobilenet --seeds 0 1 2 --score
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidal.config import (
    BudgetConfig,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    ScoreConfig,
    TrainConfig,
    from_dict,
    to_dict,
)
from vidal.experiment import load_experiment_data
from vidal.loop import initial_selection
from vidal.metrics.localization import centre_box_prediction, localization_accuracy
from vidal.oracle import SimulatedOracle
from vidal.pool import LabelPool
from vidal.tasks import build_task

#: the demo's settings (``vidal demo``, ``vidal/_cli/demo.py``), which every candidate overrides
DEMO = ExperimentConfig(
    name="base_study",
    task="action",
    data=DataConfig(format="synthetic", synth_videos=40, synth_dir="~/.cache/vidal/demo-synth"),
    model=ModelConfig(preset="small", clip_len=8, size=(48, 64)),
    train=TrainConfig(
        loss="mgw", steps=100, initial_steps=400, batch_size=4, lr=1e-3, pos_weight=3.0
    ),
    score=ScoreConfig(scorer="uncertainty", passes=4, stride=8),
    budget=BudgetConfig(initial=0.1, step=0.03, videos=0.16, initial_videos=0.4),
    device="cpu",
)

#: the mobilenet preset's settings when the study began
FIRST: dict[str, Any] = {
    "decoder_channels": 16,
    "frozen_blocks": 0,
    "primary_capsules": 16,
    "temporal_layers": 1,
    "encoder_blocks": 14,
}

#: candidate name -> overrides of :data:`DEMO` (``model``, ``train``: nested dicts of
#: ExperimentConfig fields) and of the preset's detector settings (``detector``:
#: ActionDetectorConfig fields)
CANDIDATES: dict[str, dict[str, Any]] = {
    # (c) today's small preset: the demo's settings, then the config defaults before issue 16
    "small_demo": {},
    "small_old_defaults": {
        "model": {"size": [64, 64]},
        "train": {
            "steps": 150,
            "initial_steps": None,
            "batch_size": 8,
            "lr": 5e-4,
            "pos_weight": None,
            "cluster_weight": 0.1,
        },
    },
    "small_1200": {"train": {"initial_steps": 1200}},
    "small_lr2e-3": {"train": {"lr": 2e-3}},
    "small_lr2e-3_1200": {"train": {"lr": 2e-3, "initial_steps": 1200}},
    "small_64x96": {"model": {"size": [64, 96]}},
    "small_96x128": {"model": {"size": [96, 128]}},
    "small_b8": {"train": {"batch_size": 8}},
    # (a) ImageNet MobileNetV2 per frame; "first" pins the settings the study began with
    # (decoder 16 channels, nothing frozen), whatever the preset's defaults are now
    "mobilenet": {"model": {"preset": "mobilenet"}, "detector": {**FIRST}},
    "mobilenet_random": {
        "model": {"preset": "mobilenet"},
        "detector": {**FIRST, "encoder_weights": None},
    },
    "mobilenet_frozen7": {
        "model": {"preset": "mobilenet"},
        "detector": {**FIRST, "frozen_blocks": 7},
    },
    "mobilenet_frozen14": {
        "model": {"preset": "mobilenet"},
        "detector": {**FIRST, "frozen_blocks": 14},
    },
    "mobilenet_200": {
        "model": {"preset": "mobilenet"},
        "train": {"initial_steps": 200},
        "detector": {**FIRST},
    },
    "mobilenet_96x128": {
        "model": {"preset": "mobilenet", "size": [96, 128]},
        "detector": {**FIRST},
    },
    "mobilenet_dec8": {
        "model": {"preset": "mobilenet"},
        "detector": {**FIRST, "decoder_channels": 8},
    },
    "mobilenet_dec8_frozen7": {
        "model": {"preset": "mobilenet"},
        "detector": {**FIRST, "decoder_channels": 8, "frozen_blocks": 7},
    },
    # (b) self-supervised pretraining of the small preset's encoder on the pool (SimSiam)
    "small_simsiam": {"ssl": {"steps": 600, "batch_size": 16, "lr": 0.05}},
    "mobilenet_dec8_frozen7_t3": {
        "model": {"preset": "mobilenet"},
        "detector": {**FIRST, "decoder_channels": 8, "frozen_blocks": 7, "temporal_layers": 3},
    },
    "mobilenet_dec8_frozen7_200": {
        "model": {"preset": "mobilenet"},
        "train": {"initial_steps": 200},
        "detector": {**FIRST, "decoder_channels": 8, "frozen_blocks": 7},
    },
}


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder of runs.jsonl")
    p.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--synth-dir", help="folder of the synthetic data (default: the demo's)")
    p.add_argument("--score", action="store_true", help="also time one scoring pass")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (default: 1)")
    p.add_argument("--table-only", action="store_true", help="print the table, run nothing")
    return p


def candidate_config(name: str, synth_dir: str | None) -> ExperimentConfig:
    """:data:`DEMO` with the ``model`` and ``train`` overrides of candidate ``name``."""
    base = json.loads(json.dumps(to_dict(DEMO)))
    for key, value in CANDIDATES[name].items():
        if key in ("detector", "ssl"):
            continue
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    if synth_dir:
        base["data"]["synth_dir"] = synth_dir
    return from_dict(ExperimentConfig, base, where=f"candidate {name}")


def _views(clips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random view of each clip ``[B, 3, T, H, W]``: a resized crop (the same in every
    frame) of 40-100% of the area, a horizontal flip, brightness and contrast jitter."""
    b, _, t, h, w = clips.shape
    out = torch.empty_like(clips)
    for i in range(b):
        r = torch.rand(6, generator=gen)
        area = 0.4 + 0.6 * float(r[0])
        ch, cw = max(8, int(h * area**0.5)), max(8, int(w * area**0.5))
        y, x = int(r[1] * (h - ch + 1)), int(r[2] * (w - cw + 1))
        crop = clips[i, :, :, y : y + ch, x : x + cw].transpose(0, 1)  # [T, 3, ch, cw]
        view = torch.nn.functional.interpolate(crop, size=(h, w), mode="bilinear")
        if r[3] < 0.5:
            view = view.flip(-1)
        view = (view - view.mean()) * (0.6 + 0.8 * float(r[4])) + view.mean()
        out[i] = (view + 0.4 * (float(r[5]) - 0.5)).clamp(-1, 1).transpose(0, 1)
    return out


def simsiam_encoder(
    task: Any, videos: list[str], *, steps: int, batch_size: int, lr: float, seed: int = 0
) -> tuple[dict[str, torch.Tensor], float]:
    """SimSiam (Chen & He, CVPR 2021; thesis ch. 5) on clips of the unlabeled ``videos``:
    the detector's encoder, globally pooled, a projector and a predictor, symmetric negative
    cosine with stop-gradient. Returns the encoder's state dict and the CPU seconds spent."""
    from torch import nn

    from vidal.train.action import clip_to_tensor

    t0 = time.thread_time()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder = task.build_model(seed=seed).detector.encoder.train()
    c = encoder.out_channels
    projector = nn.Sequential(
        nn.Linear(c, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 128), nn.BatchNorm1d(128)
    )
    predictor = nn.Sequential(nn.Linear(128, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 128))
    params = [*encoder.parameters(), *projector.parameters(), *predictor.parameters()]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    length = task.train_config.clip_len
    last = list(encoder.endpoint_channels)[-1]
    for _ in range(steps):
        clips = []
        for _ in range(batch_size):
            frames = task.train_store.frames(videos[int(rng.integers(len(videos)))])
            start = int(rng.integers(max(1, len(frames) - length + 1)))
            idx = np.arange(start, start + length).clip(max=len(frames) - 1)
            clips.append(clip_to_tensor(frames[idx]))
        x = torch.stack(clips)
        z1, z2 = (
            projector(encoder(_views(x, gen), endpoints=[last])[last].mean(dim=(2, 3, 4)))
            for _ in range(2)
        )
        p1, p2 = predictor(z1), predictor(z2)
        cos = nn.functional.cosine_similarity
        loss = -(cos(p1, z2.detach()).mean() + cos(p2, z1.detach()).mean()) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return encoder.state_dict(), time.thread_time() - t0


def _ssl_state(task: Any, train_set: Any, ssl: dict[str, Any], cache: Path) -> dict[str, Any]:
    """The SimSiam encoder for ``ssl``, trained once per dataset and cached in ``cache``."""
    key = "_".join(f"{k}{v}" for k, v in sorted(ssl.items()))
    path = cache / f"simsiam_{key}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    state, seconds = simsiam_encoder(task, list(train_set.video_ids), **ssl)
    saved = {"encoder": state, "cpu_s": seconds}
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    return saved


def run_one(
    cfg: ExperimentConfig,
    detector: dict[str, Any],
    seed: int,
    *,
    score: bool,
    ssl: dict[str, Any] | None = None,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Train cycle 0 of ``cfg`` (detector settings changed by ``detector``) for ``seed`` and
    evaluate it; times in seconds (``*_cpu_s``: CPU time of this process)."""
    train_set, test_set = load_experiment_data(cfg, progress=False)
    task = build_task(cfg, train_set, test_set, progress=False)
    task.model_config = dataclasses.replace(task.model_config, **detector)
    for v in train_set.video_ids:  # decode before the clocks start
        task.train_store.frames(v)
    for v in test_set.video_ids:
        task.test_store.frames(v)
    pool = LabelPool.from_dataset(train_set)
    b = cfg.budget
    rng = np.random.default_rng([seed, 0, 0])  # the loop's cycle-0 stream
    selection = initial_selection(pool, b.initial, rng, videos_fraction=b.initial_videos)
    SimulatedOracle(train_set).label(selection, pool)
    pretrained = _ssl_state(task, train_set, ssl, cache or Path(".")) if ssl else None
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    model = task.build_model(seed=seed)
    if pretrained is not None:
        model.detector.encoder.load_state_dict(pretrained["encoder"])
    stats = task.train(model, pool, seed=seed * 1000)
    row: dict[str, Any] = {
        "seed": seed,
        "labeled_frames": pool.num_labeled,
        "labeled_fraction": pool.fraction_labeled,
        "train_s": round(time.perf_counter() - t0, 2),
        "train_cpu_s": round(time.process_time() - c0, 2),
        "train_thread_s": round(time.thread_time() - m0, 2),
        "train": stats,
    }
    if pretrained is not None:
        row["pretrain_cpu_s"] = round(pretrained["cpu_s"], 2)
    t0, c0 = time.perf_counter(), time.process_time()
    row["own"] = task.evaluate(model)
    row["eval_s"] = round(time.perf_counter() - t0, 2)
    row["eval_cpu_s"] = round(time.process_time() - c0, 2)
    row["true"] = task.evaluate(model, true_class=True)
    if score:
        t0, c0 = time.perf_counter(), time.process_time()
        task.score(model, pool, seed=seed)
        row["score_s"] = round(time.perf_counter() - t0, 2)
        row["score_cpu_s"] = round(time.process_time() - c0, 2)
    return row


def centre_box(cfg: ExperimentConfig) -> dict[str, Any]:
    _, test_set = load_experiment_data(cfg, progress=False)
    r = localization_accuracy(
        test_set,
        centre_box_prediction,
        num_classes=test_set.num_classes,
        taus=(0.1, 0.5),
        use_masks=False,
    )
    return {"f@0.5": r["frame"][0.5], "f@0.1": r["frame"][0.1], "iou": r["mean_frame_iou"]}


def _ms(values: list[float]) -> str:
    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    return f"{np.nanmean(a):.3f} ± {np.nanstd(a, ddof=1) if len(a) > 1 else 0:.3f}"


def table(rows: list[dict], baseline: dict) -> str:
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    head = (
        f"{'candidate':<26} {'n':>2} {'CPU min':>7} {'pre min':>7} {'score s':>7}  {'f@0.5 own':>13}  "
        f"{'IoU own':>13}  {'f@0.5 true':>13}  {'IoU true':>13}  {'cls acc':>13}"
    )
    lines = [head]
    for name in names:
        rs = [r for r in rows if r["candidate"] == name]
        score = [r["score_cpu_s"] for r in rs if "score_cpu_s" in r]
        pre = [r["pretrain_cpu_s"] / 60 for r in rs if "pretrain_cpu_s" in r]
        lines.append(
            f"{name:<26} {len(rs):>2} {np.mean([r['train_thread_s'] for r in rs]) / 60:>7.2f} "
            f"{(f'{np.mean(pre):.2f}' if pre else '-'):>7} "
            f"{(f'{np.mean(score):.0f}' if score else '-'):>7}  "
            f"{_ms([r['own']['frame_loc@0.5'] for r in rs]):>13}  "
            f"{_ms([r['own']['mean_frame_iou'] for r in rs]):>13}  "
            f"{_ms([r['true']['frame_loc@0.5'] for r in rs]):>13}  "
            f"{_ms([r['true']['mean_frame_iou'] for r in rs]):>13}  "
            f"{_ms([r['own']['classification_accuracy'] for r in rs]):>13}"
        )
    lines.append(
        f"centre-box baseline: f@0.5 {baseline['f@0.5']:.3f}, f@0.1 {baseline['f@0.1']:.3f}, "
        f"mean IoU {baseline['iou']:.3f}"
    )
    return "\n".join(lines)


def _run(name: str, seed: int, synth_dir: str | None, score: bool, out: Path) -> dict[str, Any]:
    torch.set_num_threads(1)
    cfg = candidate_config(name, synth_dir)
    detector = CANDIDATES[name].get("detector", {})
    ssl = CANDIDATES[name].get("ssl")
    row = {
        "candidate": name,
        **run_one(cfg, detector, seed, score=score, ssl=ssl, cache=out / "ssl_cache"),
    }
    row["config"] = {"model": to_dict(cfg.model), "train": to_dict(cfg.train), "detector": detector}
    return row


def main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = {(r["candidate"], r["seed"]) for r in rows}
    todo = [
        (name, seed)
        for name in ([] if args.table_only else args.candidates)
        for seed in args.seeds
        if (name, seed) not in done
    ]
    # one fresh process per run: after a scoring pass, numba's worker thread keeps a core
    # busy in that process (measured), which would bill the next run's training
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(args.jobs, mp_context=spawn, max_tasks_per_child=1) as pool:
        futures = [pool.submit(_run, n, s, args.synth_dir, args.score, out) for n, s in todo]
        for future in as_completed(futures):
            row = future.result()
            print(
                f"{row['candidate']} seed {row['seed']}: {row['train_thread_s']:.0f} CPU s, "
                f"f@0.5 own {row['own']['frame_loc@0.5']:.3f} "
                f"true {row['true']['frame_loc@0.5']:.3f}",
                flush=True,
            )
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")
            rows.append(row)
    wanted = [r for r in rows if r["candidate"] in args.candidates]
    if wanted:
        print(table(wanted, centre_box(candidate_config(args.candidates[0], args.synth_dir))))


if __name__ == "__main__":
    main(get_args_parser().parse_args())
