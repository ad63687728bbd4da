"""The numba kernels and the torch path against a plain NumPy statement of the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vidal.errors import ConfigError, VidalError
from vidal.scoring import (
    SCORERS,
    get_scorer,
    mutual_information,
    mutual_information_torch,
    pixel_entropy,
    pixel_entropy_torch,
    pixel_uncertainty,
    pixel_uncertainty_torch,
)
from vidal.scoring.kernels import frame_sums, product_group
from vidal.scoring.torch_scores import frame_sums_torch

NUMBA = {
    "uncertainty": pixel_uncertainty,
    "entropy": pixel_entropy,
    "mutual_information": mutual_information,
}
TORCH = {
    "uncertainty": pixel_uncertainty_torch,
    "entropy": pixel_entropy_torch,
    "mutual_information": mutual_information_torch,
}
KINDS = list(NUMBA)


def reference(p, kind, *, tau, eps=1e-6, normalize="pixels"):
    """The formulas, written out in float64 NumPy with full-size temporaries."""
    p = np.asarray(p, dtype=np.float64)  # [R, T, H, W]
    pbar = p.mean(axis=0)  # [T, H, W]

    def h(q):
        return -(q * np.log(q) + (1 - q) * np.log(1 - q))

    if kind == "uncertainty":
        value = (-np.log(np.maximum(p, eps))).mean(axis=0)
    else:
        value = h(np.clip(pbar, eps, 1 - eps))
        if kind == "mutual_information":
            value = value - h(np.clip(p, eps, 1 - eps)).mean(axis=0)
    keep = np.ones_like(pbar, dtype=bool) if tau is None else pbar >= 1 - tau
    sums = np.where(keep, value, 0.0).sum(axis=(1, 2))
    if normalize == "pixels":
        return sums / (p.shape[2] * p.shape[3])
    kept = keep.sum(axis=(1, 2))
    return np.divide(sums, kept, out=np.zeros_like(sums), where=kept > 0)


def random_probs(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    p = rng.random(shape)
    p[rng.random(shape) < 0.3] *= 0.05  # plenty of background pixels for the suppression
    p[rng.random(shape) < 0.02] = 0.0
    p[rng.random(shape) < 0.02] = 1.0
    return p.astype(dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tau", [None, 0.9, 0.5])
@pytest.mark.parametrize("normalize", ["pixels", "kept"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_matches_reference(kind, tau, normalize, dtype):
    p = random_probs((5, 7, 13, 11), dtype=dtype)
    got = NUMBA[kind](p, tau=tau, normalize=normalize)
    assert got.dtype == np.float64 and got.shape == (7,)
    np.testing.assert_allclose(
        got, reference(p, kind, tau=tau, normalize=normalize), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tau", [None, 0.9])
@pytest.mark.parametrize("chunk_frames", [None, 1, 3])
def test_torch_agrees_with_numba(kind, tau, chunk_frames):
    p = random_probs((6, 9, 24, 20))
    expected = NUMBA[kind](p, tau=tau)
    got = TORCH[kind](torch.from_numpy(p), tau=tau, chunk_frames=chunk_frames)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)  # in fact far closer


def test_many_passes_product_does_not_underflow():
    """-log of a product of passes, grouped so eps**group stays representable."""
    p = np.zeros((120, 2, 3, 3))  # every pass clamps to eps
    p[:, 1] = 0.5
    assert product_group(1e-6) * 6 <= 300
    got = pixel_uncertainty(p, tau=None)
    np.testing.assert_allclose(got, [-math.log(1e-6), math.log(2)], rtol=1e-12)
    np.testing.assert_allclose(
        pixel_uncertainty(p, tau=None, eps=1e-30), [-math.log(1e-30), math.log(2)]
    )


def test_suppressed_frames_score_zero():
    p = np.full((3, 2, 4, 4), 0.05, dtype=np.float32)  # mean 0.05 < 1 - 0.9: background
    p[:, 1, 0, 0] = 0.5
    for kind in KINDS:
        pixels = NUMBA[kind](p, tau=0.9)
        kept = NUMBA[kind](p, tau=0.9, normalize="kept")
        assert pixels[0] == 0.0 and kept[0] == 0.0
        assert kept[1] == pytest.approx(pixels[1] * 16)


def test_threshold_is_inclusive():
    """A pixel is suppressed only when its mean is strictly below 1 - tau."""
    p = np.full((1, 1, 1, 2), 0.5)
    p[0, 0, 0, 1] = 0.25
    assert pixel_uncertainty(p, tau=0.75)[0] == pytest.approx((math.log(2) + math.log(4)) / 2)
    assert pixel_uncertainty(p, tau=0.5)[0] == pytest.approx(math.log(2) / 2)


def test_ranges():
    p = random_probs((4, 6, 9, 9))
    assert np.all(pixel_entropy(p) <= math.log(2) + 1e-12)
    assert np.all(mutual_information(p) >= -1e-12)
    agree = np.repeat(p[:1], 4, axis=0)  # every pass the same: no mutual information
    np.testing.assert_allclose(mutual_information(agree), 0.0, atol=1e-12)


@pytest.mark.parametrize("bad", [np.nan, -0.1, 1.5, np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_invalid_probabilities_are_rejected(bad, dtype):
    p = random_probs((2, 3, 4, 4), dtype=dtype)
    p[1, 2, 3, 0] = bad
    word = "NaN" if np.isnan(bad) else "outside"
    with pytest.raises(VidalError, match=f"frame 2 .*{word}|frame 2 contain {word}"):
        pixel_uncertainty(p)
    with pytest.raises(VidalError, match="frame 2"):
        pixel_uncertainty_torch(torch.from_numpy(p))


def test_negative_zero_and_exact_bounds_are_probabilities():
    p = np.array([-0.0, 0.0, 1.0, 0.5], dtype=np.float32).reshape(1, 1, 2, 2)
    assert np.isfinite(mutual_information(p)).all()


def test_shapes_and_options_are_checked():
    with pytest.raises(VidalError, match=r"\[R, T, H, W\]"):
        pixel_uncertainty(np.zeros((2, 3, 4)))
    with pytest.raises(VidalError, match=r"\[R, T, H, W\]"):
        pixel_uncertainty_torch(torch.zeros(2, 3, 4))
    with pytest.raises(VidalError, match="tau"):
        pixel_uncertainty(np.zeros((1, 1, 1, 1)), tau=1.5)
    with pytest.raises(VidalError, match="normalize"):
        pixel_entropy(np.zeros((1, 1, 1, 1)), normalize="mean")
    assert pixel_uncertainty(np.zeros((2, 0, 4, 4))).shape == (0,)


def test_scorers_by_name():
    assert set(SCORERS) == {"uncertainty", "entropy", "bald"}
    assert get_scorer("uncertainty").tau == 0.9 and get_scorer("entropy").tau is None
    with pytest.raises(ConfigError, match="known scorers: bald, entropy, uncertainty"):
        get_scorer("uncertainity")
    with pytest.raises(ConfigError, match="tau"):
        get_scorer("entropy", tau=2.0)
    with pytest.raises(ConfigError, match="takes options"):
        get_scorer("entropy", sigma=2.0)


KIND_OF = {"uncertainty": "uncertainty", "entropy": "entropy", "bald": "mutual_information"}


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorer_accepts_arrays_and_tensors(name):
    p = random_probs((3, 4, 8, 8))
    scorer = get_scorer(name, tau=0.9)
    expected = NUMBA[KIND_OF[name]](p, tau=0.9)
    np.testing.assert_allclose(scorer(p), expected, rtol=1e-12)
    np.testing.assert_allclose(scorer(torch.from_numpy(p)), expected, rtol=1e-12)
    np.testing.assert_allclose(scorer(torch.from_numpy(p).half()), expected, atol=1e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorer_on_cuda_agrees_with_numba(name):
    p = random_probs((10, 8, 112, 112))
    expected = NUMBA[KIND_OF[name]](p, tau=0.9)
    got = get_scorer(name, tau=0.9)(torch.from_numpy(p).cuda())
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


probs = arrays(
    np.float32,
    st.tuples(st.integers(1, 4), st.integers(0, 6), st.integers(1, 5), st.integers(1, 5)),
    elements=st.floats(0.0, 1.0, width=32),
)


@settings(max_examples=40, deadline=None)
@given(p=probs, kind=st.sampled_from(KINDS), tau=st.sampled_from([None, 0.9, 0.3]))
def test_property_scores_finite_and_match_reference(p, kind, tau):
    got = NUMBA[kind](p, tau=tau)
    assert got.shape == (p.shape[1],) and np.isfinite(got).all()
    np.testing.assert_allclose(got, reference(p, kind, tau=tau), rtol=1e-9, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(p=probs, kind=st.sampled_from(KINDS), split=st.integers(0, 6), chunk=st.integers(1, 4))
def test_property_chunked_scoring_equals_whole(p, kind, split, chunk):
    split = min(split, p.shape[1])
    whole_sums, whole_kept = frame_sums(p, kind=kind, tau=0.9)
    parts = [
        frame_sums(p[:, :split], kind=kind, tau=0.9),
        frame_sums(p[:, split:], kind=kind, tau=0.9),
    ]
    np.testing.assert_array_equal(np.concatenate([s for s, _ in parts]), whole_sums)
    np.testing.assert_array_equal(np.concatenate([k for _, k in parts]), whole_kept)
    t = torch.from_numpy(p)
    chunked = frame_sums_torch(t, kind=kind, tau=0.9, chunk_frames=chunk)
    whole = frame_sums_torch(t, kind=kind, tau=0.9)
    torch.testing.assert_close(chunked[0], whole[0], rtol=0, atol=0)
    torch.testing.assert_close(chunked[1], whole[1], rtol=0, atol=0)
    np.testing.assert_allclose(whole[0].numpy(), whole_sums, rtol=1e-9, atol=1e-9)


def test_vectorised_log_is_accurate():
    from vidal.scoring.kernels import _log_block

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [np.exp(rng.uniform(-690, 690, 3000)), rng.random(3000), 1 - rng.random(3000) * 1e-6]
    )
    x = np.concatenate(
        [x, [1.0, 0.5, 2.0, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 2), 1e-6, 1 - 1e-6]]
    )
    out = np.empty_like(x)
    _log_block(x, out, np.empty_like(x), len(x))
    ref = np.log(x)
    np.testing.assert_allclose(out, ref, rtol=2e-15, atol=1e-300)
    assert out[-7] == 0.0
