"""Linking detections across frames and clustering unmatched tracked boxes into candidates.

Following Zolfaghari Bengar (2021), Sec. 2.3.2: detection ``d_i^k`` of frame ``i`` and
detection ``d_j^l`` of frame ``j`` (same class, ``0 < |i - j| <= window``) are linked when
``IoU(d_i^k, d_{j->i}^l) > theta`` or ``IoU(d_j^l, d_{i->j}^k) > theta``, i.e. when either
one's tracked box overlaps the other (Fig. 2.2a). Tracked boxes that are matched with no
detection of their frame hint at a missed object; "we cluster groups of unmatched tracked
detections in the same frame based on their overlap" into detection *candidates* (Fig. 2.2b),
each connected to the detections it was tracked from.

The thesis gives no value for ``theta``; the default 0.5 is the IoU it uses to call a
detection correct (Sec. 2.3.1), the PASCAL criterion.

Choices the thesis leaves open, made here:
    * A tracked box ``d_{i->j}^k`` counts as matched when ``d_i^k`` is linked to any detection
      of frame ``j`` (through either direction), so a link never also spawns a candidate.
    * Tracked boxes with less than ``min_visible`` of their area inside the frame are
      ignored: an object that has left the frame is not evidence of a missed detection.
    * Clustering is greedy, highest source score first: the best remaining box takes every
      remaining box of its frame and class with ``IoU > cluster_iou``; the candidate's box is
      the score-weighted mean of the group and its score the mean score of its sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._boxes import box_area, box_iou, check_boxes, clip_boxes
from .errors import TrackingError
from .propagate import Propagation

__all__ = ["Candidates", "Detections", "find_candidates", "link_detections"]


@dataclass(frozen=True)
class Detections:
    """The detections of one video, flattened frame by frame.

    Attributes:
        frame (ndarray[N] int64): frame of each detection.
        index (ndarray[N] int64): position of each detection within its frame's input.
        boxes (ndarray[N, 4] float32): boxes clipped to the frame.
        labels (ndarray[N] int64): class of each detection.
        scores (ndarray[N] float32): detector score.
        used (ndarray[N] bool): kept for the graph: score at least the threshold and a box of
            positive area after clipping.
        num_frames: ``T``.
    """

    frame: np.ndarray
    index: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    used: np.ndarray
    num_frames: int

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @classmethod
    def from_frames(
        cls,
        detections_per_frame: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
        *,
        frame_size: tuple[int, int],
        score_threshold: float = 0.0,
    ) -> Detections:
        """Flatten per-frame detections, clipping boxes and marking the ones to use.

        Args:
            detections_per_frame: for each of the ``T`` frames a tuple ``(boxes [N_t, 4],
                labels [N_t], scores [N_t])``; empty arrays for a frame without detections.
            frame_size: ``(H, W)`` to clip boxes to.
            score_threshold: detections scoring below it are kept but not used.

        Returns:
            The flattened :class:`Detections`.

        Raises:
            TrackingError: when a frame's entry is not a 3-tuple or its arrays disagree.
        """
        boxes, labels, scores = [], [], []
        for t, entry in enumerate(detections_per_frame):
            if len(entry) != 3:
                raise TrackingError(
                    f"detections_per_frame[{t}] must be (boxes, labels, scores), "
                    f"got {len(entry)} items"
                )
            b = check_boxes(entry[0], f"detections_per_frame[{t}] boxes")
            lab = np.asarray(entry[1]).reshape(-1)
            sc = np.asarray(entry[2], dtype=np.float32).reshape(-1)
            if not (len(b) == len(lab) == len(sc)):
                raise TrackingError(
                    f"detections_per_frame[{t}]: boxes [{len(b)}, 4], labels [{len(lab)}] and "
                    f"scores [{len(sc)}] must have the same length"
                )
            if len(lab) and not np.issubdtype(lab.dtype, np.integer):
                raise TrackingError(f"detections_per_frame[{t}] labels must be integers")
            boxes.append(b)
            labels.append(lab.astype(np.int64))
            scores.append(sc)
        num_frames = len(boxes)
        counts = [len(b) for b in boxes]
        flat = clip_boxes(np.concatenate(boxes), *frame_size) if num_frames else np.zeros((0, 4))
        flat_scores = np.concatenate(scores) if num_frames else np.zeros(0, np.float32)
        return cls(
            frame=np.repeat(np.arange(num_frames), counts).astype(np.int64),
            index=np.concatenate([np.arange(c) for c in counts]).astype(np.int64)
            if num_frames
            else np.zeros(0, np.int64),
            boxes=flat.astype(np.float32),
            labels=np.concatenate(labels) if num_frames else np.zeros(0, np.int64),
            scores=flat_scores.astype(np.float32),
            used=(flat_scores >= score_threshold) & (box_area(flat) > 0),
            num_frames=num_frames,
        )


@dataclass(frozen=True)
class Candidates:
    """Detection candidates: clusters of unmatched tracked boxes (possible missed objects).

    Attributes:
        frame (ndarray[M] int64): frame of each candidate.
        boxes (ndarray[M, 4] float32): score-weighted mean box of the cluster.
        labels (ndarray[M] int64): class.
        scores (ndarray[M] float32): mean score of the supporting detections.
        support (ndarray[S, 2] int64): rows ``(candidate, detection)``: the candidate was
            tracked from that detection (flattened index). These are the graph's
            candidate-detection edges.
    """

    frame: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    support: np.ndarray

    def __len__(self) -> int:
        return int(self.frame.shape[0])


def _usable(dets: Detections, prop: Propagation, min_visible: float) -> np.ndarray:
    """Tracked boxes that take part: their source is used and enough of them is visible."""
    if not 0.0 <= min_visible <= 1.0:
        raise TrackingError(f"min_visible must be in [0, 1], got {min_visible}")
    if len(prop) == 0:
        return np.zeros(0, dtype=bool)
    return dets.used[prop.source] & (prop.visible > 0) & (prop.visible >= min_visible)


def _by_frame(frames: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Order and slice bounds ``[T+1]`` that group items by frame."""
    order = np.argsort(frames, kind="stable")
    bounds = np.searchsorted(frames[order], np.arange(num_frames + 1))
    return order, bounds


