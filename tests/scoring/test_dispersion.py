"""Label dispersion (thesis Eq. 3.1-3.2): the measure, the recorder, and selectors on it."""

from __future__ import annotations

import doctest
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import vidal.scoring.dispersion as dispersion_module
from vidal.errors import ConfigError, VidalError
from vidal.pool import Budget, LabelPool
from vidal.scoring.dispersion import (
    DispersionRecorder,
    Predictions,
    label_dispersion,
    recording_steps,
)
from vidal.select import APUSelector, CLAUSSelector, FrameScores, TopKSelector, get_selector


def naive_dispersion(labels: np.ndarray) -> np.ndarray:
    """Eq. 3.1-3.2 written out: count the modal class of every item with a Counter."""
    T = labels.shape[0]
    return np.array([1 - Counter(col.tolist()).most_common(1)[0][1] / T for col in labels.T])


def test_examples_run():
    result = doctest.testmod(
        dispersion_module, extraglobs={"np": np, "nn": nn}, raise_on_error=False, verbose=False
    )
    assert result.attempted > 0 and result.failed == 0


def test_known_values():
    labels = np.array(
        [
            [3, 0, 0, -1, 5],
            [3, 1, 0, -1, 5],
            [3, 2, 1, 2, 5],
            [3, 3, 1, -1, 4],
        ]
    )
    # always the same: 0; all different: 1 - 1/T; a 2-2 split: 1/2; 3 of 4: 1/4
    np.testing.assert_allclose(label_dispersion(labels), [0.0, 0.75, 0.5, 0.25, 0.25])
    assert label_dispersion(np.zeros((1, 3), np.int64)).tolist() == [0.0, 0.0, 0.0]
    assert label_dispersion(np.zeros((4, 0), np.int64)).shape == (0,)


@settings(max_examples=60, deadline=None)
@given(
    points=st.integers(1, 12),
    items=st.integers(1, 30),
    classes=st.integers(1, 6),
    seed=st.integers(0, 10_000),
)
def test_property_equals_counting_the_modal_class(points, items, classes, seed):
    labels = np.random.default_rng(seed).integers(-1, classes, size=(points, items))
    got = label_dispersion(labels)
    np.testing.assert_allclose(got, naive_dispersion(labels))
    assert ((got >= 0) & (got <= 1 - 1 / points + 1e-12)).all()
    # the order of the points does not matter, only how often each label came
    np.testing.assert_allclose(label_dispersion(labels[::-1]), got)


@pytest.mark.parametrize(
    "bad", [np.zeros(3, np.int64), np.zeros((0, 2), np.int64), np.zeros((2, 2))]
)
def test_bad_labels_are_rejected(bad):
    with pytest.raises(VidalError, match=r"\[P, N\]"):
        label_dispersion(bad)


def test_recording_steps():
    assert recording_steps(100, 4) == [25, 50, 75, 100]
    assert recording_steps(10, 3) == [3, 7, 10]
    assert recording_steps(2, 5) == [1, 2]
    assert recording_steps(0, 5) == []
    with pytest.raises(ConfigError):
        DispersionRecorder(lambda m: Predictions(), points=0)


class Scripted:
    """A predictor that returns given labels point after point and notes the model's mode."""

    def __init__(
        self, frames: list[dict[str, list[int]]], videos: list[dict[str, int]] | None = None
    ):
        self.frames, self.videos = frames, videos
        self.modes: list[bool] = []
        self.calls = 0

    def __call__(self, model: nn.Module) -> Predictions:
        self.modes.append(model.training)
        assert not torch.is_grad_enabled()
        k = self.calls
        self.calls += 1
        frames = {v: np.asarray(x, dtype=np.int64) for v, x in self.frames[k].items()}
        return Predictions(frames=frames, videos={} if self.videos is None else self.videos[k])


def test_recorder_as_callback_records_at_evenly_spaced_steps_and_restores_the_mode():
    script = Scripted([{"a": [0, 1, 2], "b": [4]}] * 2 + [{"a": [0, 2, 2], "b": [4]}] * 2)
    recorder = DispersionRecorder(script, points=4)
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    model[1].eval()  # a mixed state must come back as it was
    for step in range(1, 13):
        recorder(step, 12, model)
    assert recorder.steps == [3, 6, 9, 12] and script.calls == 4
    assert script.modes == [False] * 4  # predicted in eval mode
    assert model.training and model[0].training and not model[1].training
    d = recorder.dispersion()
    np.testing.assert_allclose(d["a"], [0.0, 0.5, 0.0])
    np.testing.assert_allclose(d["b"], [0.0])


