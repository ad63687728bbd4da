"""Training the capsule action detector from sparse frame labels.

A clip sampler draws clips from the videos that have labeled frames, with per-frame label
masks and pseudo-labels (boxes interpolated between labeled frames, held constant outside
them; Rana & Rawat, NeurIPS 2022, Sec. 3.2). The localization loss is chosen by name
(``masking``, ``interpolation``, ``mgw``, ``stew``); classification uses the capsule margin
loss and, for CLAUS, the deep-clustering loss (CVPR 2023, Eq. 3) on the latent features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

import losses
from vidal._progress import progress_bar
from vidal.config import TASK_DEFAULTS, ModelConfig, TrainConfig
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.data.store import FrameStore
from vidal.distributed import World
from vidal.errors import ConfigError, VidalError
from vidal.models.action import ActionModel
from vidal.pool import LabelPool
from vidal.train.interrupt import TrainingInterrupted, stop_on_interrupt

__all__ = [
    "LOCALIZATION_LOSSES",
    "ActionTrainConfig",
    "SparseClipSampler",
    "clip_to_tensor",
    "train_action_model",
    "video_class",
]


def _masking(
    logits: Tensor, target: Tensor, labeled: Tensor, distance: Tensor, cfg: ActionTrainConfig
) -> Tensor:
    return losses.masking_loss(logits, target, labeled, pos_weight=cfg.pos_weight)


def _interpolation(
    logits: Tensor, target: Tensor, labeled: Tensor, distance: Tensor, cfg: ActionTrainConfig
) -> Tensor:
    return losses.interpolation_loss(logits, target, pos_weight=cfg.pos_weight)


def _mgw(
    logits: Tensor, target: Tensor, labeled: Tensor, distance: Tensor, cfg: ActionTrainConfig
) -> Tensor:
    return losses.mgw_loss(
        logits, target, labeled, sigma=cfg.sigma, pos_weight=cfg.pos_weight, distance=distance
    )


def _stew(
    logits: Tensor, target: Tensor, labeled: Tensor, distance: Tensor, cfg: ActionTrainConfig
) -> Tensor:
    return losses.stew_loss(
        logits,
        target,
        labeled,
        window=cfg.stew_window,
        sigma=cfg.sigma,
        pos_weight=cfg.pos_weight,
        distance=distance,
    )


# loss name -> fn(logits [B,T,H,W], pseudo target [B,T,H,W], labeled [B,T],
#                 distance to the video's nearest labeled frame [B,T], config) -> scalar
LOCALIZATION_LOSSES: dict[str, Callable[..., Tensor]] = {
    "masking": _masking,
    "interpolation": _interpolation,
    "mgw": _mgw,
    "stew": _stew,
}


@dataclass(frozen=True)
class ActionTrainConfig:
    """How to train the action detector on the labeled frames of a pool.

    The defaults are those of the experiment config (:class:`vidal.config.TrainConfig`,
    :class:`~vidal.config.ModelConfig` and :data:`~vidal.config.TASK_DEFAULTS`).

    Args:
        loss: localization loss, one of :data:`LOCALIZATION_LOSSES`.
        steps: optimisation steps.
        batch_size: clips per step.
        lr: Adam learning rate (5e-4 in the papers; 1e-3 learns faster in short CPU runs).
        sigma: MGW / STeW Gaussian width in frames (1.3).
        stew_window: STeW consistency half-window in frames.
        cls_weight: weight of the margin loss.
        cluster_weight: weight of the deep-clustering loss (0 disables it).
        clip_len: frames per clip (a multiple of 4).
        size: model input ``(height, width)`` (multiples of 16).
        initial_steps: steps when the model has not been trained yet (the first cycle,
            from scratch, usually needs more than the fine-tuning cycles); ``None``: ``steps``.
        pos_weight: weight of the foreground term of the BCE; actors cover a small share
            of the pixels, so a weight above 1 keeps a small model from predicting only
            background early in training (``None`` or 1: unweighted).
    """

    loss: str = TrainConfig.loss
    steps: int = TrainConfig.steps
    batch_size: int = TrainConfig.batch_size
    lr: float = TASK_DEFAULTS["action"]["lr"]
    sigma: float = TrainConfig.sigma
    stew_window: int = 2
    cls_weight: float = TrainConfig.cls_weight
    cluster_weight: float = TrainConfig.cluster_weight
    clip_len: int = ModelConfig.clip_len
    size: tuple[int, int] = TASK_DEFAULTS["action"]["size"]
    pos_weight: float | None = TASK_DEFAULTS["action"]["pos_weight"]
    initial_steps: int | None = TrainConfig.initial_steps

    def __post_init__(self) -> None:
        if self.loss not in LOCALIZATION_LOSSES:
            raise ConfigError(
                f"unknown loss {self.loss!r}; known losses: {sorted(LOCALIZATION_LOSSES)}"
            )
        if self.steps < 0 or self.batch_size < 1:
            raise ConfigError(
                f"steps={self.steps} must be >= 0 and batch_size={self.batch_size} >= 1"
            )


def clip_to_tensor(frames: np.ndarray) -> Tensor:
    """uint8 RGB ``ndarray[T, H, W, 3]`` -> float ``Tensor[3, T, H, W]`` in ``[-1, 1]``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float()
    return x / 127.5 - 1.0


