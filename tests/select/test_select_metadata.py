"""Metadata cycling (seed 000, Experiment 1): one frame per metadata tuple, tuples in random order."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest

from vidal.data.annotations import VideoAnnotation, VideoDataset
from vidal.data.formats.vidal_json import read_vidal, write_vidal
from vidal.errors import ConfigError, VidalError
from vidal.pool import Budget, LabelPool
from vidal.select import FrameScores, MetadataCycleSelector, TopKSelector, get_selector
from vidal.select.metadata import MetadataWarning, attach_metadata, metadata_codes


def _dataset() -> VideoDataset:
    """Four subjects' videos; a per-frame prompt; a per-video scene (one video lacks it)."""
    videos = []
    for i in range(4):
        n = 12
        prompt = [["happy", "sad", "angry"][t // 4] if t % 4 else None for t in range(n)]
        meta = {"subject": f"s{i % 2}", "scene": "day" if i < 2 else "night"}
        if i == 3:
            del meta["scene"]
        videos.append(
            VideoAnnotation(f"v{i}", n, 16, 16, metadata=meta, frame_metadata={"prompt": prompt})
        )
    return VideoDataset(["a", "b"], videos)


def _scores(dataset: VideoDataset, seed: int = 0) -> FrameScores:
    rng = np.random.default_rng(seed)
    scores = FrameScores(frames={v.video_id: rng.random(v.num_frames) for v in dataset})
    return attach_metadata(scores, dataset)


def _tuples(dataset, fields, sel):
    out = []
    for vid, frames in sel.frames.items():
        for t in frames:
            video = dataset[vid]
            out.append(
                tuple((video.metadata_values(f) or [None] * video.num_frames)[t] for f in fields)
            )
    return out


def test_codes_follow_the_values_not_the_video_order():
    ds = _dataset()
    codes, values = metadata_codes(ds)
    assert sorted(codes) == ["prompt", "scene", "subject"]
    assert values["scene"] == ["day", "night", None]  # v3 lacks the scene: None of its own
    assert values["prompt"] == ["angry", "happy", "sad", None]
    assert codes["scene"]["v3"].tolist() == [2.0] * 12
    assert codes["prompt"]["v0"][:5].tolist() == [3.0, 1.0, 1.0, 1.0, 3.0]
    reversed_ds = VideoDataset(ds.class_names, ds.videos[::-1])
    again, _ = metadata_codes(reversed_ds)
    for field, per_video in codes.items():
        for vid, c in per_video.items():
            np.testing.assert_array_equal(again[field][vid], c)
    only, _ = metadata_codes(ds, ["subject"])
    assert list(only) == ["subject"]


def test_every_tuple_gives_its_best_frame_before_any_gives_a_second():
    ds = _dataset()
    scores = _scores(ds)
    pool = LabelPool({v.video_id: v.num_frames for v in ds})
    fields = ("prompt", "subject")
    n_tuples = 4 * 2  # 3 prompts and None, 2 subjects
    sel = get_selector("metadata_cycle", fields=fields)(
        scores, pool, Budget(frames=n_tuples), np.random.default_rng(0)
    )
    assert sorted(Counter(_tuples(ds, fields, sel)).values()) == [1] * n_tuples
    assert sel.info["tuples"] == n_tuples
    # each is the tuple's highest-scoring frame
    for vid, frames in sel.frames.items():
        for t, s in zip(frames, sel.scores[vid], strict=True):
            key = tuple(ds[vid].metadata_values(f)[t] for f in fields)
            best = max(
                scores.frames[w][u]
                for w in scores.frames
                for u in range(12)
                if tuple(ds[w].metadata_values(f)[u] for f in fields) == key
            )
            assert s == best == scores.frames[vid][t]
    # a second round: every tuple twice
    twice = MetadataCycleSelector(fields=fields)(
        scores, pool, Budget(frames=2 * n_tuples), np.random.default_rng(0)
    )
    assert sorted(Counter(_tuples(ds, fields, twice)).values()) == [2] * n_tuples


def test_the_tuple_order_is_random_and_the_seed_decides_it():
    ds = _dataset()
    scores = _scores(ds)
    pool = LabelPool({v.video_id: v.num_frames for v in ds})
    selector = MetadataCycleSelector(fields=("prompt", "subject"))
    first = Counter()
    for seed in range(200):
        sel = selector(scores, pool, Budget(frames=1), np.random.default_rng(seed))
        first[_tuples(ds, selector.fields, sel)[0]] += 1
    assert len(first) == 8 and min(first.values()) > 10  # every tuple leads now and then
    a = selector(scores, pool, Budget(frames=5), np.random.default_rng(7))
    b = selector(scores, pool, Budget(frames=5), np.random.default_rng(7))
    assert a.to_json() == b.to_json()


def test_random_pick_is_not_the_best_frame():
    ds = _dataset()
    scores = _scores(ds)
    pool = LabelPool({v.video_id: v.num_frames for v in ds})
    best = MetadataCycleSelector(fields=("scene",))
    rand = MetadataCycleSelector(fields=("scene",), pick="random")
    picks = set()
    for seed in range(20):
        sel = rand(scores, pool, Budget(frames=3), np.random.default_rng(seed))
        assert sorted(Counter(_tuples(ds, ("scene",), sel)).values()) == [1, 1, 1]
        assert sel.scores == {}
        picks.add(str(sel.to_json()["frames"]))
    assert len(picks) > 10
    # the best pick is one fixed frame per tuple, whatever the seed
    tops = {
        str(
            sorted(
                best(scores, pool, Budget(frames=3), np.random.default_rng(s))
                .to_json()["frames"]
                .items()
            )
        )
        for s in range(5)
    }
    assert len(tops) == 1


def test_labeled_frames_and_the_cost_budget_are_respected():
    ds = _dataset()
    scores = _scores(ds)
    costs = {v.video_id: np.where(np.arange(12) % 2, 5.0, 1.0) for v in ds}
    pool = LabelPool({v.video_id: v.num_frames for v in ds}, frame_costs=costs)
    pool.add_frames("v0", range(12))
    sel = MetadataCycleSelector(fields=("subject",))(
        scores, pool, Budget(cost=4.0), np.random.default_rng(0)
    )
    assert "v0" not in sel.frames and sel.cost(pool) <= 4.0 and sel.num_frames >= 2


def test_missing_field_is_an_error_naming_the_fields_there_are():
    ds = _dataset()
    pool = LabelPool({v.video_id: v.num_frames for v in ds})
    with pytest.raises(VidalError, match=r"'weather' is not in the scores.*'prompt'"):
        MetadataCycleSelector(fields=("weather",))(
            _scores(ds), pool, Budget(frames=2), np.random.default_rng(0)
        )
    scores = _scores(ds)
    scores.extra["meta:scene"]["v1"] = np.zeros(3)
    with pytest.raises(VidalError, match="'scene' of video 'v1'"):
        MetadataCycleSelector(fields=("scene",))(
            scores, pool, Budget(frames=2), np.random.default_rng(0)
        )


def test_a_field_with_one_value_warns_and_names_the_fallback():
    ds = _dataset()
    scores = _scores(ds)
    for v in ds:
        v.metadata["site"] = "home"
    scores = attach_metadata(scores, ds, ["site"])
    pool = LabelPool({v.video_id: v.num_frames for v in ds})
    budget = Budget(frames=5)
    with pytest.warns(MetadataWarning, match=r"\['site'\].*plain top-k"):
        sel = MetadataCycleSelector(fields=("site",))(
            scores, pool, budget, np.random.default_rng(0)
        )
    top = TopKSelector()(scores, pool, budget, np.random.default_rng(0))
    assert sel.to_json()["frames"] == top.to_json()["frames"]  # the fallback is what it says
    with pytest.warns(MetadataWarning, match="random frames"):
        MetadataCycleSelector(fields=("site",), pick="random")(
            scores, pool, budget, np.random.default_rng(0)
        )
    with pytest.warns(MetadataWarning, match="other fields still split"):
        MetadataCycleSelector(fields=("site", "subject"))(
            scores, pool, budget, np.random.default_rng(0)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MetadataCycleSelector(fields=("subject",))(scores, pool, budget, np.random.default_rng(0))


def test_video_field_cycles_through_videos():
    pool = LabelPool({"a": 5, "b": 5, "c": 5})
    scores = FrameScores(frames={v: np.arange(5.0) for v in "abc"})
    sel = get_selector("metadata_cycle")(scores, pool, Budget(frames=4), np.random.default_rng(0))
    counts = sorted(len(f) for f in sel.frames.values())
    assert counts == [1, 1, 2] and all(4 in f for f in sel.frames.values())


@pytest.mark.parametrize(
    "options",
    [{"fields": "scene"}, {"fields": ()}, {"fields": ("a", "a")}, {"pick": "worst"}],
)
def test_bad_options(options):
    with pytest.raises(ConfigError):
        get_selector("metadata_cycle", **options)


def test_metadata_from_a_vidal_json_file_drives_the_selection(tmp_path):
    path = write_vidal(_dataset(), tmp_path / "ann.json")
    ds = read_vidal(path)
    pool = LabelPool({v.video_id: v.num_frames for v in ds})
    sel = MetadataCycleSelector(fields=("scene", "prompt"))(
        _scores(ds), pool, Budget(frames=12), np.random.default_rng(0)
    )
    assert sorted(Counter(_tuples(ds, ("scene", "prompt"), sel)).values()) == [1] * 12
