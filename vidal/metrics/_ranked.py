"""The base of the AP accumulators (private): one protocol, detections kept per class, AP at the end.

Frame-AP, video-AP and VOC detection AP all follow the same steps: settle the protocol, match
each batch of detections (a video, a frame) to its ground truth, keep per class only the
scores and true-positive flags at every overlap threshold, and at the end rank each class's
detections into a precision-recall curve and an AP (:func:`vidal.metrics.average_precision`).
Only the matching step differs, and stays with each accumulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vidal.errors import VidalError
from vidal.metrics._checks import mean_or_none, positive_int, thresholds
from vidal.metrics.ap import _match_grouped, average_precision
from vidal.metrics.protocols import Protocol, get_protocol

__all__ = ["RankedAPAccumulator"]


class RankedAPAccumulator:
    """Scores and true-positive flags per class and threshold, ranked into AP at the end.

    Subclasses set :attr:`default_thresholds` and :attr:`default_protocol`, match detections
    in their ``update`` and report in their ``compute``.

    Args:
        num_classes: K; labels are ``0 .. K - 1``.
        iou_thresholds: the overlaps to report (the subclass's default when ``None``).
        protocol: a name in :data:`vidal.metrics.PROTOCOLS` or a :class:`Protocol` (the
            subclass's default when ``None``).
        matching, method, inclusive: override the protocol's setting when given.
    """

    default_thresholds: tuple[float, ...] = (0.5,)
    default_protocol: str = "vidal"

    def __init__(
        self,
        num_classes: int,
        *,
        iou_thresholds: Sequence[float] | float | None = None,
        protocol: str | Protocol | None = None,
        matching: str | None = None,
        method: str | None = None,
        inclusive: bool | None = None,
    ) -> None:
        self.num_classes = positive_int(num_classes, "num_classes")
        self.iou_thresholds = thresholds(
            self.default_thresholds if iou_thresholds is None else iou_thresholds,
            "iou_thresholds",
        )
        self.protocol = get_protocol(
            self.default_protocol if protocol is None else protocol,
            matching=matching,
            method=method,
            inclusive=inclusive,
        )
        self.matching = self.protocol.matching
        self.method = self.protocol.method
        self.inclusive = self.protocol.inclusive
        self._num_gt = np.zeros(self.num_classes, dtype=np.int64)
        self._scores: list[list[np.ndarray]] = [[] for _ in range(self.num_classes)]
        self._tp: list[list[np.ndarray]] = [[] for _ in range(self.num_classes)]

    def _add_boxes(
        self,
        *,
        keys: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray,
        boxes: np.ndarray,
        gt_keys: np.ndarray,
        gt_labels: np.ndarray,
        gt_boxes: np.ndarray,
    ) -> None:
        """Match boxes within groups (a detection meets only ground truth with its key) and keep the flags.

        Args:
            keys (ndarray[N]): int64 group of each detection (its class, or frame and class).
            labels (ndarray[N]): int64 class of each detection.
            scores (ndarray[N]): float64 scores.
            boxes (ndarray[N, 4]): float64 boxes.
            gt_keys (ndarray[M]): int64 group of each ground-truth box.
            gt_labels (ndarray[M]): int64 classes.
            gt_boxes (ndarray[M, 4]): float64 boxes.
        """
        tp = _match_grouped(
            keys,
            boxes,
            scores,
            gt_keys,
            gt_boxes,
            self.iou_thresholds,
            matching=self.matching,
            inclusive=self.inclusive,
        )
        self._add(labels, scores, tp, gt_labels)

    def _add(
        self, labels: np.ndarray, scores: np.ndarray, tp: np.ndarray, gt_labels: np.ndarray
    ) -> None:
        """Keep detections (``labels [N]``, ``scores [N]``, ``tp [len(thresholds), N]``) and count ground truth (``gt_labels [M]``)."""
        self._num_gt += np.bincount(gt_labels, minlength=self.num_classes)
        for c in np.unique(labels):
            mine = labels == c
            self._scores[c].append(scores[mine])
            self._tp[c].append(tp[:, mine])

    def merge(self, other: RankedAPAccumulator) -> None:
        """Add the detections and ground truth ``other`` (same class, settings) was fed, after
        this one's: accumulators fed disjoint parts of the data and merged in the order one
        accumulator would have been fed give exactly its AP (ties keep their order).

        Raises:
            VidalError: another accumulator class, class count, thresholds or protocol.
        """
        if (
            type(other) is not type(self)
            or other.num_classes != self.num_classes
            or other.iou_thresholds != self.iou_thresholds
            or (other.matching, other.method, other.inclusive)
            != (self.matching, self.method, self.inclusive)
        ):
            raise VidalError("cannot merge AP accumulators of other kinds or settings")
        self._num_gt += other._num_gt
        for c in range(self.num_classes):
            self._scores[c].extend(other._scores[c])
            self._tp[c].extend(other._tp[c])

    def _per_class(self) -> dict[float, list[float | None]]:
        """{threshold: K APs, ``None`` for a class without ground truth}."""
        out: dict[float, list[float | None]] = {th: [] for th in self.iou_thresholds}
        for c in range(self.num_classes):
            scores = np.concatenate(self._scores[c]) if self._scores[c] else np.zeros(0)
            tp = (
                np.concatenate(self._tp[c], axis=1)
                if self._tp[c]
                else np.zeros((len(self.iou_thresholds), 0), bool)
            )
            for k, th in enumerate(self.iou_thresholds):
                out[th].append(
                    average_precision(scores, tp[k], int(self._num_gt[c]), method=self.method)
                )
        return out

    def _result(self, map_key: str) -> dict[str, Any]:
        """``{map_key: {threshold: mean AP}}``, then ``per_class``, the counts and the settings."""
        per_class = self._per_class()
        return {
            map_key: {th: mean_or_none(v) for th, v in per_class.items()},
            "per_class": per_class,
            "num_gt": self._num_gt.tolist(),
            "num_detections": [
                int(sum(len(s) for s in self._scores[c])) for c in range(self.num_classes)
            ],
            "protocol": self.protocol.name,
            "matching": self.matching,
            "method": self.method,
            "inclusive": self.inclusive,
        }
