"""Temporal coherence measured on real video: TC's estimated errors against a real detector's.

Zolfaghari Bengar (PhD thesis, 2021, ch. 2) estimates a detector's false positives (FP) and
misses (FN) on every frame of a video from temporal coherence (TC): detections tracked by
optical flow, linked, and a TP/FP/TN/FN graph solved by max-flow
(:func:`tracking.estimate_errors`). This script measures those estimates on real frames, with
the real COCO detector Yolo-Fastest 1.1 (:mod:`vidal.models.darknet`, both the ``xl`` and the
``small`` model, at each ``--thresholds`` score):

1. **Real errors** on the DAVIS ``car-shadow`` clip (the car; COCO car, truck and bus map to
   it) and the J-HMDB ``catch`` clip (the person), whose one annotated object's box on every
   frame is the bounding box of its mask. Detections of other classes are dropped by the
   class mapping. Each detection of the clip's class is, against the annotated box ``g``
   (IoU with ``g``, in score order as in VOC):

   - ``matched``: the highest-scoring detection with IoU >= 0.5 (a true positive);
   - ``duplicate``: another detection with IoU >= 0.5 (false);
   - ``mislocalized``: ``--near-iou`` (0.1) <= IoU < 0.5 (false);
   - ``other``: IoU < ``--near-iou``: maybe a real object nobody annotated (DAVIS shows other
     cars down the street), so its truth is unknown.

   A frame whose object has no matched detection has one miss. Two definitions use these:

   - ``verifiable`` (the headline): only what the annotation settles. ``other`` detections
     are left out of both the truth and TC's estimates; an FN candidate counts when it lies
     near ``g`` (IoU >= ``--near-iou``) or was tracked from at least one detection that is not
     ``other``.
   - ``complete``: as if the annotation were complete: ``other`` detections are false and
     every FN candidate counts (a bound that is unfair to TC where the other cars are real).

   Per frame, "TC flags an FP" when its estimated FP count (under the definition) is above
   0, likewise for FN; precision and recall are against the frames with a true FP (FN).
   Chance is the base rate (the precision of flagging frames at random) and a random
   flagging of the same number of frames, averaged over ``--draws`` draws. The rank
   correlation is Spearman's (:func:`scipy.stats.spearmanr`) between estimated and true
   error counts (FP + FN) per frame, against 0 and against the same statistic with the
   frames shuffled (:func:`scipy.stats.permutation_test`: its mean and one-sided p-value).
   Per detection: FP labels against false detections; per FN candidate: a candidate is a
   real miss when it has IoU >= 0.5 with ``g`` on a frame where the object was missed.
2. **Injected errors** on the same frames and real detections (``--seeds`` draws per
   profile, pooled): drops of the matched box, independent per frame or in runs of
   consecutive frames, and false boxes of the clip's class at known places (IoU below
   ``--near-iou`` with the annotated box and every real detection of the frames they span),
   sized like the object, each staying 1 to ``false_duration`` frames with corner jitter.
   The truth is the injected errors: frames where the detector already erred (a
   ``duplicate``/``mislocalized`` box for FP, a miss for FN) are left out of that type's
   per-frame figures, and per detection a FP label on the detector's own known errors is
   not held against TC.
3. **ImageNet-VID** ``ILSVRC2015_val_00007010`` (144 frames of jets, no boxes, COCO
   ``aeroplane`` as Darknet names it): the detector and TC run, and ``--sheet`` gets a contact sheet of the frames
   TC flags (most estimated errors first, shown in time order) with every detection drawn
   (green: TC says TP, red: FP, with its score) and every FN candidate (yellow).

Flow: each ``--flows`` entry is a flow method name and an optional scale,
``NAME[@SCALE]``, where SCALE is a fraction in (0, 1] or ``sN`` (shorter side brought to at
most N pixels). Names go to :func:`tracking.get_flow_method` (``dis``, ``farneback``, and
``dis-<preset>`` once tracking names its presets); ``dis-<preset>`` falls back to the public
:class:`tracking.DISFlow` ``(preset=...)`` where tracking does not name them, so
``dis-medium`` and ``dis-ultrafast`` can be measured on any version. Every table is printed
per flow and a last table pools the figures of each flow.

Example:
    OMP_NUM_THREADS=1 PYTHONPATH=. python tools/tc_real_video.py \
        --flows dis-medium dis-ultrafast dis-ultrafast@0.5 \
        --sheet docs/tc_real_video/imagenet_vid_flags.png --json /tmp/tc_real_video.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, permutation_test, rankdata, spearmanr
from torchvision.ops import box_iou

from tracking import (
    CoherenceResult,
    DISFlow,
    FlowCache,
    FlowMethod,
    Flows,
    TrackingError,
    compute_flows,
    estimate_errors,
    get_flow_method,
)
from vidal.data.draw import draw_boxes, save_png, tile_sheet
from vidal.data.formats.jhmdb import read_puppet_mask
from vidal.data.video import open_video
from vidal.errors import ConfigError, DecodeError
from vidal.models.darknet import load_darknet_detector

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
YOLO = "models/yolo-fastest-1.1-coco"
MODELS = {"xl": "yolo-fastest-1.1-xl", "small": "yolo-fastest-1.1"}

Det = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One frame's detections: ``(boxes [N, 4] float32 x1 y1 x2 y2, labels [N] int64, scores [N])``."""

# kinds of detection against the one annotated object
MATCHED, DUPLICATE, MISLOCALIZED, OTHER, INJECTED = 0, 1, 2, 3, 4
KIND_NAMES = ("matched", "duplicate", "mislocalized", "other", "injected")


@dataclass(frozen=True)
class ClipSpec:
    """Where a real clip lives under the data folder and what its object is."""

    frames: str
    class_map: dict[str, list[str]]
    masks: str | None = None  # DAVIS: a folder of PNG masks; J-HMDB: a puppet_mask.mat


_JHMDB = "catch/Goal_Keeping_Tips_catch_f_cm_np1_fr_med_2"
CLIPS = {
    "davis": ClipSpec(
        "davis2016/JPEGImages/480p/car-shadow",
        {"car": ["car", "truck", "bus"]},
        "davis2016/Annotations/480p/car-shadow",
    ),
    "jhmdb": ClipSpec(
        f"jhmdb21/Frames/{_JHMDB}",
        {"person": ["person"]},
        f"jhmdb21/puppet_mask/{_JHMDB}/puppet_mask.mat",
    ),
    "imagenet-vid": ClipSpec(
        "imagenet-vid/ILSVRC2015_val_00007010", {"airplane": ["aeroplane"]}, None
    ),
}


