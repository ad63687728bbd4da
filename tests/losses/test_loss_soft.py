"""Soft-target classification losses: one-hot targets give the hard-label losses back."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import losses

B, K = 5, 4


def _batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, K, generator=gen, dtype=torch.float64)
    activations = torch.rand(B, K, generator=gen, dtype=torch.float64)
    classes = torch.randint(0, K, (B,), generator=gen)
    soft = torch.rand(B, K, generator=gen, dtype=torch.float64)
    return logits, activations, classes, soft / soft.sum(dim=1, keepdim=True)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_one_hot_targets_give_the_hard_losses(reduction):
    logits, activations, classes, _ = _batch()
    one_hot = F.one_hot(classes, K).double()
    torch.testing.assert_close(
        losses.soft_cross_entropy(logits, one_hot, reduction=reduction),
        F.cross_entropy(logits, classes, reduction=reduction),
    )
    torch.testing.assert_close(
        losses.soft_margin_loss(activations, one_hot, reduction=reduction),
        losses.margin_loss(activations, classes, reduction=reduction),
    )


def test_a_soft_target_is_the_expected_hard_loss():
    """Both losses are linear in q: the loss of q is the q-weighted mean of the hard losses."""
    logits, activations, _, q = _batch(1)
    hard_ce = torch.stack(
        [F.cross_entropy(logits, torch.full((B,), k), reduction="none") for k in range(K)], 1
    )
    hard_margin = torch.stack(
        [losses.margin_loss(activations, torch.full((B,), k), reduction="none") for k in range(K)],
        1,
    )
    torch.testing.assert_close(
        losses.soft_cross_entropy(logits, q, reduction="none"), (q * hard_ce).sum(1)
    )
    torch.testing.assert_close(
        losses.soft_margin_loss(activations, q, reduction="none"), (q * hard_margin).sum(1)
    )


def test_the_crowd_distribution_is_where_the_cross_entropy_is_lowest():
    _, _, _, q = _batch(2)
    logits = torch.zeros(B, K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=1.0)
    for _ in range(500):
        opt.zero_grad()
        losses.soft_cross_entropy(logits, q, reduction="sum").backward()
        opt.step()
    torch.testing.assert_close(logits.softmax(1), q, atol=1e-4, rtol=0)


def test_modules_and_gradients():
    logits, activations, _, q = _batch(3)
    assert torch.equal(
        losses.SoftCrossEntropyLoss()(logits, q), losses.soft_cross_entropy(logits, q)
    )
    assert torch.equal(
        losses.SoftMarginLoss(reduction="sum")(activations, q),
        losses.soft_margin_loss(activations, q, reduction="sum"),
    )
    logits.requires_grad_(True)
    activations.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: losses.soft_cross_entropy(x, q), (logits,))
    assert torch.autograd.gradcheck(lambda a: losses.soft_margin_loss(a, q), (activations,))


@pytest.mark.parametrize(
    "target, message",
    [
        (torch.ones(B, K), "summing to 1"),
        (torch.full((B, K), -0.25) + torch.eye(K)[[0, 1, 2, 3, 0]] * 2, ">= 0"),
        (torch.zeros(B, K, dtype=torch.long), "float Tensor"),
        (torch.full((B, K + 1), 1 / (K + 1)), r"\[B, K\]"),
    ],
)
def test_bad_targets(target, message):
    logits, activations, _, _ = _batch()
    for fn, x in ((losses.soft_cross_entropy, logits), (losses.soft_margin_loss, activations)):
        with pytest.raises(losses.LossInputError, match=message):
            fn(x.float(), target)
