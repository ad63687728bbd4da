"""Object detection in video frames as an active-learning task (Zolfaghari Bengar, thesis ch. 2).

:class:`DetectionTask` drives a torchvision Faster R-CNN (:func:`vidal.models.detector.build_detector`)
through the cycles of :class:`vidal.loop.ActiveLoop` the way the thesis does (Sec. 2.5.1):

- **train**: fine-tune the previous cycle's model (the loop passes it in) on every labeled
  frame, whole frames with all their boxes (:func:`vidal.train.detection.train_detector`);
- **score**: run the detector on *every* frame of every video that still has an unlabeled
  frame, then compute, per frame,

  - the temporal-coherence (TC) estimates of false positives and negatives (Sec. 2.3.2):
    detections are tracked 3 frames each way with optical flow, linked, and the TP/FP/TN/FN
    graph is solved by max-flow (:func:`tracking.estimate_errors`). The flow of a video is
    computed once and kept in a :class:`tracking.FlowCache`, so later cycles (and seeds) only
    read it back; a pair whose file is missing is recomputed;
  - least confidence, entropy and margin of the detections (Sec. 2.5.2) and the oracle's
    ground-truth error counts (Sec. 2.3.1), :func:`vidal.scoring.detection.detection_frame_scores`;

  ``FrameScores.extra`` holds them under the names the selectors of
  :mod:`vidal.select.detection` read (``fp``, ``fn``, ``least_confidence``, ``entropy``,
  ``margin``, ``gt_fp``, ``gt_fn``); ``FrameScores.frames`` holds the TC false-positive
  counts, the thesis' TC criterion. Every score is computed whatever the selector, so the
  saved ``scores.npz`` of runs with different selectors compare directly;
- **evaluate**: VOC AP at ``IoU > 0.5`` per class on the test split after per-class NMS and
  a 0.5 score threshold, averaged over the classes with ground truth (primary metric ``map``).

Frames are read at the size the annotations give (``VideoAnnotation.width x height``, the
decoded size for every dataset reader), so boxes, detections and flow share one pixel grid;
the detector rescales internally (shorter side to ``min_size``, 300 px in the thesis).
Ground-truth boxes that leave the frame are clipped to it, and a box left without area is
dropped (for training and evaluation alike).

How :func:`build_detection_task` reads an :class:`~vidal.config.ExperimentConfig`:

==========================  =================================================================
field                       meaning for detection
==========================  =================================================================
``model.preset``            backbone: ``mobilenet_v3_fpn`` (CPU), ``resnet50_fpn`` (thesis),
                            ``mobilenet_v2`` / ``mobilenet_v2_fpn`` (ImageNet features
                            from ``model.backbone_weights``); the action presets
                            ``small``/``full`` stand for the first two
``model.size``              ``[min_size, max_size]``: frames are resized so the shorter side
                            is ``min_size`` (the thesis' 300 px height) unless the longer one
                            would exceed ``max_size``
``model.weights``           optional local detector/backbone/classifier state dict
                            (e.g. COCO Faster R-CNN weights, thesis Sec. 2.5.1)
``model.backbone_weights``  presets ``mobilenet_v2``/``mobilenet_v2_fpn``: ImageNet
                            MobileNetV2 feature weights from a local file
``model.options``           keyword arguments of :func:`build_detector` (e.g. ``anchor_sizes``)
                            over the defaults: :data:`LOW_RES_OPTIONS` for
                            ``mobilenet_v3_fpn`` at ``min_size <= 320``, torchvision's else
``train.initial_steps``     SGD steps of the first cycle, from scratch (default ``steps``)
``train.steps``             SGD steps per cycle (``train.epochs``, when set, wins: the
                            thesis trains 10 or 6 epochs)
``train.batch_size``        frames per step (thesis: 12)
``train.lr``                initial SGD learning rate (default 0.02, the thesis' SYNTHIA-AL
                            value; 0.001 for ImageNet-VID)
``train.workers``           data-loading processes
``score.scorer``            ``detection`` (or the default ``uncertainty``): all scores above
``select.options.window``   temporal representativeness ``k`` (1 SYNTHIA-AL, 3 ImageNet-VID)
``score.workers``           processes decoding videos ahead of the detector while scoring
``score.flow_cache``        the optical-flow cache folder, default ``<out>/flows`` (shared by
                            the seeds; runs over the same videos may share one)
==========================  =================================================================

The action-only fields (``model.clip_len``, ``dropout``, ``i3d_weights``; ``train.loss``,
``sigma``, ``cluster_weight``, ``cls_weight``; ``score.passes``, ``tau``, ``stride``) are
not used. The budget is counted in frames (``budget.unit: frames``), as in the thesis.

Example:
    >>> from vidal.config import load_config  # doctest: +SKIP
    >>> from vidal.experiment import run_experiment  # doctest: +SKIP
    >>> run_experiment(load_config("tools/configs/detection_synthetic_road.yaml"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidal._progress import progress_bar
from vidal.config import TASK_DEFAULTS, TrainConfig
from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.data.check import decoded_videos, undecodable
from vidal.data.prefetch import prefetch_videos
from vidal.data.store import FrameStore
from vidal.distributed import World
from vidal.errors import AnnotationError, ConfigError, DecodeError
from vidal.metrics.voc import DetectionAPAccumulator, postprocess_detections
from vidal.models.detector import BACKBONES
from vidal.models.detector_checkpoint import (
    STEPS_TRAINED,
    build_from_args,
    load_detector_checkpoint,
    own_checkpoint_state,
    save_detector_checkpoint,
)
from vidal.pool import LabelPool
from vidal.scoring.detection import detection_frame_scores
from vidal.select.base import FrameScores
from vidal.train.detection import detect_frames, train_detector
from vidal.train.interrupt import TrainingInterrupted

__all__ = [
    "DETECTION_PRESETS",
    "LOW_RES_OPTIONS",
    "DetectionTask",
    "build_detection_task",
    "check_detection_config",
    "detection_config_from_checkpoint",
]


#: ``model.preset`` -> detector backbone (the action presets map to the CPU and thesis sizes).
DETECTION_PRESETS: dict[str, str] = {
    "mobilenet_v3_fpn": "mobilenet_v3_fpn",
    "resnet50_fpn": "resnet50_fpn",
    "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v2_fpn": "mobilenet_v2_fpn",
    "small": "mobilenet_v3_fpn",
    "full": "resnet50_fpn",
}
#: The per-frame scores of :meth:`DetectionTask.score` (``FrameScores.extra`` names).
_SCORES = ("fp", "fn", "least_confidence", "entropy", "margin", "gt_fp", "gt_fn")
#: Detector settings for ``mobilenet_v3_fpn`` at ``min_size <= 320`` (a CPU run): test-time
#: proposals as torchvision's ``fasterrcnn_mobilenet_v3_large_320_fpn`` (150 before and after
#: NMS), fewer training proposals, and 128 sampled RoIs per image (the box head's matrix
#: products dominate a CPU step at torchvision's 512).
LOW_RES_OPTIONS: dict[str, int] = {
    "rpn_pre_nms_top_n_test": 150,
    "rpn_post_nms_top_n_test": 150,
    "rpn_pre_nms_top_n_train": 1000,
    "rpn_post_nms_top_n_train": 500,
    "box_batch_size_per_image": 128,
}


def _gt(video: VideoAnnotation, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth of frame ``t``: ``boxes (ndarray[M, 4])`` float32 with area, ``labels (ndarray[M])``."""
    gt = video.frame(t)
    boxes = np.asarray(gt.boxes, np.float32).reshape(-1, 4)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep], np.asarray(gt.labels, np.int64).reshape(-1)[keep]