@dataclass(frozen=True)
class Clip:
    """A real clip.

    Attributes:
        name: its key in :data:`CLIPS`.
        frames (ndarray[T, H, W, 3]): uint8 RGB.
        boxes (ndarray[T, 4] | None): float32 box of the annotated object per frame (NaN
            where its mask is empty); None for a clip without annotation.
        class_map: dataset class -> COCO classes, for :func:`load_darknet_detector`.
    """

    name: str
    frames: np.ndarray
    boxes: np.ndarray | None
    class_map: dict[str, list[str]]


# ---------------------------------------------------------------- data


def mask_box(mask: np.ndarray) -> np.ndarray:
    """The bounding box of ``mask (ndarray[H, W])`` bool, right and bottom edges exclusive
    (a one-pixel mask at ``(x, y)`` gives ``x, y, x + 1, y + 1``).

    Returns:
        ndarray[4] float32; all NaN for an empty mask.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.full(4, np.nan, np.float32)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def read_frames(folder: Path, limit: int | None = None) -> np.ndarray:
    """The first ``limit`` (all when None) frames of a frame folder, ``ndarray[T, H, W, 3]``."""
    if not folder.is_dir():
        raise DecodeError(f"{folder}: frame folder not found (see shared/data/README.md)")
    with open_video(folder) as reader:
        count = len(reader) if limit is None else min(limit, len(reader))
        return reader.get_batch(np.arange(count))


def read_mask_boxes(path: Path, count: int) -> np.ndarray:
    """Object boxes ``ndarray[count, 4]`` from a DAVIS mask folder or a J-HMDB puppet mask."""
    import cv2

    if path.suffix == ".mat":
        masks: Iterable[np.ndarray] = read_puppet_mask(path)[:count]
    else:
        files = sorted(path.glob("*.png"))[:count]
        masks = []
        for f in files:
            image = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise DecodeError(f"{f}: cannot read the mask image")
            masks.append(image > 0)
    boxes = np.array([mask_box(m) for m in masks], np.float32).reshape(-1, 4)
    if len(boxes) != count:
        raise DecodeError(f"{path}: masks for {len(boxes)} frames, the clip has {count}")
    return boxes


def load_clip(data: Path, name: str, limit: int | None = None) -> Clip:
    """The clip ``name`` of :data:`CLIPS` from ``data``, its first ``limit`` frames."""
    spec = CLIPS[name]
    frames = read_frames(data / spec.frames, limit)
    boxes = None if spec.masks is None else read_mask_boxes(data / spec.masks, len(frames))
    return Clip(name, frames, boxes, spec.class_map)


def detect(
    data: Path, model: str, clip: Clip, threshold: float, *, batch_size: int = 8
) -> list[Det]:
    """Yolo-Fastest ``model`` (a key of :data:`MODELS`) on every frame of ``clip``, classes
    mapped by ``clip.class_map`` (so every label is 0), scores above ``threshold``."""
    base = data / YOLO / MODELS[model]
    detector = load_darknet_detector(
        f"{base}.cfg",
        f"{base}.weights",
        class_map=clip.class_map,
        score_thresh=threshold,
        batch_size=batch_size,
    )
    return [(d["boxes"], d["labels"], d["scores"]) for d in detector.detect_frames(clip.frames)]


# ---------------------------------------------------------------- flow


@dataclass(frozen=True)
class FlowSpec:
    """A flow method name and its scale: a fraction, or ``"sN"`` (shorter side <= N px)."""

    method: str
    scale: float | str = 1.0

    @classmethod
    def parse(cls, text: str) -> FlowSpec:
        """``"dis-ultrafast"``, ``"dis-medium@0.5"``, ``"dis-ultrafast@s160"``."""
        name, _, scale = text.partition("@")
        if not name:
            raise ConfigError(f"flow {text!r}: expected NAME[@SCALE]")
        if not scale:
            return cls(name)
        if scale.startswith("s") and scale[1:].isdigit() and int(scale[1:]) > 0:
            return cls(name, scale)
        try:
            value = float(scale)
        except ValueError:
            value = -1.0
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"flow {text!r}: SCALE must be in (0, 1] or sN, got {scale!r}")
        return cls(name, value)

    def __str__(self) -> str:
        scale = self.scale if isinstance(self.scale, str) else f"{self.scale:g}"
        return self.method if scale == "1" else f"{self.method}@{scale}"

    def scale_for(self, height: int, width: int) -> float:
        """The fraction of an ``H x W`` frame the flow is computed at."""
        if isinstance(self.scale, str):
            return min(1.0, int(self.scale[1:]) / min(height, width))
        return self.scale


def flow_method(name: str) -> FlowMethod:
    """The flow method ``name`` through tracking's public API.

    :func:`tracking.get_flow_method` knows ``"dis"`` and ``"farneback"`` (and, once tracking
    names its DIS presets, ``"dis-<preset>"``); where it does not know ``"dis-<preset>"``, the
    preset is built through :class:`tracking.DISFlow`, which takes it on every version.
    """
    try:
        return get_flow_method(name)
    except TrackingError:
        if not name.startswith("dis-"):
            raise
    return DISFlow(preset=name.removeprefix("dis-"))


def clip_flows(clip: Clip, spec: FlowSpec, cache: FlowCache | None = None) -> Flows:
    """Forward and backward flow of ``clip`` (through ``cache`` when given)."""
    method = flow_method(spec.method)
    scale = spec.scale_for(*clip.frames.shape[1:3])
    if cache is None:
        return compute_flows(clip.frames, method=method, scale=scale)
    return cache.get_flows(
        f"{clip.name}-{len(clip.frames)}", clip.frames, method=method, scale=scale
    )


# ---------------------------------------------------------------- truth


def classify_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    object_box: np.ndarray,
    *,
    match_iou: float = 0.5,
    near_iou: float = 0.1,
) -> np.ndarray:
    """The kind of each detection of the annotated object's class against its box.

    In descending score order (VOC), the first detection with IoU >= ``match_iou`` is
    :data:`MATCHED`, later ones :data:`DUPLICATE`; IoU in ``[near_iou, match_iou)`` is
    :data:`MISLOCALIZED` and below ``near_iou`` :data:`OTHER`. Without an object (a NaN box)
    every detection is :data:`OTHER`.

    Args:
        boxes (ndarray[N, 4]): x1 y1 x2 y2 pixels.
        scores (ndarray[N]): detector scores.
        object_box (ndarray[4]): the annotated object's box (NaN: absent).
        match_iou: IoU that makes a detection the object's.
        near_iou: IoU below which a detection is about something else.

    Returns:
        ndarray[N] int8 kinds.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    kinds = np.full(len(boxes), OTHER, np.int8)
    if len(boxes) == 0 or np.isnan(object_box).any():
        return kinds
    iou = box_iou(torch.from_numpy(boxes), torch.from_numpy(object_box[None].astype(np.float32)))
    iou = iou[:, 0].numpy()
    kinds[(iou >= near_iou) & (iou < match_iou)] = MISLOCALIZED
    matching = np.flatnonzero(iou >= match_iou)
    if len(matching):
        order = matching[np.argsort(-np.asarray(scores)[matching], kind="stable")]
        kinds[order[0]] = MATCHED
        kinds[order[1:]] = DUPLICATE
    return kinds


