"""The label state of an active-learning run: which frames and videos are labeled, at what cost.

Cost model (Rana & Rawat, CVPR 2023, Sec. 3.3): a frame label costs ``actors x clicks``
(a box is 2 clicks per actor); a frame with no actor still costs one actor's clicks (someone
looked and said "nothing here"); a video-level class label costs ``video_label_cost``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vidal._io import atomic_write_json
from vidal.data.annotations import VideoDataset
from vidal.errors import AnnotationError, BudgetError

__all__ = ["CostModel", "Budget", "LabelPool"]


@dataclass(frozen=True)
class CostModel:
    """What labels cost, in clicks.

    Args:
        clicks_per_actor: clicks to draw one actor's box in one frame (2 for a box).
        video_label_cost: cost of one video-level class label.
    """

    clicks_per_actor: float = 2.0
    video_label_cost: float = 1.0

    def frame_costs(self, actors: np.ndarray) -> np.ndarray:
        """float64 ``[T]`` cost of labeling each frame given ``actors (ndarray[T])``."""
        return np.maximum(np.asarray(actors, dtype=np.float64), 1.0) * self.clicks_per_actor


@dataclass(frozen=True)
class Budget:
    """How much one selection round may take. ``None`` means no limit on that axis.

    Args:
        frames: number of frames to label.
        videos: number of videos to give a video-level label (hybrid selection).
        cost: total annotation cost (clicks) the round may spend on frames.
    """

    frames: int | None = None
    videos: int | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("frames", "videos", "cost"):
            v = getattr(self, name)
            if v is not None and (not np.isfinite(v) or v < 0):
                raise BudgetError(f"budget {name}={v!r} must be a finite number >= 0")


class LabelPool:
    """Labeled frames per video, labeled videos and spent cost.

    Args:
        num_frames: ordered mapping video id -> number of frames.
        frame_costs: optional mapping video id -> ``ndarray[T]`` cost of each frame
            (default: ``cost_model.clicks_per_actor`` per frame).
        cost_model: the cost model.

    Example:
        >>> pool = LabelPool({"a": 5, "b": 3})
        >>> pool.add_frames("a", [0, 4])  # returns the cost added
        4.0
        >>> pool.labeled_frames("a").tolist(), pool.num_labeled, pool.spent
        ([0, 4], 2, 4.0)
    """

    def __init__(
        self,
        num_frames: Mapping[str, int],
        *,
        frame_costs: Mapping[str, np.ndarray] | None = None,
        cost_model: CostModel = CostModel(),
    ) -> None:
        self.cost_model = cost_model
        self.num_frames: dict[str, int] = {str(k): int(v) for k, v in num_frames.items()}
        self._labeled: dict[str, np.ndarray] = {
            k: np.zeros(n, dtype=bool) for k, n in self.num_frames.items()
        }
        self._costs: dict[str, np.ndarray] = {}
        for k, n in self.num_frames.items():
            c = None if frame_costs is None else frame_costs.get(k)
            if c is None:
                c = np.full(n, cost_model.clicks_per_actor, dtype=np.float64)
            c = np.asarray(c, dtype=np.float64)
            if c.shape != (n,):
                raise AnnotationError(f"frame_costs[{k!r}] has shape {c.shape}, expected ({n},)")
            self._costs[k] = c
        self.labeled_videos: dict[str, int | None] = {}
        self.spent: float = 0.0
        self.history: list[dict] = []

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dataset(
        cls,
        dataset: VideoDataset,
        *,
        cost_model: CostModel = CostModel(),
        use_actor_counts: bool = True,
    ) -> LabelPool:
        """A pool over every frame of ``dataset``; frame costs from the ground-truth actor counts."""
        costs = None
        if use_actor_counts:
            costs = {v.video_id: cost_model.frame_costs(v.actors_per_frame()) for v in dataset}
        return cls(
            {v.video_id: v.num_frames for v in dataset}, frame_costs=costs, cost_model=cost_model
        )

    # ------------------------------------------------------------------ queries
    @property
    def video_ids(self) -> list[str]:
        return list(self.num_frames)

    def _check_video(self, video_id: str) -> None:
        if video_id not in self.num_frames:
            raise KeyError(f"video {video_id!r} is not in the pool")

    def mask(self, video_id: str) -> np.ndarray:
        """Boolean ``[T]``: which frames of ``video_id`` are labeled (a read-only view)."""
        self._check_video(video_id)
        view = self._labeled[video_id].view()
        view.flags.writeable = False
        return view

    def labeled_frames(self, video_id: str) -> np.ndarray:
        """Sorted int64 ``[n]`` labeled frame indices of ``video_id``."""
        self._check_video(video_id)
        return np.flatnonzero(self._labeled[video_id])

    def frame_costs(self, video_id: str) -> np.ndarray:
        """float64 ``[T]`` cost of labeling each frame of ``video_id``."""
        self._check_video(video_id)
        return self._costs[video_id]

    def is_labeled(self, video_id: str, t: int) -> bool:
        self._check_video(video_id)
        return bool(self._labeled[video_id][t])

    @property
    def total_frames(self) -> int:
        return sum(self.num_frames.values())

    @property
    def num_labeled(self) -> int:
        return int(sum(m.sum() for m in self._labeled.values()))

    @property
    def num_unlabeled(self) -> int:
        return self.total_frames - self.num_labeled

    @property
    def fraction_labeled(self) -> float:
        total = self.total_frames
        return self.num_labeled / total if total else 0.0

    @property
    def total_cost(self) -> float:
        """Cost of labeling every frame (the denominator of "annotation %" by cost)."""
        return float(sum(c.sum() for c in self._costs.values()))

    def videos_with_labels(self) -> list[str]:
        """Videos with at least one labeled frame, in pool order."""
        return [k for k, m in self._labeled.items() if m.any()]

    # ------------------------------------------------------------------ updates
    def add_frames(self, video_id: str, frames: Iterable[int]) -> float:
        """Mark ``frames`` of ``video_id`` labeled; returns the cost they added.

        Frames already labeled are ignored (and cost nothing), so adding twice is harmless.
        """
        self._check_video(video_id)
        idx = np.asarray(
            list(frames) if not isinstance(frames, np.ndarray) else frames, dtype=np.int64
        )
        n = self.num_frames[video_id]
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx[(idx < 0) | (idx >= n)][0]
            raise IndexError(f"frame {bad} outside 0..{n - 1} of video {video_id!r}")
        m = self._labeled[video_id]
        new = np.unique(idx[~m[idx]])
        m[new] = True
        cost = float(self._costs[video_id][new].sum())
        self.spent += cost
        return cost

    def add_video_label(self, video_id: str, label: int | None) -> float:
        """Record a video-level class label; returns its cost (0 if it was already labeled)."""
        self._check_video(video_id)
        if video_id in self.labeled_videos:
            return 0.0
        self.labeled_videos[video_id] = label
        cost = self.cost_model.video_label_cost
        self.spent += cost
        return cost

    def check_budget(self, frames: int) -> None:
        """Raise :class:`BudgetError` if ``frames`` exceeds the unlabeled frames left."""
        if frames > self.num_unlabeled:
            raise BudgetError(
                f"budget of {frames} frames exceeds the {self.num_unlabeled} unlabeled frames in the pool"
            )

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict:
        return {
            "format": "vidal-pool",
            "version": 1,
            "cost_model": asdict(self.cost_model),
            "num_frames": self.num_frames,
            "labeled": {k: np.flatnonzero(m).tolist() for k, m in self._labeled.items()},
            "frame_costs": {k: c.tolist() for k, c in self._costs.items()},
            "labeled_videos": self.labeled_videos,
            "spent": self.spent,
            "history": self.history,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> LabelPool:
        if state.get("format") != "vidal-pool":
            raise AnnotationError("not a vidal pool state (missing format 'vidal-pool')")
        pool = cls(
            state["num_frames"],
            frame_costs={k: np.asarray(v) for k, v in state["frame_costs"].items()},
            cost_model=CostModel(**state["cost_model"]),
        )
        for k, frames in state["labeled"].items():
            pool._labeled[k][np.asarray(frames, dtype=np.int64)] = True
        pool.labeled_videos = dict(state["labeled_videos"])
        pool.spent = float(state["spent"])
        pool.history = list(state.get("history", []))
        return pool

    def save(self, path: str | os.PathLike) -> Path:
        """Write the pool as JSON, atomically."""
        return atomic_write_json(path, self.state_dict(), indent=None)

    @classmethod
    def load(cls, path: str | os.PathLike) -> LabelPool:
        path = Path(path)
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise AnnotationError(f"{path}: cannot read label pool: {e}") from e
        return cls.from_state_dict(state)

    def without(self, video_ids: Iterable[str]) -> LabelPool:
        """A copy of the pool without ``video_ids`` (e.g. videos that could not be decoded)."""
        drop = set(video_ids)
        state = self.state_dict()
        for key in ("num_frames", "labeled", "frame_costs"):
            state[key] = {k: v for k, v in state[key].items() if k not in drop}
        state["labeled_videos"] = {
            k: v for k, v in state["labeled_videos"].items() if k not in drop
        }
        return LabelPool.from_state_dict(state)

    def copy(self) -> LabelPool:
        return LabelPool.from_state_dict(json.loads(json.dumps(self.state_dict())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelPool):
            return NotImplemented
        return self.state_dict() == other.state_dict()

    def __repr__(self) -> str:
        return (
            f"LabelPool(videos={len(self.num_frames)}, labeled={self.num_labeled}/{self.total_frames} "
            f"frames, videos_labeled={len(self.labeled_videos)}, spent={self.spent:g})"
        )
