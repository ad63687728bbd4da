"""Spatio-temporal action detection as an active-learning task.

:class:`ActionTask` drives the capsule action detector of Active Sparse Labeling (NeurIPS
2022) and CLAUS (CVPR 2023): trained on sparse frame labels, scored by MC-dropout pixel
uncertainty, evaluated by localization accuracy. :func:`build_action_task` makes one from an
:class:`~vidal.config.ExperimentConfig`; :func:`check_action_config` checks such a config's
action fields before any work starts.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidal._progress import progress_bar
from vidal.data.annotations import VideoDataset
from vidal.data.check import decoded_videos, undecodable
from vidal.data.prefetch import prefetch_videos
from vidal.data.store import FrameStore
from vidal.distributed import World
from vidal.errors import ConfigError, DecodeError, VidalError
from vidal.metrics.localization import LocalizationAccumulator
from vidal.models.action import (
    ActionDetectorConfig,
    ActionModel,
    action_checkpoint_meta,
    load_action_checkpoint,
    save_action_checkpoint,
)
from vidal.pool import LabelPool
from vidal.scoring.scorers import get_scorer
from vidal.scoring.stream import DatasetScores, loader_clips, score_dataset
from vidal.select.base import FrameScores, Selection
from vidal.train.action import (
    LOCALIZATION_LOSSES,
    ActionTrainConfig,
    clip_to_tensor,
    train_action_model,
    video_class,
)

__all__ = [
    "ActionTask",
    "ACTION_PRESETS",
    "build_action_task",
    "check_action_config",
    "predict_video",
    "clip_windows",
    "BASELINES",
    "baseline_metrics",
]

#: ``model.preset`` -> the detector's settings for ``num_classes``.
ACTION_PRESETS: dict[str, Callable[..., ActionDetectorConfig]] = {
    "mobilenet": ActionDetectorConfig.mobilenet,
    "small": ActionDetectorConfig.small,
    "full": ActionDetectorConfig.full,
}


def clip_windows(num_frames: int, clip_len: int) -> list[int]:
    """Starts of non-overlapping clips covering ``0 .. num_frames - 1``, the last one aligned
    to the end (it overlaps its neighbour when ``num_frames`` is not a multiple)."""
    if num_frames <= clip_len:
        return [0]
    starts = list(range(0, num_frames - clip_len + 1, clip_len))
    if starts[-1] + clip_len < num_frames:
        starts.append(num_frames - clip_len)
    return starts


@torch.no_grad()
def predict_video(
    model: ActionModel,
    frames: np.ndarray,
    *,
    clip_len: int,
    device: torch.device,
    batch_size: int = 8,
    label: int | None = None,
    with_features: bool = False,
) -> tuple[np.ndarray, ...]:
    """Foreground probabilities of a whole video, clip by clip, and its mean class scores.

    Args:
        model: the detector (run in eval mode: no dropout).
        frames (ndarray[T, H, W, 3]): uint8 RGB frames at the model's input size.
        clip_len: frames per clip.
        device: where the model runs.
        batch_size: clips per forward pass.
        label: the class whose poses the decoder sees in every clip; default each clip's
            predicted class (the papers' inference). Giving the true class measures
            localization apart from classification.
        with_features: also return each frame's latent feature and class scores, the mean
            of those of the clips that cover it.

    Returns:
        ``probs (ndarray[T, H, W])`` float32 and ``class_scores (ndarray[K])``, and with
        ``with_features`` ``features (ndarray[T, D])`` and ``frame_classes (ndarray[T, K])``
        float32.
    """
    model.eval().to(device)
    n = len(frames)
    starts = clip_windows(n, clip_len)
    probs = np.zeros((n, *frames.shape[1:3]), dtype=np.float32)
    counts = np.zeros(n, dtype=np.float32)
    class_scores = []
    features = np.zeros((n, model.detector.feature_dim), dtype=np.float32)
    frame_classes = np.zeros((n, model.config.num_classes), dtype=np.float32)
    for b in range(0, len(starts), batch_size):
        chunk = starts[b : b + batch_size]
        idx = [np.arange(s, s + clip_len).clip(max=n - 1) for s in chunk]
        clips = torch.stack([clip_to_tensor(frames[i]) for i in idx]).to(device)
        labels = None if label is None else torch.full((len(chunk),), label, device=device)
        out = model.detector(clips, labels=labels)
        p = torch.sigmoid(out.logits).float().cpu().numpy()  # [B, L, H, W]
        f = out.features.float().cpu().numpy()  # [B, D]
        c = out.class_scores.float().cpu().numpy()  # [B, K]
        for i, pi, fi, ci in zip(idx, p, f, c, strict=True):
            np.add.at(probs, i, pi)
            np.add.at(counts, i, 1.0)
            np.add.at(features, i, fi)
            np.add.at(frame_classes, i, ci)
        class_scores.append(c)
    probs /= np.maximum(counts, 1)[:, None, None]
    class_mean = np.concatenate(class_scores).mean(axis=0)
    if with_features:
        per = np.maximum(counts, 1)[:, None]
        return probs, class_mean, features / per, frame_classes / per
    return probs, class_mean


class ActionTask:
    """Spatio-temporal action detection with the capsule detector.

    Args:
        train_set: videos to select from and train on (ground truth read only where labeled).
        test_set: videos to evaluate on.
        model_config: the detector's settings (``num_classes`` must match the dataset).
        train_config: training settings (loss, steps, clip size).
        scorer: per-frame scorer name (``uncertainty``, ``entropy``, ``bald``), or
            ``dispersion``: label dispersion (Zolfaghari Bengar, thesis ch. 3), recorded while
            training at ``dispersion_points`` steps over ``dispersion_videos`` of the videos
            with an unlabeled frame; scoring then runs no MC-dropout passes.
        scorer_options: options of the scorer (e.g. ``tau`` of non-activity suppression).
        passes: MC-dropout passes R.
        score_stride: frames between scoring clips (overlapping clips are averaged).
        device: where everything runs.
        i3d_weights: local pytorch-i3d checkpoint to initialise the encoder with.
        weights: a vidal action checkpoint to start from (fine-tuning) instead of a new model.
        taus: localization thresholds to report.
        progress: show progress bars.
        world: the processes sharing the work (:mod:`vidal.distributed`): training is
            data-parallel, scoring and evaluation are sharded by video; one process by
            default.
        score_workers: processes decoding videos ahead of the model while scoring (0:
            decode in this process).
    """

    def __init__(
        self,
        train_set: VideoDataset,
        test_set: VideoDataset,
        *,
        model_config: ActionDetectorConfig,
        train_config: ActionTrainConfig = ActionTrainConfig(),
        scorer: str = "uncertainty",
        scorer_options: dict | None = None,
        passes: int = 8,
        score_stride: int = 4,
        dispersion_points: int = 5,
        dispersion_videos: float = 0.25,
        device: torch.device | str = "cpu",
        i3d_weights: str | None = None,
        weights: str | None = None,
        taus: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5),
        progress: bool = True,
        world: World | None = None,
        score_workers: int = 0,
    ) -> None:
        self.train_set, self.test_set = train_set, test_set
        self.model_config = model_config
        self.train_config = train_config
        self.scorer_name = scorer
        self.scorer = (
            None if scorer == "dispersion" else get_scorer(scorer, **(scorer_options or {}))
        )
        self.dispersion_points, self.dispersion_videos = dispersion_points, dispersion_videos
        self.passes, self.score_stride = passes, score_stride
        self.device = torch.device(device)
        self.world = world if world is not None else World(device=self.device)
        self.score_workers = score_workers
        self.i3d_weights, self.weights = i3d_weights, weights
        self.taus = taus
        self.progress = progress and self.world.is_main
        self.primary_metric = "frame_loc@0.5" if 0.5 in taus else f"frame_loc@{taus[-1]}"
        self.train_store = FrameStore(train_set, size=train_config.size)
        self._centre_box: dict | None = None
        self.test_store = FrameStore(test_set, size=train_config.size)

    # ------------------------------------------------------------------ models
    def build_model(self, *, seed: int) -> ActionModel:
        """A new detector initialised from ``seed`` (and ``i3d_weights``), or ``weights``."""
        if self.weights:
            return self.load_checkpoint(Path(self.weights))
        torch.manual_seed(seed)
        model = ActionModel(self.model_config)
        if self.i3d_weights:
            from vidal.models.i3d import InceptionI3d, load_i3d_weights

            encoder = model.detector.encoder
            if not isinstance(encoder, InceptionI3d):
                raise ConfigError(
                    f"model.i3d_weights={self.i3d_weights!r} needs the I3D encoder (model.preset "
                    f"small or full); this model's encoder is {self.model_config.encoder!r}"
                )
            load_i3d_weights(encoder, self.i3d_weights)
        return model.to(self.device)

    def save_checkpoint(
        self,
        model: ActionModel,
        path: Path,
        *,
        extra: dict | None = None,
        train_state: bool = False,
    ) -> None:
        """Write the model with what reads it back (class names, clip length, input size)."""
        meta = {
            "class_names": list(self.train_set.class_names),
            "clip_len": int(self.train_config.clip_len),
            "size": [int(v) for v in self.train_config.size],
            "loss": self.train_config.loss,
        }
        save_action_checkpoint(
            model, path, extra={**meta, **(extra or {})}, train_state=train_state
        )

    def load_checkpoint(self, path: Path) -> ActionModel:
        return load_action_checkpoint(path, num_classes=self.model_config.num_classes).to(
            self.device
        )

    # ------------------------------------------------------------------ cycle steps
    def train(
        self, model: ActionModel, pool: LabelPool, *, seed: int, resume: bool = False
    ) -> dict:
        """Train in place (``resume``: continue exactly from ``model.train_state``)."""
        self._skip_undecodable(pool)
        recorder = self._recorder(pool, seed) if self.scorer_name == "dispersion" else None
        stats = train_action_model(
            model,
            self.train_set,
            pool,
            self.train_store,
            self.train_config,
            device=self.device,
            seed=seed,
            progress=self.progress,
            resume=resume,
            world=self.world,
            callback=recorder,
        )
        if recorder is not None and recorder.history:
            model.recorded = {
                vid: torch.from_numpy(np.stack([p.frames[vid] for p in recorder.history]))
                for vid in recorder.history[0].frames
            }
        return stats

    def _recorder(self, pool: LabelPool, seed: int) -> Any:
        """A recorder of the predictions on a random ``dispersion_videos`` of the videos
        with an unlabeled frame (label dispersion, :mod:`vidal.scoring.dispersion`)."""
        from vidal.scoring.dispersion import ActionPredictor, DispersionRecorder

        todo = sorted(v for v in pool.video_ids if not pool.mask(v).all())
        rng = np.random.default_rng(seed)
        count = max(1, int(round(self.dispersion_videos * len(todo)))) if todo else 0
        chosen = sorted(rng.choice(todo, size=count, replace=False).tolist()) if todo else []

        def load(video_id: str) -> torch.Tensor:
            return clip_to_tensor(self.train_store.frames(video_id))

        predictor = ActionPredictor(
            load,
            {v: pool.num_frames[v] for v in chosen},
            clip_len=self.train_config.clip_len,
            device=self.device,
        )
        return DispersionRecorder(predictor, points=self.dispersion_points)

    def _skip_undecodable(self, pool: LabelPool) -> None:
        """Decode every labeled video once; a corrupt one is skipped with a warning naming it."""
        for vid in pool.videos_with_labels():
            try:
                self.train_store.frames(vid)
            except DecodeError as e:
                warnings.warn(f"skipping video {vid}: {e}", stacklevel=2)

    def unreadable(self, pool: LabelPool) -> dict[str, str]:
        """Videos with an unlabeled frame that cannot be decoded, and why (for score-free selectors)."""
        todo = [v for v in pool.video_ids if not pool.mask(v).all()]
        return undecodable(todo, self.train_store.frames)

    def score(self, model: ActionModel, pool: LabelPool, *, seed: int) -> FrameScores:
        """MC-dropout scores of every frame of the videos with an unlabeled frame.

        The dropout masks of a video come from ``(seed, video id)``, so its scores do not
        depend on the others: with several processes each scores its share of the videos
        (balanced by frame count) and rank 0 gets exactly the scores of one process; the
        other ranks return the scores of their own videos.

        Returns:
            :class:`FrameScores`: ``frames`` and ``features`` as :func:`score_dataset`,
            ``extra["frame_features"]`` and (with ground truth) ``extra["gt_error"]`` (see
            :meth:`_frame_extras`), ``centers`` of the clustering head once initialised.
        """
        if self.scorer_name == "dispersion":
            return self._dispersion_scores(model, pool)
        torch.manual_seed(seed)
        todo = {v: n for v, n in pool.num_frames.items() if not pool.mask(v).all()}
        mine = self.world.shard(list(todo), list(todo.values()))
        scores = self._score_videos(model, {v: todo[v] for v in mine}, seed, pool)
        if model.clusters_initialised:
            scores.centers = model.clustering.centers.detach().cpu().numpy().astype(np.float64)
        parts = self.world.gather(scores)
        if self.world.distributed and parts is not None:
            scores = FrameScores.merged(parts, list(todo))
        return self._with_metadata(scores)

    def _with_metadata(self, scores: FrameScores) -> FrameScores:
        """``scores`` with the scored videos' metadata codes (``extra["meta:<field>"]``,
        for metadata cycling)."""
        from vidal.select.metadata import attach_metadata

        ids = [v for v in scores.frames if v in self.train_set]
        return attach_metadata(scores, self.train_set.subset(ids)) if ids else scores

    def _dispersion_scores(self, model: ActionModel, pool: LabelPool) -> FrameScores:
        """Label dispersion of the predictions recorded in the last training (Eq. 3.1) as the
        frame scores; the videos not recorded sit out (``skipped``); per-video features are
        the mean of the frames' latent features (for CLAUS)."""
        from vidal.scoring.dispersion import label_dispersion

        if not model.recorded:
            raise VidalError(
                "the dispersion scorer needs the predictions recorded while training this "
                "cycle's model; train it with this task (its checkpoint keeps them)"
            )
        scores = FrameScores()
        for vid, labels in model.recorded.items():
            scores.frames[vid] = label_dispersion(labels.numpy())
        for vid in pool.video_ids:
            if vid not in scores.frames and not pool.mask(vid).all():
                scores.skipped[vid] = "not among the videos whose label dispersion was recorded"
        extras = self._new_extras()
        for vid in sorted(scores.frames):
            self._frame_extras(model, vid, self.train_store.frames(vid), extras, pool.mask(vid))
        scores.extra = {"dispersion": dict(scores.frames), **extras}
        scores.features = {v: f.mean(axis=0) for v, f in extras["frame_features"].items()}
        return self._with_metadata(scores)

    def _new_extras(self) -> dict[str, dict[str, np.ndarray]]:
        """Empty per-frame extras: features, class probabilities, labels, the true error."""
        names = ["frame_features", "probs", "labels"]
        if any(v.tubes for v in self.train_set):
            names.append("gt_error")
        return {name: {} for name in names}

    def _score_videos(
        self, model: ActionModel, todo: dict[str, int], seed: int, pool: LabelPool
    ) -> FrameScores:
        """Scores of the videos ``todo`` (id -> frames), decoded ahead in worker processes."""
        extras = self._new_extras()
        decoded = prefetch_videos(list(todo), self._score_reader(), workers=self.score_workers)

        def videos() -> Any:
            for vid, frames, error in decoded:
                if frames is not None:
                    self._frame_extras(model, vid, frames, extras, pool.mask(vid))
                load = _loaded(frames, error)
                yield from loader_clips(
                    {vid: todo[vid]}, load, clip_len=self.train_config.clip_len,
                    stride=self.score_stride,
                )  # fmt: skip

        scores: DatasetScores = score_dataset(
            model.detector,  # type: ignore[arg-type]
            _Sized(videos(), len(todo)),
            passes=self.passes,
            scorer=self.scorer,
            device=self.device,
            batch_size=8,
            progress=self.progress,
            seed=seed,
        )
        scores.extra = {
            name: {v: a for v, a in per_video.items() if v in scores.frames}
            for name, per_video in extras.items()
        }
        return scores

    def _score_reader(self) -> Callable[[str], np.ndarray]:
        """What decodes a video for scoring: the task's cache in this process, a store that
        keeps one video in each worker process."""
        if self.score_workers == 0:
            return self.train_store.frames
        return FrameStore(self.train_set, size=self.train_config.size, max_bytes=0).frames

    def _frame_extras(
        self,
        model: ActionModel,
        video_id: str,
        frames: np.ndarray,
        extras: dict[str, dict[str, np.ndarray]],
        labeled: np.ndarray,
    ) -> None:
        """One deterministic pass more over a video's ``frames (ndarray[T, H, W, 3])``, for
        the selectors beyond uncertainty:

        - ``extras["frame_features"]`` ``[T, D]``: each frame's latent feature (k-center,
          typicality, class-balanced k-center);
        - ``extras["probs"]`` ``[T, K]``: each frame's class probabilities (the class capsules'
          activations normalised to sum 1; class-balanced selection) and ``extras["labels"]``
          ``[T]``: the class of each frame of ``labeled (ndarray[T] bool)``, -1 elsewhere;
        - ``extras["gt_error"]`` ``[T]`` where the dataset has ground truth: the model's true
          error ``1 - IoU`` (the oracle selectors; a simulated campaign knows the truth).
        """
        from vidal.metrics.localization import frame_ious

        probs, _, feats, classes = predict_video(
            model, frames, clip_len=self.train_config.clip_len, device=self.device,
            with_features=True,
        )  # fmt: skip
        extras["frame_features"][video_id] = feats.astype(np.float64)
        total = classes.sum(axis=1, keepdims=True)
        uniform = np.full_like(classes, 1.0 / classes.shape[1])
        extras["probs"][video_id] = np.where(total > 0, classes / np.maximum(total, 1e-12), uniform)
        known = video_class(self.train_set[video_id])
        extras["labels"][video_id] = np.where(labeled, known, -1).astype(np.float64)
        if "gt_error" in extras:
            extras["gt_error"][video_id] = 1.0 - frame_ious(probs, self.train_set[video_id])

    def lookahead(
        self, model: ActionModel, pool: LabelPool, *, seed: int, steps: int = 30
    ) -> Callable[[Selection], float]:
        """What a candidate selection would give: ``gain(selection) -> float``.

        ``gain`` copies the model, labels the selection in a copy of the pool (the truth is
        known in a simulated campaign), fine-tunes the copy for ``steps`` steps and returns
        its test :attr:`primary_metric`. It sees the test set, so the batch it prefers is an
        optimistic upper bound (the ceiling of :class:`vidal.select.ceiling.CeilingSelector`),
        never a method. Each call costs ``steps`` training steps and one evaluation.
        """
        config = dataclasses.replace(self.train_config, steps=steps, initial_steps=None)

        def gain(selection: Selection) -> float:
            trial, trial_pool = copy.deepcopy(model), pool.copy()
            for vid in selection.videos:
                trial_pool.add_video_label(vid, self.train_set[vid].label)
            for vid, frames in selection.frames.items():
                trial_pool.add_frames(vid, frames)
            train_action_model(
                trial, self.train_set, trial_pool, self.train_store, config,
                device=self.device, seed=seed, progress=False,
            )  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                alone = World(device=self.device)  # rank 0 alone tries candidates
                value = self.evaluate(trial, world=alone).get(self.primary_metric)
            return float("nan") if value is None else float(value)

        return gain

    def evaluate(
        self,
        model: ActionModel,
        *,
        true_class: bool = False,
        protocol: str | None = None,
        world: World | None = None,
    ) -> dict:
        """Localization accuracy and classification accuracy on the test set.

        With several processes each evaluates its share of the test videos; rank 0 merges
        their accumulators in test-set order, so every rank returns exactly the numbers of
        one process.

        Args:
            model: the detector.
            true_class: decode every clip with the poses of the video's true class instead of
                the predicted one (localization apart from classification; the
                classification accuracy is still that of the predictions).
            protocol: also frame-mAP and video-mAP of the boxes of the model's maps, under this
                evaluation protocol (``"act"`` as ACT's published tables, ``"vidal"``; see
                :mod:`vidal.metrics.protocols`): keys ``protocol``, ``frame_map@0.5`` and
                ``video_map@<t>``.
            world: the processes to share the videos among (default the task's).
        """
        world = self.world if world is None else world
        ids = [v.video_id for v in self.test_set]
        mine = set(world.shard(ids, [v.num_frames for v in self.test_set]))
        videos = [v for v in self.test_set if v.video_id in mine]
        records = dict(self._evaluate_videos(model, videos, true_class, protocol))
        parts = world.gather(records)
        out = None if parts is None else self._reduce(parts, ids, protocol)
        return world.broadcast(out)

    def _evaluate_videos(
        self, model: ActionModel, videos: list, true_class: bool, protocol: str | None
    ) -> Iterator[tuple[str, dict]]:
        """``(video_id, record)`` of each decodable video: its own accumulator, whether its
        class was predicted right (``None`` without a class) and, with ``protocol``, its
        detections."""
        from vidal.metrics.detection_ap import detections_from_maps

        bar = progress_bar(videos, desc="evaluate", disable=not self.progress, leave=False)
        for video, frames in decoded_videos(bar, self.test_store.frames):
            label = video_class(video) if true_class else None
            probs, class_scores = predict_video(
                model,
                frames,
                clip_len=self.train_config.clip_len,
                device=self.device,
                label=None if label is None or label < 0 else label,
            )
            acc = self._accumulator()
            acc.update(probs, video)
            record: dict[str, Any] = {"acc": acc, "correct": None}
            if protocol is not None:
                record["detections"] = detections_from_maps(
                    probs, class_scores=class_scores, image_size=(video.width, video.height)
                )
            if video.label is not None:
                record["correct"] = bool(np.argmax(class_scores) == video.label)
            yield video.video_id, record

    def _accumulator(self) -> LocalizationAccumulator:
        return LocalizationAccumulator(
            self.model_config.num_classes, taus=self.taus, use_masks=False
        )

    def _reduce(self, parts: list[dict], ids: list[str], protocol: str | None) -> dict:
        """The metrics of the per-video records of every process, merged in test-set order."""
        records = {vid: rec for part in parts for vid, rec in part.items()}
        acc = self._accumulator()
        correct, total, detections = 0, 0, {}
        for vid in ids:
            if vid not in records:  # could not be decoded
                continue
            rec = records[vid]
            acc.merge(rec["acc"])
            if "detections" in rec:
                detections[vid] = rec["detections"]
            if rec["correct"] is not None:
                correct += int(rec["correct"])
                total += 1
        out = _metrics(acc.compute(), self.taus)
        out["classification_accuracy"] = correct / total if total else None
        if protocol is not None:
            out |= self._maps(detections, protocol)
        self._warn_below_baseline(out)
        return out

    def _maps(self, detections: dict, protocol: str) -> dict:
        """Frame-mAP and video-mAP of ``detections`` under ``protocol`` (decoded videos only)."""
        from vidal.metrics.evaluate import evaluate_action_detections

        videos = [v for v in self.test_set if v.video_id in detections]
        result = evaluate_action_detections(
            videos, detections, num_classes=self.model_config.num_classes, protocol=protocol
        )
        out: dict[str, Any] = {"protocol": result["protocol"]}
        out |= {f"frame_map@{t:g}": m for t, m in result["frame"]["frame_map"].items()}
        out |= {f"video_map@{t:g}": m for t, m in result["video"]["video_map"].items()}
        return out

    def _warn_below_baseline(self, metrics: dict) -> None:
        """Warn when the model localizes worse than a centred box (it has learned nothing)."""
        if self._centre_box is None:
            self._centre_box = baseline_metrics("centre-box", self.test_set, taus=self.taus)
        worse = [
            k
            for k in ("frame_loc@0.5", "mean_frame_iou")
            if k in metrics and (metrics[k] or 0.0) < (self._centre_box.get(k) or 0.0)
        ]
        if worse:
            shown = ", ".join(f"{k} {metrics[k]:.3f} < {self._centre_box[k]:.3f}" for k in worse)
            warnings.warn(
                f"the model is below the centre-box baseline ({shown}): it has not learned to "
                "localize yet (more steps or labels; see the README's defaults)",
                stacklevel=2,
            )


