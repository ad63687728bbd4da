"""The annotation model: a dataset is a list of videos, a video holds tubes.

Conventions (see DESIGN.md): frames are 0-based, boxes are ``x1, y1, x2, y2`` float32
pixels, masks are boolean ``[H, W]``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidal.errors import AnnotationError

__all__ = ["Tube", "FrameAnnotation", "VideoAnnotation", "VideoDataset"]


@dataclass
class Tube:
    """One actor or object followed over consecutive frames.

    Args:
        track_id: identifier of the track, unique within its video.
        label: class index into :attr:`VideoDataset.class_names`.
        first_frame: first frame (0-based) the tube covers.
        boxes (ndarray[L, 4]): float32 ``x1, y1, x2, y2`` boxes for frames
            ``first_frame .. first_frame + L - 1``.
        masks (ndarray[L, H, W] | None): optional boolean pixel masks, one per box.
    """

    track_id: int
    label: int
    first_frame: int
    boxes: np.ndarray
    masks: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if self.first_frame < 0:
            raise AnnotationError(f"tube {self.track_id}: first_frame {self.first_frame} < 0")
        if len(self.boxes) == 0:
            raise AnnotationError(f"tube {self.track_id}: has no boxes")
        if self.masks is not None:
            self.masks = np.asarray(self.masks, dtype=bool)
            if self.masks.ndim != 3 or len(self.masks) != len(self.boxes):
                raise AnnotationError(
                    f"tube {self.track_id}: masks shape {self.masks.shape} does not match "
                    f"{len(self.boxes)} boxes (expected [L, H, W])"
                )

    @property
    def last_frame(self) -> int:
        """Last frame (inclusive) the tube covers."""
        return self.first_frame + len(self.boxes) - 1

    @property
    def frames(self) -> np.ndarray:
        """ndarray[L] of the frame indices the tube covers."""
        return np.arange(self.first_frame, self.last_frame + 1)

    def covers(self, t: int) -> bool:
        return self.first_frame <= t <= self.last_frame

    def box_at(self, t: int) -> np.ndarray:
        """The float32 box ``[4]`` at frame ``t``; raises if the tube does not cover ``t``."""
        if not self.covers(t):
            raise IndexError(
                f"tube {self.track_id} covers {self.first_frame}..{self.last_frame}, not {t}"
            )
        return self.boxes[t - self.first_frame]


@dataclass
class FrameAnnotation:
    """What is annotated in one frame.

    Attributes:
        boxes (ndarray[N, 4]): float32 boxes.
        labels (ndarray[N]): int64 class indices.
        track_ids (ndarray[N]): int64 track identifiers.
        masks (ndarray[N, H, W] | None): boolean masks when every tube present has them.
    """

    boxes: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray
    masks: np.ndarray | None = None


@dataclass
class VideoAnnotation:
    """One video and its tubes.

    Args:
        video_id: identifier, unique in the dataset (e.g. ``Basketball/v_Basketball_g01_c01``).
        num_frames: number of frames of the video.
        width, height: frame size in pixels (the size boxes are expressed in).
        fps: frames per second.
        label: optional video-level class index.
        tubes: the annotated tubes.
        path: video file or frame folder, relative to the dataset root (or absolute).
        metadata: free-form per-video metadata, field -> JSON value (e.g.
            ``{"scene": "night", "subject": "s07"}``), kept on round trips.
        frame_metadata: free-form per-frame metadata, field -> list of ``T`` JSON values
            (``None`` where a frame has none, e.g. ``{"prompt": ["happy", "happy", None]}``).
    """

    video_id: str
    num_frames: int
    width: int
    height: int
    fps: float = 25.0
    label: int | None = None
    tubes: list[Tube] = field(default_factory=list)
    path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    frame_metadata: dict[str, list[Any]] = field(default_factory=dict)

    def validate(self, *, clip_boxes: bool = False) -> None:
        """Check tubes lie inside the video; raise :class:`AnnotationError` naming the video.

        Args:
            clip_boxes: clip boxes that leave the frame to it instead of raising.
        """
        self._validate_metadata()
        for tube in self.tubes:
            if tube.last_frame >= self.num_frames:
                raise AnnotationError(
                    f"{self.video_id}: tube {tube.track_id} ends at frame {tube.last_frame} "
                    f"but the video has {self.num_frames} frames"
                )
            b = tube.boxes
            if not np.isfinite(b).all():
                raise AnnotationError(f"{self.video_id}: tube {tube.track_id} has non-finite boxes")
            if (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
                raise AnnotationError(
                    f"{self.video_id}: tube {tube.track_id} has a box with x2<x1 or y2<y1"
                )
            outside = (
                (b[:, 0] < -1)
                | (b[:, 1] < -1)
                | (b[:, 2] > self.width + 1)
                | (b[:, 3] > self.height + 1)
            )
            if outside.any():
                t = int(tube.first_frame + np.flatnonzero(outside)[0])
                if not clip_boxes:
                    raise AnnotationError(
                        f"{self.video_id}: tube {tube.track_id} box {b[t - tube.first_frame].tolist()} at "
                        f"frame {t} lies outside the {self.width}x{self.height} frame"
                    )
                b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, self.width)
                b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, self.height)

    def _validate_metadata(self) -> None:
        if not isinstance(self.metadata, dict) or not isinstance(self.frame_metadata, dict):
            raise AnnotationError(f"{self.video_id}: metadata and frame_metadata must be mappings")
        for name, values in self.frame_metadata.items():
            if not isinstance(values, list) or len(values) != self.num_frames:
                got = len(values) if isinstance(values, list) else type(values).__name__
                raise AnnotationError(
                    f"{self.video_id}: frame metadata {name!r} needs one value per frame "
                    f"({self.num_frames}), got {got}"
                )

    def metadata_values(self, name: str) -> list[Any] | None:
        """The value of metadata field ``name`` at every frame, or None when the video lacks it.

        A per-frame value wins; frames without one (``None``) take the video's value.

        Example:
            >>> v = VideoAnnotation("v", 3, 8, 8, metadata={"scene": "day"},
            ...                     frame_metadata={"scene": [None, "dusk", None]})
            >>> v.metadata_values("scene"), v.metadata_values("weather")
            (['day', 'dusk', 'day'], None)
        """
        video = self.metadata.get(name)
        if name in self.frame_metadata:
            return [video if x is None else x for x in self.frame_metadata[name]]
        if name in self.metadata:
            return [video] * self.num_frames
        return None

    def frame(self, t: int) -> FrameAnnotation:
        """The boxes, classes and tracks present in frame ``t`` (0-based)."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"{self.video_id}: frame {t} outside 0..{self.num_frames - 1}")
        present = [tube for tube in self.tubes if tube.covers(t)]
        boxes = (
            np.stack([tb.box_at(t) for tb in present]) if present else np.zeros((0, 4), np.float32)
        )
        labels = np.array([tb.label for tb in present], dtype=np.int64)
        ids = np.array([tb.track_id for tb in present], dtype=np.int64)
        masks = None
        if present and all(tb.masks is not None for tb in present):
            masks = np.stack([tb.masks[t - tb.first_frame] for tb in present])  # type: ignore[index]
        return FrameAnnotation(boxes=boxes, labels=labels, track_ids=ids, masks=masks)

    def annotated_frames(self) -> np.ndarray:
        """Sorted ndarray of the frames covered by at least one tube."""
        if not self.tubes:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate([tb.frames for tb in self.tubes]))

    def actors_per_frame(self) -> np.ndarray:
        """ndarray[T] int: how many tubes cover each frame."""
        count = np.zeros(self.num_frames, dtype=np.int64)
        for tb in self.tubes:
            count[tb.first_frame : tb.last_frame + 1] += 1
        return count

    def foreground(self, t: int, *, use_masks: bool = True) -> np.ndarray:
        """Boolean ``[H, W]`` foreground of frame ``t``: masks where present, else filled boxes."""
        fg = np.zeros((self.height, self.width), dtype=bool)
        for tb in self.tubes:
            if not tb.covers(t):
                continue
            if use_masks and tb.masks is not None:
                m = tb.masks[t - tb.first_frame]
                if m.shape == fg.shape:
                    fg |= m
                    continue
            x1, y1, x2, y2 = tb.box_at(t)
            fg[
                max(int(round(y1)), 0) : max(int(round(y2)), 0),
                max(int(round(x1)), 0) : max(int(round(x2)), 0),
            ] = True
        return fg