def video_class(video: VideoAnnotation) -> int:
    """The video's class: its label, else its first tube's, else -1 (unknown)."""
    if video.label is not None:
        return int(video.label)
    return int(video.tubes[0].label) if video.tubes else -1


class SparseClipSampler:
    """Draws training clips with ground truth on labeled frames and pseudo-labels elsewhere.

    A clip is drawn by picking a labeled frame uniformly over all labeled frames of the pool,
    then a clip start uniformly among the windows that contain it, so every clip holds at
    least one real label.

    Per tube, boxes are interpolated between the labeled frames where the tube is present
    and held constant before the first and after the last of them, but never across a
    labeled frame where the tube is absent (the annotator said it is not there).

    Args:
        dataset: ground truth (read only on labeled frames).
        pool: which frames are labeled.
        store: decoded frames at the model's input size.
        clip_len: frames per clip.
        seed: seed of the sampler's generator.
        class_targets: video id -> float ``ndarray[K]`` class distribution (e.g. a crowd's
            soft label, :meth:`vidal.crowd.CrowdPool.soft_labels`); when given, batches
            carry ``soft [B, K]``: that distribution for these videos, the one-hot video
            class for the others (zeros when unknown), and ``label`` is its argmax.
    """

    def __init__(
        self,
        dataset: VideoDataset,
        pool: LabelPool,
        store: FrameStore,
        *,
        clip_len: int,
        seed: int,
        class_targets: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.dataset, self.pool, self.store, self.clip_len = dataset, pool, store, clip_len
        self.class_targets = {
            k: np.asarray(v, dtype=np.float32) for k, v in (class_targets or {}).items()
        }
        self.rng = np.random.default_rng(seed)
        self.videos = [v for v in pool.videos_with_labels() if v not in store.failed]
        if not self.videos:
            raise VidalError("no labeled frames to train on (the pool is empty)")
        counts = np.array([len(pool.labeled_frames(v)) for v in self.videos], dtype=np.float64)
        self.weights = counts / counts.sum()
        self._pseudo: dict[str, np.ndarray] = {}

    def pseudo_boxes(self, video_id: str) -> np.ndarray:
        """float32 ``ndarray[T, N, 4]`` pseudo boxes of the N tubes (NaN where undefined)."""
        if video_id in self._pseudo:
            return self._pseudo[video_id]
        video = self.dataset[video_id]
        labeled = self.pool.mask(video_id)
        n = video.num_frames
        out = np.full((n, len(video.tubes), 4), np.nan, dtype=np.float32)
        lab_idx = np.flatnonzero(labeled)
        for i, tube in enumerate(video.tubes):
            present = np.zeros(n, dtype=bool)
            present[tube.first_frame : tube.last_frame + 1] = True
            seen = labeled & present
            if not seen.any():
                continue
            boxes = np.full((n, 4), np.nan, dtype=np.float32)
            boxes[tube.frames] = tube.boxes
            full = losses.interpolate_boxes(torch.from_numpy(boxes), torch.from_numpy(seen)).numpy()
            absent = lab_idx[~present[lab_idx]]
            seen_idx = np.flatnonzero(seen)
            lo = absent[absent < seen_idx[0]].max() + 1 if (absent < seen_idx[0]).any() else 0
            hi = absent[absent > seen_idx[-1]].min() if (absent > seen_idx[-1]).any() else n
            out[lo:hi, i] = full[lo:hi]
        self._pseudo[video_id] = out
        return out

    def distance(self, video_id: str, frames: np.ndarray) -> np.ndarray:
        """float32 ``[L]`` frames from each of ``frames`` to the video's nearest labeled frame."""
        labeled = self.pool.labeled_frames(video_id)
        if len(labeled) == 0:
            return np.full(len(frames), np.inf, dtype=np.float32)
        gaps = np.abs(np.asarray(frames)[:, None] - labeled[None, :]).min(axis=1)
        return gaps.astype(np.float32)

    def targets(self, video_id: str, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pseudo-label maps ``float32 [L, h, w]`` and the labeled mask ``bool [L]`` of ``frames``."""
        video = self.dataset[video_id]
        h, w = self.store.size or (video.height, video.width)
        scale = np.array([w / video.width, h / video.height] * 2, dtype=np.float32)
        boxes = self.pseudo_boxes(video_id)[frames] * scale  # [L, N, 4]
        masks = losses.boxes_to_masks(torch.from_numpy(boxes), h, w)  # [L, N, h, w]; NaN -> empty
        return masks.any(dim=1).numpy().astype(np.float32), self.pool.mask(video_id)[frames].copy()

    def sample(self, batch_size: int) -> dict[str, Tensor]:
        """A batch of ``batch_size`` clips drawn now (:meth:`draw`, then :meth:`batch`)."""
        return self.batch(self.draw(batch_size))

    def draw(self, batch_size: int) -> list[tuple[str, np.ndarray]]:
        """Which clips the next batch holds: ``(video_id, frames (ndarray[L]))`` each.

        Only this draws from the generator, so processes that draw the same global batch
        can each build (:meth:`batch`) a slice of it.
        """
        out = []
        for _ in range(batch_size):
            vid = self.videos[self.rng.choice(len(self.videos), p=self.weights)]
            n = self.pool.num_frames[vid]
            t = int(self.rng.choice(self.pool.labeled_frames(vid)))
            length = min(self.clip_len, n)
            start = int(self.rng.integers(max(0, t - length + 1), min(t, n - length) + 1))
            # short videos repeat their last frame
            out.append((vid, np.arange(start, start + self.clip_len).clip(max=n - 1)))
        return out

    def batch(self, clips: list[tuple[str, np.ndarray]]) -> dict[str, Tensor]:
        """The tensors of ``clips`` (from :meth:`draw`): ``clip [B, 3, T, H, W]``,
        ``target [B, T, H, W]``, ``labeled [B, T]``, ``distance [B, T]`` (to the video's
        nearest labeled frame), ``label [B]`` and, with ``class_targets``, ``soft [B, K]``."""
        targets, labeled, distances, labels = [], [], [], []
        clip_tensors = []
        vids: list[str] = []
        for vid, frames in clips:
            vids.append(vid)
            target, lab = self.targets(vid, frames)
            clip_tensors.append(clip_to_tensor(self.store.get(vid, frames)))
            targets.append(torch.from_numpy(target))
            labeled.append(torch.from_numpy(lab))
            distances.append(torch.from_numpy(self.distance(vid, frames)))
            labels.append(video_class(self.dataset[vid]))
            if vid in self.class_targets:
                labels[-1] = int(np.argmax(self.class_targets[vid]))
        batch = {
            "clip": torch.stack(clip_tensors),
            "target": torch.stack(targets),
            "labeled": torch.stack(labeled),
            "distance": torch.stack(distances),
            "label": torch.tensor(labels, dtype=torch.long),
        }
        if self.class_targets:
            batch["soft"] = self._soft(batch["label"], vids)
        return batch

    def _soft(self, labels: Tensor, vids: list[str]) -> Tensor:
        """float ``[B, K]``: each clip's class distribution (one-hot, crowd's, or zeros)."""
        k = len(next(iter(self.class_targets.values())))
        known = labels >= 0
        soft = F.one_hot(torch.where(known, labels, 0), k).float() * known[:, None]
        for i, vid in enumerate(vids):
            if vid in self.class_targets:
                soft[i] = torch.from_numpy(self.class_targets[vid])
        return soft


def train_action_model(
    model: ActionModel,
    dataset: VideoDataset,
    pool: LabelPool,
    store: FrameStore,
    config: ActionTrainConfig,
    *,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
    resume: bool = False,
    callback: Callable[[int, int, ActionModel], None] | None = None,
    class_targets: Mapping[str, np.ndarray] | None = None,
    world: World | None = None,
) -> dict:
    """Train ``model`` in place on the labeled frames of ``pool``.

    Args:
        model: the detector (fine-tuned from whatever weights it has).
        dataset: ground truth, read only where ``pool`` says a frame is labeled.
        pool: the label pool.
        store: decoded frames at ``config.size``.
        config: the training settings.
        device: where to train.
        seed: seeds the clip sampler and torch.
        progress: show a tqdm bar.
        resume: continue from ``model.train_state`` (Adam moments, the sampler's and torch's
            random states) when it has one, so that training ``a`` steps then ``b`` more
            equals training ``a + b`` steps at once; otherwise start them fresh from ``seed``
            (fine-tuning in a new active-learning cycle).
        callback: called after every optimiser step as ``callback(step, steps, model)``,
            ``step`` counting from 1 to ``steps`` in this call, ``model`` in train mode; it
            must leave the model's mode and random states as it found them (e.g. a
            :class:`~vidal.scoring.dispersion.DispersionRecorder`).
        class_targets: video id -> float ``ndarray[K]`` class distribution to train the
            video-level classifier on (soft targets, e.g. crowd labels): the capsule margin
            loss becomes its expectation under that distribution
            (:func:`losses.soft_margin_loss`); other videos keep their one-hot class. One-hot
            targets train exactly as without them.
        world: the processes training together (:mod:`vidal.distributed`). Each draws the
            same global batch of ``config.batch_size`` clips and builds its slice of it
            (``B // W`` clips, one more on the first ``B % W`` ranks); the detector runs in
            DistributedDataParallel, each rank's loss weighted by its share of the batch
            times ``W``, so the averaged gradient is that of the global batch's mean loss
            (up to batch-norm statistics, computed per slice on the CPU). Clustering
            centres move with the features of the whole batch. One process by default.

    Returns:
        ``{"loss": final smoothed loss, "localization": ..., "classification": ..., "steps": n}``.
        ``n`` is ``config.initial_steps`` for a model never trained before, else ``config.steps``.
    """
    device = torch.device(device)
    world = world if world is not None else World(device=device)
    if world.size > config.batch_size:
        raise ConfigError(
            f"batch_size={config.batch_size} is the global batch of {world.size} processes: "
            f"it must be at least {world.size}"
        )
    torch.manual_seed(seed + world.rank)  # each rank its own dropout masks
    model.to(device).train()
    if class_targets is not None:
        _check_class_targets(class_targets, model.config.num_classes, pool)
    sampler = SparseClipSampler(
        dataset, pool, store, clip_len=config.clip_len, seed=seed, class_targets=class_targets
    )
    loc_loss = LOCALIZATION_LOSSES[config.loss]
    optimiser = torch.optim.Adam(model.detector.parameters(), lr=config.lr)
    if resume and model.train_state is not None:
        _restore_train_state(model.train_state, optimiser, sampler, device)
    use_clusters = config.cluster_weight > 0
    if use_clusters and not model.clusters_initialised:
        _init_clusters(model, sampler, device)
    smoothed: dict[str, float] = {}
    net = world.wrap(model.detector)
    step = _Step(model, net, sampler, optimiser, loc_loss, config, device, world)
    steps = config.steps
    if model.steps_trained == 0 and config.initial_steps is not None:
        steps = config.initial_steps
    bar = progress_bar(
        range(steps), desc=f"train ({config.loss})", disable=not progress, leave=False
    )
    with stop_on_interrupt() as stop:
        for done in bar:
            if stop.requested:
                _finish(model, optimiser, sampler, device)
                raise TrainingInterrupted(done, steps)
            step(smoothed)
            bar.set_postfix(loss=f"{smoothed['loss']:.4f}", refresh=False)
            model.steps_trained += 1
            if callback is not None:
                callback(done + 1, steps, model)
    _finish(model, optimiser, sampler, device)
    return {**{k: round(v, 5) for k, v in smoothed.items()}, "steps": steps}


@dataclass
class _Step:
    """One optimisation step on a sampled batch (this rank's slice of it)."""

    model: ActionModel
    net: torch.nn.Module  # model.detector, or it wrapped in DistributedDataParallel
    sampler: SparseClipSampler
    optimiser: torch.optim.Optimizer
    loc_loss: Callable[..., Tensor]
    config: ActionTrainConfig
    device: torch.device
    world: World

    def __call__(self, smoothed: dict[str, float]) -> None:
        """Run the step; updates the smoothed losses (of the global batch) in place."""
        config, world = self.config, self.world
        clips = self.sampler.draw(config.batch_size)
        start, stop = world.slice(len(clips))
        share = (stop - start) / len(clips)  # this rank's part of the global batch
        batch = {k: v.to(self.device) for k, v in self.sampler.batch(clips[start:stop]).items()}
        known = batch["label"] >= 0
        out = self.net(batch["clip"], labels=torch.where(known, batch["label"], 0))
        loss_loc = self.loc_loss(
            out.logits, batch["target"], batch["labeled"], batch["distance"], config
        )
        loss_cls = _class_loss(out.class_scores, batch)
        loss = loss_loc + config.cls_weight * loss_cls
        use_clusters = config.cluster_weight > 0
        if use_clusters:
            loss = loss + config.cluster_weight * self.model.clustering(out.features)
        if not torch.isfinite(loss):
            raise VidalError(
                f"training diverged: loss is {loss.item()} (try a lower lr than {config.lr})"
            )
        self.optimiser.zero_grad(set_to_none=True)
        (loss * (share * world.size)).backward()  # DDP averages over the ranks
        self.optimiser.step()
        if use_clusters:
            with torch.no_grad():
                self.model.clustering.update_centers(world.gather_rows(out.features.detach()))
        values = world.sum([share * float(v.detach()) for v in (loss, loss_loc, loss_cls)])
        for name, v in zip(("loss", "localization", "classification"), values, strict=True):
            smoothed[name] = v if name not in smoothed else 0.9 * smoothed[name] + 0.1 * v


def _finish(
    model: ActionModel,
    optimiser: torch.optim.Optimizer,
    sampler: SparseClipSampler,
    device: torch.device,
) -> None:
    """Record the state that continues training exactly (see ``resume``), then eval mode."""
    model.train_state = {
        "optimizer": optimiser.state_dict(),
        "sampler_rng": sampler.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
    model.eval()


def _class_loss(class_scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Margin loss of ``class_scores [B, K]`` on the clips whose class is known (soft or hard)."""
    if "soft" in batch:
        known = batch["soft"].sum(dim=1) > 0
        if known.any():
            return losses.soft_margin_loss(class_scores[known], batch["soft"][known])
    else:
        known = batch["label"] >= 0
        if known.any():
            return losses.margin_loss(class_scores[known], batch["label"][known])
    return class_scores.sum() * 0


def _check_class_targets(targets: Mapping[str, np.ndarray], k: int, pool: LabelPool) -> None:
    """Raise :class:`VidalError` unless every target is a distribution ``[K]`` of a pool video."""
    for vid, q in targets.items():
        if vid not in pool.num_frames:
            raise VidalError(f"class_targets: video {vid!r} is not in the pool")
        q = np.asarray(q, dtype=np.float64)
        if q.shape != (k,) or not np.isfinite(q).all() or (q < 0).any() or abs(q.sum() - 1) > 1e-4:
            raise VidalError(
                f"class_targets[{vid!r}] must be {k} class probabilities summing to 1, got {q.tolist()}"
            )


def _restore_train_state(
    state: dict, optimiser: torch.optim.Optimizer, sampler: SparseClipSampler, device: torch.device
) -> None:
    optimiser.load_state_dict(state["optimizer"])
    for group in optimiser.param_groups:  # the lr is the caller's, not the checkpoint's
        group["lr"] = optimiser.defaults["lr"]
    sampler.rng.bit_generator.state = state["sampler_rng"]
    torch.set_rng_state(state["torch_rng"].cpu())
    if device.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), device)


@torch.no_grad()
def _init_clusters(model: ActionModel, sampler: SparseClipSampler, device: torch.device) -> None:
    """k-means initialisation of the cluster centers from labeled clips (CLAUS supplement)."""
    model.eval()
    feats = []
    for _ in range(max(1, 64 // 8)):
        batch = sampler.sample(8)
        feats.append(model.detector(batch["clip"].to(device)).features)
    features = torch.cat(feats)
    if len(features) >= model.clustering.num_clusters:
        model.clustering.init_kmeans(features, seed=int(sampler.rng.integers(1 << 31)))
        model.clusters_initialised = True
    model.train()