#: Baseline name -> prediction function in :mod:`vidal.metrics.localization`.
BASELINES: dict[str, str] = {
    "whole-frame": "whole_frame_prediction",
    "centre-box": "centre_box_prediction",
}


class _Sized:
    """An iterable of known length (for the progress bar of a lazy one)."""

    def __init__(self, items: Iterable, length: int) -> None:
        self.items, self.length = items, length

    def __iter__(self) -> Iterator:
        return iter(self.items)

    def __len__(self) -> int:
        return self.length


def _loaded(frames: np.ndarray | None, error: str | None) -> Callable[[str], torch.Tensor]:
    """``load_video`` of :func:`loader_clips` for frames decoded ahead (or their error)."""

    def load(video_id: str) -> torch.Tensor:
        if frames is None:
            raise DecodeError(str(error))
        return clip_to_tensor(frames)

    return load


def _metrics(result: dict, taus: tuple[float, ...]) -> dict[str, Any]:
    """:meth:`ActionTask.evaluate`'s keys from a :meth:`LocalizationAccumulator.compute`."""
    out: dict[str, Any] = {f"frame_loc@{t:g}": result["frame"][t] for t in taus}
    out |= {f"video_loc@{t:g}": result["video"][t] for t in taus}
    out["mean_frame_iou"] = result["mean_frame_iou"]
    return out


