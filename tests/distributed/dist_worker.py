"""One rank of a distributed test (or the single process it is compared with).

Run by ``tests/distributed/test_distributed.py`` as ``python dist_worker.py MODE DATA OUT OPTIONS``
alone (one process, no launcher) or under ``python -m torch.distributed.run
--nproc_per_node 2`` (two gloo processes). Rank 0 writes what the test compares:

- ``score``: ``scores.npz`` (:meth:`Task.score` of a fixed model on a fixed pool),
  ``selection.json`` (the selector's choice from them) and ``metrics.json``
  (:meth:`Task.evaluate`);
- ``train``: ``initial.pt`` and ``weights.pt`` (the state dict before and after training as
  the task does), ``grads.pt`` (the gradient of the first step, by parameter name, averaged
  over the ranks) and ``train.json``;
- ``ghost`` (action, one process): ``grads.pt`` of the first step of the same global batch
  with the batch-norm statistics of each of ``ranks`` slices taken apart (what
  DistributedDataParallel on the CPU computes).

OPTIONS is a JSON object: ``task`` (``action`` or ``detection``), ``selector``, ``steps``,
``batch_size``, ``dropout`` (action: 0 turns every dropout off), ``every`` (label every
``every``-th frame), ``videos`` (train on these videos only), ``detector`` (options),
``score_workers``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from vidal.data import load_dataset
from vidal.distributed import init_world
from vidal.loop import save_scores
from vidal.pool import LabelPool
from vidal.select import get_selector
from vidal.tasks.action import ActionTask
from vidal.tasks.detection import DetectionTask


def make_task(options: dict, train, test, world, out: Path):
    if options["task"] == "detection":
        detector = dict(options["detector"])
        sizes = {k: detector.pop(k) for k in ("min_size", "max_size")}
        return DetectionTask(
            train, test, **sizes, detector_options=detector, steps=options["steps"],
            batch_size=options["batch_size"], lr=0.01, train_options={"hflip": 0.0},
            flow_cache=out / "flows", progress=False, world=world, weights=options.get("weights"),
            score_workers=options.get("score_workers", 0),
        )  # fmt: skip
    from vidal.models.action import ActionDetectorConfig
    from vidal.train.action import ActionTrainConfig

    drop = options.get("dropout")
    config = ActionDetectorConfig.small(num_classes=train.num_classes)
    if drop is not None:
        import dataclasses

        config = dataclasses.replace(config, capsule_dropout=drop, decoder_dropout=drop)
    train_config = ActionTrainConfig(
        steps=options["steps"], batch_size=options["batch_size"], clip_len=8, size=(48, 64),
        cluster_weight=options.get("cluster_weight", 0.1),
    )  # fmt: skip
    return ActionTask(
        train, test, model_config=config, train_config=train_config, passes=2,
        score_stride=4, progress=False, world=world,
        score_workers=options.get("score_workers", 0),
    )  # fmt: skip


def make_pool(options: dict, dataset) -> LabelPool:
    pool = LabelPool.from_dataset(dataset)
    for vid, n in pool.num_frames.items():
        if not options.get("videos") or vid in options["videos"]:
            pool.add_frames(vid, range(0, n, options.get("every", 5)))
    return pool


def train_recording(task, model, pool, world) -> tuple[dict, dict]:
    """Train as the task does, keeping the gradient of the first step (averaged over the
    ranks by DistributedDataParallel) by parameter name."""
    grads: dict[str, torch.Tensor] = {}

    def first_step(step, total, m):
        if step == 1:
            for name, p in m.named_parameters():
                if p.grad is not None:
                    grads[name] = p.grad.detach().clone()

    if isinstance(task, ActionTask):
        from vidal.train.action import train_action_model

        stats = train_action_model(
            model, task.train_set, pool, task.train_store, task.train_config, seed=1,
            progress=False, world=world, callback=first_step,
        )  # fmt: skip
        return stats, grads
    from vidal.train.detection import train_detector

    losses = train_detector(
        model, task.train_set, pool, read_frames=task.train_frames, steps=task.steps,
        lr=task.lr, batch_size=task.batch_size, seed=1, progress=False, world=world,
        callback=first_step, hflip=0.5, keep_bn_stats=task.weights is not None,
    )  # fmt: skip
    return {"losses": losses}, grads


def ghost_gradient(task, model, pool, ranks: int) -> dict:
    """The first step's gradient of the global batch, each rank's slice run on its own
    (batch norm per slice), weighted by its share: one process doing what DDP does."""
    from vidal.distributed import World
    from vidal.train.action import LOCALIZATION_LOSSES, SparseClipSampler, _class_loss

    cfg = task.train_config
    model.train()
    sampler = SparseClipSampler(task.train_set, pool, task.train_store, clip_len=8, seed=1)
    clips = sampler.draw(cfg.batch_size)
    model.zero_grad()
    for r in range(ranks):
        start, stop = World(rank=r, size=ranks).slice(len(clips))
        batch = sampler.batch(clips[start:stop])
        out = model.detector(batch["clip"], labels=batch["label"].clamp(min=0))
        loss = LOCALIZATION_LOSSES[cfg.loss](
            out.logits, batch["target"], batch["labeled"], batch["distance"], cfg
        ) + cfg.cls_weight * _class_loss(out.class_scores, batch)
        (loss * (stop - start) / len(clips)).backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def main(mode: str, data: str, out: str, options: dict) -> None:
    torch.set_num_threads(1)
    world = init_world("cpu")
    out_dir = Path(out)
    ds = load_dataset("vidal", data)
    train, test = ds.split("train"), ds.split("test")
    task = make_task(options, train, test, world, out_dir)
    pool = make_pool(options, train)
    model = task.build_model(seed=0)
    if mode == "ghost":
        torch.save(ghost_gradient(task, model, pool, options["ranks"]), out_dir / "grads.pt")
        return
    if mode == "train":
        if world.is_main:
            torch.save(model.state_dict(), out_dir / "initial.pt")
        stats, grads = train_recording(task, model, pool, world)
        if world.is_main:
            torch.save(model.state_dict(), out_dir / "weights.pt")
            torch.save(grads, out_dir / "grads.pt")
            (out_dir / "train.json").write_text(json.dumps(stats))
        return
    if options["task"] == "action":  # a model that has learned a little, the same everywhere
        torch.manual_seed(0)
        for p in model.parameters():
            p.data.add_(0.01 * torch.randn_like(p))
    scores = task.score(model, pool, seed=7)
    metrics = task.evaluate(model)
    if world.is_main:
        save_scores(out_dir / "scores.npz", scores)
        selector = get_selector(options["selector"])
        from vidal.pool import Budget

        selection = selector(scores, pool, Budget(frames=6), np.random.default_rng(3))
        (out_dir / "selection.json").write_text(json.dumps(selection.to_json()))
    (out_dir / f"metrics_rank{world.rank}.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
