"""Score a whole dataset clip by clip, keeping only per-frame scores and per-video features.

The model sees fixed-length clips; the selectors need one score per frame of every video.
:func:`score_dataset` runs the model's ``mc_forward`` over the clips of each video, scores
each clip's probability maps right away (``scorer``: ``[R, L, H, W] -> [L]``) and averages
the scores of a frame over the clips that cover it. Probability maps never outlive their
batch, so memory holds ``batch_size`` clips of maps plus ``T`` floats and one ``[D]``
feature per video, whatever the size of the dataset.

Input: an iterable of :class:`VideoClips` ``(video_id, num_frames, clips)`` where ``clips``
yields ``(start_frame, clip Tensor[C, L, H, W])``. It may be lazy: decoding can happen
while it is iterated, so a data layer that decodes clip by clip holds one clip at a time.
A data layer that decodes a whole video at once plugs in through :func:`loader_clips`::

    videos = loader_clips(pool.num_frames, load_video, clip_len=8, stride=8)
    scores = score_dataset(model, videos, passes=10, scorer=UncertaintyScorer(), device=dev)

where ``load_video(video_id) -> Tensor[C, T, H, W]`` returns the video ready for the model.

With ``seed``, the MC-dropout masks of each video come from ``(seed, video id)`` and a batch
holds the clips of one video only, so a video's scores depend on nothing else: not on the
other videos, their order, or which process scores it (:mod:`vidal.distributed` shards the
videos over processes and gets exactly the scores of one process).

A video whose clips cannot be read (the clip iterator raises one of ``skip_errors``, by
default :class:`~vidal.errors.DecodeError` and ``OSError``) is skipped with a
:class:`SkippedVideoWarning` naming it and listed in :attr:`DatasetScores.skipped`; the run
goes on. Errors of the model are not caught.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from vidal import seeding
from vidal._progress import progress_bar
from vidal.errors import DecodeError, VidalError
from vidal.scoring.scorers import UncertaintyScorer
from vidal.select.base import FrameScores

__all__ = [
    "MCModel",
    "VideoClips",
    "DatasetScores",
    "SkippedVideoWarning",
    "clip_starts",
    "clips_from_frames",
    "loader_clips",
    "score_dataset",
]


class MCModel(Protocol):
    """What :func:`score_dataset` needs of a model (see ``vidal.models.action``)."""

    def mc_forward(
        self, clip: torch.Tensor, passes: int, *, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``clip [B, C, L, H, W]`` -> ``probs [R, B, L, H, W]`` (and ``features [B, D]``);
        with :func:`score_dataset`'s ``seed`` it also takes ``seed=`` (the dropout masks'
        seed)."""
        ...


class SkippedVideoWarning(UserWarning):
    """A video could not be read while scoring and was left out."""


@dataclass(frozen=True)
class VideoClips:
    """One video to score.

    Attributes:
        video_id: the video's id in the pool.
        num_frames: ``T``, the number of frames to score.
        clips: iterable of ``(start, clip)`` with ``clip (Tensor[C, L, H, W])`` covering
            frames ``start .. start + L - 1``; outputs for frames ``>= T`` (padding) are
            dropped. Every frame must be covered by at least one clip.
    """

    video_id: str
    num_frames: int
    clips: Iterable[tuple[int, torch.Tensor]]


@dataclass
class DatasetScores(FrameScores):
    """:class:`~vidal.select.base.FrameScores` of a streamed dataset; videos that could not
    be scored are in ``skipped`` (video id -> why) and have no frame scores."""


def clip_starts(num_frames: int, *, clip_len: int, stride: int) -> list[int]:
    """Start frames of clips of ``clip_len`` frames every ``stride`` frames covering a video.

    The last clip ends at the last frame (it may overlap its predecessor more than the
    others do); a video shorter than a clip gets one clip starting at 0.

    Example:
        >>> clip_starts(20, clip_len=8, stride=8)
        [0, 8, 12]
    """
    if clip_len < 1 or stride < 1:
        raise VidalError(f"clip_len={clip_len} and stride={stride} must be >= 1")
    if num_frames <= 0:
        return []
    last = max(0, num_frames - clip_len)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


