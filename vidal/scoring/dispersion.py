"""Label dispersion: how often the model changes its mind about an item during training.

Zolfaghari Bengar (PhD thesis, 2021), ch. 3, Eq. 3.1-3.2: the predicted label ``y^t`` of an
item is recorded at ``T`` points during training, and

    Dispersion(x) = 1 - f_x / T,    f_x = sum_t 1[y^t = c*],    c* = argmax_c sum_t 1[y^t = c]

(``f_x`` counts the predictions that fall into the modal class). It is 0 when the model
always gave the same label and approaches ``1 - 1/T`` when every point gave another one.
The thesis' ``T`` counts recording points; vidal's shapes keep ``T`` for frames, so arrays
over points are ``[P, ...]`` below (``P = T`` of the equation).
The thesis records "at every epoch" an inference over the unlabeled pool with the model in
eval mode; vidal does the same at ``points`` evenly spaced training steps (the last one is
the trained model).

What an item's label is:

- action localization (:class:`ActionPredictor`): per frame, the class of the clip that
  covers it (argmax of the class capsules) when the frame holds foreground (some pixel's
  foreground probability >= ``threshold``), else "background" (``-1``); so a frame whose
  class or whose actor/no-actor call flips counts as changing. Per video, the argmax of the
  class scores averaged over its clips (video-level labels, CLAUS).
- detection (:class:`DetectionPredictor`): per frame, the set of classes detected with score
  >= ``threshold`` (the empty set is a label too); detections have no identity across
  training, so the frame is the item.

What a point costs and why it is cheap: one deterministic forward pass (eval mode, no
MC-dropout passes, no gradients) over non-overlapping clips of the videos asked for,
normally those with an unlabeled frame. That is about ``1/R`` of MC-dropout scoring with
``R`` passes; ``points`` such passes are added to a training run
(``tools/bench/bench_dispersion.py`` measures the ratio). The model's train/eval state is
restored after each point and the forward pass draws no random numbers, so training with
a recorder gives the same weights as training without one.

Use inside a training loop::

    recorder = DispersionRecorder(ActionPredictor(load_video, todo, clip_len=8), points=10)
    train_action_model(model, dataset, pool, store, config, callback=recorder)
    scores = recorder.scores()       # FrameScores: frames = dispersion, extra["dispersion"]
    selection = get_selector("apu")(scores, pool, budget, rng)  # or "dispersion", "claus"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from vidal.errors import ConfigError, VidalError
from vidal.pool import LabelPool
from vidal.scoring.stream import clip_starts
from vidal.select.base import FrameScores

__all__ = [
    "label_dispersion",
    "Predictions",
    "Predictor",
    "DispersionRecorder",
    "ActionPredictor",
    "DetectionPredictor",
    "recording_steps",
]

#: label of a frame where the action detector sees no actor
BACKGROUND = -1


def label_dispersion(labels: np.ndarray) -> np.ndarray:
    """Thesis Eq. 3.1-3.2: ``1 - f / P`` per item, ``f`` the count of its modal label.

    Args:
        labels (ndarray[P, N]): integer label of each of ``N`` items at each of ``P`` points.

    Returns:
        float64 ``ndarray[N]`` in ``[0, 1 - 1/P]``.

    Example:
        >>> label_dispersion(np.array([[0, 1], [0, 2], [0, 1], [0, 3]])).tolist()
        [0.0, 0.5]
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[0] < 1 or labels.dtype.kind not in "iub":
        raise VidalError(
            f"labels must be an integer array [P, N] with P >= 1, got {labels.dtype} {labels.shape}"
        )
    points, items = labels.shape
    if items == 0:
        return np.zeros(0)
    runs = np.sort(labels, axis=0).T.ravel()  # each item's sorted labels, one item after another
    starts = np.ones(runs.size, dtype=bool)
    starts[1:] = runs[1:] != runs[:-1]
    starts[::points] = True  # an item's first label always starts a run
    first = np.flatnonzero(starts)
    lengths = np.diff(np.append(first, runs.size))
    per_item = np.searchsorted(first, np.arange(items) * points)  # first run of each item
    modal = np.maximum.reduceat(lengths, per_item)
    return 1.0 - modal / points


@dataclass
class Predictions:
    """The labels a model gives the pool at one point of training.

    Attributes:
        frames: video id -> int64 ``ndarray[T]`` label of every frame.
        videos: video id -> the video's predicted class (empty when there is none).
    """

    frames: dict[str, np.ndarray] = field(default_factory=dict)
    videos: dict[str, int] = field(default_factory=dict)


#: ``predict(model) -> Predictions``; runs with the model in eval mode and without gradients.
Predictor = Callable[[nn.Module], Predictions]


def recording_steps(total: int, points: int) -> list[int]:
    """The ``points`` steps (1-based, evenly spaced, the last = ``total``) to record at.

    Fewer when ``total < points`` (each step at most once).

    Example:
        >>> recording_steps(100, 4), recording_steps(3, 5)
        ([25, 50, 75, 100], [1, 2, 3])
    """
    if total <= 0:
        return []
    return sorted({max(1, round(k * total / points)) for k in range(1, points + 1)})


class DispersionRecorder:
    """Records a model's predictions on the pool during training; gives their dispersion.

    The training loops call it after every optimiser step as ``recorder(step, total, model)``
    (the ``callback`` of :func:`vidal.train.action.train_action_model` and
    :func:`vidal.train.detection.train_detector`); it records at :func:`recording_steps`
    ``(total, points)``. :meth:`record` records now (for loops of your own, e.g. once per
    epoch). Make a new recorder for every training run (active-learning cycle).

    Args:
        predict: the predictor, e.g. :class:`ActionPredictor` or :class:`DetectionPredictor`.
        points: ``P`` (the thesis' ``T``), how many times to record during a training run
            (at least 2 for a dispersion that can be above 0).

    Example:
        >>> fixed = [Predictions({"a": np.array([0, 1])}), Predictions({"a": np.array([0, 2])})]
        >>> recorder = DispersionRecorder(lambda model: fixed.pop(0), points=2)
        >>> for step in range(1, 5):
        ...     recorder(step, 4, nn.Identity())
        >>> recorder.dispersion()["a"].tolist()
        [0.0, 0.5]
    """

    def __init__(self, predict: Predictor, *, points: int = 10) -> None:
        if not isinstance(points, int) or points < 1:
            raise ConfigError(f"dispersion points={points!r} must be an integer >= 1")
        self.predict = predict
        self.points = points
        self.steps: list[int] = []
        self.history: list[Predictions] = []

    def __call__(self, step: int, total: int, model: nn.Module) -> None:
        """Training callback: record if ``step`` (1-based, of ``total``) is a recording step."""
        if step in recording_steps(total, self.points):
            self.record(model, step=step)

    def record(self, model: nn.Module, *, step: int | None = None) -> None:
        """Record the model's predictions now (eval mode, no gradients; its mode restored)."""
        modes = [(m, m.training) for m in model.modules()]
        try:
            model.eval()
            with torch.inference_mode():
                predictions = self.predict(model)
        finally:
            for m, mode in modes:
                m.train(mode)
        if self.history:
            _check_same_items(self.history[0], predictions)
        self.history.append(predictions)
        self.steps.append(len(self.history) if step is None else int(step))

    def dispersion(self) -> dict[str, np.ndarray]:
        """Video id -> float64 ``ndarray[T]`` dispersion of each frame (Eq. 3.1)."""
        if not self.history:
            raise VidalError("no predictions recorded yet: dispersion needs recorded points")
        out = {}
        for vid in self.history[0].frames:
            stacked = np.stack([p.frames[vid] for p in self.history])  # [points, T]
            out[vid] = label_dispersion(stacked)
        return out

    def video_dispersion(self) -> dict[str, float]:
        """Video id -> dispersion of the video's predicted class (video-level labels)."""
        if not self.history:
            raise VidalError("no predictions recorded yet: dispersion needs recorded points")
        ids = list(self.history[0].videos)
        if not ids:
            return {}
        stacked = np.array([[p.videos[v] for v in ids] for p in self.history])  # [points, V]
        return dict(zip(ids, label_dispersion(stacked).tolist(), strict=True))

    def scores(
        self,
        base: FrameScores | None = None,
        *,
        as_frames: bool = True,
        pool: LabelPool | None = None,
    ) -> FrameScores:
        """The dispersion as selector input.

        Args:
            base: scores to add the dispersion to (e.g. MC-dropout uncertainty with CLAUS
                features); their features, centers, extra and skipped videos are kept.
            as_frames: make the dispersion ``frames`` (what APU, CLAUS and top-k rank by,
                in place of MC-dropout uncertainty); otherwise ``frames`` stay ``base``'s.
            pool: when given, every video of the pool with an unlabeled frame that was not
                predicted is listed in ``skipped`` (the loop hides skipped videos from the
                selector): recording on a random subset of the videos is then selecting
                among that subset, a cheaper recording (cost in proportion to the subset).

        Returns:
            :class:`FrameScores` with ``extra["dispersion"]`` (per frame) and, when videos
            were predicted, ``extra["video_dispersion"]`` (the video's value on every frame).
        """
        base = FrameScores() if base is None else base
        per_frame = self.dispersion()
        skipped = dict(base.skipped)
        if pool is not None:
            for vid in pool.video_ids:
                if vid not in per_frame and vid not in skipped and not pool.mask(vid).all():
                    skipped[vid] = "not among the videos whose label dispersion was recorded"
        extra = dict(base.extra)
        extra["dispersion"] = per_frame
        per_video = self.video_dispersion()
        if per_video:
            extra["video_dispersion"] = {
                v: np.full(len(per_frame[v]), d) for v, d in per_video.items() if v in per_frame
            }
        frames = dict(per_frame) if as_frames else dict(base.frames)
        return FrameScores(
            frames=frames,
            features=dict(base.features),
            extra=extra,
            centers=base.centers,
            skipped=skipped,
        )


def _check_same_items(first: Predictions, now: Predictions) -> None:
    if first.frames.keys() != now.frames.keys() or first.videos.keys() != now.videos.keys():
        raise VidalError("a recording point predicted other videos than the first one")
    for vid, labels in now.frames.items():
        if np.shape(labels) != np.shape(first.frames[vid]):
            raise VidalError(
                f"video {vid!r}: {np.shape(labels)} frame labels, the first point had "
                f"{np.shape(first.frames[vid])}"
            )


class ActionPredictor:
    """Frame and video labels of the capsule action detector, one eval pass per clip.

    Args:
        load_video: ``video_id -> Tensor[C, T, H, W]`` the video ready for the model (e.g.
            ``clip_to_tensor(store.frames(video_id))``; a :class:`~vidal.data.store.FrameStore`
            keeps it decoded between points).
        num_frames: video id -> ``T``, the videos to predict (those with unlabeled frames).
        clip_len: frames per clip; clips do not overlap except the last one of a video,
            which ends at the last frame (its labels win where they overlap).
        stride: frames between clip starts (default ``clip_len``: every frame is seen). A
            larger stride predicts fewer clips (cost ``clip_len / stride`` of the full pass);
            a frame no clip covers takes the label of the nearest frame one covers.
        threshold: foreground probability a pixel needs for its frame to hold an actor.
        batch_size: clips per forward pass.
        device: where the model runs.

    The model is an :class:`~vidal.train.action.ActionModel` (its ``detector`` is used) or an
    :class:`~vidal.models.action.ActionDetector`.
    """

    def __init__(
        self,
        load_video: Callable[[str], torch.Tensor],
        num_frames: Mapping[str, int],
        *,
        clip_len: int,
        stride: int | None = None,
        threshold: float = 0.5,
        batch_size: int = 8,
        device: torch.device | str = "cpu",
    ) -> None:
        stride = clip_len if stride is None else stride
        if not 0.0 < threshold < 1.0 or batch_size < 1 or stride < clip_len:
            raise ConfigError(
                f"threshold={threshold} must be in (0, 1), batch_size={batch_size} >= 1 and "
                f"stride={stride} >= clip_len={clip_len}"
            )
        clip_starts(1, clip_len=clip_len, stride=stride)  # validates clip_len
        self.load_video = load_video
        self.num_frames = {str(v): int(n) for v, n in num_frames.items()}
        self.clip_len, self.stride, self.threshold = clip_len, stride, threshold
        self.batch_size, self.device = batch_size, torch.device(device)

    def __call__(self, model: nn.Module) -> Predictions:
        detector = getattr(model, "detector", model)
        out = Predictions()
        for vid, n in self.num_frames.items():
            frames, video_class = self._video(detector, vid, n)
            out.frames[vid], out.videos[vid] = frames, video_class
        return out

    def _video(self, detector: nn.Module, vid: str, n: int) -> tuple[np.ndarray, int]:
        video = self.load_video(vid)  # [C, T, H, W]
        if video.ndim != 4 or video.shape[1] != n:
            raise VidalError(f"video {vid!r}: loaded {tuple(video.shape)}, expected [C, {n}, H, W]")
        starts = clip_starts(n, clip_len=self.clip_len, stride=self.stride)
        labels = np.full(n, BACKGROUND, dtype=np.int64)
        covered = np.zeros(n, dtype=bool)
        class_scores = []
        for b in range(0, len(starts), self.batch_size):
            chunk = starts[b : b + self.batch_size]
            idx = [torch.arange(s, s + self.clip_len).clamp(max=n - 1) for s in chunk]
            clips = torch.stack([video[:, i] for i in idx]).to(self.device)  # [B, C, L, H, W]
            result = detector(clips)
            classes = result.class_scores.argmax(dim=1).cpu().numpy()  # [B]
            actor = (torch.sigmoid(result.logits).amax(dim=(2, 3)) >= self.threshold).cpu()
            for s, c, a in zip(chunk, classes, actor.numpy(), strict=True):
                end = min(s + self.clip_len, n)
                labels[s:end] = np.where(a[: end - s], int(c), BACKGROUND)
                covered[s:end] = True
            class_scores.append(result.class_scores.float().cpu())
        return _fill_nearest(labels, covered), int(torch.cat(class_scores).mean(dim=0).argmax())