@dataclass(frozen=True)
class Truth:
    """What is true about one clip's detections.

    Attributes:
        kinds (list[ndarray[N_t] int8]): per frame, the kind of each detection.
        missed (ndarray[T] bool): the annotated object has no matched detection.
        object_boxes (ndarray[T, 4]): the annotated object's box per frame (NaN: absent).
    """

    kinds: list[np.ndarray]
    missed: np.ndarray
    object_boxes: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.kinds)


def clip_truth(
    detections: Sequence[Det],
    object_boxes: np.ndarray,
    *,
    near_iou: float = 0.1,
    injected: Sequence[np.ndarray] | None = None,
) -> Truth:
    """:func:`classify_detections` on every frame; ``injected (list[ndarray[N_t] bool])``
    marks boxes known to be false (:data:`INJECTED`), whatever their place."""
    kinds, missed = [], []
    for t, (boxes, _, scores) in enumerate(detections):
        k = classify_detections(boxes, scores, object_boxes[t], near_iou=near_iou)
        if injected is not None:
            k[injected[t]] = INJECTED
        kinds.append(k)
        missed.append(not np.isnan(object_boxes[t]).any() and not (k == MATCHED).any())
    return Truth(kinds, np.array(missed, bool), np.asarray(object_boxes, np.float32))


@dataclass(frozen=True)
class Definition:
    """Which detections are false and which detections and FN candidates the figures count.

    Attributes:
        name: ``verifiable`` or ``complete`` (see the module docstring).
        false_kinds: kinds that are false positives.
        counted_kinds: kinds of detections counted in the truth and in TC's estimates.
        all_candidates: count every FN candidate (else only those :func:`counted_candidates`
            ties to the annotated object or to a detection whose truth is known).
    """

    name: str
    false_kinds: frozenset[int]
    counted_kinds: frozenset[int]
    all_candidates: bool


DEFINITIONS = {
    "verifiable": Definition(
        "verifiable",
        frozenset({DUPLICATE, MISLOCALIZED, INJECTED}),
        frozenset({MATCHED, DUPLICATE, MISLOCALIZED, INJECTED}),
        all_candidates=False,
    ),
    "complete": Definition(
        "complete",
        frozenset({DUPLICATE, MISLOCALIZED, OTHER, INJECTED}),
        frozenset({MATCHED, DUPLICATE, MISLOCALIZED, OTHER, INJECTED}),
        all_candidates=True,
    ),
}


def _iou_to_object(boxes: np.ndarray, frames: np.ndarray, object_boxes: np.ndarray) -> np.ndarray:
    """IoU ``[M]`` of each box ``[M, 4]`` with the object box of its frame (0 where absent)."""
    if len(boxes) == 0:
        return np.zeros(0)
    obj = torch.from_numpy(np.nan_to_num(object_boxes[frames], nan=0.0).astype(np.float32))
    iou = box_iou(torch.from_numpy(np.asarray(boxes, np.float32)), obj).diagonal().numpy()
    return np.where(np.isnan(object_boxes[frames]).any(1), 0.0, iou)


def counted_candidates(
    result: CoherenceResult, truth: Truth, definition: Definition, *, near_iou: float = 0.1
) -> np.ndarray:
    """Which FN candidates ``[M]`` bool the figures count: all under ``complete``; under
    ``verifiable`` those near the annotated object (IoU >= ``near_iou``) or tracked from at
    least one detection whose kind is not :data:`OTHER`."""
    cands = result.candidates
    if definition.all_candidates:
        return np.ones(len(cands), bool)
    near = _iou_to_object(cands.boxes, cands.frame, truth.object_boxes) >= near_iou
    kinds = np.concatenate(truth.kinds) if truth.kinds else np.zeros(0, np.int8)
    support = cands.support
    known = np.zeros(len(cands), bool)
    known[support[kinds[support[:, 1]] != OTHER, 0]] = True
    return near | known


def real_misses(result: CoherenceResult, truth: Truth) -> np.ndarray:
    """Which FN candidates ``[M]`` bool find a real miss: IoU >= 0.5 with the annotated
    object on a frame where it was missed."""
    cands = result.candidates
    iou = _iou_to_object(cands.boxes, cands.frame, truth.object_boxes)
    return truth.missed[cands.frame] & (iou >= 0.5)


def true_counts(truth: Truth, definition: Definition) -> tuple[np.ndarray, np.ndarray]:
    """True ``(FP [T], FN [T])`` int64 counts per frame under ``definition``."""
    fp = [int(np.isin(k, list(definition.false_kinds)).sum()) for k in truth.kinds]
    return np.array(fp, np.int64), truth.missed.astype(np.int64)


def estimated_counts(
    result: CoherenceResult, truth: Truth, definition: Definition, *, near_iou: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """TC's ``(FP [T], FN [T])`` int64 counts per frame over what ``definition`` counts."""
    num_frames = truth.num_frames
    kinds = np.concatenate(truth.kinds) if truth.kinds else np.zeros(0, np.int8)
    labels = np.concatenate(result.detection_labels) if num_frames else np.zeros(0, np.int8)
    counted = np.isin(kinds, list(definition.counted_kinds))
    fp = np.bincount(result.detections.frame[(labels == 0) & counted], minlength=num_frames)
    fn_cands = (result.candidate_labels == 1) & counted_candidates(
        result, truth, definition, near_iou=near_iou
    )
    fn = np.bincount(result.candidates.frame[fn_cands], minlength=num_frames)
    return fp.astype(np.int64), fn.astype(np.int64)


# ---------------------------------------------------------------- metrics


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num) / float(den)


@dataclass(frozen=True)
class FrameMetrics:
    """Per-frame flagging against the truth, with chance.

    Attributes:
        frames: frames evaluated.
        positives: frames with a true error.
        flagged: frames TC flags (estimated count > 0).
        hits: flagged frames with a true error.
        precision: ``hits / flagged`` (None: nothing flagged).
        recall: ``hits / positives`` (None: no true error).
        chance_precision: the base rate ``positives / frames``, the expected precision of any
            flagging that ignores the frames.
        random_precision: mean precision of ``--draws`` random flaggings of ``flagged`` frames.
        random_recall: their mean recall.
    """

    frames: int
    positives: int
    flagged: int
    hits: int
    precision: float | None
    recall: float | None
    chance_precision: float | None
    random_precision: float | None
    random_recall: float | None


