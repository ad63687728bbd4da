"""What every selector takes and returns.

A selector is a plain callable::

    selector(scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator)
        -> Selection

It never asks which model produced the scores, and the loop never asks which selector it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

from vidal.errors import VidalError
from vidal.pool import Budget, LabelPool

__all__ = ["FrameScores", "Selection", "Selector", "check_scores"]

T = TypeVar("T")


@dataclass
class FrameScores:
    """Per-frame acquisition scores of every video, and optional per-video features.

    Attributes:
        frames: video id -> float ``ndarray[T]``; higher means "label me first".
            Selectors that need no scores (random, equidistant) accept empty arrays.
        features: video id -> float ``ndarray[D]`` latent feature of the video (for
            clustering in CLAUS), or empty.
        extra: other per-frame arrays a selector may use, by name then video id
            (e.g. ``extra["fp"][video_id]`` estimated false positives per frame). Names
            with a meaning fixed across vidal:
            ``extra["probs"][video_id]`` float ``ndarray[T, C]``: each frame's predicted
            class probabilities (rows >= 0 summing to 1; one-hot for a hard prediction;
            the predicted class is the argmax, ties to the lower class);
            ``extra["labels"][video_id]`` int ``ndarray[T]``: the annotated class of each
            labeled frame, -1 where unknown or unlabeled;
            ``extra["frame_features"][video_id]`` float ``ndarray[T, D]``: each frame's embedding.
            (The class-balanced selectors of :mod:`vidal.select.balanced` read them.)
        centers: optional ``ndarray[K, D]`` cluster centers of the model's clustering head
            (CLAUS uses them to assign videos to clusters; k-means is used when absent).
        skipped: video id -> why it could not be scored (e.g. an undecodable file); the
            loop hides these videos from the selector.
        lookahead: ``(Selection) -> float``, the held-out metric after a short training on
            the pool plus that selection (see :meth:`vidal.tasks.action.ActionTask.lookahead`);
            set by the loop for selectors that require ``"lookahead"`` (the ceiling); never
            saved.
    """

    frames: dict[str, np.ndarray] = field(default_factory=dict)
    features: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    centers: np.ndarray | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    lookahead: Callable[[Selection], float] | None = None

    def get(self, video_id: str) -> np.ndarray:
        if video_id not in self.frames:
            raise VidalError(f"no frame scores for video {video_id!r}")
        return self.frames[video_id]

    @classmethod
    def merged(cls, parts: Sequence[FrameScores], order: Sequence[str]) -> FrameScores:
        """One :class:`FrameScores` from the scores of disjoint sets of videos (e.g. the
        shards of several processes), every per-video entry in ``order`` (the order one
        process scores them in), so the result equals that process's. ``centers`` is the
        first part's that has one (every part has the model's)."""
        index = {v: i for i, v in enumerate(order)}

        def ordered(maps: list[Mapping[str, T]]) -> dict[str, T]:
            joined = {k: v for m in maps for k, v in m.items()}
            return dict(sorted(joined.items(), key=lambda kv: index.get(kv[0], len(index))))

        names = list(dict.fromkeys(name for p in parts for name in p.extra))
        return cls(
            frames=ordered([p.frames for p in parts]),
            features=ordered([p.features for p in parts]),
            extra={n: ordered([p.extra.get(n, {}) for p in parts]) for n in names},
            centers=next((p.centers for p in parts if p.centers is not None), None),
            skipped=ordered([p.skipped for p in parts]),
        )


@dataclass
class Selection:
    """What a selector chose.

    Attributes:
        frames: video id -> sorted int64 ``ndarray[n]`` of frames to label next.
        videos: videos chosen for a video-level class label (hybrid selection), in order.
        scores: video id -> float ``ndarray[n]`` score each chosen frame had when chosen.
        info: anything else worth saving with the selection (cluster quotas, ...).
    """

    frames: dict[str, np.ndarray] = field(default_factory=dict)
    videos: list[str] = field(default_factory=list)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(sum(len(f) for f in self.frames.values()))

    def cost(self, pool: LabelPool) -> float:
        """Cost of the chosen frames under ``pool``'s cost model (video labels excluded)."""
        return float(sum(pool.frame_costs(v)[f].sum() for v, f in self.frames.items()))

    def to_json(self) -> dict:
        return {
            "frames": {k: np.asarray(v).tolist() for k, v in self.frames.items() if len(v)},
            "videos": list(self.videos),
            "scores": {k: np.asarray(v).tolist() for k, v in self.scores.items() if len(v)},
            "info": self.info,
        }

    @classmethod
    def from_json(cls, obj: Mapping) -> Selection:
        return cls(
            frames={k: np.asarray(v, dtype=np.int64) for k, v in obj.get("frames", {}).items()},
            videos=list(obj.get("videos", [])),
            scores={k: np.asarray(v, dtype=np.float64) for k, v in obj.get("scores", {}).items()},
            info=dict(obj.get("info", {})),
        )


class Selector(Protocol):
    def __call__(
        self, scores: FrameScores, pool: LabelPool, budget: Budget, rng: np.random.Generator
    ) -> Selection: ...


def check_scores(scores: FrameScores, pool: LabelPool, *, require: bool = True) -> None:
    """Raise :class:`VidalError` when scores are missing, mis-shaped or not finite.

    Args:
        scores: the scores to check.
        pool: the pool they are for; every video with unlabeled frames needs ``[T]`` scores.
        require: when False, videos without scores are allowed (selectors that ignore scores).
    """
    for vid, n in pool.num_frames.items():
        s = scores.frames.get(vid)
        if s is None:
            if require and not pool.mask(vid).all():
                raise VidalError(f"no frame scores for video {vid!r}")
            continue
        s = np.asarray(s)
        if s.shape != (n,):
            raise VidalError(f"scores for video {vid!r} have shape {s.shape}, expected ({n},)")
        if not np.isfinite(s).all():
            bad = int(np.flatnonzero(~np.isfinite(s))[0])
            raise VidalError(f"scores for video {vid!r} are not finite (frame {bad} is {s[bad]})")
