"""The reader interface every video backend implements, and the image helpers they share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidal.errors import DecodeError

if TYPE_CHECKING:
    from vidal.data.video.probe import VideoInfo

__all__ = ["OpenRequest", "VideoReader", "read_image", "resize_frame"]

_CHUNK = 16  # frames per decoder call when iterating


@dataclass(frozen=True)
class OpenRequest:
    """What :func:`~vidal.data.video.open_video` asks of a backend's ``open(path, request)``.

    Attributes:
        size: ``(height, width)`` to resize every frame to; ``None`` keeps the stored size.
        fps: the frame rate to report.
        info: the probed container facts (``None`` for frame folders or unprobed files).
        cache_bytes: decoded bytes a sequentially decoded stream may keep in memory.
    """

    size: tuple[int, int] | None
    fps: float
    info: VideoInfo | None = None
    cache_bytes: int = 0


class VideoReader:
    """Frames of one video as RGB ``uint8`` arrays; made by :func:`~vidal.data.video.open_video`.

    A backend subclasses it, sets ``backend`` and implements :meth:`_read` (and
    :meth:`close` when it holds resources). Indices are 0-based; negative indices count from
    the end as in Python.

    Attributes:
        path: the file or frame folder.
        backend: ``"decord"``, ``"frames"``, ``"pyav"`` or ``"opencv"``.
        fps: frames per second (25.0 when the source does not say).
        width, height: size of the returned frames (after the optional resize).
    """

    backend = ""

    def __init__(self, path: Path, *, width: int, height: int, fps: float, num_frames: int) -> None:
        self.path = path
        self.width = width
        self.height = height
        self.fps = fps
        self._num_frames = num_frames

    def __len__(self) -> int:
        return self._num_frames

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, backend={self.backend!r}, frames={len(self)}, "
            f"size={self.width}x{self.height}, fps={self.fps:g})"
        )

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the decoder and any cached frames."""

    def _indices(self, indices: Iterable[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                f"{self.path}: indices must be a 1-D sequence of ints, got {idx.dtype} {idx.shape}"
            )
        idx = idx.astype(np.int64)
        n = len(self)
        idx = np.where(idx < 0, idx + n, idx)
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise IndexError(f"{self.path}: frame {int(idx[bad][0])} outside 0..{n - 1}")
        return idx

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Decode the given frames.

        Args:
            indices: frame indices, any order, repeats allowed.

        Returns:
            ndarray[N, H, W, 3] uint8 RGB frames, in the order asked.

        Raises:
            IndexError: an index outside the video.
            DecodeError: naming the file when a frame cannot be decoded.
        """
        idx = self._indices(indices)
        if idx.size == 0:
            return np.zeros((0, self.height, self.width, 3), dtype=np.uint8)
        return self._read(idx)

    def _read(self, idx: np.ndarray) -> np.ndarray:
        """Frames ``ndarray[N, H, W, 3]`` uint8 of valid, non-negative indices ``idx [N]``."""
        raise DecodeError(f"{self.path}: {type(self).__name__} cannot read frames")

    def __getitem__(self, key: int | slice) -> np.ndarray:
        """One frame ``ndarray[H, W, 3]`` for an int, ``ndarray[N, H, W, 3]`` for a slice."""
        if isinstance(key, slice):
            return self.get_batch(range(*key.indices(len(self))))
        if not isinstance(key, (int, np.integer)):
            raise TypeError(
                f"{self.path}: frame index must be an int or a slice, got {type(key).__name__}"
            )
        return self.get_batch([int(key)])[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield every frame ``ndarray[H, W, 3]`` in order, decoded in chunks."""
        for start in range(0, len(self), _CHUNK):
            yield from self.get_batch(range(start, min(start + _CHUNK, len(self))))


def read_image(path: Path) -> np.ndarray:
    """One JPEG/PNG/BMP image as ``ndarray[H, W, 3]`` uint8 RGB, or a DecodeError naming it."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DecodeError(f"{path}: cannot decode image (empty, truncated or not a JPEG/PNG)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def resize_frame(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """``img [h, w, 3]`` resized to ``[height, width, 3]`` (area when shrinking, else linear)."""
    import cv2

    if img.shape[1] == width and img.shape[0] == height:
        return img
    shrink = width * height < img.shape[0] * img.shape[1]
    return cv2.resize(
        img, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )
