"""score_dataset with a tiny deterministic fake model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidal.errors import DecodeError, VidalError
from vidal.scoring import (
    DatasetScores,
    SkippedVideoWarning,
    VideoClips,
    clips_from_frames,
    get_scorer,
    loader_clips,
    pixel_uncertainty,
    score_dataset,
)
from vidal.scoring.stream import clip_starts


class FakeModel:
    """Probabilities depend only on the frame's own pixels and the pass index.

    ``probs[r, b, t] = clip[b, 0, t] * (1 - 0.1 r)``; ``features[b] = [mean, max]`` of the clip.
    Because a frame's maps do not depend on its clip, every way of cutting a video into clips
    must give the scores of the whole video scored at once.
    """

    def __init__(self):
        self.calls = 0
        self.batch_sizes = []

    def mc_forward(self, clip, passes, *, return_features=False):
        self.calls += 1
        self.batch_sizes.append(clip.shape[0])
        scale = 1.0 - 0.1 * torch.arange(passes, dtype=clip.dtype)
        probs = clip[:, 0][None] * scale[:, None, None, None, None]  # [R, B, L, H, W]
        if not return_features:
            return probs
        feats = torch.stack([clip.mean(dim=(1, 2, 3, 4)), clip.amax(dim=(1, 2, 3, 4))], dim=1)
        return probs, feats


def video(seed, num_frames, h=6, w=5):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, num_frames, h, w, generator=g)  # [C, T, H, W] in [0, 1)


def whole_video_scores(frames, passes, scorer):
    scale = 1.0 - 0.1 * torch.arange(passes, dtype=frames.dtype)
    probs = frames[0][None] * scale[:, None, None, None]  # [R, T, H, W]
    return scorer(probs.numpy())


VIDEOS = {"a": video(0, 20), "b": video(1, 5), "c": video(2, 13)}


def loader(videos=VIDEOS):
    return lambda vid: videos[vid]


@pytest.mark.parametrize("clip_len,stride", [(4, 4), (4, 2), (8, 3), (1, 1)])
@pytest.mark.parametrize("batch_size", [1, 3, 16])
def test_streamed_scores_equal_whole_video_scores(clip_len, stride, batch_size):
    scorer = get_scorer("uncertainty")
    clips = loader_clips(
        {v: f.shape[1] for v, f in VIDEOS.items()}, loader(), clip_len=clip_len, stride=stride
    )
    out = score_dataset(
        FakeModel(), clips, passes=3, scorer=scorer, batch_size=batch_size, progress=False
    )
    assert isinstance(out, DatasetScores) and out.skipped == {}
    assert list(out.frames) == ["a", "b", "c"]
    for vid, frames in VIDEOS.items():
        assert out.frames[vid].shape == (frames.shape[1],) and out.frames[vid].dtype == np.float64
        np.testing.assert_allclose(
            out.frames[vid], whole_video_scores(frames, 3, scorer), rtol=1e-12
        )


def test_features_are_the_mean_of_clip_features():
    clips = loader_clips({"a": 20}, loader(), clip_len=8, stride=8)  # starts 0, 8, 12
    out = score_dataset(FakeModel(), clips, passes=2, progress=False)
    f = VIDEOS["a"]
    windows = [f[:, s : s + 8] for s in (0, 8, 12)]
    expected = np.mean([[w.mean().item(), w.max().item()] for w in windows], axis=0)
    np.testing.assert_allclose(out.features["a"], expected, rtol=1e-6)
    assert (
        score_dataset(FakeModel(), clips, passes=2, features=False, progress=False).features == {}
    )


def test_overlapping_clips_are_averaged():
    """A model whose output depends on the clip: frame scores average the covering clips."""

    class ClipConstant:
        def mc_forward(self, clip, passes, *, return_features=False):
            b, _, length, h, w = clip.shape
            level = clip[:, 0, 0, 0, 0]  # the clip's first frame decides its whole output
            return level[None, :, None, None, None].expand(passes, b, length, h, w)

    frames = torch.zeros(1, 6, 1, 1)
    frames[0, :, 0, 0] = torch.tensor([0.5, 0.5, 0.25, 0.25, 0.25, 0.25])
    clips = [VideoClips("v", 6, clips_from_frames(frames, clip_len=4, stride=2))]  # starts 0, 2
    out = score_dataset(
        ClipConstant(),
        clips,
        passes=1,
        scorer=get_scorer("uncertainty", tau=None),
        features=False,
        progress=False,
    )
    ln2, ln4 = np.log(2), np.log(4)
    np.testing.assert_allclose(
        out.frames["v"], [ln2, ln2, (ln2 + ln4) / 2, (ln2 + ln4) / 2, ln4, ln4]
    )


def test_short_video_is_padded_and_padding_dropped():
    assert clip_starts(3, clip_len=8, stride=4) == [0]
    clips = list(clips_from_frames(VIDEOS["b"][:, :3], clip_len=8, stride=4))
    assert len(clips) == 1 and clips[0][1].shape == (2, 8, 6, 5)
    torch.testing.assert_close(clips[0][1][:, 7], VIDEOS["b"][:, 2])
    out = score_dataset(FakeModel(), [VideoClips("s", 3, clips)], passes=2, progress=False)
    scorer = get_scorer("uncertainty")
    np.testing.assert_allclose(out.frames["s"], whole_video_scores(VIDEOS["b"][:, :3], 2, scorer))


def test_corrupt_video_is_skipped_with_a_warning():
    def load(vid):
        if vid == "b":
            raise DecodeError("b.mp4: moov atom not found")
        return VIDEOS[vid]

    clips = loader_clips({v: f.shape[1] for v, f in VIDEOS.items()}, load, clip_len=4, stride=4)
    with pytest.warns(SkippedVideoWarning, match="'b'.*moov atom"):
        out = score_dataset(FakeModel(), clips, passes=2, batch_size=3, progress=False)
    assert set(out.frames) == {"a", "c"} and set(out.features) == {"a", "c"}
    assert "moov atom" in out.skipped["b"]


def test_video_failing_mid_way_leaves_no_trace_in_shared_batches():
    def broken_clips():
        yield 0, VIDEOS["a"][:, 0:4]
        yield 4, VIDEOS["a"][:, 4:8]
        raise OSError("read error at frame 8")

    scorer = get_scorer("uncertainty")
    good = VideoClips("c", 13, clips_from_frames(VIDEOS["c"], clip_len=4, stride=4))
    with pytest.warns(SkippedVideoWarning, match="'a'.*read error"):
        out = score_dataset(
            FakeModel(), [("a", 20, broken_clips()), good], passes=2, batch_size=3, progress=False
        )
    assert list(out.frames) == ["c"] and list(out.skipped) == ["a"]
    np.testing.assert_allclose(out.frames["c"], whole_video_scores(VIDEOS["c"], 2, scorer))


def test_wrong_decoded_length_and_uncovered_frames_are_skipped():
    clips = loader_clips({"a": 21}, loader(), clip_len=4, stride=4)
    with pytest.warns(SkippedVideoWarning, match="expected"):
        out = score_dataset(FakeModel(), clips, passes=2, progress=False)
    assert "a" in out.skipped and out.frames == {}
    partial = VideoClips("c", 13, [(0, VIDEOS["c"][:, :4])])
    with pytest.warns(SkippedVideoWarning, match="cover 4 of its 13"):
        out = score_dataset(FakeModel(), [partial], passes=2, progress=False)
    assert out.skipped == {"c": "clips cover 4 of its 13 frames"}


def test_model_errors_are_not_swallowed():
    class Broken:
        def mc_forward(self, clip, passes, *, return_features=False):
            raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        score_dataset(Broken(), loader_clips({"a": 20}, loader()), passes=2, progress=False)


def test_bad_model_output_shape_is_named():
    class Flat:
        def mc_forward(self, clip, passes, *, return_features=False):
            return torch.full((passes, clip.shape[0], 6, 5), 0.5)  # the frame axis is missing

    with pytest.raises(VidalError, match=r"expected \[2, 2, 4, H, W\]"):
        score_dataset(
            Flat(),
            loader_clips({"b": 5}, loader(), clip_len=4),
            passes=2,
            features=False,
            progress=False,
        )


def test_bad_input_is_named():
    with pytest.raises(VidalError, match="appears twice"):
        score_dataset(FakeModel(), loader_clips({"a": 20}, loader()) * 2, passes=2, progress=False)
    with pytest.raises(VidalError, match="clip at frame 30"):
        score_dataset(
            FakeModel(), [VideoClips("a", 20, [(30, VIDEOS["a"][:, :4])])], passes=2, progress=False
        )
    with pytest.raises(VidalError, match="clip_len"):
        loader_clips({"a": 20}, loader(), clip_len=0)


def test_batches_mix_videos_and_respect_batch_size():
    model = FakeModel()
    clips = loader_clips({v: f.shape[1] for v, f in VIDEOS.items()}, loader(), clip_len=4, stride=4)
    score_dataset(model, clips, passes=2, batch_size=4, progress=False)
    # a: 5 clips, b: 2, c: 4 -> 11 clips in batches of at most 4
    assert sum(model.batch_sizes) == 11 and max(model.batch_sizes) == 4 and model.calls == 3


def test_default_scorer_is_suppressed_uncertainty():
    out = score_dataset(FakeModel(), loader_clips({"a": 20}, loader()), passes=2, progress=False)
    scale = torch.tensor([1.0, 0.9])
    probs = VIDEOS["a"][0][None] * scale[:, None, None, None]
    np.testing.assert_allclose(out.frames["a"], pixel_uncertainty(probs.numpy(), tau=0.9))