def test_recorder_needs_the_same_items_at_every_point():
    recorder = DispersionRecorder(Scripted([{"a": [0, 1]}, {"a": [0, 1, 2]}]), points=2)
    recorder.record(nn.Identity())
    with pytest.raises(VidalError, match="'a'"):
        recorder.record(nn.Identity())
    other = DispersionRecorder(Scripted([{"a": [0]}, {"b": [0]}]), points=2)
    other.record(nn.Identity())
    with pytest.raises(VidalError, match="other videos"):
        other.record(nn.Identity())
    with pytest.raises(VidalError, match="no predictions"):
        DispersionRecorder(Scripted([]), points=2).dispersion()


def _recorded(points: list[dict[str, list[int]]], videos=None) -> DispersionRecorder:
    recorder = DispersionRecorder(Scripted(points, videos), points=len(points))
    for _ in points:
        recorder.record(nn.Identity())
    return recorder


def test_scores_carry_frame_and_video_dispersion_and_keep_the_base():
    recorder = _recorded(
        [{"a": [0, 0], "b": [1]}, {"a": [0, 1], "b": [1]}],
        videos=[{"a": 2, "b": 0}, {"a": 3, "b": 0}],
    )
    assert recorder.video_dispersion() == {"a": 0.5, "b": 0.0}
    base = FrameScores(
        frames={"a": np.array([0.3, 0.1]), "b": np.array([0.9])},
        features={"a": np.ones(2)},
        extra={"fp": {"a": np.zeros(2)}},
        centers=np.zeros((1, 2)),
    )
    s = recorder.scores(base)
    np.testing.assert_allclose(s.frames["a"], [0.0, 0.5])
    assert s.frames["a"] is not base.frames["a"] and s.extra["dispersion"]["b"].tolist() == [0.0]
    assert s.extra["video_dispersion"]["a"].tolist() == [0.5, 0.5]
    assert s.features is not base.features and "fp" in s.extra and s.centers is base.centers
    kept = recorder.scores(base, as_frames=False)
    assert kept.frames["a"].tolist() == [0.3, 0.1] and "dispersion" in kept.extra
    assert "dispersion" not in base.extra  # the base is not changed

    # recorded on a subset of the pool: the others are skipped (hidden from the selector)
    pool = LabelPool({"a": 2, "b": 1, "c": 3, "d": 2})
    pool.add_frames("d", [0, 1])
    subset = recorder.scores(pool=pool)
    assert set(subset.skipped) == {"c"} and "not among" in subset.skipped["c"]


def test_apu_claus_topk_and_the_dispersion_selector_run_on_dispersion():
    """Dispersion replaces MC-dropout uncertainty: APU's proximity, CLAUS's video scores."""
    rng = np.random.default_rng(0)
    lengths = {"a": 30, "b": 20, "c": 25}
    points = [{v: rng.integers(0, 2, n).tolist() for v, n in lengths.items()} for _ in range(4)]
    for p in points:  # video c never changes its mind; video a most
        p["c"] = [1] * 25
        p["a"] = rng.integers(0, 4, 30).tolist()
    recorder = _recorded(points)
    pool = LabelPool(lengths)
    pool.add_frames("b", [5])
    scores = recorder.scores()
    budget = Budget(frames=6, videos=1)

    top = TopKSelector()(scores, pool, budget, np.random.default_rng(0))
    d = recorder.dispersion()
    chosen = np.concatenate([d[v][f] for v, f in top.frames.items()])
    threshold = np.sort(np.concatenate([d[v][~pool.mask(v)] for v in lengths]))[-6]
    assert (chosen >= threshold).all() and "c" not in top.frames

    apu = APUSelector()(scores, pool, budget, np.random.default_rng(0))
    assert apu.num_frames == 6 and "c" not in apu.frames
    flat = FrameScores(frames={v: np.zeros(n) for v, n in lengths.items()})
    plain = APUSelector()(flat, pool, budget, np.random.default_rng(0))
    assert apu.to_json()["frames"] != plain.to_json()["frames"]

    claus = CLAUSSelector(clusters=1, frame_fraction=0.1)(scores, pool, budget, rng)
    assert claus.videos == ["a"]  # the video whose labels changed most
    assert len(claus.frames["a"]) == 3  # A = 10 % of 30 frames, ranked by dispersion
    np.testing.assert_allclose(claus.info["video_scores"]["a"], d["a"][claus.frames["a"]].mean())

    picked = get_selector("dispersion")(scores, pool, Budget(frames=6), np.random.default_rng(1))
    got = np.concatenate([d[v][f] for v, f in picked.frames.items()])
    assert (got >= threshold).all()


