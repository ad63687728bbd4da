"""Optical flow: known shifts, downscaling, the on-disk cache, RAFT shapes, bad input."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np
import pytest

from tracking import (
    DEFAULT_DIS_PRESET,
    FLOW_SHORT_SIDE,
    DISFlow,
    FarnebackFlow,
    FlowCache,
    Flows,
    TrackingError,
    compute_flows,
    get_flow_method,
    resolve_scale,
)
from tracking.flow.store import read_flow_file, write_flow_file

SHIFT = (3.0, -2.0)  # (dx, dy) pixels per frame


def textured(rng: np.random.Generator, height: int, width: int, *, blur: float) -> np.ndarray:
    """Smoothed colour noise ``[H, W, 3]`` uint8, contrast-stretched."""
    noise = cv2.GaussianBlur(
        rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), blur
    )
    noise = (noise - noise.mean()) / (noise.std() + 1e-6) * 50 + 128
    return np.clip(noise, 0, 255).astype(np.uint8)


def translating(num_frames: int = 3, height: int = 96, width: int = 128) -> np.ndarray:
    """A textured pattern translated by SHIFT each frame, ``[T, H, W, 3]`` uint8."""
    big = textured(np.random.default_rng(3), height + 40, width + 40, blur=2.5)
    frames = []
    for t in range(num_frames):
        x0, y0 = 20 - round(t * SHIFT[0]), 20 - round(t * SHIFT[1])
        frames.append(big[y0 : y0 + height, x0 : x0 + width])
    return np.ascontiguousarray(np.stack(frames))


def interior(flow: np.ndarray, margin: int) -> np.ndarray:
    """Median ``(dx, dy)`` of ``flow [..., h, w, 2]`` away from the borders."""
    return np.median(flow[..., margin:-margin, margin:-margin, :].reshape(-1, 2), axis=0)


@pytest.mark.parametrize("method", ["dis", "farneback", DISFlow("fast"), FarnebackFlow(levels=3)])
def test_flow_recovers_a_known_translation(method):
    frames = translating()
    flows = compute_flows(frames, method=method)
    assert flows.forward.shape == (2, 96, 128, 2) and flows.forward.dtype == np.float32
    assert flows.frame_size == (96, 128) and flows.num_frames == 3
    np.testing.assert_allclose(interior(flows.forward, 16), SHIFT, atol=0.2)
    np.testing.assert_allclose(interior(flows.backward, 16), -np.array(SHIFT), atol=0.2)
    inside = flows.forward[:, 16:-16, 16:-16].reshape(-1, 2)
    assert np.mean(np.linalg.norm(inside - SHIFT, axis=1) < 0.5) > 0.9


def test_downscaled_flow_keeps_full_frame_vectors_on_a_coarser_grid():
    frames = translating(height=96, width=128)
    flows = compute_flows(frames, method="dis", scale=0.5)
    assert flows.forward.shape == (2, 48, 64, 2) and flows.frame_size == (96, 128)
    assert flows.grid_size == (48, 64)
    np.testing.assert_allclose(interior(flows.forward, 8), SHIFT, atol=0.3)


def test_automatic_scale_brings_the_shorter_side_to_160_pixels(tmp_path):
    assert DISFlow().preset == DEFAULT_DIS_PRESET == "ultrafast" and FLOW_SHORT_SIDE == 160
    assert resolve_scale(None, 150, 320) == 1.0 and resolve_scale(0.5, 240, 320) == 0.5
    assert resolve_scale(None, 720, 1280) == pytest.approx(FLOW_SHORT_SIDE / 720)
    frames = translating(num_frames=2, height=320, width=384)
    flows = compute_flows(frames)  # the defaults: DIS ultrafast, automatic scale
    assert flows.grid_size == (160, 192) and flows.frame_size == (320, 384)
    np.testing.assert_allclose(interior(flows.forward, 40), SHIFT, atol=0.3)
    cache = FlowCache(tmp_path)
    cached = cache.get_flows("v", frames)
    assert cache.path("v").name == f"dis-ultrafast-auto{FLOW_SHORT_SIDE}.flows"
    assert cached.grid_size == flows.grid_size
    assert FlowCache(tmp_path).get_flows("v", CountingLoader(frames)).grid_size == flows.grid_size


def test_single_frame_video_has_no_flow():
    flows = compute_flows(translating(num_frames=1))
    assert flows.forward.shape == (0, 96, 128, 2) and flows.num_frames == 1


class CountingLoader:
    def __init__(self, frames):
        self.frames, self.calls = frames, 0

    def __call__(self):
        self.calls += 1
        return self.frames


def flow_files(root):
    return sorted(root.rglob("*.flows"))


def test_cache_computes_once_into_one_file_and_reuses_it(tmp_path):
    frames = translating(num_frames=4)
    cache = FlowCache(tmp_path)
    first = cache.get_flows("videos/a b", frames, method="dis")
    assert cache.computed_pairs == 3
    assert flow_files(tmp_path) == [cache.path("videos/a b", method="dis")]
    assert cache.path("videos/a b").parent.parent == tmp_path
    mtime = cache.path("videos/a b").stat().st_mtime_ns
    np.testing.assert_allclose(interior(first.forward, 16), SHIFT, atol=0.2)

    loader = CountingLoader(frames)
    again = FlowCache(tmp_path).get_flows("videos/a b", loader, method="dis")
    assert loader.calls == 0  # nothing to compute: frames never loaded
    assert cache.path("videos/a b").stat().st_mtime_ns == mtime
    assert again.forward.dtype == np.float16 and isinstance(again.forward, np.memmap)
    # computed or read back, the caller sees the same (stored) values
    np.testing.assert_array_equal(again.forward, first.forward)
    np.testing.assert_array_equal(again.backward, first.backward)
    reference = compute_flows(frames, method="dis")
    np.testing.assert_allclose(again.forward, reference.forward, atol=0.01)  # float16 on disk
    np.testing.assert_allclose(again.backward, reference.backward, atol=0.01)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files


def data_offset(path, pair_bytes, num_pairs):
    return path.stat().st_size - pair_bytes * num_pairs


def test_cache_recomputes_the_damaged_pairs_only(tmp_path):
    frames = translating(num_frames=5)
    cache = FlowCache(tmp_path)
    reference = cache.get_flows("v", frames, method="farneback", dtype=np.float16)  # a copy
    path = cache.path("v", method="farneback")
    pair_bytes = 2 * 96 * 128 * 2 * 2  # forward and backward, float16
    data = bytearray(path.read_bytes())
    start = data_offset(path, pair_bytes, 4)
    for t in (1, 3):  # flip one byte inside pairs 1 and 3
        data[start + t * pair_bytes + 1000] ^= 0xFF
    path.write_bytes(bytes(data))
    loader = CountingLoader(frames)
    before = cache.computed_pairs
    flows = cache.get_flows("v", loader, method="farneback")
    assert cache.computed_pairs - before == 2 and loader.calls == 1
    np.testing.assert_array_equal(flows.forward, reference.forward)
    np.testing.assert_array_equal(flows.backward, reference.backward)
    cache.get_flows("v", loader, method="farneback")
    assert cache.computed_pairs - before == 2 and loader.calls == 1  # repaired on disk


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) - 7],  # truncated
        lambda b: b[:12] + bytes([b[12] ^ 1]) + b[13:],  # header checksum
        lambda b: b[:20] + b"9" + b[21:],  # header text
        lambda b: b"not a flow file",
        lambda b: b"",
        lambda b: b + b"\0",  # too long
    ],
    ids=["truncated", "header-crc", "header-text", "foreign", "empty", "extra-bytes"],
)
def test_cache_recomputes_a_file_with_a_damaged_header_or_size(tmp_path, damage):
    frames = translating(num_frames=3)
    cache = FlowCache(tmp_path)
    reference = cache.get_flows("v", frames, dtype=np.float16)  # a copy, not a memory map
    path = cache.path("v")
    path.write_bytes(damage(path.read_bytes()))
    loader = CountingLoader(frames)
    flows = cache.get_flows("v", loader)
    assert loader.calls == 1 and cache.computed_pairs == 4
    np.testing.assert_array_equal(flows.forward, reference.forward)


def test_cache_keys_by_method_scale_and_frames(tmp_path):
    frames = translating(num_frames=3)
    cache = FlowCache(tmp_path)
    cache.get_flows("v", frames, method="dis")
    cache.get_flows("v", frames, method="dis", scale=0.5)
    cache.get_flows("v", frames, method=DISFlow("fast"))
    assert cache.computed_pairs == 6 and len(flow_files(tmp_path)) == 3
    # a different video under the same key is recomputed, not served stale
    other = translating(num_frames=4)
    assert cache.get_flows("v", other, method="dis").num_frames == 4
    assert cache.computed_pairs == 9
    as32 = cache.get_flows("v", other, method="dis", dtype=np.float32)
    assert as32.forward.dtype == np.float32 and cache.computed_pairs == 9
    assert cache.get_flows("v", other[:1]).forward.shape == (0, 96, 128, 2)


def test_a_loader_returning_another_video_starts_the_cache_over(tmp_path):
    cache = FlowCache(tmp_path)
    cache.get_flows("v", translating(num_frames=3))
    path = cache.path("v")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # damage the last pair: forces a load
    path.write_bytes(bytes(data))
    other = translating(num_frames=4, height=64, width=80)
    flows = cache.get_flows("v", lambda: other)
    assert flows.forward.shape == (3, 64, 80, 2) and cache.computed_pairs == 2 + 3
    assert cache.get_flows("v", lambda: other).num_frames == 4 and cache.computed_pairs == 5


def _cache_in_child(root, frames, barrier):
    barrier.wait()  # both processes compute and write at the same time
    return FlowCache(root).get_flows("v", frames, method="farneback").forward.sum()


def test_concurrent_writers_and_readers_see_whole_files(tmp_path):
    frames = translating(num_frames=6)
    reader = FlowCache(tmp_path)
    old = reader.get_flows("v", frames[:4], method="farneback")  # memory-mapped, 4 frames
    old_values = np.array(old.forward)
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(2)
        with ProcessPoolExecutor(2, mp_context=ctx) as pool:
            sums = list(pool.map(_cache_in_child, [tmp_path] * 2, [frames] * 2, [barrier] * 2))
    assert sums[0] == sums[1]
    np.testing.assert_array_equal(old.forward, old_values)  # replaced, not overwritten in place
    loader = CountingLoader(frames)
    flows = FlowCache(tmp_path).get_flows("v", loader, method="farneback")
    assert loader.calls == 0 and flows.num_frames == 6 and flows.forward.sum() == sums[0]
    assert not list(tmp_path.rglob("*.tmp")) and len(flow_files(tmp_path)) == 1


def test_flow_file_round_trip_and_wrong_pairs(tmp_path):
    path = tmp_path / "x.flows"
    pairs = np.random.default_rng(0).normal(0, 5, (3, 2, 4, 6, 2)).astype(np.float32)
    write_flow_file(path, pairs, num_frames=4, frame_size=(8, 12), grid=(4, 6))
    stored = read_flow_file(path)
    assert stored.num_frames == 4 and stored.frame_size == (8, 12) and stored.bad == []
    np.testing.assert_array_equal(stored.data, pairs.astype(np.float16))
    assert read_flow_file(tmp_path / "missing.flows") is None
    with pytest.raises(TrackingError, match="expected 3"):
        write_flow_file(path, pairs[:2], num_frames=4, frame_size=(8, 12), grid=(4, 6))
    with pytest.raises(TrackingError, match="shape"):
        write_flow_file(path, pairs[..., :1], num_frames=4, frame_size=(8, 12), grid=(4, 6))
    assert read_flow_file(path).bad == [] and not list(tmp_path.glob("*.tmp"))


def test_unknown_method_and_bad_frames_raise_tracking_error(tmp_path):
    frames = translating(num_frames=2)
    with pytest.raises(
        TrackingError, match="known: dis, dis-fast, dis-medium, dis-ultrafast, farneback"
    ):
        compute_flows(frames, method="pwcnet")
    with pytest.raises(TrackingError, match="uint8"):
        compute_flows(frames.astype(np.float32))
    with pytest.raises(TrackingError, match=r"\[T, H, W, 3\]"):
        compute_flows(frames[..., 0])
    with pytest.raises(TrackingError, match="scale"):
        compute_flows(frames, scale=2.0)
    with pytest.raises(TrackingError, match="preset"):
        DISFlow("slow")
    with pytest.raises(TrackingError, match="frames"):
        FlowCache(tmp_path).get_flows("v", lambda: frames[:, :, :, :2])
    with pytest.raises(TrackingError, match="backward"):
        Flows(forward=np.zeros((2, 4, 4, 2)), backward=np.zeros((1, 4, 4, 2)), frame_size=(4, 4))
    assert isinstance(get_flow_method("dis"), DISFlow)
    assert get_flow_method("dis-ultrafast") == DISFlow("ultrafast")


@pytest.fixture
def one_torch_thread():
    """RAFT on a busy CPU: one thread avoids oversubscription; restored afterwards."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