def baseline_metrics(
    name: str, dataset: VideoDataset, *, taus: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
) -> dict[str, Any]:
    """The metrics of a prediction that knows nothing, baseline ``name`` of :data:`BASELINES`.

    The whole frame, or a centred box of half the frame's width and height, on every frame;
    scored as filled boxes, as :meth:`ActionTask.evaluate` scores models. A baseline predicts
    no class, so its ``classification_accuracy`` is ``None``.
    """
    from vidal.metrics import localization

    predict = getattr(localization, BASELINES[name])
    result = localization.localization_accuracy(
        dataset, predict, num_classes=dataset.num_classes, taus=taus, use_masks=False
    )
    return {**_metrics(result, taus), "classification_accuracy": None}


def check_action_config(cfg: Any) -> None:
    """Check the action fields of an :class:`~vidal.config.ExperimentConfig` (no data read).

    Raises:
        ConfigError: an unknown preset, loss or scorer, or a clip size the network cannot take.
    """
    from vidal.scoring.scorers import SCORERS

    if cfg.model.preset_for("action") not in ACTION_PRESETS:
        raise ConfigError(
            f"model.preset={cfg.model.preset_for('action')!r} is not an action model preset; known: "
            f"{sorted(ACTION_PRESETS)}"
        )
    if cfg.train.loss not in LOCALIZATION_LOSSES:
        raise ConfigError(
            f"train.loss={cfg.train.loss!r} unknown; known losses: {sorted(LOCALIZATION_LOSSES)}"
        )
    if cfg.score.scorer not in SCORERS and cfg.score.scorer != "dispersion":
        raise ConfigError(
            f"score.scorer={cfg.score.scorer!r} unknown; known scorers: "
            f"{sorted([*SCORERS, 'dispersion'])}"
        )
    encoder = ACTION_PRESETS[cfg.model.preset_for("action")]().encoder
    if cfg.model.i3d_weights and encoder != "i3d":
        raise ConfigError(
            f"model.i3d_weights={cfg.model.i3d_weights!r} needs the I3D encoder (model.preset "
            f"small or full); preset {cfg.model.preset_for('action')!r} has {encoder!r}"
        )
    if cfg.model.clip_len % 4:
        raise ConfigError(f"model.clip_len={cfg.model.clip_len} must be a multiple of 4")
    size = cfg.model.size_for("action")
    if any(v % 16 for v in size):
        raise ConfigError(f"model.size={list(size)} must be multiples of 16 (height, width)")


