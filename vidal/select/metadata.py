"""Metadata cycling: one frame per metadata tuple, the tuples visited in random order.

*Active learning on subjective affective frames from a therapeutic game* (the affective-frame
study, seed 000; Experiment 1): "we cycle through one random frame for each (automatic
emotion label, child) tuple until all tuples have been exhausted. The order of cycling
through (automatic emotion label, child) tuples is chosen randomly", and the better variant
takes "the frame with the maximum entropy" ``H(x) = -sum_i P(y_i | x) log P(y_i | x)`` of
each tuple instead of a random one. Metadata that comes with the video for free (a game's
prompt, the subject, scene, weather) so balances the labeled set without the model.

How the metadata reaches the selector: the dataset carries it (``VideoAnnotation.metadata``
per video, ``VideoAnnotation.frame_metadata`` per frame, kept by the vidal JSON format);
:func:`attach_metadata` puts each field into the scores as categorical codes per frame,
``scores.extra["meta:<field>"][video_id]`` (float ``ndarray[T]``, one code per distinct
value, ``None`` a value of its own); the selector's option ``fields`` names the fields whose
value tuples it cycles through. ``"video"`` names the video id, which every pool has.

Selection (:class:`MetadataCycleSelector`): the unlabeled frames are grouped by their tuple
of field values; the tuples are put in a random order (from ``rng``); round after round,
every tuple in that order gives its best remaining frame (highest ``scores.frames``, e.g. the
``entropy`` scorer; ``pick="random"``: a random one) until the budget is spent or every frame
is taken. A frame that does not fit the remaining cost is passed over (the next frame in
the cycle is tried), as in every vidal selector.

Bad input: a field the scores do not carry is an error naming the fields they carry; a field
that takes one value over the unlabeled frames does not split them and is reported with a
:class:`MetadataWarning`, which also names the fallback when no field splits them (plain
top-k by score, or random frames).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from vidal.data.annotations import VideoDataset
from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool
from vidal.select._common import Taker, check_option, unlabeled_table, videos_in_order
from vidal.select.base import FrameScores, Selection, check_scores

__all__ = [
    "META_PREFIX",
    "VIDEO_FIELD",
    "MetadataWarning",
    "MetadataCycleSelector",
    "metadata_codes",
    "attach_metadata",
]

#: ``scores.extra[META_PREFIX + field]`` holds the categorical codes of a metadata field
META_PREFIX = "meta:"
#: the field name that stands for the video id
VIDEO_FIELD = "video"


class MetadataWarning(UserWarning):
    """Metadata that cannot do what was asked of it (a field with one value); says the fallback."""


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def metadata_codes(
    dataset: VideoDataset, fields: Iterable[str] | None = None
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, list[Any]]]:
    """Categorical codes of metadata fields at every frame of every video.

    Args:
        dataset: videos with ``metadata`` / ``frame_metadata``.
        fields: the fields to code; default every field some video carries.

    Returns:
        ``(codes, values)``: ``codes[field][video_id]`` float64 ``ndarray[T]``, the index of
        the frame's value in ``values[field]``; values are sorted by their JSON text, so
        codes do not depend on the order of the videos. A video without the field has the
        value ``None`` at every frame.

    Example:
        >>> from vidal.data.annotations import VideoAnnotation
        >>> ds = VideoDataset(["a"], [VideoAnnotation("v", 3, 8, 8, metadata={"scene": "day"},
        ...     frame_metadata={"scene": [None, "night", None]}), VideoAnnotation("w", 2, 8, 8)])
        >>> codes, values = metadata_codes(ds)
        >>> values["scene"], codes["scene"]["v"].tolist(), codes["scene"]["w"].tolist()
        (['day', 'night', None], [0.0, 1.0, 0.0], [2.0, 2.0])
    """
    if fields is None:
        names = {n for v in dataset for n in (*v.metadata, *v.frame_metadata)}
        fields = sorted(names)
    per_video: dict[str, dict[str, list[Any]]] = {}
    values: dict[str, list[Any]] = {}
    for name in fields:
        per_video[name] = {
            v.video_id: v.metadata_values(name) or [None] * v.num_frames for v in dataset
        }
        distinct = {_key(x): x for vals in per_video[name].values() for x in vals}
        values[name] = [distinct[k] for k in sorted(distinct)]
    codes: dict[str, dict[str, np.ndarray]] = {}
    for name, videos in per_video.items():
        index = {_key(x): float(i) for i, x in enumerate(values[name])}
        codes[name] = {
            vid: np.array([index[_key(x)] for x in vals], dtype=np.float64)
            for vid, vals in videos.items()
        }
    return codes, values


def attach_metadata(
    scores: FrameScores, dataset: VideoDataset, fields: Iterable[str] | None = None
) -> FrameScores:
    """``scores`` with ``extra["meta:<field>"]`` set for ``fields`` (default: all of them).

    Args:
        scores: the scores (changed in place and returned).
        dataset: the videos and their metadata (see :func:`metadata_codes`).
        fields: which fields; default every field some video carries.

    Returns:
        ``scores``.
    """
    codes, _ = metadata_codes(dataset, fields)
    for name, per_video in codes.items():
        scores.extra[META_PREFIX + name] = per_video
    return scores


@dataclass(frozen=True, kw_only=True)
class MetadataCycleSelector:
    """Cycle through metadata tuples in random order, one frame per tuple and round.

    Args:
        fields: the metadata fields whose value tuples are cycled through (read from
            ``scores.extra["meta:<field>"]``, see :func:`attach_metadata`); ``"video"`` is
            the video id. The paper: (emotion prompt, child).
        pick: ``"best"`` takes each tuple's highest-scoring frame (``scores.frames``; with
            the ``entropy`` scorer the paper's maximum-entropy frame), ``"random"`` a random
            one (the paper's other variant).

    Example:
        >>> from vidal.pool import Budget, LabelPool
        >>> pool = LabelPool({"a": 4, "b": 4})
        >>> s = FrameScores(frames={"a": np.array([0.1, 0.9, 0.8, 0.2]), "b": np.full(4, 0.5)},
        ...                 extra={"meta:scene": {"a": np.array([0.0, 0, 1, 1]), "b": np.zeros(4)}})
        >>> sel = MetadataCycleSelector(fields=("scene",))(s, pool, Budget(frames=2), np.random.default_rng(0))
        >>> {v: f.tolist() for v, f in sel.frames.items()}  # the best frame of scene 0 and of scene 1
        {'a': [1, 2]}
    """

    fields: tuple[str, ...] = (VIDEO_FIELD,)
    pick: Literal["best", "random"] = "best"
    stochastic: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if isinstance(self.fields, str) or not isinstance(self.fields, Sequence):
            check_option(False, f"fields={self.fields!r} must be a list of field names")
        object.__setattr__(self, "fields", tuple(str(f) for f in self.fields))
        check_option(len(self.fields) > 0, "fields must name at least one metadata field")
        check_option(
            len(set(self.fields)) == len(self.fields), f"fields={self.fields} repeat a name"
        )
        check_option(
            self.pick in ("best", "random"), f"pick={self.pick!r} must be 'best' or 'random'"
        )

    @property
    def requires(self) -> frozenset[str]:
        """What it reads from :class:`FrameScores` (see :mod:`vidal.select`)."""
        meta = {f"extra:{META_PREFIX}{f}" for f in self.fields if f != VIDEO_FIELD}
        return frozenset(meta | ({"frames"} if self.pick == "best" else set()))

    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection:
        check_scores(scores, pool, require=self.pick == "best")
        ids = videos_in_order(pool)
        vi, fr, co, sc = unlabeled_table(pool, ids, scores.frames if self.pick == "best" else None)
        keys = np.stack([self._codes(name, scores, pool, ids, vi, fr) for name in self.fields])
        self._warn_single_valued(keys)
        _, stratum = np.unique(keys.T, axis=0, return_inverse=True)  # [N]
        stratum = stratum.ravel()
        within = np.lexsort((fr, vi, -sc)) if self.pick == "best" else rng.permutation(len(fr))
        order = self._cycle(stratum, within, rng)
        taker = Taker(pool, budget, scored=self.pick == "best")
        taker.take_in_order(ids, vi[order], fr[order], co[order], sc[order])
        strata = int(stratum.max()) + 1 if len(stratum) else 0
        return taker.selection(info={"fields": list(self.fields), "tuples": strata})

    @staticmethod
    def _cycle(stratum: np.ndarray, within: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Candidate order: round ``r`` gives the ``r``-th frame of every tuple, tuples in a
        random order; ``within`` orders the candidates inside each tuple."""
        n = len(stratum)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        position = np.empty(n, dtype=np.int64)
        position[within] = np.arange(n)  # rank of each candidate in the within-order
        by_tuple = np.lexsort((position, stratum))  # tuples together, each in within-order
        first = np.searchsorted(stratum[by_tuple], stratum[by_tuple])  # where its tuple starts
        rank = np.empty(n, dtype=np.int64)
        rank[by_tuple] = np.arange(n) - first
        cycle = rng.permutation(int(stratum.max()) + 1)  # tuple -> its place in every round
        return np.lexsort((cycle[stratum], rank))

    def _codes(
        self,
        name: str,
        scores: FrameScores,
        pool: LabelPool,
        ids: list[str],
        vi: np.ndarray,
        fr: np.ndarray,
    ) -> np.ndarray:
        """float64 ``[N]``: the code of field ``name`` at each candidate frame."""
        if name == VIDEO_FIELD:
            return vi.astype(np.float64)
        per_video = scores.extra.get(META_PREFIX + name)
        if per_video is None:
            if not len(fr):  # nothing to select: nothing to check
                return np.zeros(0)
            carried = sorted(
                k[len(META_PREFIX) :] for k in scores.extra if k.startswith(META_PREFIX)
            )
            raise VidalError(
                f"metadata field {name!r} is not in the scores (they carry {carried}, plus "
                f"{VIDEO_FIELD!r}); attach it with vidal.select.metadata.attach_metadata"
            )
        out = np.zeros(len(fr))
        for k, vid in enumerate(ids):
            at = vi == k
            if not at.any():
                continue
            codes = np.asarray(per_video.get(vid, np.zeros(0)), dtype=np.float64)
            if codes.shape != (pool.num_frames[vid],) or not np.isfinite(codes).all():
                raise VidalError(
                    f"metadata field {name!r} of video {vid!r} must be {pool.num_frames[vid]} "
                    f"finite codes, got shape {codes.shape}"
                )
            out[at] = codes[fr[at]]
        return out

    def _warn_single_valued(self, keys: np.ndarray) -> None:
        """Warn about fields that take one value over the candidates ``keys [F, N]``."""
        if keys.shape[1] == 0:
            return
        flat = [name for name, k in zip(self.fields, keys, strict=True) if (k == k[0]).all()]
        if not flat:
            return
        fallback = (
            "cycling falls back to plain top-k by score"
            if self.pick == "best"
            else "cycling falls back to random frames"
        )
        if len(flat) < len(self.fields):
            fallback = "the other fields still split the frames"
        warnings.warn(
            f"metadata field(s) {flat} take one value over the unlabeled frames and do not "
            f"split them; {fallback}",
            MetadataWarning,
            stacklevel=3,
        )