def _fill_nearest(labels: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """``labels (ndarray[T])`` with every uncovered frame given its nearest covered frame's
    label (the earlier one on a tie)."""
    if covered.all():
        return labels
    pos = np.flatnonzero(covered)
    t = np.arange(len(labels))
    right = np.minimum(np.searchsorted(pos, t), len(pos) - 1)
    left = np.maximum(right - 1, 0)
    take_left = np.abs(t - pos[left]) <= np.abs(pos[right] - t)
    return labels[np.where(take_left, pos[left], pos[right])]


class DetectionPredictor:
    """Frame labels of a frame detector: the set of classes it detects in each frame.

    Args:
        read_frames: ``(video_id, frames) -> ndarray[N, H, W, 3]`` uint8 RGB
            (:data:`vidal.train.detection.FrameReader`).
        frames: video id -> ``(num_frames, frames to predict)``; frames not predicted keep
            one fixed label (dispersion 0): pass the unlabeled frames, or every frame.
        threshold: score a detection needs to count.
        batch_size: frames per forward pass.
        device: where the model runs.

    A set of classes is coded as an int by first appearance (the empty set is code 0), the
    same code at every point, so any change of the set counts as a change of label.
    """

    def __init__(
        self,
        read_frames: Callable[[str, Sequence[int]], np.ndarray],
        frames: Mapping[str, tuple[int, Iterable[int]]],
        *,
        threshold: float = 0.5,
        batch_size: int = 8,
        device: torch.device | str = "cpu",
    ) -> None:
        if not 0.0 <= threshold <= 1.0 or batch_size < 1:
            raise ConfigError(
                f"threshold={threshold} must be in [0, 1] and batch_size={batch_size} >= 1"
            )
        self.read_frames = read_frames
        self.frames = {str(v): (int(n), [int(t) for t in ts]) for v, (n, ts) in frames.items()}
        self.threshold, self.batch_size, self.device = threshold, batch_size, device
        self.codes: dict[tuple[int, ...], int] = {(): 0}

    def __call__(self, model: nn.Module) -> Predictions:
        from vidal.train.detection import detect_video

        out = Predictions()
        for vid, (n, frames) in self.frames.items():
            labels = np.full(n, -1, dtype=np.int64)
            dets = detect_video(
                model, self.read_frames, vid, frames, batch_size=self.batch_size, device=self.device
            )
            for t, det in zip(frames, dets, strict=True):
                present = tuple(
                    sorted(set(det["labels"][det["scores"] >= self.threshold].tolist()))
                )
                labels[t] = self.codes.setdefault(present, len(self.codes))
            out.frames[vid] = labels
        return out