class DetectionTask:
    """Frame-level object detection with Faster R-CNN, scored by temporal coherence.

    Implements :class:`vidal.loop.Task`; see the module docstring for what each step does.

    Args:
        train_set: videos to select from and train on (ground truth read only where labeled,
            and by the oracle scores ``gt_fp``/``gt_fn``).
        test_set: videos to evaluate on.
        backbone: ``"mobilenet_v3_fpn"`` or ``"resnet50_fpn"``.
        min_size: shorter image side after the detector's resize (thesis: 300).
        max_size: longest allowed longer side after the resize.
        weights: optional local state dict to start from (see
            :func:`vidal.models.detector.load_detector_weights`).
        backbone_weights: ``mobilenet_v2`` backbones: ImageNet MobileNetV2 feature weights
            from a local file (mapped by position, :mod:`vidal.models.mobilenet_v2`).
        detector_options: further keyword arguments of :func:`build_detector` (e.g.
            ``trainable_backbone_layers``, ``rpn_post_nms_top_n_test``).
        steps: SGD steps per cycle (not with ``epochs``).
        initial_steps: SGD steps for a model never trained by the task (the first cycle from
            scratch usually needs more than the fine-tuning cycles); ``None``: ``steps``.
        epochs: passes over the labeled frames per cycle (default 10 when ``steps`` is None).
        batch_size: frames per step.
        lr: initial learning rate.
        train_options: further keyword arguments of :func:`train_detector` (``lr_drops``,
            ``momentum``, ``hflip``, ...). ``keep_bn_stats`` defaults to true when ``weights``
            are given: a detector trained from scratch elsewhere (e.g. on every frame of
            other videos) keeps its batch-norm statistics while few labeled frames fine-tune
            it (frozen batch norm of pretrained weights is unaffected).
        workers: data-loading processes for training.
        flow_cache: folder of the optical-flow cache (created when needed).
        flow_method: ``"dis"``, ``"farneback"`` or a :class:`tracking.FlowMethod`.
        flow_scale: compute the flow at this fraction of the frame size (``None``: automatic).
        coherence_options: keyword arguments of :func:`tracking.estimate_errors`
            (default ``window=3``, the thesis' 3 frames each way).
        min_score: detections scoring below this are ignored by every score (thesis: 0.5).
        nms_iou: evaluation NMS overlap.
        eval_every: evaluate every ``eval_every``-th test frame (1: all, as the thesis).
        detect_batch_size: frames per detector forward pass when scoring and evaluating.
        device: where the detector runs (flow and max-flow run on the CPU).
        max_bytes: memory for decoded videos, per split.
        progress: show progress bars.
        world: the processes sharing the work (:mod:`vidal.distributed`): training is
            data-parallel, scoring and evaluation are sharded by video; one process by
            default.
        score_workers: processes decoding videos ahead of the detector while scoring (0:
            decode in this process).
    """

    primary_metric = "map"

    def __init__(
        self,
        train_set: VideoDataset,
        test_set: VideoDataset,
        *,
        backbone: str = "mobilenet_v3_fpn",
        min_size: int = TASK_DEFAULTS["detection"]["size"][0],
        max_size: int = TASK_DEFAULTS["detection"]["size"][1],
        weights: str | os.PathLike | None = None,
        backbone_weights: str | os.PathLike | None = None,
        detector_options: dict[str, Any] | None = None,
        steps: int | None = None,
        epochs: int | None = None,
        initial_steps: int | None = None,
        batch_size: int = TrainConfig.batch_size,
        lr: float = TASK_DEFAULTS["detection"]["lr"],
        train_options: dict[str, Any] | None = None,
        workers: int = 0,
        flow_cache: str | os.PathLike = "flows",
        flow_method: Any = "dis",
        flow_scale: float | None = None,
        coherence_options: dict[str, Any] | None = None,
        min_score: float = 0.5,
        nms_iou: float = 0.5,
        eval_every: int = 1,
        detect_batch_size: int = 8,
        device: torch.device | str = "cpu",
        max_bytes: int = 2 << 30,
        progress: bool = True,
        world: World | None = None,
        score_workers: int = 0,
    ) -> None:
        if backbone not in BACKBONES:
            raise ConfigError(f"unknown detector backbone {backbone!r}; known: {list(BACKBONES)}")
        if train_set.class_names != test_set.class_names:
            raise ConfigError(
                f"train and test sets have different classes: {train_set.class_names} vs {test_set.class_names}"
            )
        if train_set.num_classes < 1:
            raise ConfigError("the dataset has no object classes")
        if steps is not None and epochs is not None:
            raise ConfigError("give steps or epochs per cycle, not both")
        if eval_every < 1 or detect_batch_size < 1:
            raise ConfigError("eval_every and detect_batch_size must be >= 1")
        self.train_set = train_set.clipped_to_frames()
        self.test_set = test_set.clipped_to_frames()
        self.class_names = list(train_set.class_names)
        self.build_args: dict[str, Any] = {
            "num_classes": train_set.num_classes,
            "backbone": backbone,
            "min_size": int(min_size),
            "max_size": int(max_size),
            "options": dict(detector_options or {}),
        }
        self.weights = None if weights is None else str(weights)
        self.backbone_weights = None if backbone_weights is None else str(backbone_weights)
        if self.weights is not None and not Path(self.weights).is_file():
            raise ConfigError(f"detector weights not found: {self.weights}")
        if initial_steps is not None and (initial_steps < 1 or epochs is not None):
            raise ConfigError(
                f"initial_steps={initial_steps} needs steps (not epochs) and must be >= 1"
            )
        self.steps, self.epochs, self.initial_steps = steps, epochs, initial_steps
        self.batch_size, self.lr = batch_size, lr
        self.train_options = dict(train_options or {})
        self.workers = workers
        from tracking import FlowCache

        self.flows = FlowCache(flow_cache)
        self.flow_method, self.flow_scale = flow_method, flow_scale
        self.coherence_options = {
            "window": 3,
            "score_threshold": min_score,
            **(coherence_options or {}),
        }
        self.min_score, self.nms_iou = min_score, nms_iou
        self.eval_every, self.detect_batch_size = eval_every, detect_batch_size
        self.device = torch.device(device)
        self.world = world if world is not None else World(device=self.device)
        self.score_workers = score_workers
        self.progress = progress and self.world.is_main
        self.train_frames = FrameStore(self.train_set, max_bytes=max_bytes)
        self.test_frames = FrameStore(self.test_set, max_bytes=max_bytes)
        #: seconds spent in each part of the last :meth:`score` call
        self.last_score_timing: dict[str, float] = {}

    # ------------------------------------------------------------------ models
    def build_model(self, *, seed: int) -> nn.Module:
        """A new detector (from ``weights`` when given), initialised from ``seed``.

        ``weights`` that are a vidal detector checkpoint of a model trained from scratch
        for the same classes (e.g. one cycle of another run) continue that model as it was
        trained, ordinary batch norm included; any other weights are loaded as pretrained
        weights (frozen batch norm, see :func:`build_detector`).
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            state = own_checkpoint_state(self.weights, self.class_names) if self.weights else None
            if state is not None:
                model = build_from_args(self.build_args, None)
                model.load_state_dict(state)
            else:
                model = build_from_args(
                    self.build_args, self.weights, backbone_weights=self.backbone_weights
                )
        return model.to(self.device)

    def save_checkpoint(self, model: nn.Module, path: Path, **_: Any) -> None:
        """Write the weights and what rebuilds the model (:mod:`vidal.models.detector_checkpoint`)."""
        save_detector_checkpoint(model, path, build=self.build_args, class_names=self.class_names)

    def load_checkpoint(self, path: Path) -> nn.Module:
        """The detector saved by :meth:`save_checkpoint`, on the task's device.

        Raises:
            VidalError: the file is not a detector checkpoint, or it was saved for other classes.
        """
        return load_detector_checkpoint(path, class_names=self.class_names).to(self.device)

    # ------------------------------------------------------------------ cycle steps
    def _decodable(self, pool: LabelPool) -> LabelPool:
        """``pool`` without the labeled videos that cannot be decoded (each named in a warning)."""
        bad = {}
        for vid in pool.videos_with_labels():
            try:
                self.train_frames(vid, pool.labeled_frames(vid)[:1])
            except DecodeError as e:
                warnings.warn(f"skipping video {vid} for training: {e}", stacklevel=3)
                bad[vid] = str(e)
        return pool.without(bad) if bad else pool

    def train(self, model: nn.Module, pool: LabelPool, *, seed: int, resume: bool = False) -> dict:
        """Fine-tune ``model`` in place on every labeled frame of ``pool``.

        ``resume`` changes nothing: a detector continues from its weights with a new SGD
        optimiser (its momentum is not checkpointed).
        """
        del resume
        t0 = time.perf_counter()
        pool = self._decodable(pool)
        fresh = getattr(model, STEPS_TRAINED, 0) == 0
        steps = self.initial_steps if fresh and self.initial_steps is not None else self.steps
        try:
            losses = train_detector(
                model,
                self.train_set,
                pool,
                read_frames=self.train_frames,
                steps=steps,
                epochs=self.epochs,
                lr=self.lr,
                batch_size=self.batch_size,
                device=self.device,
                seed=seed,
                num_workers=self.workers,
                progress=self.progress,
                world=self.world,
                **{"keep_bn_stats": self.weights is not None, **self.train_options},
            )
        except TrainingInterrupted as stop:
            setattr(model, STEPS_TRAINED, getattr(model, STEPS_TRAINED, 0) + stop.steps_done)
            raise
        setattr(model, STEPS_TRAINED, getattr(model, STEPS_TRAINED, 0) + len(losses))
        tail = losses[-max(1, len(losses) // 10) :]
        return {
            "steps": len(losses),
            "frames": pool.num_labeled,
            "loss": round(float(np.mean(tail)), 4),
            "loss_first": round(losses[0], 4),
            "seconds": round(time.perf_counter() - t0, 2),
        }

    def _detect(
        self, model: Any, video_id: str, frames: np.ndarray, indices: Sequence[int]
    ) -> list[dict]:
        """Detections of ``frames[indices]``: from a Faster R-CNN, or from any
        :class:`~vidal.models.detectors.FrameDetector` (a frozen Darknet model, a file)."""
        if hasattr(model, "detect_video"):
            return model.detect_video(
                video_id, list(indices), lambda vid, idx: frames[np.asarray(idx)]
            )
        out: list[dict] = []
        for start in range(0, len(indices), self.detect_batch_size):
            chunk = frames[np.asarray(indices[start : start + self.detect_batch_size])]
            out.extend(detect_frames(model, chunk, batch_size=len(chunk), device=self.device))
        return out

    def _flow_key(self, video_id: str) -> str:
        try:
            return str(self.train_set.video_path(video_id).resolve())
        except AnnotationError:  # no path: the id names it
            return video_id

    def unreadable(self, pool: LabelPool) -> dict[str, str]:
        """Videos with an unlabeled frame that cannot be decoded, and why (for score-free selectors)."""
        todo = [v for v in pool.video_ids if not pool.mask(v).all()]
        return undecodable(todo, lambda v: self.train_frames(v, [0]))

    def score(self, model: nn.Module, pool: LabelPool, *, seed: int) -> FrameScores:
        """Detect every frame of each video with an unlabeled frame and score every frame.

        With several processes each scores its share of the videos (balanced by frame
        count) and rank 0 gets exactly the scores of one process (every step is
        deterministic); the other ranks return the scores of their own videos.

        Returns:
            :class:`FrameScores` with ``frames`` the TC false-positive counts and ``extra``
            ``fp``, ``fn`` (TC), ``least_confidence``, ``entropy``, ``margin`` and ``gt_fp``,
            ``gt_fn`` (oracle), each video id -> float64 ``ndarray[T]``. A video that cannot
            be decoded scores 0 everywhere (with a warning).
        """
        del seed  # detection, flow and max-flow are deterministic
        if isinstance(model, nn.Module):
            model.eval()
        todo = [v for v in pool.video_ids if not pool.mask(v).all()]
        mine = self.world.shard(todo, [pool.num_frames[v] for v in todo])
        extra: dict[str, dict[str, np.ndarray]] = {name: {} for name in _SCORES}
        timing = dict.fromkeys(("decode", "detect", "flow", "coherence", "uncertainty"), 0.0)
        decoded = prefetch_videos(mine, self._score_reader(), workers=self.score_workers)
        bar = progress_bar(decoded, total=len(mine), desc="score", disable=not self.progress)
        t0 = time.perf_counter()
        for vid, frames, error in bar:
            timing["decode"] += time.perf_counter() - t0
            if frames is None:
                warnings.warn(f"video {vid} cannot be decoded, scored 0: {error}", stacklevel=2)
                for name in _SCORES:
                    extra[name][vid] = np.zeros(pool.num_frames[vid])
            else:
                self._score_video(model, vid, frames, extra, timing)
            t0 = time.perf_counter()
        self.last_score_timing = {k: round(v, 3) for k, v in timing.items()}
        scores = FrameScores(frames={v: a.copy() for v, a in extra["fp"].items()}, extra=extra)
        parts = self.world.gather(scores)
        if not self.world.distributed or parts is None:
            return scores
        return FrameScores.merged(parts, todo)

    def _score_reader(self) -> Any:
        """What decodes a video for scoring: the task's cache in this process, a store that
        keeps one video in each worker process."""
        if self.score_workers == 0:
            return self.train_frames.frames
        return FrameStore(self.train_set, max_bytes=0).frames

    def _score_video(
        self,
        model: Any,
        vid: str,
        frames: np.ndarray,
        extra: dict[str, dict[str, np.ndarray]],
        timing: dict[str, float],
    ) -> None:
        """Detections, flow, TC and uncertainty of one video's ``frames (ndarray[T, H, W, 3])``
        into ``extra`` (name -> video id -> ``[T]``), the seconds of each part into ``timing``."""
        from tracking import estimate_errors

        t1 = time.perf_counter()
        dets = self._detect(model, vid, frames, range(len(frames)))
        t2 = time.perf_counter()
        flows = self.flows.get_flows(
            self._flow_key(vid),
            frames,  # already decoded: FlowCache only computes the pairs it lacks
            method=self.flow_method,
            scale=self.flow_scale,
        )
        t3 = time.perf_counter()
        tc = estimate_errors(
            [(d["boxes"], d["labels"], d["scores"]) for d in dets],
            flows,
            **self.coherence_options,
        )
        t4 = time.perf_counter()
        per_frame = detection_frame_scores(
            {vid: dets}, dataset=self.train_set, min_score=self.min_score
        )
        t5 = time.perf_counter()
        extra["fp"][vid] = tc.fp_per_frame.astype(np.float64)
        extra["fn"][vid] = tc.fn_per_frame.astype(np.float64)
        for name, per_video in per_frame.items():
            extra[name][vid] = per_video[vid]
        parts = ("detect", "flow", "coherence", "uncertainty")
        for key, dt in zip(parts, (t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            timing[key] += dt

    def evaluate(
        self, model: nn.Module, *, protocol: str | None = None, world: World | None = None
    ) -> dict:
        """VOC AP (``IoU > 0.5``) per class on the test split, after NMS and a 0.5 score threshold.

        ``protocol`` names the AP protocol (:mod:`vidal.metrics.protocols`): ``"voc10"``
        (all-point AP, the default) or ``"voc07"`` (11-point). With several processes
        (``world``, default the task's) each evaluates its share of the test videos and rank
        0 merges their accumulators in test-set order: every rank returns exactly the
        numbers of one process.

        Returns:
            ``map`` (mean over the classes with ground truth; ``None`` without any),
            ``ap_per_class`` and ``num_gt`` by class name, ``num_detections`` (kept after the
            threshold) and ``frames`` evaluated.
        """
        world = self.world if world is None else world
        if isinstance(model, nn.Module):
            model.eval()
        protocol = protocol or "voc10"
        ids = [v.video_id for v in self.test_set]
        mine = set(world.shard(ids, [v.num_frames for v in self.test_set]))
        videos = [v for v in self.test_set if v.video_id in mine]
        records = dict(self._evaluate_videos(model, videos, protocol))
        parts = world.gather(records)
        out = None if parts is None else self._reduce(parts, ids, protocol)
        return world.broadcast(out)

    def _evaluate_videos(
        self, model: Any, videos: list[VideoAnnotation], protocol: str
    ) -> Iterator[tuple[str, dict]]:
        """``(video_id, record)`` of each decodable video: an accumulator of its evaluated
        frames, their number and the detections kept."""
        bar = progress_bar(videos, desc="evaluate", disable=not self.progress, leave=False)
        for video, frames in decoded_videos(bar, self.test_frames.frames):
            acc = DetectionAPAccumulator(len(self.class_names), protocol=protocol)
            ts = list(range(0, video.num_frames, self.eval_every))
            kept = 0
            for t, det in zip(ts, self._detect(model, video.video_id, frames, ts), strict=True):
                boxes, labels, scores = postprocess_detections(
                    det["boxes"],
                    det["labels"],
                    det["scores"],
                    nms_iou=self.nms_iou,
                    score_threshold=self.min_score,
                )
                gt_boxes, gt_labels = _gt(video, t)
                acc.update(boxes, labels, scores, gt_boxes, gt_labels)
                kept += len(boxes)
            yield video.video_id, {"acc": acc, "frames": len(ts), "kept": kept}

    def _reduce(self, parts: list[dict], ids: list[str], protocol: str) -> dict:
        """The metrics of the per-video records of every process, merged in test-set order."""
        records = {vid: rec for part in parts for vid, rec in part.items()}
        acc = DetectionAPAccumulator(len(self.class_names), protocol=protocol)
        frames_seen, kept = 0, 0
        for vid in ids:
            if vid in records:  # else it could not be decoded
                acc.merge(records[vid]["acc"])
                frames_seen += records[vid]["frames"]
                kept += records[vid]["kept"]
        result = acc.compute()
        return {
            "map": result["map"],
            "protocol": protocol,
            "ap_per_class": dict(zip(self.class_names, result["per_class"], strict=True)),
            "num_gt": dict(zip(self.class_names, result["num_gt"], strict=True)),
            "num_detections": kept,
            "frames": frames_seen,
        }


def check_detection_config(cfg: Any) -> None:
    """Check the detection fields of an :class:`~vidal.config.ExperimentConfig` (no data read).

    Raises:
        ConfigError: an unknown ``model.preset`` or ``score.scorer``, or a bad ``model.size``.
    """
    if cfg.model.preset_for("detection") not in DETECTION_PRESETS:
        raise ConfigError(
            f"model.preset={cfg.model.preset_for('detection')!r} is not a detection preset; known: "
            f"{sorted(DETECTION_PRESETS)}"
        )
    if cfg.score.scorer not in ("detection", "uncertainty"):
        raise ConfigError(
            f"score.scorer={cfg.score.scorer!r} is not a detection scorer; use 'detection' "
            "(TC, least confidence, entropy, margin and oracle scores are all computed)"
        )
    size = cfg.model.size_for("detection")
    if size[0] > size[1]:
        raise ConfigError(
            f"model.size={list(size)}: detection reads it as [min_size, max_size] "
            "with min_size <= max_size"
        )


def build_detection_task(
    cfg: Any,
    train_set: VideoDataset,
    test_set: VideoDataset,
    *,
    device: torch.device | str,
    progress: bool,
    world: World | None = None,
) -> DetectionTask:
    """The :class:`DetectionTask` an :class:`~vidal.config.ExperimentConfig` describes.

    See the module docstring for how each config field is read.

    Raises:
        ConfigError: see :func:`check_detection_config`.
    """
    check_detection_config(cfg)
    m, t = cfg.model, cfg.train
    size = m.size_for("detection")
    backbone = DETECTION_PRESETS[m.preset_for("detection")]
    options = dict(LOW_RES_OPTIONS) if backbone == "mobilenet_v3_fpn" and size[0] <= 320 else {}
    options.update(m.options or {})
    return DetectionTask(
        train_set,
        test_set,
        backbone=backbone,
        min_size=int(size[0]),
        max_size=int(size[1]),
        weights=None if m.weights is None else os.path.expanduser(m.weights),
        backbone_weights=(
            None if m.backbone_weights is None else os.path.expanduser(m.backbone_weights)
        ),
        detector_options=options,
        steps=None if t.epochs else t.steps,
        initial_steps=None if t.epochs else t.initial_steps,
        epochs=t.epochs,
        batch_size=t.batch_size,
        lr=t.lr_for("detection"),
        workers=t.workers,
        flow_cache=(
            Path(os.path.expanduser(cfg.score.flow_cache))
            if cfg.score.flow_cache
            else cfg.out_dir() / "flows"
        ),
        flow_method=cfg.score.flow,
        flow_scale=cfg.score.flow_scale,
        device=device,
        progress=progress,
        world=world,
        score_workers=cfg.score.workers,
    )


def detection_config_from_checkpoint(cfg: Any, path: str | os.PathLike) -> Any:
    """``cfg`` with the sizes a detector checkpoint was built with."""
    import dataclasses

    from vidal.models.detector_checkpoint import checkpoint_build

    build = checkpoint_build(path)
    size = (int(build["min_size"]), int(build["max_size"]))
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, size=size))