def frame_metrics(
    estimated: np.ndarray,
    true: np.ndarray,
    *,
    rng: np.random.Generator,
    draws: int = 1000,
    keep: np.ndarray | None = None,
) -> FrameMetrics:
    """Precision and recall of "estimated count > 0" for "true count > 0", per frame.

    Args:
        estimated (ndarray[T]): TC's count per frame.
        true (ndarray[T]): the true count per frame.
        rng: draws the random flaggings.
        draws: random flaggings averaged.
        keep (ndarray[T] bool): the frames evaluated (default all).

    Returns:
        :class:`FrameMetrics`.
    """
    est, tru = np.asarray(estimated) > 0, np.asarray(true) > 0
    if est.shape != tru.shape or est.ndim != 1:
        raise ConfigError(f"estimated {est.shape} and true {tru.shape} must be the same [T]")
    if keep is not None:
        est, tru = est[keep], tru[keep]
    frames, positives, flagged = len(tru), int(tru.sum()), int(est.sum())
    hits = int((est & tru).sum())
    rand_p = rand_r = None
    if flagged and draws:
        picks = np.argsort(rng.random((draws, frames)), axis=1)[:, :flagged]  # [draws, k]
        rand_hits = tru[picks].sum(1)
        rand_p = float(rand_hits.mean() / flagged)
        rand_r = _ratio(rand_hits.mean(), positives)
    return FrameMetrics(
        frames,
        positives,
        flagged,
        hits,
        _ratio(hits, flagged),
        _ratio(hits, positives),
        _ratio(positives, frames),
        rand_p,
        rand_r,
    )


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho of estimated with true counts, and the same with the frames shuffled.

    Attributes:
        rho: the statistic (None when either side is constant: no ranking to compare).
        random_mean: mean rho over the shuffles (chance, near 0).
        p_value: one-sided share of shuffles with rho at least as high.
    """

    rho: float | None
    random_mean: float | None
    p_value: float | None


def _spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along ``axis``: Pearson's r of the average ranks, as
    :func:`scipy.stats.spearmanr` defines it, for many resamples at once."""
    return pearsonr(rankdata(x, axis=axis), rankdata(y, axis=axis), axis=axis).statistic


def rank_correlation(
    estimated: np.ndarray, true: np.ndarray, *, rng: np.random.Generator, draws: int = 1000
) -> RankCorrelation:
    """Spearman's rho of ``estimated (ndarray[T])`` with ``true (ndarray[T])`` counts and its
    permutation test (``draws`` shuffles of the pairing, :func:`scipy.stats.permutation_test`)."""
    est, tru = np.asarray(estimated, float), np.asarray(true, float)
    if len(est) < 3 or np.ptp(est) == 0 or np.ptp(tru) == 0:
        return RankCorrelation(None, None, None)
    rho = float(spearmanr(est, tru).statistic)
    if not draws:
        return RankCorrelation(rho, None, None)
    test = permutation_test(
        (est, tru),
        _spearman,
        permutation_type="pairings",
        n_resamples=draws,
        alternative="greater",
        vectorized=True,
        rng=rng,
    )
    return RankCorrelation(rho, float(np.mean(test.null_distribution)), float(test.pvalue))


@dataclass(frozen=True)
class DetectionCounts:
    """TC's labels of single detections and FN candidates against the truth (counts, so
    that draws and clips pool by ``+``).

    Attributes:
        detections: detections counted.
        false: of them, false.
        labelled_fp: of them, labelled FP by TC.
        fp_hits: labelled FP and false.
        targets: false detections recall is measured on (all false ones, or the injected).
        targets_found: of them, labelled FP.
        candidates: FN candidates counted.
        labelled_fn: of them, labelled FN.
        fn_hits: labelled FN and a real miss (:func:`real_misses`).
        misses: frames whose object was missed (recall is measured on them).
        misses_found: of them, frames where a candidate labelled FN finds the object.
    """

    detections: int = 0
    false: int = 0
    labelled_fp: int = 0
    fp_hits: int = 0
    targets: int = 0
    targets_found: int = 0
    candidates: int = 0
    labelled_fn: int = 0
    fn_hits: int = 0
    misses: int = 0
    misses_found: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))

    def summary(self) -> dict[str, float | int | None]:
        """The counts with FP precision (and its base rate), FP recall, FN precision and the
        recall of missed objects."""
        return {
            **asdict(self),
            "fp_precision": _ratio(self.fp_hits, self.labelled_fp),
            "fp_chance": _ratio(self.false, self.detections),
            "fp_recall": _ratio(self.targets_found, self.targets),
            "fn_precision": _ratio(self.fn_hits, self.labelled_fn),
            "fn_recall": _ratio(self.misses_found, self.misses),
        }


def _values(counts: DetectionCounts) -> list[int]:
    return [getattr(counts, f) for f in counts.__dataclass_fields__]


def detection_counts(
    result: CoherenceResult,
    truth: Truth,
    definition: Definition,
    *,
    near_iou: float = 0.1,
    recall_kinds: frozenset[int] | None = None,
    recall_frames: np.ndarray | None = None,
) -> DetectionCounts:
    """TC's labels of detections and candidates against the truth.

    Args:
        result: TC on the clip.
        truth: the clip's truth.
        definition: what counts.
        near_iou: see :func:`counted_candidates`.
        recall_kinds: false kinds FP recall is measured on (default the definition's false
            kinds); the injected figures measure it on :data:`INJECTED` only.
        recall_frames (ndarray[T] bool): frames whose misses FN recall is measured on
            (default all).
    """
    kinds = np.concatenate(truth.kinds) if truth.kinds else np.zeros(0, np.int8)
    labels = np.concatenate(result.detection_labels) if truth.kinds else np.zeros(0, np.int8)
    counted = np.isin(kinds, list(definition.counted_kinds)) & (labels >= 0)
    false = np.isin(kinds, list(definition.false_kinds)) & counted
    target = false if recall_kinds is None else np.isin(kinds, list(recall_kinds)) & counted
    fp = (labels == 0) & counted
    cands = counted_candidates(result, truth, definition, near_iou=near_iou)
    fn = (result.candidate_labels == 1) & cands
    real = real_misses(result, truth)
    missed = truth.missed if recall_frames is None else truth.missed & recall_frames
    found = np.zeros(truth.num_frames, bool)
    found[result.candidates.frame[fn & real]] = True
    return DetectionCounts(
        detections=int(counted.sum()),
        false=int(false.sum()),
        labelled_fp=int(fp.sum()),
        fp_hits=int((fp & false).sum()),
        targets=int(target.sum()),
        targets_found=int((fp & target).sum()),
        candidates=int(cands.sum()),
        labelled_fn=int(fn.sum()),
        fn_hits=int((fn & real).sum()),
        misses=int(missed.sum()),
        misses_found=int((found & missed).sum()),
    )


