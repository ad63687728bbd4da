"""Optical flow per video, computed once and kept on disk for every later cycle.

The thesis computes flow "once at the beginning" of active learning and reuses it in every
cycle (Zolfaghari Bengar 2021, Sec. 2.3.2). :class:`FlowCache` keeps one file per video,
method and scale (:mod:`tracking.flow.store`), memory-mapped on read.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrackingError
from .flows import (
    Flows,
    check_frames,
    check_scale,
    flow_pairs,
    grid_size,
    resolve_scale,
    scale_key,
)
from .methods import FlowMethod, get_flow_method
from .store import StoredFlow, read_flow_file, write_flow_file

__all__ = ["FlowCache"]

FrameSource = np.ndarray | Callable[[], np.ndarray]


class FlowCache:
    """Optical flow per video, computed once and kept on disk for every later cycle.

    Layout: ``root/<video>/<method tag>-s<scale>.flows`` (``-auto160.flows`` for the
    automatic scale), one file per video holding every
    pair's forward and backward flow as float16 (:mod:`tracking.flow.store`), written to a
    temporary name and renamed, so readers and concurrent writers only ever see whole files.
    A file that is missing, truncated, foreign or of another video size is recomputed
    whole; a pair whose checksum fails is recomputed alone (frames are loaded only then);
    everything else is read back, memory-mapped. ``computed_pairs`` counts the pairs this
    object computed.

    Args:
        root: cache folder; created when needed.

    Example:
        >>> import tempfile, numpy as np
        >>> cache = FlowCache(tempfile.mkdtemp())
        >>> frames = np.random.default_rng(0).integers(0, 255, (3, 24, 32, 3), dtype=np.uint8)
        >>> cache.get_flows("clip", frames, method="farneback").forward.shape
        (2, 24, 32, 2)
        >>> _ = cache.get_flows("clip", lambda: frames, method="farneback")
        >>> cache.computed_pairs  # the second call read the cache
        2
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.computed_pairs = 0

    def path(
        self, video_key: str, *, method: str | FlowMethod = "dis", scale: float | None = None
    ) -> Path:
        """The file holding the flow of ``video_key`` for one method and scale.

        Args:
            video_key: any string naming the video (paths allowed); hashed into the name.
            method: as for :meth:`get_flows`.
            scale: as for :meth:`get_flows`.

        Returns:
            The file path (it may not exist yet).
        """
        if not isinstance(video_key, str) or not video_key:
            raise TrackingError(f"video_key must be a non-empty string, got {video_key!r}")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", video_key).strip("._")[-80:] or "video"
        digest = hashlib.sha1(video_key.encode()).hexdigest()[:8]
        tag = get_flow_method(method).tag
        return self.root / f"{safe}-{digest}" / f"{tag}-{scale_key(check_scale(scale))}.flows"

    def get_flows(
        self,
        video_key: str,
        frames: FrameSource,
        *,
        method: str | FlowMethod = "dis",
        scale: float | None = None,
        dtype: np.dtype[Any] | type | None = None,
    ) -> Flows:
        """Flows of one video, read from the cache and completed where anything is missing.

        Args:
            video_key: names the video in the cache.
            frames (ndarray[T, H, W, 3] | Callable[[], ndarray[T, H, W, 3]]): uint8 RGB frames,
                or a function that loads them; it is called only when a pair must be computed.
                Frames whose ``(T, H, W)`` differ from the cached file replace it: the video's
                flow is recomputed.
            method: a name in :data:`~tracking.flow.FLOW_METHODS` or a
                :class:`~tracking.flow.FlowMethod` (:class:`~tracking.flow.RAFTFlow`).
            scale: compute at this fraction of the frame size (see :mod:`tracking.flow`);
                ``None`` (default): the shorter side at most
                :data:`~tracking.flow.FLOW_SHORT_SIDE` pixels.
            dtype: dtype of the returned arrays; ``None`` (default) returns the stored float16
                memory-mapped, read-only and unread until used; ``np.float32`` copies.

        Returns:
            :class:`~tracking.flow.Flows` with ``forward`` and ``backward`` ``[T-1, h, w, 2]``;
            the same values whether just computed or read back.

        Raises:
            TrackingError: on bad frames, scale or method.
        """
        flow_method = get_flow_method(method)
        scale = check_scale(scale)
        path = self.path(video_key, method=flow_method, scale=scale)
        given = None if callable(frames) else check_frames(frames)
        stored = self._read(path, given, scale)
        if stored is None or stored.bad:
            if given is None:
                given = check_frames(frames(), "frames()")  # type: ignore[operator]
                if stored is not None and not _fits(stored, given):
                    stored = None  # the loader gave another video: start this one over
            self._compute(path, given, flow_method, scale, stored)
            stored = read_flow_file(path)
            if stored is None or stored.bad:
                raise TrackingError(f"{path}: flow file unreadable right after writing it")
        data = stored.data if dtype is None else stored.data.astype(dtype)
        return Flows(forward=data[:, 0], backward=data[:, 1], frame_size=stored.frame_size)

    @staticmethod
    def _read(path: Path, given: np.ndarray | None, scale: float | None) -> StoredFlow | None:
        """The stored flow, or ``None`` when absent, damaged or of other frames."""
        stored = read_flow_file(path)
        if stored is None:
            return None
        height, width = stored.frame_size
        if stored.data.shape[2:4] != grid_size(height, width, resolve_scale(scale, height, width)):
            return None
        if given is not None and not _fits(stored, given):
            return None
        return stored

    def _compute(
        self,
        path: Path,
        frames: np.ndarray,
        method: FlowMethod,
        scale: float | None,
        stored: StoredFlow | None,
    ) -> None:
        """Compute the pairs ``stored`` lacks (all when ``None``) and write the video's file."""
        num_frames, height, width = frames.shape[:3]
        scale = resolve_scale(scale, height, width)
        todo = list(range(num_frames - 1)) if stored is None else stored.bad
        recompute, old = set(todo), None if stored is None else stored.data

        def pairs() -> Iterator[np.ndarray]:
            computed = flow_pairs(frames, todo, method, scale)
            for t in range(num_frames - 1):
                if old is None or t in recompute:
                    _, fwd, bwd = next(computed)
                    self.computed_pairs += 1
                    yield np.stack([fwd, bwd])  # [2, h, w, 2]
                else:
                    yield old[t]

        write_flow_file(
            path,
            pairs(),
            num_frames=num_frames,
            frame_size=(height, width),
            grid=grid_size(height, width, scale),
        )


def _fits(stored: StoredFlow, frames: np.ndarray) -> bool:
    """Whether ``stored`` holds flow of a video of the size of ``frames [T, H, W, 3]``."""
    num_frames, height, width = frames.shape[:3]
    return stored.num_frames == num_frames and stored.frame_size == (height, width)