def link_detections(
    dets: Detections,
    prop: Propagation,
    *,
    iou_threshold: float = 0.5,
    min_visible: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Link same-class detections whose tracked boxes overlap (thesis Sec. 2.3.2, Fig. 2.2a).

    Args:
        dets: the video's detections.
        prop: their tracked boxes (:func:`~tracking.propagate.propagate_detections` of
            ``dets``' boxes, in the same flattened order).
        iou_threshold: ``theta``; a link needs ``IoU > theta``.
        min_visible: tracked boxes less visible than this are ignored.

    Returns:
        ``(links, matched)``: ``links`` ndarray[E, 2] int64 of flattened detection indices,
        each unordered pair once with the smaller index first; ``matched`` ndarray[P] bool,
        whether each tracked box's source is linked to a detection of the box's frame.

    Raises:
        TrackingError: on a threshold outside ``[0, 1)``.
    """
    if not 0.0 <= iou_threshold < 1.0:
        raise TrackingError(f"iou_threshold must be in [0, 1), got {iou_threshold}")
    usable = _usable(dets, prop, min_visible)
    p_idx = np.flatnonzero(usable)
    d_idx = np.flatnonzero(dets.used)
    p_order, p_bounds = _by_frame(prop.frame[p_idx], dets.num_frames)
    d_order, d_bounds = _by_frame(dets.frame[d_idx], dets.num_frames)
    pairs = []
    for t in range(dets.num_frames):
        ps = p_idx[p_order[p_bounds[t] : p_bounds[t + 1]]]  # tracked boxes in frame t
        ds = d_idx[d_order[d_bounds[t] : d_bounds[t + 1]]]  # detections of frame t
        if len(ps) == 0 or len(ds) == 0:
            continue
        iou = box_iou(prop.boxes[ps], dets.boxes[ds])  # [P_t, N_t]
        same = dets.labels[prop.source[ps]][:, None] == dets.labels[ds][None, :]
        hit_p, hit_d = np.nonzero((iou > iou_threshold) & same)
        pairs.append(np.stack([prop.source[ps[hit_p]], ds[hit_d]], axis=1))
    if pairs:
        links = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0).astype(np.int64)
    else:
        links = np.zeros((0, 2), dtype=np.int64)
    # (detection, frame) keys of every link seen from both ends
    num_frames = max(dets.num_frames, 1)
    keys = np.concatenate(
        [
            links[:, 0] * num_frames + dets.frame[links[:, 1]],
            links[:, 1] * num_frames + dets.frame[links[:, 0]],
        ]
    )
    matched = np.isin(prop.source * num_frames + prop.frame, keys)
    return links, matched


def find_candidates(
    dets: Detections,
    prop: Propagation,
    matched: np.ndarray,
    *,
    cluster_iou: float = 0.5,
    min_visible: float = 0.5,
) -> Candidates:
    """Cluster the unmatched tracked boxes of each frame and class into candidates.

    Thesis Sec. 2.3.2, Fig. 2.2b. Greedy: within a frame and class, the remaining tracked box
    whose source scores highest seeds a cluster and takes every remaining box with
    ``IoU > cluster_iou`` to it. The IoU matrix is computed once per frame and class; the
    greedy pass is a short loop over that group's tracked boxes.

    Args:
        dets: the video's detections.
        prop: their tracked boxes.
        matched (ndarray[P] bool): from :func:`link_detections`.
        cluster_iou: overlap that joins a tracked box to a cluster seed.
        min_visible: tracked boxes less visible than this are ignored.

    Returns:
        :class:`Candidates` ordered by frame.

    Raises:
        TrackingError: on a ``matched`` of the wrong shape or a bad threshold.
    """
    if matched.shape != (len(prop),):
        raise TrackingError(f"matched must have shape [P] = [{len(prop)}], got {matched.shape}")
    if not 0.0 <= cluster_iou < 1.0:
        raise TrackingError(f"cluster_iou must be in [0, 1), got {cluster_iou}")
    free = np.flatnonzero(_usable(dets, prop, min_visible) & ~matched)
    score = dets.scores[prop.source[free]]
    label = dets.labels[prop.source[free]]
    # group by (frame, class), best score first inside a group
    order = np.lexsort((-score, label, prop.frame[free]))
    free, score, label = free[order], score[order], label[order]
    group_key = np.stack([prop.frame[free], label], axis=1)
    starts = np.flatnonzero(np.r_[True, np.any(group_key[1:] != group_key[:-1], axis=1)])
    ends = np.r_[starts[1:], len(free)]
    cluster = np.full(len(free), -1, dtype=np.int64)  # cluster id of each free tracked box
    count = 0
    for lo, hi in zip(starts, ends, strict=True):  # one frame and class, best score first
        joins = box_iou(prop.boxes[free[lo:hi]], prop.boxes[free[lo:hi]]) > cluster_iou
        ids = cluster[lo:hi]  # a view: writes land in ``cluster``
        for seed in range(hi - lo):
            if ids[seed] < 0:
                members = joins[seed] & (ids < 0)
                members[seed] = True
                ids[members] = count
                count += 1
    # cluster boxes, scores and support, vectorised over clusters
    weight = np.maximum(score, 1e-6).astype(np.float64)
    total = np.bincount(cluster, weights=weight, minlength=count)  # [M]
    boxes = (
        np.stack(
            [
                np.bincount(cluster, weights=weight * prop.boxes[free, c], minlength=count)
                for c in range(4)
            ],
            axis=1,
        )
        / np.maximum(total, 1e-12)[:, None]
    )  # [M, 4]
    size = np.bincount(cluster, minlength=count)
    _, first = np.unique(cluster, return_index=True)  # each cluster's seed, [M]
    by_cluster = np.argsort(cluster, kind="stable")
    return Candidates(
        frame=prop.frame[free[first]].astype(np.int64),
        boxes=boxes.astype(np.float32).reshape(count, 4),
        labels=label[first].astype(np.int64),
        scores=(np.bincount(cluster, weights=score, minlength=count) / np.maximum(size, 1)).astype(
            np.float32
        ),
        support=np.stack([cluster, prop.source[free]], axis=1)[by_cluster].astype(np.int64),
    )