# ---------------------------------------------------------------- injected errors


@dataclass(frozen=True)
class InjectionProfile:
    """Errors injected into real detections.

    Attributes:
        drop_rate: share of the frames with a matched box whose box is dropped.
        drop_burst: mean length of a run of dropped frames (1: independent frames).
        false_rate: false boxes started per frame (Poisson mean).
        false_duration: each false box stays 1 to this many frames at its place.
        jitter: corner noise of a false box, a fraction of its width and height.
        size_range: false box sides as fractions of the object's median sides.
    """

    drop_rate: float = 0.2
    drop_burst: float = 1.0
    false_rate: float = 0.3
    false_duration: int = 1
    jitter: float = 0.03
    size_range: tuple[float, float] = (0.4, 1.0)


PROFILES = {
    "independent": InjectionProfile(drop_burst=1.0, false_duration=1),
    "bursty": InjectionProfile(drop_burst=3.0, false_duration=3),
}


def drop_frames(
    rng: np.random.Generator, eligible: np.ndarray, *, rate: float, burst: float = 1.0
) -> np.ndarray:
    """Frames ``[T]`` bool whose box is dropped: runs of consecutive frames with geometric
    lengths of mean ``burst``, started with probability ``q = rate / (burst (1 - rate) +
    rate)`` at each frame not in a run, so that a share ``q burst / (1 - q + q burst) = rate``
    of the frames is covered in expectation; only ``eligible (ndarray[T] bool)`` frames are
    dropped (a run passes over the others)."""
    if not 0.0 <= rate <= 1.0 or burst < 1.0:
        raise ConfigError(f"drop rate must be in [0, 1] and burst >= 1, got {rate}, {burst}")
    eligible = np.asarray(eligible, bool)
    dropped = np.zeros(len(eligible), bool)
    start = rate / (burst * (1.0 - rate) + rate) if rate else 0.0
    t = 0
    while t < len(eligible):
        if rng.random() < start:
            run = int(rng.geometric(1.0 / burst))
            dropped[t : t + run] = True
            t += run
        else:
            t += 1
    return dropped & eligible


def place_false_box(
    rng: np.random.Generator,
    size: tuple[float, float],
    frame_size: tuple[int, int],
    avoid: np.ndarray,
    *,
    max_iou: float = 0.1,
    tries: int = 100,
) -> np.ndarray | None:
    """A ``w x h = size`` box ``[4]`` uniformly placed inside the frame with IoU below
    ``max_iou`` with every box of ``avoid (ndarray[K, 4])``; None when ``tries`` fail."""
    height, width = frame_size
    w, h = min(size[0], width - 1.0), min(size[1], height - 1.0)
    for _ in range(tries):
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        box = np.array([x, y, x + w, y + h], np.float32)
        if len(avoid) == 0:
            return box
        iou = box_iou(torch.from_numpy(box[None]), torch.from_numpy(avoid.astype(np.float32)))
        if float(iou.max()) < max_iou:
            return box
    return None


@dataclass(frozen=True)
class Injected:
    """Real detections with injected errors.

    Attributes:
        detections: per frame ``(boxes, labels, scores)``.
        injected (list[ndarray[N_t] bool]): which boxes were injected (all false).
        dropped (ndarray[T] bool): frames whose matched box was removed.
        unplaced: false boxes that found no free place (not injected).
    """

    detections: list[Det]
    injected: list[np.ndarray]
    dropped: np.ndarray
    unplaced: int


def _false_boxes(
    rng: np.random.Generator,
    detections: Sequence[Det],
    object_boxes: np.ndarray,
    frame_size: tuple[int, int],
    profile: InjectionProfile,
    near_iou: float,
) -> tuple[list[list[np.ndarray]], int]:
    """Per frame the false boxes to add (each ``[4]``), and how many found no place."""
    num_frames = len(detections)
    present = object_boxes[~np.isnan(object_boxes).any(1)]
    ref = np.median(present[:, 2:] - present[:, :2], 0) if len(present) else np.array([64, 64])
    added: list[list[np.ndarray]] = [[] for _ in range(num_frames)]
    unplaced = 0
    for t in range(num_frames):
        for _ in range(rng.poisson(profile.false_rate)):
            span = range(t, min(num_frames, t + int(rng.integers(1, profile.false_duration + 1))))
            avoid = [detections[s][0] for s in span] + [
                object_boxes[s][None] for s in span if not np.isnan(object_boxes[s]).any()
            ]
            size = ref * rng.uniform(*profile.size_range, 2)
            place = place_false_box(
                rng, (float(size[0]), float(size[1])), frame_size, np.concatenate(avoid),
                max_iou=near_iou,
            )  # fmt: skip
            if place is None:
                unplaced += 1
                continue
            wh = place[2:] - place[:2]
            for s in span:
                noise = rng.normal(0, profile.jitter, 4) * np.r_[wh, wh]
                box = place + noise.astype(np.float32)
                box[[0, 2]] = np.clip(box[[0, 2]], 0, frame_size[1])
                box[[1, 3]] = np.clip(box[[1, 3]], 0, frame_size[0])
                added[s].append(box)
    return added, unplaced


