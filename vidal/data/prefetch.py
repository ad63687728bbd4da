"""Decoding whole videos ahead of the model, in worker processes (a torch DataLoader).

Scoring reads every frame of every unlabeled video once per cycle. Decoded in the scoring
process, the model waits for the decoder after every video; :func:`prefetch_videos` decodes
in ``workers`` processes of a :class:`torch.utils.data.DataLoader` while the model runs, so
the model, not decoding, sets the speed (``tools/bench/bench_distributed.py`` measures it).
Videos come back in the order asked, a video that cannot be decoded as its error message
(the caller skips it with the warning it gives in one process).

Example:
    >>> import numpy as np
    >>> read = lambda vid: np.zeros((int(vid), 4, 4, 3), np.uint8)
    >>> [(v, f.shape, e) for v, f, e in prefetch_videos(["2", "3"], read, workers=0)]
    [('2', (2, 4, 4, 3), None), ('3', (3, 4, 4, 3), None)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidal.errors import DecodeError

__all__ = ["DecodedVideos", "prefetch_videos"]

#: ``read(video_id) -> ndarray[T, H, W, 3]`` uint8; raises :class:`DecodeError` for a bad file.
VideoReaderFn = Callable[[str], np.ndarray]


class DecodedVideos(Dataset):
    """Videos by position: item ``i`` is ``(video_id, frames, error)``.

    ``frames (Tensor[T, H, W, 3])`` uint8 (a tensor, so a worker hands it over in shared
    memory) and ``error`` ``None``; or ``frames`` ``None`` and ``error`` the
    :class:`DecodeError` message when the video cannot be decoded.
    """

    def __init__(self, video_ids: Sequence[str], read: VideoReaderFn) -> None:
        self.video_ids = list(video_ids)
        self.read = read

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor | None, str | None]:
        vid = self.video_ids[index]
        try:
            frames = self.read(vid)
        except DecodeError as e:
            return vid, None, str(e)
        return vid, torch.from_numpy(np.ascontiguousarray(frames)), None


def _one(item: tuple) -> tuple:
    return item


def prefetch_videos(
    video_ids: Sequence[str], read: VideoReaderFn, *, workers: int = 0
) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """Decode ``video_ids`` with ``read`` in ``workers`` processes, in order.

    Args:
        video_ids: the videos, in the order wanted.
        read: ``video_id -> ndarray[T, H, W, 3]`` uint8, raising :class:`DecodeError` for a
            video that cannot be decoded; picklable when ``workers > 0`` (each worker holds
            its own copy, so give one that caches little, e.g. a
            :class:`~vidal.data.store.FrameStore` with ``max_bytes=0``).
        workers: decoding processes; 0 decodes in this process when each video is reached.

    Yields:
        ``(video_id, frames (ndarray[T, H, W, 3]) or None, error or None)``; each worker
        keeps at most two decoded videos ready.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    loader = DataLoader(
        DecodedVideos(video_ids, read),
        batch_size=None,
        num_workers=workers,
        collate_fn=_one,  # type: ignore[arg-type]
        prefetch_factor=2 if workers else None,
    )
    for vid, frames, error in loader:
        yield vid, None if frames is None else frames.numpy(), error
