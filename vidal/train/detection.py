"""Training the frame detector on the labeled frames of a pool, and running it on frames.

Zolfaghari Bengar (PhD thesis, 2021), Sec. 2.5.1: every cycle fine-tunes the model of the
previous cycle (the caller passes it in) on all labeled frames, whole frames with all their
objects, so a labeled frame without objects is a negative example (torchvision takes empty
targets). The optimiser is the thesis' SGD with momentum 0.9; its schedule (learning rate
0.02 on SYNTHIA-AL, 0.001 on ImageNet-VID, divided by 5 at 50% and 70% of the 10 epochs,
batches of 12) is the default here, with the drops given as fractions of training so the
same setting serves a run counted in steps.

Class indexing: the dataset's classes ``0..K-1`` are the detector's labels ``1..K``
(0 is background); :func:`detect_frames` maps them back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as TF
from torchvision.tv_tensors import BoundingBoxFormat

from vidal._progress import progress_bar
from vidal.data.annotations import VideoDataset
from vidal.distributed import World
from vidal.errors import ConfigError, VidalError
from vidal.pool import LabelPool
from vidal.train.interrupt import TrainingInterrupted, stop_on_interrupt

__all__ = ["FrameReader", "LabeledFrames", "train_detector", "detect_frames", "detect_video"]

#: ``read_frames(video_id, frames) -> ndarray[N, H, W, 3]`` uint8 RGB frames, in the order asked.
FrameReader = Callable[[str, Sequence[int]], np.ndarray]


def _to_image(frame: np.ndarray) -> Tensor:
    """``ndarray[H, W, 3]`` uint8 -> float ``Tensor[3, H, W]`` in ``[0, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255.0)


def _check_frames(frames: np.ndarray, n: int, what: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] != n or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise VidalError(
            f"{what}: expected uint8 frames of shape [{n}, H, W, 3], got {frames.dtype} {frames.shape}"
        )
    return frames


class LabeledFrames(Dataset):
    """The labeled frames of a pool as ``(image, target)`` pairs for a torchvision detector.

    Args:
        dataset: the annotations.
        pool: which frames are labeled (in pool order, frames ascending).
        read_frames: reads frames, see :data:`FrameReader`.

    Items are ``image (Tensor[3, H, W])`` in ``[0, 1]`` and a target with
    ``boxes (Tensor[N, 4])`` float32 and ``labels (Tensor[N])`` int64 in ``1..K``; ``N`` may
    be 0. Boxes with no area are left out (torchvision rejects them).
    """

    def __init__(self, dataset: VideoDataset, pool: LabelPool, read_frames: FrameReader) -> None:
        self.dataset = dataset
        self.read_frames = read_frames
        self.items: list[tuple[str, int]] = [
            (vid, int(t)) for vid in pool.video_ids for t in pool.labeled_frames(vid)
        ]
        missing = sorted({vid for vid, _ in self.items if vid not in dataset})
        if missing:
            raise VidalError(
                f"{len(missing)} labeled videos are not in the dataset, e.g. {missing[:3]}"
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        vid, t = self.items[index]
        frame = _check_frames(self.read_frames(vid, [t]), 1, f"read_frames({vid!r}, [{t}])")[0]
        gt = self.dataset[vid].frame(t)
        boxes = np.asarray(gt.boxes, dtype=np.float32).reshape(-1, 4)
        has_area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        target = {
            "boxes": torch.from_numpy(boxes[has_area]),
            "labels": torch.from_numpy(np.asarray(gt.labels, dtype=np.int64)[has_area] + 1),
        }
        return _to_image(frame), target


def _collate(
    batch: list[tuple[Tensor, dict[str, Tensor]]],
) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


def _hflip(image: Tensor, target: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    size = (image.shape[-2], image.shape[-1])
    boxes = TF.horizontal_flip_bounding_boxes(
        target["boxes"], format=BoundingBoxFormat.XYXY, canvas_size=size
    )
    return TF.horizontal_flip_image(image), {**target, "boxes": boxes}


def _fork_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def train_detector(
    model: nn.Module,
    dataset: VideoDataset,
    pool: LabelPool,
    *,
    read_frames: FrameReader,
    epochs: int | None = None,
    steps: int | None = None,
    lr: float = 0.02,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    lr_drops: Sequence[float] = (0.5, 0.7),
    lr_gamma: float = 0.2,
    batch_size: int = 12,
    hflip: float = 0.5,
    device: torch.device | str = "cpu",
    seed: int = 0,
    num_workers: int = 0,
    keep_bn_stats: bool = False,
    progress: bool = True,
    callback: Callable[[int, int, nn.Module], None] | None = None,
    world: World | None = None,
) -> list[float]:
    """Fine-tune a torchvision detector on the labeled frames of ``pool`` (thesis Sec. 2.5.1).

    SGD with momentum over the parameters that require gradients; the learning rate is
    multiplied by ``lr_gamma`` after each fraction ``lr_drops`` of the training steps.
    Frames are shuffled and flipped horizontally with probability ``hflip``. Randomness
    (order, flips, the detector's proposal sampling) comes from ``seed`` alone; the caller's
    global torch random state is left as it was.

    Args:
        model: a detector from :func:`vidal.models.detector.build_detector` (or any
            torchvision detection model), trained in place and moved to ``device``.
        dataset: the annotations the labeled frames are read from.
        pool: the label state; all its labeled frames are used, empty ones as negatives.
        read_frames: reads frames, see :data:`FrameReader`.
        epochs: passes over the labeled frames (default 10, the thesis' SYNTHIA-AL setting).
        steps: optimiser steps instead of epochs (not both).
        lr: initial learning rate (thesis: 0.02 SYNTHIA-AL, 0.001 ImageNet-VID).
        momentum: SGD momentum (thesis: 0.9).
        weight_decay: L2 weight decay.
        lr_drops: fractions of the steps after which the learning rate drops (thesis:
            epochs 5 and 7 of 10 on SYNTHIA-AL; ``(0.5, 0.833)`` is its ImageNet-VID 3 and 5 of 6).
        lr_gamma: factor of each drop (thesis: 1/5).
        batch_size: frames per step (thesis: 12).
        hflip: probability of flipping a frame horizontally.
        device: where to train.
        seed: seeds shuffling, flips and the detector's sampling.
        num_workers: data-loading processes (``read_frames`` must then be picklable).
        keep_bn_stats: leave the running statistics of ordinary batch-norm layers as they
            are (momentum 0 while training, restored after): steps normalise with the
            batch's statistics, evaluation keeps those of the model's earlier training.
            Fine-tuning a detector trained from scratch on a few labeled frames otherwise
            replaces statistics gathered over many frames with those of a few.
        progress: show a tqdm bar.
        callback: called after every optimiser step as ``callback(step, total, model)``,
            ``step`` counting from 1 to ``total``, ``model`` in train mode; it must leave the
            model's mode and random states as it found them (e.g. a
            :class:`~vidal.scoring.dispersion.DispersionRecorder`; with ``points = epochs``
            it records at the end of every epoch, as the thesis does).
        world: the processes training together (:mod:`vidal.distributed`). ``batch_size``
            is the global batch: every rank draws the same order and flips, and takes its
            slice of each batch (``B // W`` frames, one more on the first ``B % W`` ranks;
            a rank left without a frame by a short last batch of an epoch runs one with
            weight 0, so that the gradients are still averaged). The detector runs in
            DistributedDataParallel, each rank's loss weighted by its share of the batch
            times ``W``. One process by default.

    Returns:
        The total loss of each step, ``list[float]`` of length ``steps``.

    Raises:
        VidalError: the pool has no labeled frame, or the loss is not finite.
        TrainingInterrupted: Ctrl-C; the model holds the weights after ``steps_done`` steps
            (the optimiser's momentum is not kept).
    """
    if epochs is not None and steps is not None:
        raise ConfigError("give epochs or steps, not both")
    if epochs is None and steps is None:
        epochs = 10
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    frames = LabeledFrames(dataset, pool, read_frames)
    if len(frames) == 0:
        raise VidalError("the pool has no labeled frames to train on")
    device = torch.device(device)
    world = world if world is not None else World(device=device)
    per_epoch = -(-len(frames) // batch_size)
    total = int(steps) if steps is not None else int(epochs) * per_epoch  # type: ignore[arg-type]
    plan = _plan(len(frames), batch_size, total, seed=seed, hflip=hflip, world=world)
    loader = DataLoader(
        frames,
        batch_sampler=[b.indices for b in plan],
        num_workers=num_workers,
        collate_fn=_collate,
    )

    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    milestones = sorted({max(1, round(f * total)) for f in lr_drops if 0 < f < 1})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=milestones, gamma=lr_gamma
    )
    net = world.wrap(model)
    losses: list[float] = []
    with (
        _bn_stats_kept(model, keep_bn_stats),
        torch.random.fork_rng(devices=_fork_devices(device)),
        stop_on_interrupt() as stop,
        progress_bar(total=total, desc="train detector", disable=not progress, leave=False) as bar,
    ):
        torch.manual_seed(seed + world.rank)  # each rank its own proposal sampling
        for step, (images, targets) in zip(plan, loader, strict=True):
            if stop.requested:  # Ctrl-C: stop at this step boundary
                model.eval()
                raise TrainingInterrupted(len(losses), total)
            loss = _detector_step(net, optimizer, images, targets, step, device, len(losses))
            scheduler.step()
            losses.append(world.sum([loss * step.weight / world.size])[0])
            if callback is not None:
                callback(len(losses), total, model)
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return losses


@dataclass(frozen=True)
class _Share:
    """This rank's part of one step's global batch.

    Attributes:
        indices: the dataset items it trains on (the batch's first when it has none).
        flips: whether each is flipped horizontally.
        weight: its share of the global batch times the world size (0 for a borrowed item).
    """

    indices: list[int]
    flips: list[bool]
    weight: float


def _plan(
    n: int, batch_size: int, total: int, *, seed: int, hflip: float, world: World
) -> list[_Share]:
    """The ``total`` steps of training: each epoch a permutation of the ``n`` items drawn
    from ``seed``, cut into batches; flips drawn from ``seed + 1`` item by item in that
    order; this rank's share of each batch (:meth:`World.slice`)."""
    order = torch.Generator().manual_seed(seed)
    flips = torch.Generator().manual_seed(seed + 1)
    plan: list[_Share] = []
    while len(plan) < total:
        perm = torch.randperm(n, generator=order).tolist()
        for s in range(0, n, batch_size):
            if len(plan) == total:
                break
            batch = perm[s : s + batch_size]
            flip = [hflip > 0 and torch.rand((), generator=flips).item() < hflip for _ in batch]
            lo, hi = world.slice(len(batch))
            if hi > lo:
                plan.append(_Share(batch[lo:hi], flip[lo:hi], (hi - lo) / len(batch) * world.size))
            else:
                plan.append(_Share(batch[:1], flip[:1], 0.0))
    return plan


def _detector_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: list[Tensor],
    targets: list[dict[str, Tensor]],
    share: _Share,
    device: torch.device,
    step: int,
) -> float:
    """One SGD step on this rank's frames; returns their (unweighted) total loss."""
    batch = []
    for image, target, flip in zip(images, targets, share.flips, strict=True):
        if flip:
            image, target = _hflip(image, target)
        batch.append((image.to(device), {k: v.to(device) for k, v in target.items()}))
    loss_dict = net([b[0] for b in batch], [b[1] for b in batch])
    loss = sum(loss_dict.values())
    if not torch.isfinite(loss):
        parts = {k: float(v.detach()) for k, v in loss_dict.items()}
        raise VidalError(f"loss is not finite at step {step}: {parts}; lower lr")
    optimizer.zero_grad(set_to_none=True)
    (loss * share.weight).backward()  # DDP averages over the ranks
    optimizer.step()
    return float(loss.item())


@contextlib.contextmanager
def _bn_stats_kept(model: nn.Module, keep: bool) -> Iterator[None]:
    """Within the block, batch-norm layers of ``model`` leave their running statistics as they are.

    Every layer that tracks running statistics gets momentum 0 (its update then adds nothing)
    and its own momentum back on leaving, also after an error. Nothing changes unless ``keep``.
    """
    layers = [
        m
        for m in model.modules()
        if keep and isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum


def _to_numpy(det: dict[str, Tensor]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {
        "boxes": det["boxes"].detach().cpu().numpy().astype(np.float32, copy=False),
        "labels": det["labels"].detach().cpu().numpy().astype(np.int64, copy=False) - 1,
        "scores": det["scores"].detach().cpu().numpy().astype(np.float32, copy=False),
    }
    if "probs" in det:
        out["probs"] = det["probs"].detach().cpu().numpy().astype(np.float32, copy=False)
    return out


@torch.inference_mode()
def detect_frames(
    model: nn.Module,
    frames: np.ndarray | Sequence[np.ndarray],
    *,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
) -> list[dict[str, np.ndarray]]:
    """Run the detector on frames, in batches.

    Args:
        model: a detector from :func:`vidal.models.detector.build_detector`; put in eval
            mode and moved to ``device``.
        frames: ``ndarray[N, H, W, 3]`` uint8 RGB frames, or a sequence of ``ndarray[H, W, 3]``.
        batch_size: frames per forward pass.
        device: where to run.

    Returns:
        One dict per frame: ``boxes (ndarray[N, 4])`` float32 pixels of the frame,
        ``labels (ndarray[N])`` int64 dataset classes ``0..K-1``, ``scores (ndarray[N])``
        float32 and ``probs (ndarray[N, K + 1])`` float32, column 0 background and column
        ``k + 1`` class ``k``, so ``probs[n, labels[n] + 1] == scores[n]``.

    Example:
        >>> from vidal.models.detector import build_detector
        >>> model = build_detector(2, backbone="mobilenet_v3_fpn", min_size=100, max_size=160)
        >>> dets = detect_frames(model, np.zeros((3, 60, 80, 3), np.uint8), batch_size=2)
        >>> len(dets), dets[0]["probs"].shape[1]
        (3, 3)
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    model.to(device).eval()
    out: list[dict[str, np.ndarray]] = []
    for start in range(0, len(frames), batch_size):
        chunk = frames[start : start + batch_size]
        images = []
        for i, frame in enumerate(chunk):
            frame = np.asarray(frame)
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise VidalError(
                    f"frames[{start + i}]: expected uint8 [H, W, 3], got {frame.dtype} {frame.shape}"
                )
            images.append(_to_image(frame).to(device))
        out.extend(_to_numpy(d) for d in model(images))
    return out


def detect_video(
    model: nn.Module,
    read_frames: FrameReader,
    video_id: str,
    frames: Sequence[int],
    *,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Run the detector on some frames of a video, reading ``batch_size`` frames at a time.

    Args:
        model: see :func:`detect_frames`.
        read_frames: reads frames, see :data:`FrameReader`.
        video_id: the video.
        frames: the frame indices, e.g. ``range(num_frames)`` or the unlabeled frames.
        batch_size: frames read and detected at once.
        device: where to run.
        progress: show a tqdm bar.

    Returns:
        One detection dict per entry of ``frames``, in order (see :func:`detect_frames`).
    """
    frames = [int(t) for t in frames]
    out: list[dict[str, Any]] = []
    for start in progress_bar(
        range(0, len(frames), batch_size),
        desc=f"detect {video_id}",
        disable=not progress,
        leave=False,
    ):
        ts = frames[start : start + batch_size]
        images = _check_frames(
            read_frames(video_id, ts), len(ts), f"read_frames({video_id!r}, ...)"
        )
        out.extend(detect_frames(model, images, batch_size=batch_size, device=device))
    return out
