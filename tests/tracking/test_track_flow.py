"""Optical flow: known shifts, downscaling, the on-disk cache, RAFT shapes, bad input."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from tracking import (
    DISFlow,
    FarnebackFlow,
    FlowCache,
    Flows,
    TrackingError,
    compute_flows,
    get_flow_method,
)

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


def test_single_frame_video_has_no_flow():
    flows = compute_flows(translating(num_frames=1))
    assert flows.forward.shape == (0, 96, 128, 2) and flows.num_frames == 1


class CountingLoader:
    def __init__(self, frames):
        self.frames, self.calls = frames, 0

    def __call__(self):
        self.calls += 1
        return self.frames


def pair_files(cache, key, **kw):
    return sorted(cache.folder(key, **kw).glob("pair_*.npz"))


def test_cache_computes_once_and_reuses(tmp_path):
    frames = translating(num_frames=4)
    cache = FlowCache(tmp_path)
    first = cache.get_flows("videos/a b", frames, method="dis")
    assert cache.computed_pairs == 3
    files = pair_files(cache, "videos/a b", method="dis")
    assert len(files) == 3 and all(f.parent.parent.parent == tmp_path for f in files)
    mtimes = [f.stat().st_mtime_ns for f in files]

    loader = CountingLoader(frames)
    again = FlowCache(tmp_path).get_flows("videos/a b", loader, method="dis")
    assert loader.calls == 0  # nothing to compute: frames never loaded
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    np.testing.assert_allclose(again.forward, first.forward, atol=0.01)  # float16 on disk
    np.testing.assert_allclose(again.backward, first.backward, atol=0.01)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_cache_recomputes_a_missing_or_corrupt_pair_only(tmp_path):
    frames = translating(num_frames=5)
    cache = FlowCache(tmp_path)
    reference = cache.get_flows("v", frames, method="farneback")
    files = pair_files(cache, "v", method="farneback")
    files[1].unlink()  # missing pair
    files[3].write_bytes(b"not an npz")  # corrupt pair
    loader = CountingLoader(frames)
    before = cache.computed_pairs
    flows = cache.get_flows("v", loader, method="farneback")
    assert cache.computed_pairs - before == 2 and loader.calls == 1
    np.testing.assert_allclose(flows.forward, reference.forward, atol=0.01)
    assert len(pair_files(cache, "v", method="farneback")) == 4


def test_cache_survives_a_wrong_shape_file_and_a_lost_meta(tmp_path):
    frames = translating(num_frames=3)
    cache = FlowCache(tmp_path)
    cache.get_flows("v", frames)
    folder = cache.folder("v")
    np.savez_compressed(
        folder / "pair_000000.npz", forward=np.zeros((2, 2, 2)), backward=np.zeros((2, 2, 2))
    )
    before = cache.computed_pairs
    flows = cache.get_flows("v", frames)
    assert cache.computed_pairs - before == 1
    np.testing.assert_allclose(interior(flows.forward, 16), SHIFT, atol=0.2)
    (folder / "meta.json").write_text("{broken")
    loader = CountingLoader(frames)
    cache.get_flows("v", loader)
    assert loader.calls == 1  # size unknown: frames loaded, flow recomputed


def test_cache_keys_by_method_scale_and_frames(tmp_path):
    frames = translating(num_frames=3)
    cache = FlowCache(tmp_path)
    cache.get_flows("v", frames, method="dis")
    cache.get_flows("v", frames, method="dis", scale=0.5)
    cache.get_flows("v", frames, method=DISFlow("fast"))
    assert cache.computed_pairs == 6
    # a different video under the same key is recomputed, not served stale
    other = translating(num_frames=4)
    assert cache.get_flows("v", other, method="dis").num_frames == 4
    assert cache.computed_pairs == 9
    assert cache.get_flows("v", frames, method="dis", dtype=np.float16).forward.dtype == np.float16


def test_a_loader_returning_another_video_starts_the_cache_over(tmp_path):
    cache = FlowCache(tmp_path)
    cache.get_flows("v", translating(num_frames=3))
    next(cache.folder("v").glob("pair_*.npz")).unlink()  # forces a load
    other = translating(num_frames=4, height=64, width=80)
    flows = cache.get_flows("v", lambda: other)
    assert flows.forward.shape == (3, 64, 80, 2) and cache.computed_pairs == 2 + 3
    assert cache.get_flows("v", lambda: other).num_frames == 4 and cache.computed_pairs == 5


def test_unknown_method_and_bad_frames_raise_tracking_error(tmp_path):
    frames = translating(num_frames=2)
    with pytest.raises(TrackingError, match="known: dis, farneback"):
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
    assert cache.folder("v", method=raft).name.startswith("raft_small-")
    with pytest.raises(TrackingError, match="not found"):
        RAFTFlow(tmp_path / "missing.pth")
    with pytest.raises(TrackingError, match="raft_small, raft_large"):
        RAFTFlow(path, model="raft_huge")
    assert os.path.exists(path)