def clips_from_frames(
    frames: torch.Tensor, *, clip_len: int, stride: int
) -> Iterator[tuple[int, torch.Tensor]]:
    """Cut a decoded video into clips (see :func:`clip_starts`).

    Args:
        frames (Tensor[C, T, H, W]): the video.
        clip_len: frames per clip ``L``.
        stride: frames between clip starts.

    Yields:
        ``(start, clip)`` with ``clip (Tensor[C, L, H, W])``; a video shorter than ``L`` is
        padded by repeating its last frame.
    """
    if frames.ndim != 4:
        raise VidalError(f"frames must have shape [C, T, H, W], got {tuple(frames.shape)}")
    num_frames = frames.shape[1]
    for start in clip_starts(num_frames, clip_len=clip_len, stride=stride):
        clip = frames[:, start : start + clip_len]
        if clip.shape[1] < clip_len:
            pad = clip[:, -1:].expand(-1, clip_len - clip.shape[1], -1, -1)
            clip = torch.cat([clip, pad], dim=1)
        yield start, clip


@dataclass(frozen=True)
class _LoadedClips:
    """Clips of one video decoded by ``load_video`` when (and only when) iterated."""

    load_video: Callable[[str], torch.Tensor]
    video_id: str
    num_frames: int
    clip_len: int
    stride: int

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        frames = self.load_video(self.video_id)
        if frames.ndim != 4 or frames.shape[1] != self.num_frames:
            raise DecodeError(
                f"video {self.video_id!r}: decoded shape {tuple(frames.shape)}, expected "
                f"[C, {self.num_frames}, H, W]"
            )
        yield from clips_from_frames(frames, clip_len=self.clip_len, stride=self.stride)


def loader_clips(
    num_frames: Mapping[str, int],
    load_video: Callable[[str], torch.Tensor],
    *,
    clip_len: int = 8,
    stride: int = 8,
) -> list[VideoClips]:
    """The input of :func:`score_dataset` from a whole-video loader.

    Args:
        num_frames: video id -> number of frames (e.g. ``pool.num_frames``).
        load_video: ``video_id -> Tensor[C, T, H, W]``, called once per video while
            scoring; it may raise :class:`~vidal.errors.DecodeError` for a corrupt video.
            A decoded length other than ``num_frames[video_id]`` is a ``DecodeError`` too.
        clip_len: frames per clip (the model's input length).
        stride: frames between clip starts (``< clip_len`` overlaps clips).

    Returns:
        One lazy :class:`VideoClips` per video, in ``num_frames`` order.
    """
    clip_starts(1, clip_len=clip_len, stride=stride)  # validates the options
    return [
        VideoClips(str(v), int(n), _LoadedClips(load_video, str(v), int(n), clip_len, stride))
        for v, n in num_frames.items()
    ]


@dataclass
class _Accumulator:
    """Running sums of one video: frame scores and their counts, clip features."""

    num_frames: int
    score_sum: np.ndarray  # [T] float64
    count: np.ndarray  # [T] int64
    feature_sum: np.ndarray | None = None  # [D] float64
    clips: int = 0
    seed: int | None = None  # of the video's dropout masks (None: the global generator)
    batches: int = 0  # batches of this video run so far

    def add(self, start: int, length: int, scores: np.ndarray, feature: np.ndarray | None) -> None:
        """Add the ``scores (ndarray[L])`` of a clip of ``length`` frames from frame ``start``
        (frames past the video's end are padding) and its ``feature (ndarray[D])``."""
        end = min(start + length, self.num_frames)
        self.score_sum[start:end] += scores[: end - start]
        self.count[start:end] += 1
        if feature is not None:
            self.feature_sum = (
                feature.copy() if self.feature_sum is None else self.feature_sum + feature
            )
        self.clips += 1


