"""How ``tools/tc_real_video.py`` scores temporal coherence against one annotated object.

Private to ``tools/`` (a script imports it as ``_tc_eval``). Pure functions over numpy
arrays and :class:`tracking.CoherenceResult`, each tested by hand in
``tests/detection/test_tc_real_video_tool.py``:

- **truth**: each detection's kind against the annotated object's box
  (:func:`classify_detections`: matched, duplicate, mislocalized, other), the misses
  (:func:`clip_truth`) and the two definitions of what counts (:data:`DEFINITIONS`);
- **counts per frame**: true (:func:`true_counts`) and estimated by TC
  (:func:`estimated_counts`), and per detection and FN candidate (:func:`detection_counts`);
- **metrics against chance**: per-frame precision and recall with the base rate and random
  flaggings of as many frames (:func:`frame_metrics`), Spearman's rho with a permutation
  test (:func:`rank_correlation`);
- **injected errors**: drops of matched boxes, independent or in runs (:func:`drop_frames`),
  and false boxes at known places (:func:`place_false_box`, :func:`inject_errors`).

See ``tools/tc_real_video.py`` for the definitions in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy.stats import pearsonr, permutation_test, rankdata, spearmanr
from torchvision.ops import box_iou

from tracking import CoherenceResult
from vidal.errors import ConfigError

Det = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One frame's detections: ``(boxes [N, 4] float32 x1 y1 x2 y2, labels [N] int64, scores [N])``."""

# kinds of detection against the one annotated object
MATCHED, DUPLICATE, MISLOCALIZED, OTHER, INJECTED = 0, 1, 2, 3, 4
KIND_NAMES = ("matched", "duplicate", "mislocalized", "other", "injected")


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


def ratio(num: float, den: float) -> float | None:
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
        rand_r = ratio(rand_hits.mean(), positives)
    return FrameMetrics(
        frames,
        positives,
        flagged,
        hits,
        ratio(hits, flagged),
        ratio(hits, positives),
        ratio(positives, frames),
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
            "fp_precision": ratio(self.fp_hits, self.labelled_fp),
            "fp_chance": ratio(self.false, self.detections),
            "fp_recall": ratio(self.targets_found, self.targets),
            "fn_precision": ratio(self.fn_hits, self.labelled_fn),
            "fn_recall": ratio(self.misses_found, self.misses),
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