@dataclass
class VideoDataset:
    """A list of annotated videos and the names of their classes.

    Args:
        class_names: the class names; tube and video labels index into it.
        videos: the videos.
        root: folder that relative video paths are resolved against.
        splits: optional named lists of video ids (e.g. ``{"train": [...], "test": [...]}``).
        unreadable: files found but left out because they cannot be decoded (path -> why);
            a reader of a folder of videos skips a corrupt one instead of failing.
    """

    class_names: list[str]
    videos: list[VideoAnnotation]
    root: Path | None = None
    splits: dict[str, list[str]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {v.video_id: i for i, v in enumerate(self.videos)}
        if len(self._index) != len(self.videos):
            dup = [k for k, n in Counter(v.video_id for v in self.videos).items() if n > 1]
            raise AnnotationError(f"duplicate video ids: {dup[:5]}")

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[VideoAnnotation]:
        return iter(self.videos)

    def __getitem__(self, key: int | str) -> VideoAnnotation:
        if isinstance(key, str):
            if key not in self._index:
                raise KeyError(f"no video {key!r} in the dataset")
            return self.videos[self._index[key]]
        return self.videos[key]

    def __contains__(self, video_id: object) -> bool:
        return video_id in self._index

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def video_ids(self) -> list[str]:
        return [v.video_id for v in self.videos]

    @property
    def num_frames(self) -> int:
        return sum(v.num_frames for v in self.videos)

    @property
    def num_tubes(self) -> int:
        return sum(len(v.tubes) for v in self.videos)

    @property
    def num_boxes(self) -> int:
        return sum(len(tb.boxes) for v in self.videos for tb in v.tubes)

    def class_histogram(self) -> dict[str, int]:
        """Tubes per class name (classes without tubes included with 0)."""
        counts = Counter(tb.label for v in self.videos for tb in v.tubes)
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    def video_path(self, video: VideoAnnotation | str) -> Path:
        """Absolute path of a video's file or frame folder."""
        v = self[video] if isinstance(video, str) else video
        if v.path is None:
            raise AnnotationError(f"{v.video_id}: no video path in the annotations")
        p = Path(v.path)
        if not p.is_absolute() and self.root is not None:
            p = self.root / p
        return p

    def split(self, name: str) -> VideoDataset:
        """The videos of split ``name`` as a new dataset sharing the class names."""
        if name not in self.splits:
            raise KeyError(f"no split {name!r}; known splits: {sorted(self.splits)}")
        return self.subset(self.splits[name])

    def subset(self, video_ids: Sequence[str]) -> VideoDataset:
        """A dataset of the given videos, in the given order."""
        missing = [i for i in video_ids if i not in self._index]
        if missing:
            raise AnnotationError(
                f"{len(missing)} video ids not in the dataset, e.g. {missing[:3]}"
            )
        return VideoDataset(
            class_names=list(self.class_names),
            videos=[self[i] for i in video_ids],
            root=self.root,
            splits={},
        )

    def clipped_to_frames(self) -> VideoDataset:
        """A copy whose boxes are clipped to their video's frame (``self`` when none leaves it).

        Each box ``x1, y1, x2, y2`` is clipped to ``[0, width] x [0, height]`` of its video; a
        box entirely outside keeps no area (detection training and evaluation drop it).
        Tubes are new objects (masks shared); splits, root and class names are kept.
        """

        def outside(v: VideoAnnotation) -> bool:
            return any(
                len(tb.boxes)
                and (
                    tb.boxes[:, :2].min() < 0
                    or tb.boxes[:, 2].max() > v.width
                    or tb.boxes[:, 3].max() > v.height
                )
                for tb in v.tubes
            )

        if not any(outside(v) for v in self):
            return self
        videos = []
        for v in self:
            hi = np.array([v.width, v.height, v.width, v.height], np.float32)
            tubes = [
                Tube(tb.track_id, tb.label, tb.first_frame, np.clip(tb.boxes, 0, hi), tb.masks)
                for tb in v.tubes
            ]
            videos.append(dataclasses.replace(v, tubes=tubes) if outside(v) else v)
        return VideoDataset(
            list(self.class_names),
            videos,
            root=self.root,
            splits={k: list(ids) for k, ids in self.splits.items()},
        )

    def summary(self) -> dict:
        """A JSON-able summary: videos, frames, classes, tubes, boxes, class histogram."""
        return {
            "videos": len(self),
            "frames": self.num_frames,
            "classes": self.num_classes,
            "tubes": self.num_tubes,
            "boxes": self.num_boxes,
            "class_histogram": self.class_histogram(),
            **({"unreadable": len(self.unreadable)} if self.unreadable else {}),
        }