class ClipCoder(nn.Module):
    """A fake action detector: clip class from its start frame, an actor on even frames.

    The videos fed to it hold the frame index as pixel value, so a clip knows where it is.
    """

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.zeros(1))  # something to put in eval mode

    def forward(self, clips: torch.Tensor):
        from vidal.models.action import ActionOutput

        frame = clips[:, 0, :, 0, 0]  # [B, L] frame index of each clip frame
        start = frame[:, 0].long()
        scores = torch.nn.functional.one_hot((start // 3) % self.k, self.k).float()
        scores = scores * (start + 1)[:, None].float()  # later clips weigh more
        even = (frame.long() % 2 == 0).float() * 20 - 10  # [B, L] foreground logit
        logits = even[:, :, None, None].expand(-1, -1, 2, 2)
        return ActionOutput(logits=logits, class_scores=scores, features=torch.zeros(len(clips), 1))


def test_action_predictor_labels_frames_by_clip_class_and_foreground():
    from vidal.scoring.dispersion import ActionPredictor

    n = 10
    video = torch.arange(n, dtype=torch.float32)[None, :, None, None].expand(3, n, 2, 2)
    predictor = ActionPredictor(lambda v: video, {"v": n}, clip_len=4, batch_size=2)
    got = predictor(ClipCoder())
    # clips start at 0, 4, 6 (the last one ends at the last frame and wins where it overlaps):
    # classes 0, 1, 2; odd frames hold no actor (-1)
    assert got.frames["v"].tolist() == [0, -1, 0, -1, 1, -1, 2, -1, 2, -1]
    assert got.videos == {"v": 2}  # the class of highest mean class score over the clips
    with pytest.raises(VidalError, match=r"expected \[C, 11"):
        ActionPredictor(lambda v: video, {"v": 11}, clip_len=4)(ClipCoder())
    with pytest.raises(ConfigError):
        ActionPredictor(lambda v: video, {"v": n}, clip_len=4, threshold=1.5)


class ColourDetector(nn.Module):
    """A fake torchvision detector: class 1 (detector label 2) when the red channel is high,
    class 0 when the green one is; scores from the mean intensity."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, images):
        out = []
        for image in images:
            r, g = float(image[0].mean()), float(image[1].mean())
            labels, scores = [], []
            if r > 0.1:
                labels.append(2), scores.append(r)
            if g > 0.1:
                labels.append(1), scores.append(g)
            out.append(
                {
                    "boxes": torch.zeros(len(labels), 4),
                    "labels": torch.tensor(labels, dtype=torch.int64),
                    "scores": torch.tensor(scores),
                }
            )
        return out


def test_detection_predictor_labels_frames_by_the_set_of_classes():
    from vidal.scoring.dispersion import DetectionPredictor

    frames = np.zeros((4, 8, 8, 3), np.uint8)
    frames[1, ..., 0] = 255  # red: class 1
    frames[2, ..., 1] = 255  # green: class 0
    frames[3, ..., :2] = 255  # both
    frames[0, ..., 0] = 60  # red but scoring below the threshold: nothing
    read = lambda vid, ts: frames[list(ts)]  # noqa: E731
    predictor = DetectionPredictor(read, {"v": (6, [0, 1, 2, 3])}, threshold=0.5, batch_size=3)
    first = predictor(ColourDetector())
    # codes by first appearance: () -> 0, (1,) -> 1, (0,) -> 2, (0, 1) -> 3; frames 4, 5 unasked
    assert first.frames["v"].tolist() == [0, 1, 2, 3, -1, -1]
    frames[1, ..., 1] = 255  # now frame 1 shows both classes: the code of (0, 1) again
    assert predictor(ColourDetector()).frames["v"].tolist() == [0, 3, 2, 3, -1, -1]


def test_action_predictor_with_a_stride_fills_the_gaps_from_the_nearest_clip():
    from vidal.scoring.dispersion import ActionPredictor

    n = 14
    video = torch.arange(n, dtype=torch.float32)[None, :, None, None].expand(3, n, 2, 2)
    sparse = ActionPredictor(lambda v: video, {"v": n}, clip_len=2, stride=5)(ClipCoder())
    # clips at 0, 5, 10, 12 of classes 0, 1, 0, 1 see frames 0-1, 5-6, 10-13, actors on even
    # frames: 0 -> 0, 1 -> -1, 5 -> -1, 6 -> 1, 10 -> 0, 11 -> -1, 12 -> 1, 13 -> -1; the
    # others copy their nearest seen frame: 2, 3 (a tie: the earlier) <- 1; 4 <- 5; 7, 8 <- 6;
    # 9 <- 10
    assert sparse.frames["v"].tolist() == [0, -1, -1, -1, -1, -1, 1, 1, 1, 0, 0, -1, 1, -1]
    with pytest.raises(ConfigError, match="stride"):
        ActionPredictor(lambda v: video, {"v": n}, clip_len=4, stride=2)
