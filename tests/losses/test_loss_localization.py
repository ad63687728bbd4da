"""Per-frame BCE, masking, interpolation and MGW: each reduced to a known loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import (
    FrameBCELoss,
    InterpolationLoss,
    LossInputError,
    MaskingLoss,
    MGWLoss,
    frame_bce,
    interpolation_loss,
    masking_loss,
    mean_over_pixels,
    mgw_loss,
    mgw_weights,
)

REDUCTIONS = ("none", "mean", "sum")


def _batch(seed: int = 0, b: int = 2, t: int = 7, h: int = 4, w: int = 5):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, h, w, generator=gen) * 3
    target = (torch.rand(b, t, h, w, generator=gen) > 0.6).float()
    labeled = torch.zeros(b, t, dtype=torch.bool)
    labeled[0, [1, 5]] = True
    labeled[1, [3]] = True
    return logits, target, labeled


# ---------------------------------------------------------------- frame_bce


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, 3.0, torch.tensor(0.5)])
def test_frame_bce_equals_torch(reduction, pos_weight):
    logits, target, _ = _batch()
    pw = torch.tensor(pos_weight) if isinstance(pos_weight, float) else pos_weight
    expected = F.binary_cross_entropy_with_logits(
        logits, target, pos_weight=pw, reduction=reduction
    )
    got = frame_bce(logits, target, pos_weight=pos_weight, reduction=reduction)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_frame_bce_accepts_bool_target():
    logits, target, _ = _batch()
    torch.testing.assert_close(frame_bce(logits, target.bool()), frame_bce(logits, target))


def test_mean_over_pixels():
    loss = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    out = mean_over_pixels(loss)
    assert out.shape == (2, 3)
    assert out[0, 0] == 1.5
    with pytest.raises(LossInputError, match="loss"):
        mean_over_pixels(torch.zeros(2, 3))


# ---------------------------------------------------------------- masking / interpolation


def test_masking_hand_case():
    logits = torch.zeros(2, 3, 1, 1)
    logits[0, 0] = 2.0
    target = torch.ones(2, 3, 1, 1)
    labeled = torch.tensor([[True, False, False], [False, True, True]])
    per_frame = masking_loss(logits, target, labeled, reduction="none")
    l0 = F.softplus(torch.tensor(-2.0))  # BCE(logit 2, target 1)
    expected = torch.tensor([[l0, 0, 0], [0, math.log(2), math.log(2)]])
    torch.testing.assert_close(per_frame, expected)
    # "mean" is the mean over the 3 labeled frames of the batch, not a mean of video means
    torch.testing.assert_close(masking_loss(logits, target, labeled), (l0 + 2 * math.log(2)) / 3)


def test_masking_ignores_target_on_unlabeled_frames():
    logits, target, labeled = _batch()
    garbage = target.clone()
    garbage[~labeled] = float("nan")
    logits.requires_grad_(True)
    for reduction in REDUCTIONS:
        a = masking_loss(logits, target, labeled, reduction=reduction)
        b = masking_loss(logits, garbage, labeled, reduction=reduction)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    masking_loss(logits, garbage, labeled).backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad[~labeled] == 0).all()


def test_interpolation_mean_is_bce_mean():
    logits, target, _ = _batch()
    torch.testing.assert_close(interpolation_loss(logits, target), frame_bce(logits, target))
    per_frame = interpolation_loss(logits, target, reduction="none")
    torch.testing.assert_close(
        per_frame, mean_over_pixels(frame_bce(logits, target, reduction="none"))
    )


# ---------------------------------------------------------------- MGW weights


def test_mgw_weights_hand_case():
    labeled = torch.tensor([[False, True, False, False, False, True, False]])
    w = mgw_weights(labeled, sigma=1.0)
    d = torch.tensor([1.0, 0, 1, 2, 1, 0, 1])
    torch.testing.assert_close(w, torch.exp(-0.5 * d**2)[None])
    assert w.dtype == torch.float32


def test_mgw_weights_take_the_max_gaussian():
    # frame 3 is 3 from frame 0 and 2 from frame 5: the nearer (larger) Gaussian wins
    labeled = torch.tensor([[True, False, False, False, False, True]])
    w = mgw_weights(labeled, sigma=1.3)
    gauss = torch.stack(
        [torch.exp(-((torch.arange(6.0) - mu) ** 2) / (2 * 1.3**2)) for mu in (0.0, 5.0)]
    )
    torch.testing.assert_close(w[0], gauss.max(dim=0).values)


def test_mgw_weights_limits_and_unlabeled_video():
    labeled = torch.tensor([[False, True, False, False], [False, False, False, False]])
    assert torch.equal(mgw_weights(labeled, sigma=0.0), labeled.float())
    assert torch.equal(mgw_weights(labeled, sigma=1e-3), labeled.float())
    expected_inf = torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 0]])
    assert torch.equal(mgw_weights(labeled, sigma=math.inf), expected_inf)


@pytest.mark.parametrize("sigma", [-1.0, float("nan")])
def test_mgw_weights_bad_sigma(sigma):
    with pytest.raises(LossInputError, match="sigma"):
        mgw_weights(torch.ones(1, 3, dtype=torch.bool), sigma=sigma)


@settings(max_examples=60, deadline=None)
@given(
    mask=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=3),
    sigma=st.one_of(st.floats(0.0, 50.0), st.just(math.inf)),
)
def test_mgw_weights_properties(mask, sigma):
    labeled = torch.tensor(mask)
    w = mgw_weights(labeled, sigma=sigma)
    assert w.shape == labeled.shape
    assert ((w >= 0) & (w <= 1)).all()
    assert (w[labeled] == 1).all()  # exactly 1 on labeled frames
    assert (w[~labeled.any(dim=1)] == 0).all()  # no anchor, no weight
    wider = mgw_weights(labeled, sigma=sigma * 2 + 0.1)
    assert (wider >= w).all()  # a wider Gaussian never lowers a weight


# ---------------------------------------------------------------- MGW loss: the two extremes


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("sigma", [0.0, 1e-3])
def test_mgw_small_sigma_is_masking_exactly(reduction, sigma):
    logits, target, labeled = _batch()
    got = mgw_loss(logits, target, labeled, sigma=sigma, reduction=reduction)
    expected = masking_loss(logits, target, labeled, reduction=reduction)
    assert torch.equal(got, expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mgw_infinite_sigma_is_interpolation_exactly(reduction):
    logits, target, labeled = _batch()
    got = mgw_loss(logits, target, labeled, sigma=math.inf, reduction=reduction)
    assert torch.equal(got, interpolation_loss(logits, target, reduction=reduction))
    wide = mgw_loss(logits, target, labeled, sigma=1e6, reduction=reduction)
    torch.testing.assert_close(wide, interpolation_loss(logits, target, reduction=reduction))


def test_mgw_weights_the_loss_not_the_logits():
    logits, target, labeled = _batch()
    per_frame = interpolation_loss(logits, target, reduction="none")
    w = mgw_weights(labeled, sigma=1.3)
    torch.testing.assert_close(mgw_loss(logits, target, labeled, reduction="none"), w * per_frame)
    torch.testing.assert_close(
        mgw_loss(logits, target, labeled, reduction="mean"), (w * per_frame).sum() / w.sum()
    )


@pytest.mark.parametrize("sigma", [0.0, 1.3, math.inf])
@pytest.mark.parametrize("pos_weight", [None, 2.0])
def test_reductions_consistent(sigma, pos_weight):
    logits, target, labeled = _batch(seed=3)
    kw = {"sigma": sigma, "pos_weight": pos_weight}
    none = mgw_loss(logits, target, labeled, reduction="none", **kw)
    assert none.shape == labeled.shape
    torch.testing.assert_close(mgw_loss(logits, target, labeled, reduction="sum", **kw), none.sum())
    w = mgw_weights(labeled, sigma=sigma)
    torch.testing.assert_close(
        mgw_loss(logits, target, labeled, reduction="mean", **kw), none.sum() / w.sum()
    )
    m = masking_loss(logits, target, labeled, reduction="none", pos_weight=pos_weight)
    torch.testing.assert_close(
        masking_loss(logits, target, labeled, reduction="sum", pos_weight=pos_weight), m.sum()
    )


# ---------------------------------------------------------------- gradients


def _grad(fn, logits):
    logits = logits.clone().requires_grad_(True)
    loss = fn(logits)
    loss.backward()
    return loss, logits.grad


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, t, lab: masking_loss(x, t, lab),
        lambda x, t, lab: interpolation_loss(x, t),
        lambda x, t, lab: mgw_loss(x, t, lab),
        lambda x, t, lab: mgw_loss(x, t, lab, sigma=0.0),
        lambda x, t, lab: mgw_loss(x, t, lab, sigma=math.inf, pos_weight=5.0),
    ],
)
@pytest.mark.parametrize("case", ["none_labeled", "one_labeled", "extreme"])
def test_gradients_finite(fn, case):
    logits, target, labeled = _batch()
    if case == "none_labeled":
        labeled = torch.zeros_like(labeled)
    elif case == "one_labeled":
        labeled = torch.zeros_like(labeled)
        labeled[1, 6] = True
    else:
        logits = torch.where(target > 0, -1e30, 1e30) * torch.sign(torch.randn_like(target))
        logits[0, 0] = 1e4
    loss, grad = _grad(lambda x: fn(x, target, labeled), logits)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_all_unlabeled_gives_zero():
    logits, target, labeled = _batch()
    labeled = torch.zeros_like(labeled)
    for reduction in ("mean", "sum"):
        assert masking_loss(logits, target, labeled, reduction=reduction) == 0
        assert mgw_loss(logits, target, labeled, reduction=reduction) == 0
    _, grad = _grad(lambda x: mgw_loss(x, target, labeled), logits)
    assert (grad == 0).all()


# ---------------------------------------------------------------- errors


def test_shape_errors_name_the_argument():
    logits, target, labeled = _batch()
    with pytest.raises(LossInputError, match=r"logits must have shape \[B, T, H, W\]"):
        mgw_loss(logits[0], target, labeled)
    with pytest.raises(LossInputError, match="pseudo_target"):
        mgw_loss(logits, target[..., :-1], labeled)
    with pytest.raises(LossInputError, match=r"target must have shape \[B, T, H, W\]"):
        masking_loss(logits, target[:1], labeled)
    with pytest.raises(LossInputError, match=r"labeled must have shape \[B, T\]"):
        mgw_loss(logits, target, labeled[:, :-1])
    with pytest.raises(LossInputError, match="labeled must be a bool"):
        masking_loss(logits, target, labeled.float())
    with pytest.raises(LossInputError, match="reduction"):
        interpolation_loss(logits, target, reduction="avg")
    with pytest.raises(LossInputError, match="logits"):
        frame_bce(logits.tolist(), target)
    with pytest.raises(LossInputError, match="target"):
        frame_bce(logits, target.long())
    with pytest.raises(LossInputError, match="pos_weight"):
        frame_bce(logits, target, pos_weight=-1.0)
    with pytest.raises(LossInputError, match="labeled"):
        mgw_weights(torch.ones(3, dtype=torch.bool))


# ---------------------------------------------------------------- modules


def test_modules_match_functions():
    logits, target, labeled = _batch()
    pw = torch.tensor(2.0)
    torch.testing.assert_close(
        FrameBCELoss(pos_weight=pw)(logits, target), frame_bce(logits, target, pos_weight=pw)
    )
    torch.testing.assert_close(
        MaskingLoss(reduction="sum")(logits, target, labeled),
        masking_loss(logits, target, labeled, reduction="sum"),
    )
    torch.testing.assert_close(
        InterpolationLoss(reduction="none")(logits, target),
        interpolation_loss(logits, target, reduction="none"),
    )
    module = MGWLoss(sigma=2.0, pos_weight=pw)
    assert "pos_weight" in dict(module.named_buffers())
    torch.testing.assert_close(
        module(logits, target, labeled),
        mgw_loss(logits, target, labeled, sigma=2.0, pos_weight=pw),
    )
    assert "sigma=2.0" in repr(module)
    with pytest.raises(LossInputError, match="reduction"):
        MGWLoss(reduction="batchmean")


def test_mgw_weights_of_a_clip_with_the_video_distance():
    """A clip's frames next to a labeled frame just outside it keep their Eq. 4 weight."""
    video = torch.zeros(1, 12, dtype=torch.bool)
    video[0, [2, 9]] = True
    whole = mgw_weights(video, sigma=1.3)
    t = torch.arange(12, dtype=torch.float32)
    distance = (t[:, None] - torch.tensor([2.0, 9.0])[None]).abs().min(dim=1).values[None]
    clip = slice(1, 9)  # holds frame 2, not frame 9
    inside = mgw_weights(video[:, clip], sigma=1.3)
    with_distance = mgw_weights(video[:, clip], sigma=1.3, distance=distance[:, clip])
    torch.testing.assert_close(with_distance, whole[:, clip])
    assert inside[0, -1] < with_distance[0, -1]  # frame 8 is next to the labeled frame 9
    logits, target = torch.zeros(1, 8, 2, 2), torch.ones(1, 8, 2, 2)
    expected = mgw_loss(
        logits, target, video[:, clip], reduction="none", distance=distance[:, clip]
    )
    torch.testing.assert_close(expected[0], whole[0, clip] * 0.6931, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="0 on labeled frames"):
        mgw_weights(video[:, clip], distance=torch.ones(1, 8))
    with pytest.raises(ValueError, match="shape"):
        mgw_weights(video[:, clip], distance=torch.zeros(1, 7))