@pytest.mark.slow
def test_raft_with_random_weights_gives_flow_of_the_right_shape(tmp_path, one_torch_thread):
    torch = one_torch_thread
    optical_flow = pytest.importorskip("torchvision.models.optical_flow")
    from tracking import RAFTFlow

    torch.manual_seed(0)
    path = tmp_path / "raft_small.pth"
    torch.save(optical_flow.raft_small(weights=None).state_dict(), path)
    raft = RAFTFlow(path, model="raft_small", device="cpu", num_flow_updates=2, batch_size=2)
    frames = translating(num_frames=3, height=70, width=90)  # below 128, not multiples of 8
    flows = compute_flows(frames, method=raft)
    assert flows.forward.shape == (2, 70, 90, 2) and flows.backward.shape == (2, 70, 90, 2)
    assert np.isfinite(flows.forward).all() and flows.forward.dtype == np.float32
    assert raft.tag.startswith("raft_small-") and raft.tag != DISFlow().tag
    cache = FlowCache(tmp_path / "cache")
    cache.get_flows("v", frames, method=raft)
    assert cache.path("v", method=raft).name.startswith("raft_small-")
    with pytest.raises(TrackingError, match="not found"):
        RAFTFlow(tmp_path / "missing.pth")
    with pytest.raises(TrackingError, match="raft_small, raft_large"):
        RAFTFlow(path, model="raft_huge")
    assert os.path.exists(path)
