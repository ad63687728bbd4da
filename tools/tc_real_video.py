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
``NAME[@SCALE]``, where SCALE is a fraction in (0, 1] (default 1, the full frame) or ``sN``
(shorter side brought to at most N pixels). Names go to :func:`tracking.get_flow_method`
(``dis-medium``, ``dis-ultrafast``, ``farneback``, ...): ``dis-medium`` at full size is the
old default, ``dis-ultrafast@s160`` what ``score.flow`` uses today (``dis``, shorter side
:data:`tracking.FLOW_SHORT_SIDE`). ``zero`` is a control with no motion at all
(:class:`ZeroFlow`), which tells whether a clip's objects move enough for the flow to matter.
Every table is printed per flow and a last table pools the figures of each flow.
``--clip-sheets DIR`` also draws, for DAVIS and J-HMDB, the frames TC flags with the
annotated box (blue), so one can see by eye what the ``other`` detections are.

Figures and what they mean: ``docs/tc_real_video.md``.

Example:
    OMP_NUM_THREADS=1 PYTHONPATH=. python tools/tc_real_video.py \
        --flows dis-ultrafast@s160 dis-medium dis-ultrafast dis-medium@s160 dis-ultrafast@s96 zero \
        --sheet docs/tc_real_video/imagenet_vid_flags.png --clip-sheets docs/tc_real_video \
        --json /tmp/tc_real_video.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou

