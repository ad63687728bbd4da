"""Capsule margin loss and spread loss."""

from __future__ import annotations

import pytest
import torch

from losses import LossInputError, MarginLoss, SpreadLoss, margin_loss, spread_loss, spread_margin


def test_margin_loss_hand_case():
    a = torch.tensor([[0.8, 0.3, 0.05], [0.2, 0.95, 0.5]])
    target = torch.tensor([0, 2])
    # clip 0: (0.9-0.8)^2 + 0.5*(0.3-0.1)^2 + 0           = 0.01 + 0.02       = 0.03
    # clip 1: 0.5*(0.2-0.1)^2 + 0.5*(0.95-0.1)^2 + (0.9-0.5)^2
    expected = torch.tensor([0.03, 0.5 * 0.01 + 0.5 * 0.85**2 + 0.16])
    torch.testing.assert_close(margin_loss(a, target, reduction="none"), expected)
    torch.testing.assert_close(margin_loss(a, target), expected.mean())
    torch.testing.assert_close(margin_loss(a, target, reduction="sum"), expected.sum())


def test_margin_loss_zero_when_confident_and_multi_hot():
    a = torch.tensor([[0.95, 0.05, 0.0]])
    assert margin_loss(a, torch.tensor([0])) == 0
    one_hot = torch.tensor([[1.0, 0.0, 0.0]])
    torch.testing.assert_close(margin_loss(a, one_hot), margin_loss(a, torch.tensor([0])))
    two = torch.tensor([[True, False, True]])
    # both present: 0 + 0 + (0.9 - 0)^2
    torch.testing.assert_close(margin_loss(a, two), torch.tensor(0.81))


def test_margin_loss_parameters():
    a = torch.tensor([[0.5, 0.5]])
    got = margin_loss(a, torch.tensor([0]), m_pos=1.0, m_neg=0.0, neg_weight=1.0)
    torch.testing.assert_close(got, torch.tensor(0.5))


def test_spread_loss_hand_case():
    a = torch.tensor([[0.8, 0.3, 0.0], [0.1, 0.2, 0.9]])
    target = torch.tensor([0, 2])
    # clip 0, m = 0.9: (0.9-0.5)^2 + (0.9-0.8)^2 = 0.17; clip 1: (0.9-0.8)^2 + (0.9-0.7)^2
    expected = torch.tensor([0.17, 0.01 + 0.04])
    torch.testing.assert_close(spread_loss(a, target, margin=0.9, reduction="none"), expected)
    # with margin 0.2 only gaps below 0.2 count: none here
    assert spread_loss(a, target, margin=0.2) == 0


def test_spread_margin_schedule():
    assert spread_margin(0, 10) == pytest.approx(0.2)
    assert spread_margin(5, 10) == pytest.approx(0.55)
    assert spread_margin(10, 10) == pytest.approx(0.9)
    assert spread_margin(1000, 10) == pytest.approx(0.9)
    assert spread_margin(1, 2, start=0.0, end=1.0) == 0.5
    with pytest.raises(LossInputError, match="total_steps"):
        spread_margin(1, 0)
    with pytest.raises(LossInputError, match="step"):
        spread_margin(-1, 10)


@pytest.mark.parametrize("fn", [margin_loss, spread_loss])
def test_gradients_finite(fn):
    a = torch.tensor([[0.0, 1.0, 0.5], [1.0, 1.0, 1.0]], requires_grad=True)
    loss = fn(a, torch.tensor([0, 1]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(a.grad).all()
    assert a.grad[0, 0] < 0  # raising the target activation lowers the loss


@pytest.mark.parametrize("fn", [margin_loss, spread_loss])
def test_errors_name_the_argument(fn):
    a = torch.rand(2, 3)
    with pytest.raises(LossInputError, match=r"activations must have shape \[B, K\]"):
        fn(a[0], torch.tensor([0, 1]))
    with pytest.raises(LossInputError, match=r"target must have shape \[B\]"):
        fn(a, torch.tensor([0, 1, 2]))
    with pytest.raises(LossInputError, match=r"target classes must lie in \[0, K\)"):
        fn(a, torch.tensor([0, 3]))
    with pytest.raises(LossInputError, match="target must be an integer"):
        fn(a, torch.tensor([0.0, 1.0]))
    with pytest.raises(LossInputError, match="reduction"):
        fn(a, torch.tensor([0, 1]), reduction="avg")


def test_modules():
    a, target = torch.rand(4, 5), torch.tensor([0, 1, 2, 3])
    torch.testing.assert_close(MarginLoss()(a, target), margin_loss(a, target))
    module = SpreadLoss(margin=0.2, reduction="sum")
    module.margin = spread_margin(3, 4)
    torch.testing.assert_close(
        module(a, target), spread_loss(a, target, margin=spread_margin(3, 4), reduction="sum")
    )
    assert "margin" in repr(module)