def inject_errors(
    rng: np.random.Generator,
    detections: Sequence[Det],
    truth: Truth,
    frame_size: tuple[int, int],
    profile: InjectionProfile,
    *,
    score_range: tuple[float, float] = (0.5, 1.0),
    near_iou: float = 0.1,
) -> Injected:
    """Drop matched boxes and add false boxes (see :class:`InjectionProfile`).

    Args:
        rng: the only source of randomness.
        detections: the real detections per frame.
        truth: their truth (:func:`clip_truth`): which box is matched.
        frame_size: ``(H, W)``.
        profile: what to inject.
        score_range: scores of the false boxes, uniform.
        near_iou: false boxes keep IoU below it with the object and every real detection of
            the frames they span.

    Returns:
        :class:`Injected`; false boxes have label 0 (the one mapped class).
    """
    eligible = np.array([(k == MATCHED).any() for k in truth.kinds], bool)
    dropped = drop_frames(rng, eligible, rate=profile.drop_rate, burst=profile.drop_burst)
    added, unplaced = _false_boxes(
        rng, detections, truth.object_boxes, frame_size, profile, near_iou
    )
    out, injected = [], []
    for t, (boxes, labels, scores) in enumerate(detections):
        keep = ~(truth.kinds[t] == MATCHED) if dropped[t] else np.ones(len(boxes), bool)
        extra = np.array(added[t], np.float32).reshape(-1, 4)
        out.append(
            (
                np.concatenate([boxes[keep], extra]).astype(np.float32),
                np.concatenate([labels[keep], np.zeros(len(extra), np.int64)]),
                np.concatenate(
                    [scores[keep], rng.uniform(*score_range, len(extra)).astype(np.float32)]
                ),
            )
        )
        injected.append(np.r_[np.zeros(int(keep.sum()), bool), np.ones(len(extra), bool)])
    return Injected(out, injected, dropped, unplaced)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class FrameCounts:
    """Estimated and true error counts per frame, and the detection counts, of one or more
    clips (``+`` concatenates frames and adds counts).

    Attributes:
        est_fp, true_fp, est_fn, true_fn (ndarray[T] int64): per frame.
        keep_fp, keep_fn (ndarray[T] bool): frames the FP (FN) figures use.
        detections: per detection and candidate.
    """

    est_fp: np.ndarray
    true_fp: np.ndarray
    est_fn: np.ndarray
    true_fn: np.ndarray
    keep_fp: np.ndarray
    keep_fn: np.ndarray
    detections: DetectionCounts = field(default_factory=DetectionCounts)

    def __add__(self, other: FrameCounts) -> FrameCounts:
        arrays = [
            np.concatenate([getattr(self, f), getattr(other, f)])
            for f in ("est_fp", "true_fp", "est_fn", "true_fn", "keep_fp", "keep_fn")
        ]
        return FrameCounts(*arrays, self.detections + other.detections)

    def summary(self, *, seed: int = 0, draws: int = 1000) -> dict:
        """Per-frame FP and FN figures (:func:`frame_metrics`), the rank correlation of
        FP + FN (:func:`rank_correlation`, on frames both keep) and the detection figures;
        random draws from ``seed``."""
        rng = np.random.default_rng(seed)
        both = self.keep_fp & self.keep_fn
        opts = dict(rng=rng, draws=draws)
        return {
            "fp": asdict(frame_metrics(self.est_fp, self.true_fp, keep=self.keep_fp, **opts)),
            "fn": asdict(frame_metrics(self.est_fn, self.true_fn, keep=self.keep_fn, **opts)),
            "rank": asdict(
                rank_correlation(
                    (self.est_fp + self.est_fn)[both], (self.true_fp + self.true_fn)[both], **opts
                )
            ),
            "detections": self.detections.summary(),
        }


def frame_counts(
    result: CoherenceResult,
    truth: Truth,
    definition: Definition,
    *,
    near_iou: float = 0.1,
    keep_fp: np.ndarray | None = None,
    keep_fn: np.ndarray | None = None,
    recall_kinds: frozenset[int] | None = None,
    recall_frames: np.ndarray | None = None,
) -> FrameCounts:
    """:func:`estimated_counts`, :func:`true_counts` and :func:`detection_counts` together."""
    est_fp, est_fn = estimated_counts(result, truth, definition, near_iou=near_iou)
    true_fp, true_fn = true_counts(truth, definition)
    every = np.ones(truth.num_frames, bool)
    return FrameCounts(
        est_fp,
        true_fp,
        est_fn,
        true_fn,
        every if keep_fp is None else keep_fp,
        every if keep_fn is None else keep_fn,
        detection_counts(
            result,
            truth,
            definition,
            near_iou=near_iou,
            recall_kinds=recall_kinds,
            recall_frames=recall_frames,
        ),
    )


def run_tc(detections: Sequence[Det], flows: Flows, *, window: int = 3) -> CoherenceResult:
    """:func:`tracking.estimate_errors` on every detection given (score threshold 0: the
    detector's own threshold already chose them)."""
    return estimate_errors(detections, flows, window=window, score_threshold=0.0)


def injected_counts(
    detections: Sequence[Det],
    truth: Truth,
    flows: Flows,
    profile: InjectionProfile,
    seeds: Sequence[np.random.SeedSequence],
    *,
    window: int = 3,
    near_iou: float = 0.1,
    score_range: tuple[float, float] = (0.5, 1.0),
) -> tuple[FrameCounts, int]:
    """TC against errors injected into ``detections`` with each of ``seeds``, pooled; frames
    where the detector already erred are left out of that error type's per-frame figures.

    Returns:
        The pooled :class:`FrameCounts` (``verifiable`` definition) and the false boxes that
        found no place.
    """
    own_fp = true_counts(truth, DEFINITIONS["verifiable"])[0] > 0
    pooled, unplaced = None, 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        inj = inject_errors(
            rng,
            detections,
            truth,
            flows.frame_size,
            profile,
            score_range=score_range,
            near_iou=near_iou,
        )
        after = clip_truth(
            inj.detections, truth.object_boxes, near_iou=near_iou, injected=inj.injected
        )
        counts = frame_counts(
            run_tc(inj.detections, flows, window=window),
            after,
            DEFINITIONS["verifiable"],
            near_iou=near_iou,
            keep_fp=~own_fp,
            keep_fn=~truth.missed,
            recall_kinds=frozenset({INJECTED}),
            recall_frames=inj.dropped,
        )
        pooled = counts if pooled is None else pooled + counts
        unplaced += inj.unplaced
    assert pooled is not None, "at least one seed"
    return pooled, unplaced


def evaluate_clip(
    clip: Clip,
    detections: Sequence[Det],
    flows: Flows,
    args: argparse.Namespace,
    key: Sequence[int],
    threshold: float,
) -> dict[str, FrameCounts]:
    """Real errors (both definitions) and injected errors (each profile) on one clip.

    ``key`` (ints) names the clip, model and threshold in the injection seeds, so every flow
    sees the same injected errors."""
    assert clip.boxes is not None
    truth = clip_truth(detections, clip.boxes, near_iou=args.near_iou)
    result = run_tc(detections, flows, window=args.window)
    out = {
        name: frame_counts(result, truth, d, near_iou=args.near_iou)
        for name, d in DEFINITIONS.items()
    }
    for p, profile in enumerate(PROFILES):
        seeds = [
            np.random.SeedSequence(args.seed, spawn_key=(*key, p, s)) for s in range(args.seeds)
        ]
        out[f"injected/{profile}"], _ = injected_counts(
            detections,
            truth,
            flows,
            PROFILES[profile],
            seeds,
            window=args.window,
            near_iou=args.near_iou,
            score_range=(threshold, 1.0),
        )
    return out


# ---------------------------------------------------------------- tables


