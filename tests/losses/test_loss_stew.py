"""STeW weights and loss: reduce to MGW where the pseudo-labels are consistent over time."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from losses import (
    LossInputError,
    STeWLoss,
    boxes_to_masks,
    mgw_loss,
    mgw_weights,
    stew_loss,
    stew_weights,
)

REDUCTIONS = ("none", "mean", "sum")


def _static_actor(b: int = 2, t: int = 9, h: int = 6, w: int = 7):
    """An actor standing still: the same box mask on every frame."""
    mask = boxes_to_masks(torch.tensor([2.0, 1.0, 5.0, 4.0]), h, w).float()
    target = mask.expand(b, t, h, w).clone()
    labeled = torch.zeros(b, t, dtype=torch.bool)
    labeled[0, [0, 6]] = True
    labeled[1, 4] = True
    logits = torch.randn(b, t, h, w, generator=torch.Generator().manual_seed(1)) * 2
    return logits, target, labeled


def _moving_actor(t: int = 8, h: int = 6, w: int = 12):
    """A box sliding right one pixel per frame (x1 = t)."""
    boxes = torch.tensor([[float(i), 1.0, i + 4.0, 5.0] for i in range(t)])
    target = boxes_to_masks(boxes, h, w).float()[None]  # [1, T, H, W]
    labeled = torch.zeros(1, t, dtype=torch.bool)
    labeled[0, 3] = True
    return target, labeled


@pytest.mark.parametrize("window", [0, 1, 3, 20])
@pytest.mark.parametrize("sigma", [0.0, 1.3, math.inf])
def test_static_actor_gives_mgw_weights(window, sigma):
    _, target, labeled = _static_actor()
    phi = stew_weights(target, labeled, window=window, sigma=sigma)
    expected = mgw_weights(labeled, sigma=sigma)[:, :, None, None].expand_as(target)
    assert torch.equal(phi, expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_static_actor_loss_is_mgw_loss(reduction):
    logits, target, labeled = _static_actor()
    got = stew_loss(logits, target, labeled, window=2, reduction=reduction)
    expected = mgw_loss(logits, target, labeled, reduction=reduction)
    torch.testing.assert_close(got, expected)


def test_window_zero_is_mgw_for_any_binary_target():
    target, labeled = _moving_actor()
    phi = stew_weights(target, labeled, window=0)
    assert torch.equal(phi, mgw_weights(labeled)[:, :, None, None].expand_as(target))


def test_moving_actor_hand_case():
    target, labeled = _moving_actor()
    phi = stew_weights(target, labeled, window=1, sigma=1.0)
    w = mgw_weights(labeled, sigma=1.0)[0]
    assert (phi[0, 3] == 1).all()  # the labeled frame keeps full weight everywhere
    # frame 5, row 2: the box covers x = 5..8; over frames 4..6 pixel x=4 is on in frame 4
    # only (average 1/3), x=5 on in 4 and 5 (2/3), x=6..7 on in all three, x=8 on in 5, 6
    # (2/3), x=9 on in 6 only (1/3); everything else is background throughout.
    row = phi[0, 5, 2]
    third = torch.tensor(1 / 3)
    expected = torch.full((12,), 1.0)
    expected[[4, 9]] = third
    expected[[5, 8]] = 2 * third
    torch.testing.assert_close(row, w[5] * expected)
    # rows 0 and 5 are background in every frame: consistent, MGW weight only
    assert torch.equal(phi[0, :, 0], w[:, None].expand(8, 12))


def test_thresholds_are_inclusive():
    # one pixel, averages 0.1 and 0.9 exactly over a 10-frame window
    t = 10
    labeled = torch.zeros(1, t, dtype=torch.bool)
    labeled[0, 0] = True
    for count, avg in ((1, 0.1), (9, 0.9)):
        target = torch.zeros(1, t, 1, 1)
        target[0, :count] = 1.0
        phi = stew_weights(target, labeled, window=t, sigma=math.inf, p_low=0.1, p_high=0.9)
        assert torch.equal(phi, torch.ones_like(phi)), avg
    target = torch.zeros(1, t, 1, 1)
    target[0, :5] = 1.0
    phi = stew_weights(target, labeled, window=t, sigma=math.inf)
    torch.testing.assert_close(phi[0, 1:].flatten(), torch.full((t - 1,), 0.5))


@settings(max_examples=40, deadline=None)
@given(
    bits=st.lists(st.booleans(), min_size=2 * 5 * 2 * 3, max_size=2 * 5 * 2 * 3),
    soft=st.booleans(),
    mask=st.lists(st.booleans(), min_size=10, max_size=10),
    window=st.integers(0, 6),
    sigma=st.one_of(st.floats(0.0, 10.0), st.just(math.inf)),
    p_low=st.floats(0.0, 0.5),
    p_high=st.floats(0.5, 1.0),
)
def test_stew_weights_properties(bits, soft, mask, window, sigma, p_low, p_high):
    target = torch.tensor(bits, dtype=torch.float32).reshape(2, 5, 2, 3)
    if soft:
        target = target * 0.7 + 0.1
    labeled = torch.tensor(mask).reshape(2, 5)
    phi = stew_weights(target, labeled, window=window, sigma=sigma, p_low=p_low, p_high=p_high)
    assert phi.shape == target.shape
    assert ((phi >= 0) & (phi <= 1)).all()
    assert (phi[labeled] == 1).all()  # labeled frames: exactly 1 on every pixel
    w = mgw_weights(labeled, sigma=sigma)[:, :, None, None]
    assert (phi <= w + 1e-7).all()  # never more than the temporal weight


@pytest.mark.parametrize("sigma", [0.0, 1.3, math.inf])
def test_reductions_consistent(sigma):
    target, labeled = _moving_actor()
    logits = torch.randn_like(target)
    none = stew_loss(logits, target, labeled, window=2, sigma=sigma, reduction="none")
    assert none.shape == labeled.shape
    total = stew_loss(logits, target, labeled, window=2, sigma=sigma, reduction="sum")
    torch.testing.assert_close(total, none.sum())
    phi = stew_weights(target, labeled, window=2, sigma=sigma)
    mean = stew_loss(logits, target, labeled, window=2, sigma=sigma)
    torch.testing.assert_close(mean, total / phi.mean(dim=(-2, -1)).sum())


@pytest.mark.parametrize("case", ["none_labeled", "one_labeled", "extreme"])
def test_gradients_finite(case):
    logits, target, labeled = _static_actor()
    target[:, 2:4] = 0.0  # some inconsistency
    if case == "none_labeled":
        labeled = torch.zeros_like(labeled)
    elif case == "one_labeled":
        labeled = torch.zeros_like(labeled)
        labeled[0, 8] = True
    else:
        logits = torch.where(target > 0, -1e30, 1e4)
    logits.requires_grad_(True)
    loss = stew_loss(logits, target, labeled, window=1, pos_weight=3.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    if case == "none_labeled":
        assert loss == 0 and (logits.grad == 0).all()


def test_weights_carry_no_gradient():
    target, labeled = _moving_actor()
    target = target.clone().requires_grad_(True)
    assert not stew_weights(target, labeled, window=1).requires_grad


def test_errors_name_the_argument():
    target, labeled = _moving_actor()
    with pytest.raises(LossInputError, match="window"):
        stew_weights(target, labeled, window=-1)
    with pytest.raises(LossInputError, match="window"):
        stew_weights(target, labeled, window=1.5)
    with pytest.raises(LossInputError, match="p_low"):
        stew_weights(target, labeled, window=1, p_low=0.9, p_high=0.1)
    with pytest.raises(LossInputError, match="sigma"):
        stew_weights(target, labeled, window=1, sigma=-2)
    with pytest.raises(LossInputError, match=r"pseudo_target must have shape \[B, T, H, W\]"):
        stew_weights(target[0], labeled, window=1)
    with pytest.raises(LossInputError, match=r"labeled must have shape \[B, T\]"):
        stew_loss(target, target, labeled[:, :4], window=1)
    with pytest.raises(LossInputError, match="reduction"):
        stew_loss(target, target, labeled, window=1, reduction="max")


def test_module_matches_function():
    logits, target, labeled = _static_actor()
    module = STeWLoss(window=2, sigma=2.0, reduction="sum")
    torch.testing.assert_close(
        module(logits, target, labeled),
        stew_loss(logits, target, labeled, window=2, sigma=2.0, reduction="sum"),
    )
    assert "window=2" in repr(module)
    with pytest.raises(TypeError):
        STeWLoss()  # the paper gives no window: it must be chosen