from tracking import (
    CoherenceResult,
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, as when run as a script
from _tc_eval import (  # noqa: E402
    DEFINITIONS,
    INJECTED,
    PROFILES,
    Det,
    FrameCounts,
    InjectionProfile,
    Truth,
    clip_truth,
    frame_counts,
    inject_errors,
    ratio,
    true_counts,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
YOLO = "models/yolo-fastest-1.1-coco"
MODELS = {"xl": "yolo-fastest-1.1-xl", "small": "yolo-fastest-1.1"}


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


@dataclass(frozen=True)
class ZeroFlow:
    """A control, not a flow method (:class:`tracking.FlowMethod` protocol): no motion, every
    vector 0. With it TC links boxes only where they overlap in place; where it scores as
    well as a real flow, the clip's objects move too little, for their size, over the
    tracking window for the flow to matter."""

    @property
    def tag(self) -> str:
        return "zero"

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """``[B, h, w, 2]`` zeros for ``first``, ``second`` ``[B, h, w, 3]``."""
        return np.zeros((*first.shape[:3], 2), np.float32)


def flow_method(name: str) -> FlowMethod:
    """The flow method ``name`` of :data:`tracking.FLOW_METHODS` (``"dis"``,
    ``"dis-ultrafast"``, ``"dis-medium"``, ...), or ``"zero"``: :class:`ZeroFlow`."""
    return ZeroFlow() if name == "zero" else get_flow_method(name)


def clip_flows(clip: Clip, spec: FlowSpec, cache: FlowCache | None = None) -> Flows:
    """Forward and backward flow of ``clip`` (through ``cache`` when given)."""
    method = flow_method(spec.method)
    scale = spec.scale_for(*clip.frames.shape[1:3])
    if cache is None:
        return compute_flows(clip.frames, method=method, scale=scale)
    return cache.get_flows(
        f"{clip.name}-{len(clip.frames)}", clip.frames, method=method, scale=scale
    )


# ---------------------------------------------------------------- evaluation


def object_motion(clip: Clip, window: int = 3) -> dict[str, float]:
    """How far the annotated object moves over the tracking window, for its size: the IoU of
    its box on frame ``t`` with its box on ``t + window`` (median and minimum over ``t``).
    Above 0.5, boxes overlapping in place already link, flow or not."""
    assert clip.boxes is not None
    a, b = clip.boxes[:-window], clip.boxes[window:]
    ok = ~(np.isnan(a).any(1) | np.isnan(b).any(1))
    iou = box_iou(torch.from_numpy(a[ok]), torch.from_numpy(b[ok])).diagonal().numpy()
    return {"median_iou": float(np.median(iou)), "min_iou": float(iou.min())}


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

TP_COLOR, FP_COLOR, FN_COLOR, UNUSED_COLOR, TRUTH_COLOR = (
    (40, 220, 40),
    (255, 40, 40),
    (255, 220, 0),
    (160, 160, 160),
    (40, 120, 255),
)


def flagged_frames(result: CoherenceResult, limit: int) -> list[int]:
    """Frames with an estimated error, the ``limit`` with most (ties: earlier first), in
    time order."""
    errors = result.fp_per_frame + result.fn_per_frame  # [T]
    flagged = np.flatnonzero(errors > 0)
    top = flagged[np.argsort(-errors[flagged], kind="stable")][:limit]
    return sorted(int(t) for t in top)


def draw_estimates(
    frame: np.ndarray,
    t: int,
    detection: Det,
    result: CoherenceResult,
    truth_box: np.ndarray | None = None,
) -> np.ndarray:
    """``frame (ndarray[H, W, 3])`` with frame ``t``'s detections coloured by TC's label (TP
    green, FP red, unused grey, with the score), its FN candidates (yellow) and, when given
    and not NaN, the annotated object's ``truth_box (ndarray[4])`` (blue, drawn first)."""
    boxes, _, scores = detection
    labels = result.detection_labels[t]
    names = {1: ("TP", TP_COLOR), 0: ("FP", FP_COLOR), -1: ("unused", UNUSED_COLOR)}
    texts = [f"{names[int(lab)][0]} {s:.2f}" for lab, s in zip(labels, scores, strict=True)]
    colors = [names[int(lab)][1] for lab in labels]
    cands = result.candidates
    fn = (cands.frame == t) & (result.candidate_labels == 1)
    if truth_box is not None and not np.isnan(truth_box).any():
        frame = draw_boxes(frame, truth_box[None], colors=[TRUTH_COLOR], thickness=4)
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
    true_errors: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """A contact sheet ``ndarray[H, W, 3]`` of ``frames`` with :func:`draw_estimates` (and
    the annotated box where ``clip`` has one); each title gives TC's FP and FN counts, and
    the true ones when ``true_errors`` (``FP [T]``, ``FN [T]``) are given."""
    import cv2

    tiles, titles = [], []
    for t in frames:
        truth = None if clip.boxes is None else clip.boxes[t]
        drawn = draw_estimates(clip.frames[t], t, detections[t], result, truth)
        height = round(tile_width * drawn.shape[0] / drawn.shape[1])
        tiles.append(cv2.resize(drawn, (tile_width, height), interpolation=cv2.INTER_AREA))
        title = f"{clip.name} t={t} FP {result.fp_per_frame[t]} FN {result.fn_per_frame[t]}"
        if true_errors is not None:
            title += f" (true {true_errors[0][t]}, {true_errors[1][t]})"
        titles.append(title)
    return tile_sheet(tiles, columns=columns, titles=titles)


def clip_sheets(
    clips: dict[str, Clip],
    detections: dict[tuple, list[Det]],
    args: argparse.Namespace,
    spec: FlowSpec,
) -> dict[str, str]:
    """For each annotated clip and ``--models`` entry (detections at ``--sheet-threshold``,
    computed here when the run did not), a contact sheet ``<clip>_<model>_flags.png`` in
    ``args.clip_sheets`` of the frames with a true error (``verifiable``) and the
    ``--clip-sheet-frames`` that TC flags most with ``spec``'s flow, tiles
    ``--clip-sheet-tile-width`` pixels wide; the annotated box drawn in blue."""
    out = {}
    for (name, clip), model in ((c, m) for c in clips.items() for m in args.models):
        key = (name, model, args.sheet_threshold)
        if key not in detections:
            detections[key] = detect(args.data, model, clip, args.sheet_threshold)
        assert clip.boxes is not None
        truth = clip_truth(detections[key], clip.boxes, near_iou=args.near_iou)
        true_fp, true_fn = true_counts(truth, DEFINITIONS["verifiable"])
        result = run_tc(detections[key], clip_flows(clip, spec), window=args.window)
        erred = np.flatnonzero(true_fp + true_fn).tolist()
        flagged = flagged_frames(result, args.clip_sheet_frames)
        shown = sorted(set(erred) | set(flagged))
        what = f"{name}: {model} at {args.sheet_threshold}, flow {spec}"
        print(f"{what}: true errors on frames {erred}, TC flags (most) {flagged}")
        if shown:
            image = estimates_sheet(
                clip,
                detections[key],
                result,
                shown,
                columns=args.sheet_columns,
                tile_width=args.clip_sheet_tile_width,
                true_errors=(true_fp, true_fn),
            )
            path = args.clip_sheets / f"{name}_{model}_flags.png"
            out[f"{name} {model}"] = str(save_png(image, path))
    return out


def tc_summary(result: CoherenceResult, reference: CoherenceResult | None = None) -> dict:
    """What TC estimated on a clip without annotation, and how far it agrees with the
    ``reference`` result on the same detections: the Jaccard index of the flagged frames and
    the share of detections with the same label."""
    labels = np.concatenate(result.detection_labels)
    flagged = np.flatnonzero(result.fp_per_frame + result.fn_per_frame)
    out = {
        "labelled_tp": int((labels == 1).sum()),
        "labelled_fp": int((labels == 0).sum()),
        "fn_candidates": int((result.candidate_labels == 1).sum()),
        "flagged_frames": flagged.tolist(),
        "fp_frames": np.flatnonzero(result.fp_per_frame).tolist(),
        "fn_frames": np.flatnonzero(result.fn_per_frame).tolist(),
    }
    if reference is not None:
        ref = set(np.flatnonzero(reference.fp_per_frame + reference.fn_per_frame).tolist())
        union = ref | set(out["flagged_frames"])
        out["flagged_jaccard"] = ratio(len(ref & set(out["flagged_frames"])), len(union))
        same = labels == np.concatenate(reference.detection_labels)
        out["same_labels"] = float(same.mean()) if len(same) else None
    return out


def unannotated_clip(args: argparse.Namespace, specs: Sequence[FlowSpec], sheet: FlowSpec) -> dict:
    """The detector and TC with each flow on the ImageNet-VID clip, each against the first;
    with ``sheet``'s flow, the contact sheet (``args.sheet``, when given)."""
    clip = load_clip(args.data, "imagenet-vid", args.imagenet_frames)
    detections = detect(args.data, args.sheet_model, clip, args.sheet_threshold)
    results = {}
    for spec in dict.fromkeys([*specs, sheet]):
        results[spec] = run_tc(detections, clip_flows(clip, spec), window=args.window)
    first = results[specs[0]]
    out = {
        "clip": "imagenet-vid",
        "model": args.sheet_model,
        "threshold": args.sheet_threshold,
        "frames": len(clip.frames),
        "detections_per_frame": float(np.mean([len(d[0]) for d in detections])),
        "flows": {
            str(s): tc_summary(r, first if s != specs[0] else None) for s, r in results.items()
        },
        "sheet_flow": str(sheet),
        "shown": flagged_frames(results[sheet], args.sheet_frames),
    }
    if args.sheet and out["shown"]:
        image = estimates_sheet(
            clip,
            detections,
            results[sheet],
            out["shown"],
            columns=args.sheet_columns,
            tile_width=args.sheet_tile_width,
        )
        out["sheet"] = str(save_png(image, args.sheet))
    return out


def print_unannotated(iv: dict) -> None:
    """The ImageNet-VID figures of each flow as a table, and what the sheet shows."""
    print(
        f"## ImageNet-VID, Yolo-Fastest {iv['model']} at {iv['threshold']}: {iv['frames']} "
        f"frames, {iv['detections_per_frame']:.2f} detections a frame\n"
    )
    rows = [
        [
            flow,
            s["labelled_tp"],
            s["labelled_fp"],
            s["fn_candidates"],
            len(s["fp_frames"]),
            len(s["fn_frames"]),
            len(s["flagged_frames"]),
            _f(s.get("flagged_jaccard")),
            _f(s.get("same_labels")),
        ]
        for flow, s in iv["flows"].items()
    ]
    first = next(iter(iv["flows"]))
    headers = ["flow", "TP labels", "FP labels", "FN candidates", "FP frames", "FN frames"]
    headers += ["flagged frames", f"flagged Jaccard with {first}", f"same labels as {first}"]
    print(markdown_table(headers, rows) + "\n")
    flagged = iv["flows"][iv["sheet_flow"]]["flagged_frames"]
    print(
        f"flow {iv['sheet_flow']} flags frames {flagged}; sheet: {iv.get('sheet', 'not written')}"
        f" showing {iv['shown']}"
    )


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
        default=["dis-ultrafast@s160", "dis-medium", "zero"],
        help="NAME[@SCALE]: SCALE a fraction or sN (shorter side at most N px); the first is "
        "the reference of the ImageNet-VID comparison and the flow of the sheets",
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
    p.add_argument(
        "--clip-sheets", type=Path, help="write the DAVIS / J-HMDB sheets to this folder"
    )
    p.add_argument("--clip-sheet-frames", type=int, default=6, help="flagged frames shown")
    p.add_argument("--clip-sheet-tile-width", type=int, default=320, help="pixels per tile")
    p.add_argument("--sheet-model", default="xl", choices=list(MODELS))
    p.add_argument("--sheet-threshold", type=float, default=0.25)
    p.add_argument("--sheet-flow", help="flow of the sheet (default: the first of --flows)")
    p.add_argument("--sheet-frames", type=int, default=12, help="frames on the sheet at most")
    p.add_argument("--sheet-columns", type=int, default=3)
    p.add_argument("--sheet-tile-width", type=int, default=400, help="pixels per sheet tile")
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
    report["object_motion"] = {c: object_motion(clip, args.window) for c, clip in clips.items()}
    for c, m in report["object_motion"].items():
        print(
            f"{c}: the object's box on frame t against t + {args.window}: IoU median "
            f"{m['median_iou']:.2f}, min {m['min_iou']:.2f}"
        )
    pooled = {}
    for spec in specs:
        flows = {c: clip_flows(clip, spec, cache) for c, clip in clips.items()}
        rows = evaluate_flow(clips, detections, flows, args)
        report["flows"][str(spec)] = report_flow(spec, rows, args)
        pooled[str(spec)] = pooled_figures(rows, args)
    report["pooled"] = pooled
    print("## pooled over clips, models and thresholds (injected: and profiles)\n")
    print(summary_table(pooled) + "\n")
    sheet = FlowSpec.parse(args.sheet_flow) if args.sheet_flow else specs[0]
    if args.clip_sheets:
        report["clip_sheets"] = clip_sheets(clips, detections, args, sheet)
    if args.imagenet_frames:
        report["imagenet_vid"] = unannotated_clip(args, specs, sheet)
        print_unannotated(report["imagenet_vid"])
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=_json_default))
    return report


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


if __name__ == "__main__":
    from _common import run

    run(main, get_args_parser())