def _f(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _frame_cells(m: dict) -> list[str]:
    """``true/flagged/hit``, ``P (chance)``, ``R (random)`` of one :class:`FrameMetrics`."""
    return [
        f"{m['positives']}/{m['flagged']}/{m['hits']} of {m['frames']}",
        f"{_f(m['precision'])} ({_f(m['chance_precision'])})",
        f"{_f(m['recall'])} ({_f(m['random_recall'])})",
    ]


def _rank_cell(r: dict) -> str:
    if r["rho"] is None:
        return "– (constant)"
    return f"{_f(r['rho'])} ({_f(r['random_mean'])}, p={_f(r['p_value'], 3)})"


FRAME_HEADERS = [
    "FP frames true/flag/hit",
    "FP P (chance)",
    "FP R (random)",
    "FN frames true/flag/hit",
    "FN P (chance)",
    "FN R (random)",
    "Spearman ρ (random, p)",
]


def frame_table(rows: dict[tuple, dict]) -> str:
    """Per-frame figures, one row per ``(clip, model, threshold, ...)`` key."""
    width = len(next(iter(rows)))
    headers = ["clip", "model", "thr", "what"][:width] + FRAME_HEADERS
    body = [
        [*key, *_frame_cells(s["fp"]), *_frame_cells(s["fn"]), _rank_cell(s["rank"])]
        for key, s in rows.items()
    ]
    return markdown_table(headers, body)


def detection_table(rows: dict[tuple, dict]) -> str:
    """Per-detection and per-candidate figures, one row per key."""
    width = len(next(iter(rows)))
    headers = ["clip", "model", "thr", "what"][:width] + [
        "dets (false)",
        "FP labels (hits)",
        "FP P (base)",
        "FP R",
        "FN cands",
        "FN labels (hits)",
        "FN P",
        "misses found",
    ]
    body = []
    for key, s in rows.items():
        d = s["detections"]
        body.append(
            [
                *key,
                f"{d['detections']} ({d['false']})",
                f"{d['labelled_fp']} ({d['fp_hits']})",
                f"{_f(d['fp_precision'])} ({_f(d['fp_chance'])})",
                f"{_f(d['fp_recall'])} ({d['targets_found']}/{d['targets']})",
                d["candidates"],
                f"{d['labelled_fn']} ({d['fn_hits']})",
                _f(d["fn_precision"]),
                f"{d['misses_found']}/{d['misses']}",
            ]
        )
    return markdown_table(headers, body)


def summary_table(pooled: dict[str, dict[str, dict]]) -> str:
    """Per flow, the figures pooled over clips, models and thresholds (and profiles)."""
    headers = ["flow", "errors", *FRAME_HEADERS, "FP R per det", "misses found"]
    body = []
    for flow, parts in pooled.items():
        for what, s in parts.items():
            d = s["detections"]
            body.append(
                [
                    flow,
                    what,
                    *_frame_cells(s["fp"]),
                    *_frame_cells(s["fn"]),
                    _rank_cell(s["rank"]),
                    _f(d["fp_recall"]),
                    f"{d['misses_found']}/{d['misses']}",
                ]
            )
    return markdown_table(headers, body)


# ---------------------------------------------------------------- contact sheet

TP_COLOR, FP_COLOR, FN_COLOR, UNUSED_COLOR = (
    (40, 220, 40),
    (255, 40, 40),
    (255, 220, 0),
    (160, 160, 160),
)


def flagged_frames(result: CoherenceResult, limit: int) -> list[int]:
    """Frames with an estimated error, the ``limit`` with most (ties: earlier first), in
    time order."""
    errors = result.fp_per_frame + result.fn_per_frame  # [T]
    flagged = np.flatnonzero(errors > 0)
    top = flagged[np.argsort(-errors[flagged], kind="stable")][:limit]
    return sorted(int(t) for t in top)


def draw_estimates(
    frame: np.ndarray, t: int, detection: Det, result: CoherenceResult
) -> np.ndarray:
    """``frame (ndarray[H, W, 3])`` with frame ``t``'s detections coloured by TC's label (TP
    green, FP red, unused grey, with the score) and its FN candidates (yellow)."""
    boxes, _, scores = detection
    labels = result.detection_labels[t]
    names = {1: ("TP", TP_COLOR), 0: ("FP", FP_COLOR), -1: ("unused", UNUSED_COLOR)}
    texts = [f"{names[int(lab)][0]} {s:.2f}" for lab, s in zip(labels, scores, strict=True)]
    colors = [names[int(lab)][1] for lab in labels]
    cands = result.candidates
    fn = (cands.frame == t) & (result.candidate_labels == 1)
    return draw_boxes(
        frame,
        np.concatenate([np.asarray(boxes, np.float32).reshape(-1, 4), cands.boxes[fn]]),
        colors=colors + [FN_COLOR] * int(fn.sum()),
        texts=texts + ["FN"] * int(fn.sum()),
    )


def estimates_sheet(
    clip: Clip,
    detections: Sequence[Det],
    result: CoherenceResult,
    frames: Sequence[int],
    *,
    columns: int = 4,
    tile_width: int = 480,
) -> np.ndarray:
    """A contact sheet ``ndarray[H, W, 3]`` of ``frames`` with :func:`draw_estimates`."""
    import cv2

    tiles, titles = [], []
    for t in frames:
        drawn = draw_estimates(clip.frames[t], t, detections[t], result)
        height = round(tile_width * drawn.shape[0] / drawn.shape[1])
        tiles.append(cv2.resize(drawn, (tile_width, height), interpolation=cv2.INTER_AREA))
        titles.append(
            f"{clip.name} t={t}  FP {result.fp_per_frame[t]}  FN {result.fn_per_frame[t]}"
        )
    return tile_sheet(tiles, columns=columns, titles=titles)


def unannotated_clip(args: argparse.Namespace, spec: FlowSpec) -> dict:
    """The detector and TC on the ImageNet-VID clip; writes ``args.sheet`` when given."""
    clip = load_clip(args.data, "imagenet-vid", args.imagenet_frames)
    detections = detect(args.data, args.sheet_model, clip, args.sheet_threshold)
    result = run_tc(detections, clip_flows(clip, spec), window=args.window)
    labels = np.concatenate(result.detection_labels)
    shown = flagged_frames(result, args.sheet_frames)
    out = {
        "clip": "imagenet-vid",
        "flow": str(spec),
        "model": args.sheet_model,
        "threshold": args.sheet_threshold,
        "frames": len(clip.frames),
        "detections_per_frame": float(np.mean([len(d[0]) for d in detections])),
        "labelled_tp": int((labels == 1).sum()),
        "labelled_fp": int((labels == 0).sum()),
        "fn_candidates": int((result.candidate_labels == 1).sum()),
        "flagged_frames": np.flatnonzero(result.fp_per_frame + result.fn_per_frame).tolist(),
        "fp_frames": np.flatnonzero(result.fp_per_frame).tolist(),
        "fn_frames": np.flatnonzero(result.fn_per_frame).tolist(),
        "shown": shown,
    }
    if args.sheet and shown:
        sheet = estimates_sheet(clip, detections, result, shown, columns=args.sheet_columns)
        out["sheet"] = str(save_png(sheet, args.sheet))
    return out


# ---------------------------------------------------------------- main


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    p.add_argument("--clips", nargs="+", default=["davis", "jhmdb"], choices=["davis", "jhmdb"])
    p.add_argument("--frames", type=int, help="first frames of each annotated clip (default all)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--thresholds", nargs="+", type=float, default=[0.25, 0.5])
    p.add_argument(
        "--flows",
        nargs="+",
        default=["dis-medium", "dis-ultrafast"],
        help="NAME[@SCALE]: SCALE a fraction or sN (shorter side at most N px)",
    )
    p.add_argument("--near-iou", type=float, default=0.1, help="IoU below which a box is 'other'")
    p.add_argument("--window", type=int, default=3, help="TC tracking window (thesis: 3)")
    p.add_argument("--seeds", type=int, default=5, help="injection draws per profile")
    p.add_argument("--draws", type=int, default=1000, help="random flaggings and shuffles")
    p.add_argument("--seed", type=int, default=0, help="seed of injections and draws")
    p.add_argument("--cache", type=Path, help="keep the flow in this tracking.FlowCache folder")
    p.add_argument(
        "--imagenet-frames", type=int, default=144, help="ImageNet-VID frames (0: skip it)"
    )
    p.add_argument("--sheet", type=Path, help="write the ImageNet-VID contact sheet here (PNG)")
    p.add_argument("--sheet-model", default="xl", choices=list(MODELS))
    p.add_argument("--sheet-threshold", type=float, default=0.25)
    p.add_argument("--sheet-flow", help="flow of the sheet (default: the first of --flows)")
    p.add_argument("--sheet-frames", type=int, default=12, help="frames on the sheet at most")
    p.add_argument("--sheet-columns", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return p


def check_args(args: argparse.Namespace) -> list[FlowSpec]:
    """The parsed ``--flows``, after checking the other values; a :class:`ConfigError`
    names the first bad one."""
    if not (args.data / YOLO).is_dir():
        raise ConfigError(f"{args.data / YOLO}: not found (see shared/data/README.md)")
    if not 0.0 < args.near_iou < 0.5:
        raise ConfigError(f"--near-iou must be in (0, 0.5), got {args.near_iou}")
    if any(not 0.0 <= t < 1.0 for t in args.thresholds):
        raise ConfigError(f"--thresholds must be in [0, 1), got {args.thresholds}")
    if args.seeds < 1 or args.draws < 0 or args.window < 1:
        raise ConfigError("--seeds and --window must be at least 1, --draws at least 0")
    specs = [FlowSpec.parse(f) for f in args.flows]
    for spec in [*specs, *([FlowSpec.parse(args.sheet_flow)] if args.sheet_flow else [])]:
        try:
            flow_method(spec.method)  # an unknown name fails before any work
        except TrackingError as e:
            raise ConfigError(f"flow {spec.method!r}: {e}") from None
    return specs


def evaluate_flow(
    clips: dict[str, Clip], detections: dict[tuple, list[Det]], flows: dict[str, Flows], args
) -> dict[tuple, dict[str, FrameCounts]]:
    """:func:`evaluate_clip` for every ``(clip, model, threshold)`` of ``detections``."""
    out = {}
    for (name, model, thr), dets in detections.items():
        key = (list(CLIPS).index(name), list(MODELS).index(model), round(thr * 1000))
        out[(name, model, thr)] = evaluate_clip(clips[name], dets, flows[name], args, key, thr)
    return out


def report_flow(spec: FlowSpec, rows: dict[tuple, dict[str, FrameCounts]], args) -> dict:
    """Print the tables of one flow; return its figures (JSON-able)."""
    s = {
        k: {w: c.summary(seed=args.seed, draws=args.draws) for w, c in v.items()}
        for k, v in rows.items()
    }
    method = flow_method(spec.method)
    print(f"\n## flow {spec} ({method.tag})\n")
    for name in DEFINITIONS:
        print(f"### real errors, definition '{name}'\n")
        print(frame_table({k: v[name] for k, v in s.items()}) + "\n")
    print("### real errors per detection and per FN candidate\n")
    print(detection_table({(*k, d): v[d] for k, v in s.items() for d in DEFINITIONS}) + "\n")
    injected = {(*k, w.split("/")[1]): v[w] for k, v in s.items() for w in v if "/" in w}
    print("### injected errors (definition 'verifiable', own errors left out)\n")
    print(frame_table(injected) + "\n")
    print(detection_table(injected) + "\n")
    return {" ".join(map(str, k)): v for k, v in s.items()}


def pooled_figures(rows: dict[tuple, dict[str, FrameCounts]], args) -> dict[str, dict]:
    """Real (``verifiable``) and injected figures pooled over clips, models and thresholds."""
    real = sum((v["verifiable"] for v in rows.values()), start=_empty())
    injected = sum(
        (c for v in rows.values() for w, c in v.items() if w.startswith("injected/")),
        start=_empty(),
    )
    return {
        "real": real.summary(seed=args.seed, draws=args.draws),
        "injected": injected.summary(seed=args.seed, draws=args.draws),
    }


def _empty() -> FrameCounts:
    none = np.zeros(0, np.int64)
    return FrameCounts(none, none, none, none, none.astype(bool), none.astype(bool))


def main(args: argparse.Namespace) -> dict:
    import cv2

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    specs = check_args(args)
    started = time.perf_counter()
    clips = {c: load_clip(args.data, c, args.frames) for c in args.clips}
    detections = {
        (c, m, t): detect(args.data, m, clips[c], t)
        for c in args.clips
        for m in args.models
        for t in args.thresholds
    }
    cache = FlowCache(args.cache) if args.cache else None
    report: dict = {"setup": {k: str(v) for k, v in vars(args).items()}, "flows": {}}
    pooled = {}
    for spec in specs:
        flows = {c: clip_flows(clip, spec, cache) for c, clip in clips.items()}
        rows = evaluate_flow(clips, detections, flows, args)
        report["flows"][str(spec)] = report_flow(spec, rows, args)
        pooled[str(spec)] = pooled_figures(rows, args)
    report["pooled"] = pooled
    print("## pooled over clips, models and thresholds (injected: and profiles)\n")
    print(summary_table(pooled) + "\n")
    if args.imagenet_frames:
        spec = FlowSpec.parse(args.sheet_flow) if args.sheet_flow else specs[0]
        report["imagenet_vid"] = iv = unannotated_clip(args, spec)
        print(
            f"## ImageNet-VID, {args.sheet_model} at {args.sheet_threshold}, flow {spec}: "
            f"{iv['frames']} frames, {iv['detections_per_frame']:.2f} detections a frame, "
            f"{iv['labelled_fp']} labelled FP, {iv['fn_candidates']} FN candidates; "
            f"{len(iv['flagged_frames'])} frames flagged: {iv['flagged_frames']}; "
            f"sheet: {iv.get('sheet', 'not written')} ({iv['shown']})"
        )
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=_json_default))
    return report


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import run

    run(main, get_args_parser())
