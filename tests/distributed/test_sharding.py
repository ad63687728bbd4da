"""The pieces of distributed runs that need no second process: partitions, batch slices,
merges of scores and accumulators, seeded scoring, prefetching, the world of one process."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidal.config import ScoreConfig
from vidal.data.annotations import Tube, VideoAnnotation
from vidal.data.prefetch import prefetch_videos
from vidal.distributed import World, init_world, shard_by_size, split_counts
from vidal.errors import ConfigError, DecodeError
from vidal.metrics.localization import LocalizationAccumulator
from vidal.metrics.voc import DetectionAPAccumulator
from vidal.select.base import FrameScores


@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_shards_partition_the_videos_in_order_and_balance_frames(parts):
    rng = np.random.default_rng(parts)
    ids = [f"v{i}" for i in range(23)]
    sizes = rng.integers(5, 500, len(ids)).tolist()
    shards = shard_by_size(ids, sizes, parts)
    assert shard_by_size(ids, sizes, parts) == shards  # deterministic
    assert sorted(v for s in shards for v in s) == sorted(ids)
    for s in shards:
        assert s == [v for v in ids if v in s]  # the input order
    loads = [sum(sizes[ids.index(v)] for v in s) for s in shards]
    assert max(loads) - min(loads) <= max(sizes)  # greedy LPT bound


def test_split_counts_and_slices_cover_the_batch():
    assert split_counts(7, 3) == [3, 2, 2] and split_counts(1, 2) == [1, 0]
    slices = [World(rank=r, size=3).slice(7) for r in range(3)]
    assert slices == [(0, 3), (3, 5), (5, 7)]


def test_one_process_world_is_the_identity():
    world = init_world("cpu")
    assert (world.rank, world.size, world.is_main, world.distributed) == (0, 1, True, False)
    assert world.gather({"a": 1}) == [{"a": 1}] and world.broadcast(5) == 5
    assert world.sum([1, 2.5]) == [1.0, 2.5] and world.slice(4) == (0, 4)
    rows = torch.arange(6.0).view(3, 2)
    assert world.gather_rows(rows) is rows
    module = torch.nn.Linear(2, 2)
    assert world.wrap(module) is module
    world.barrier()
    with world.main_first():
        pass


def test_score_workers_config_is_checked():
    assert ScoreConfig().workers == 0
    with pytest.raises(ConfigError, match="score.workers"):
        ScoreConfig(workers=-1)


def test_rank_slices_of_a_drawn_batch_are_the_one_process_batch(tmp_path):
    from vidal.data import load_dataset
    from vidal.data.store import FrameStore
    from vidal.data.synth import SynthConfig, make_dataset
    from vidal.pool import LabelPool
    from vidal.train.action import SparseClipSampler

    cfg = SynthConfig(videos=4, width=32, height=32, min_frames=10, max_frames=14, seed=4)
    ds = load_dataset("vidal", make_dataset(tmp_path, cfg, progress=False))
    pool = LabelPool.from_dataset(ds)
    for vid, n in pool.num_frames.items():
        pool.add_frames(vid, range(0, n, 3))
    store = FrameStore(ds, size=(32, 32))
    one = SparseClipSampler(ds, pool, store, clip_len=8, seed=9)
    ranks = [SparseClipSampler(ds, pool, store, clip_len=8, seed=9) for _ in range(3)]
    for _ in range(3):  # three steps of a global batch of 5 over 3 ranks: 2 + 2 + 1
        whole = one.sample(5)
        parts = []
        for r, sampler in enumerate(ranks):
            clips = sampler.draw(5)
            start, stop = World(rank=r, size=3).slice(len(clips))
            parts.append(sampler.batch(clips[start:stop]))
        for key, value in whole.items():
            assert torch.equal(torch.cat([p[key] for p in parts]), value), key


@pytest.mark.parametrize("size", [1, 2, 3])
def test_detection_plan_slices_are_the_one_process_batches(size):
    from vidal.train.detection import _plan

    one = _plan(7, 3, 6, seed=5, hflip=0.5, world=World())
    shares = [
        _plan(7, 3, 6, seed=5, hflip=0.5, world=World(rank=r, size=size)) for r in range(size)
    ]
    for step, whole in enumerate(one):
        real = [s[step] for s in shares if s[step].weight > 0]
        assert [i for s in real for i in s.indices] == whole.indices
        assert [f for s in real for f in s.flips] == whole.flips
        assert sum(s[step].weight for s in shares) == pytest.approx(size)
        assert all(len(s[step].indices) == 1 for s in shares if s[step].weight == 0)
    assert {i for w in one[:3] for i in w.indices} == set(range(7))  # an epoch sees every frame


def test_merged_scores_are_in_the_one_process_order():
    a = FrameScores(frames={"v2": np.ones(2)}, extra={"x": {"v2": np.zeros(2)}}, centers=np.eye(2))
    b = FrameScores(
        frames={"v0": np.zeros(3), "v3": np.ones(1)},
        features={"v0": np.ones(4)},
        extra={"x": {"v0": np.ones(3), "v3": np.ones(1)}},
        skipped={"v1": "truncated"},
    )
    merged = FrameScores.merged([a, b], ["v0", "v1", "v2", "v3"])
    assert list(merged.frames) == ["v0", "v2", "v3"] and list(merged.extra["x"]) == [
        "v0",
        "v2",
        "v3",
    ]
    assert merged.skipped == {"v1": "truncated"} and np.array_equal(merged.centers, np.eye(2))
    assert list(merged.features) == ["v0"]


def _videos(rng: np.random.Generator, n: int) -> list[VideoAnnotation]:
    out = []
    for i in range(n):
        t = int(rng.integers(3, 7))
        boxes = np.tile(rng.uniform(0, 8, 2), (t, 2)) + np.array([0, 0, 6, 6])
        out.append(
            VideoAnnotation(f"v{i}", t, 16, 16, label=i % 2, tubes=[Tube(0, i % 2, 0, boxes)])
        )
    return out


def test_merged_localization_accumulators_give_the_one_accumulator_numbers():
    rng = np.random.default_rng(0)
    videos = _videos(rng, 7)
    maps = {v.video_id: rng.random((v.num_frames, 16, 16)) for v in videos}
    whole = LocalizationAccumulator(2, taus=(0.1, 0.3, 0.5))
    merged = LocalizationAccumulator(2, taus=(0.1, 0.3, 0.5))
    for v in videos:
        whole.update(maps[v.video_id], v)
        part = LocalizationAccumulator(2, taus=(0.1, 0.3, 0.5))
        part.update(maps[v.video_id], v)
        merged.merge(part)
    assert merged.compute() == whole.compute()
    with pytest.raises(Exception, match="both"):
        merged.merge(part)


def test_merged_ap_accumulators_give_the_one_accumulator_numbers():
    rng = np.random.default_rng(1)
    whole, merged = DetectionAPAccumulator(3), DetectionAPAccumulator(3)
    for _video in range(5):
        part = DetectionAPAccumulator(3)
        for _frame in range(4):
            n, m = int(rng.integers(0, 6)), int(rng.integers(0, 3))
            boxes = np.sort(rng.uniform(0, 50, (n, 4)).reshape(n, 2, 2), axis=1).reshape(n, 4)
            gt = np.sort(rng.uniform(0, 50, (m, 4)).reshape(m, 2, 2), axis=1).reshape(m, 4)
            scores = rng.choice([0.5, 0.7, 0.9], n)  # ties: their order matters
            args = (boxes, rng.integers(0, 3, n), scores, gt, rng.integers(0, 3, m))
            whole.update(*args)
            part.update(*args)
        merged.merge(part)
    assert merged.compute() == whole.compute()


def test_seeded_scores_of_a_video_do_not_depend_on_the_others(one_thread):
    from vidal.models.action import ActionDetector, ActionDetectorConfig
    from vidal.scoring.stream import clips_from_frames, score_dataset

    torch.manual_seed(0)
    model = ActionDetector(ActionDetectorConfig.small(num_classes=2)).eval()
    frames = {v: torch.rand(3, n, 32, 32) * 2 - 1 for v, n in (("a", 12), ("b", 9), ("c", 16))}

    def score(order, seed=3):
        videos = [
            (v, frames[v].shape[1], clips_from_frames(frames[v], clip_len=8, stride=4))
            for v in order
        ]
        return score_dataset(model, videos, passes=3, batch_size=2, progress=False, seed=seed)

    together, reversed_, alone = score("abc"), score("cba"), score("b")
    assert np.array_equal(together.frames["b"], reversed_.frames["b"])
    assert np.array_equal(together.frames["b"], alone.frames["b"])
    assert np.array_equal(together.features["c"], reversed_.features["c"])
    assert not np.array_equal(score("b", seed=4).frames["b"], alone.frames["b"])


def test_prefetched_videos_come_in_order_with_errors_as_messages():
    def read(vid: str) -> np.ndarray:
        if vid == "bad":
            raise DecodeError("bad.mp4: truncated")
        return np.full((int(vid), 2, 2, 3), int(vid), np.uint8)

    ids = ["3", "bad", "1", "2"]
    inline = list(prefetch_videos(ids, read, workers=0))
    workers = list(prefetch_videos(ids, read, workers=2))
    for (v, f, e), (w, g, h) in zip(inline, workers, strict=True):
        assert v == w and e == h and (f is None) == (g is None)
        assert f is None or np.array_equal(f, g)
    assert [v for v, _, _ in inline] == ids
    assert inline[1][1:] == (None, "bad.mp4: truncated") and inline[0][1].shape == (3, 2, 2, 3)