@dataclass
class _Batches:
    """Clips waiting for the model, run ``batch_size`` at a time (clips of one shape share a
    batch); each clip's scores and feature go to its video's accumulator."""

    model: MCModel
    score: Callable[[torch.Tensor], np.ndarray]
    passes: int
    device: torch.device | str
    batch_size: int
    features: bool
    pending: list[tuple[_Accumulator, int, torch.Tensor]] = field(default_factory=list)

    def add(self, acc: _Accumulator, start: int, clip: torch.Tensor) -> None:
        if self.pending and (
            self.pending[0][2].shape != clip.shape
            or (acc.seed is not None and self.pending[0][0] is not acc)
        ):
            self.flush()
        self.pending.append((acc, start, clip))
        if len(self.pending) == self.batch_size:
            self.flush()

    def drop(self, acc: _Accumulator) -> None:
        """Forget the queued clips of a video that is skipped."""
        self.pending[:] = [entry for entry in self.pending if entry[0] is not acc]

    def flush(self) -> None:
        if not self.pending:
            return
        batch = torch.stack([clip for _, _, clip in self.pending]).to(self.device)
        owner = self.pending[0][0]
        seed = None
        if owner.seed is not None:  # one video per batch: its n-th batch has its own seed
            seed = seeding.seed(owner.seed, owner.batches)
            owner.batches += 1
        probs, feats = _mc_forward(self.model, batch, self.passes, self.features, seed)
        length = batch.shape[2]
        threads = torch.get_num_threads()
        for b, (acc, start, _) in enumerate(self.pending):
            s = np.asarray(self.score(probs[:, b]), dtype=np.float64)  # [L]
            if torch.get_num_threads() != threads:
                # the numba kernels' OpenMP runtime, shared with torch, can reset torch's
                # thread count when it starts: keep the caller's (results depend on it)
                torch.set_num_threads(threads)
            f = None if feats is None else feats[b].detach().to("cpu", torch.float64).numpy()
            acc.add(start, length, s, f)
        self.pending.clear()