def build_action_task(
    cfg: Any,
    train_set: VideoDataset,
    test_set: VideoDataset,
    *,
    device: torch.device | str,
    progress: bool,
    world: World | None = None,
) -> ActionTask:
    """The :class:`ActionTask` an :class:`~vidal.config.ExperimentConfig` describes."""
    check_action_config(cfg)
    model_config = dataclasses.replace(
        ACTION_PRESETS[cfg.model.preset_for("action")](num_classes=train_set.num_classes),
        capsule_dropout=cfg.model.dropout,
    )
    t = cfg.train
    train_config = ActionTrainConfig(
        loss=t.loss,
        steps=t.steps,
        batch_size=t.batch_size,
        lr=t.lr_for("action"),
        sigma=t.sigma,
        cls_weight=t.cls_weight,
        cluster_weight=t.cluster_weight,
        initial_steps=t.initial_steps,
        pos_weight=t.pos_weight_for("action"),
        clip_len=cfg.model.clip_len,
        size=cfg.model.size_for("action"),
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
        dispersion_points=cfg.score.dispersion_points,
        dispersion_videos=cfg.score.dispersion_videos,
        device=device,
        i3d_weights=cfg.model.i3d_weights,
        weights=None if cfg.model.weights is None else os.path.expanduser(cfg.model.weights),
        progress=progress,
        world=world,
        score_workers=cfg.score.workers,
    )


def action_config_from_checkpoint(cfg: Any, path: str | Path) -> Any:
    """``cfg`` with the model settings an action checkpoint was trained with (clip, size)."""
    meta = action_checkpoint_meta(path)
    model = cfg.model
    if "clip_len" in meta:
        model = dataclasses.replace(model, clip_len=int(meta["clip_len"]))
    if "size" in meta:
        model = dataclasses.replace(model, size=tuple(int(v) for v in meta["size"]))
    return dataclasses.replace(cfg, model=model)