def _mc_forward(
    model: MCModel, batch: torch.Tensor, passes: int, features: bool, seed: int | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``batch [B, C, L, H, W]`` -> ``(probs [R, B, L, H, W], features [B, D] or None)``,
    the shapes checked; ``seed`` seeds the dropout masks when given."""
    seeded = {} if seed is None else {"seed": seed}
    out = model.mc_forward(batch, passes=passes, return_features=features, **seeded)
    probs: torch.Tensor
    feats: torch.Tensor | None
    if isinstance(out, tuple):
        probs, feats = out
    else:
        probs, feats = out, None
    B, L = batch.shape[0], batch.shape[2]
    if probs.ndim != 5 or tuple(probs.shape[:3]) != (passes, B, L):
        raise VidalError(
            f"mc_forward returned probabilities of shape {tuple(probs.shape)}, expected "
            f"[{passes}, {B}, {L}, H, W]"
        )
    if feats is not None and (feats.ndim != 2 or feats.shape[0] != B):
        raise VidalError(f"mc_forward returned features {tuple(feats.shape)}, expected [{B}, D]")
    return probs, feats


def score_dataset(
    model: MCModel,
    videos: Iterable[VideoClips | tuple[str, int, Iterable[tuple[int, torch.Tensor]]]],
    *,
    passes: int = 10,
    scorer: Callable[[torch.Tensor], np.ndarray] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 8,
    features: bool = True,
    skip_errors: tuple[type[BaseException], ...] = (DecodeError, OSError),
    progress: bool = True,
    seed: int | None = None,
) -> DatasetScores:
    """Per-frame scores and per-video latent features of every video, streamed clip by clip.

    Args:
        model: has ``mc_forward(clip [B, C, L, H, W], passes=R, *, return_features)`` giving
            foreground probabilities ``[R, B, L, H, W]`` (and features ``[B, D]``).
        videos: :class:`VideoClips` (or plain ``(video_id, num_frames, clips)`` tuples);
            see :func:`loader_clips` for a whole-video loader.
        passes: ``R``, MC-dropout forward passes per clip (CLAUS uses 10).
        scorer: ``probs [R, L, H, W] -> float ndarray[L]``; default
            :class:`~vidal.scoring.scorers.UncertaintyScorer` (ASL Eq. 1 with suppression).
        device: where the model runs; clips are moved there in batches.
        batch_size: clips per ``mc_forward`` call (clips of different videos share batches).
        features: also average the clip features into one ``[D]`` feature per video (for
            CLAUS clustering).
        skip_errors: exceptions of a clip iterator that mean "this video is unreadable".
        progress: show a tqdm bar over videos.
        seed: seed the MC-dropout masks of each video from ``(seed, video id)`` and batch
            the clips of each video apart, so that a video's scores do not depend on the
            other videos or on the process that scores it; ``None``: one draw from torch's
            global generator for every batch, which mixes videos.

    Returns:
        :class:`DatasetScores`: ``frames[video_id]`` float64 ``[T]``, the mean over the clips
        covering each frame; ``features[video_id]`` float64 ``[D]``, the mean over the
        video's clips; ``skipped`` the videos left out and why.

    Example:
        >>> class Flat:
        ...     def mc_forward(self, clip, passes, *, return_features=False):
        ...         b, _, l, h, w = clip.shape
        ...         probs = torch.full((passes, b, l, h, w), 0.5)
        ...         return (probs, torch.ones(b, 3)) if return_features else probs
        >>> clips = [VideoClips("a", 5, clips_from_frames(torch.zeros(3, 5, 4, 4), clip_len=4, stride=4))]
        >>> out = score_dataset(Flat(), clips, passes=2, progress=False)
        >>> out.frames["a"].round(4).tolist(), out.features["a"].tolist()
        ([0.6931, 0.6931, 0.6931, 0.6931, 0.6931], [1.0, 1.0, 1.0])
    """
    if passes < 1 or batch_size < 1:
        raise VidalError(f"passes={passes} and batch_size={batch_size} must be >= 1")
    score = scorer if scorer is not None else UncertaintyScorer()
    batches = _Batches(model, score, passes, device, batch_size, features)
    accumulators: dict[str, _Accumulator] = {}
    skipped: dict[str, str] = {}
    total = len(videos) if isinstance(videos, Sized) else None
    with (
        torch.inference_mode(),
        progress_bar(total=total, unit="video", desc="scoring", disable=not progress) as bar,
    ):
        for item in videos:
            video_id, num_frames, clips = (
                (item.video_id, item.num_frames, item.clips)
                if isinstance(item, VideoClips)
                else item
            )
            if video_id in accumulators or video_id in skipped:
                raise VidalError(f"video {video_id!r} appears twice in the input")
            acc = _Accumulator(
                int(num_frames),
                np.zeros(num_frames),
                np.zeros(num_frames, dtype=np.int64),
                seed=None if seed is None else _video_seed(seed, video_id),
            )
            accumulators[video_id] = acc
            error = _feed(video_id, acc, clips, batches, skip_errors)
            if error is not None:
                _skip(video_id, error, skipped, accumulators)
                batches.drop(acc)
            bar.update(1)
        batches.flush()
    return _collect(accumulators, skipped)


def _video_seed(seed: int, video_id: str) -> int:
    """The dropout seed of one video: ``(seed, crc32(video id))`` (the same in every process,
    unlike ``hash``)."""
    return seeding.seed(seed, zlib.crc32(str(video_id).encode()))


def _collect(accumulators: dict[str, _Accumulator], skipped: dict[str, str]) -> DatasetScores:
    """Mean score per frame and mean feature per video; a video with a frame no clip
    covered is skipped."""
    result = DatasetScores(skipped=skipped)
    for video_id, acc in accumulators.items():
        if (acc.count == 0).any():
            covered = int((acc.count > 0).sum())
            reason = f"clips cover {covered} of its {acc.num_frames} frames"
            _skip(video_id, reason, skipped, stacklevel=4)
            continue
        result.frames[video_id] = acc.score_sum / acc.count
        if acc.feature_sum is not None:
            result.features[video_id] = acc.feature_sum / acc.clips
    return result


def _feed(
    video_id: str,
    acc: _Accumulator,
    clips: Iterable[tuple[int, torch.Tensor]],
    batches: _Batches,
    skip_errors: tuple[type[BaseException], ...],
) -> str | None:
    """Queue the clips of one video; returns why it is unreadable, or None."""
    try:
        it = iter(clips)
    except skip_errors as e:
        return f"{type(e).__name__}: {e}"
    while True:
        try:
            start, clip = next(it)
        except StopIteration:
            return None
        except skip_errors as e:
            return f"{type(e).__name__}: {e}"
        if clip.ndim != 4 or not 0 <= start < acc.num_frames:
            raise VidalError(
                f"video {video_id!r}: clip at frame {start} has shape {tuple(clip.shape)}; "
                f"expected [C, L, H, W] starting in 0..{acc.num_frames - 1}"
            )
        batches.add(acc, int(start), clip)


def _skip(
    video_id: str,
    reason: str,
    skipped: dict[str, str],
    accumulators: dict[str, _Accumulator] | None = None,
    *,
    stacklevel: int = 3,
) -> None:
    """Warn (at the caller of :func:`score_dataset`) and record why a video is left out."""
    warnings.warn(
        f"skipping video {video_id!r}: {reason}", SkippedVideoWarning, stacklevel=stacklevel
    )
    skipped[video_id] = reason
    if accumulators is not None:
        del accumulators[video_id]
