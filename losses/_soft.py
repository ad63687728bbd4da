"""Classification losses on soft targets: a label distribution per clip instead of one class.

Several annotators' labels of one item give a distribution ``q (Tensor[B, K])`` over the
``K`` classes (the crowd's soft label). Training on it instead of the majority class is the
"soft-target" training of the affective-frame active-learning study (seed 000,
Experiment 2): "training emotion classifiers with soft-target labels rather than one-hot
encoded labels", with the categorical cross-entropy ``-sum_k q_k log p_k``.

- :func:`soft_cross_entropy` for a classifier with logits (softmax over the classes);
- :func:`soft_margin_loss` for the capsule classifier: the expected margin loss when the
  class is drawn from ``q``, ``E_{y ~ q} L(a, y) = sum_k q_k L+(a_k) + (1 - q_k) L-(a_k)``
  (Sabour et al., NeurIPS 2017, Eq. 4, with ``T_k = q_k``).

Both equal their hard-label loss when ``q`` is one-hot, and both are linear in ``q``: the
loss of a soft target is the ``q``-weighted mean of the hard losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from losses._capsule import _MarginModule, margin_loss
from losses._common import LossInputError, check_reduction, check_tensor, weighted_reduce

__all__ = ["soft_cross_entropy", "soft_margin_loss", "SoftCrossEntropyLoss", "SoftMarginLoss"]


def _check_distribution(target: object, shape: torch.Size, tol: float = 1e-4) -> Tensor:
    target = check_tensor(target, "target", "B, K", shape)
    if not target.is_floating_point():
        raise LossInputError(
            f"target must be a float Tensor[B, K] of class probabilities; got {target.dtype}"
        )
    if target.numel() and (
        not torch.isfinite(target).all()
        or bool((target < 0).any())
        or bool(((target.sum(dim=1) - 1).abs() > tol).any())
    ):
        sums = target.sum(dim=1)
        raise LossInputError(
            "target rows must be probability distributions (finite, >= 0, summing to 1); "
            f"row sums range over [{float(sums.min()):.4g}, {float(sums.max()):.4g}], "
            f"minimum entry {float(target.min()):.4g}"
        )
    return target


def soft_cross_entropy(logits: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Categorical cross-entropy with soft targets: ``-sum_k q_k log softmax(z)_k``.

    Args:
        logits (Tensor[B, K]): class logits ``z``.
        target (Tensor[B, K]): class probabilities ``q`` per clip (rows sum to 1).
        reduction: ``"none"`` for the per-clip ``Tensor[B]``, ``"mean"`` over the batch or
            ``"sum"``.

    Returns:
        ``Tensor[B]`` or a scalar tensor.

    Example:
        >>> z = torch.tensor([[2.0, 0.0, 0.0]])
        >>> hard = soft_cross_entropy(z, torch.tensor([[1.0, 0.0, 0.0]]))
        >>> round(hard.item(), 4) == round(F.cross_entropy(z, torch.tensor([0])).item(), 4)
        True
        >>> round(soft_cross_entropy(z, torch.tensor([[0.5, 0.5, 0.0]])).item(), 4)
        1.2395
    """
    check_tensor(logits, "logits", "B, K")
    check_reduction(reduction)
    q = _check_distribution(target, logits.shape).to(logits.dtype)
    per_clip = F.cross_entropy(logits, q, reduction="none")  # torch's probability targets
    return weighted_reduce(per_clip, torch.ones_like(per_clip), reduction)


def soft_margin_loss(
    activations: Tensor,
    target: Tensor,
    *,
    m_pos: float = 0.9,
    m_neg: float = 0.1,
    neg_weight: float = 0.5,
    reduction: str = "mean",
) -> Tensor:
    """Capsule margin loss on a label distribution: its expectation over the class ``y ~ q``.

    ``L = sum_k q_k max(0, m_pos - a_k)^2 + neg_weight (1 - q_k) max(0, a_k - m_neg)^2``
    (Sabour et al., NeurIPS 2017, Eq. 4 with ``T_k = q_k``) ``= sum_y q_y L_margin(a, y)``.

    Args:
        activations (Tensor[B, K]): class-capsule activations in ``[0, 1]``.
        target (Tensor[B, K]): class probabilities ``q`` per clip (rows sum to 1).
        m_pos, m_neg, neg_weight: as in :func:`~losses.margin_loss` (paper: 0.9, 0.1, 0.5).
        reduction: ``"none"`` for the per-clip ``Tensor[B]``, ``"mean"`` or ``"sum"``.

    Returns:
        ``Tensor[B]`` or a scalar tensor.

    Example:
        >>> a = torch.tensor([[0.8, 0.3, 0.0]])
        >>> q = torch.tensor([[0.5, 0.5, 0.0]])
        >>> mean_of_hard = (margin_loss(a, torch.tensor([0])) + margin_loss(a, torch.tensor([1]))) / 2
        >>> bool(torch.isclose(soft_margin_loss(a, q), mean_of_hard))
        True
    """
    check_tensor(activations, "activations", "B, K")
    q = _check_distribution(target, activations.shape)
    return margin_loss(
        activations, q, m_pos=m_pos, m_neg=m_neg, neg_weight=neg_weight, reduction=reduction
    )


class SoftCrossEntropyLoss(nn.Module):
    """Module form of :func:`soft_cross_entropy`.

    Example:
        >>> loss = SoftCrossEntropyLoss()
        >>> round(loss(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]])).item(), 4)
        0.6931
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return soft_cross_entropy(logits, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class SoftMarginLoss(_MarginModule):
    """Module form of :func:`soft_margin_loss`.

    Example:
        >>> loss = SoftMarginLoss()
        >>> round(loss(torch.tensor([[0.9, 0.1]]), torch.tensor([[1.0, 0.0]])).item(), 4)
        0.0
    """

    @staticmethod
    def _loss(activations: Tensor, target: Tensor, **options: object) -> Tensor:
        return soft_margin_loss(activations, target, **options)  # type: ignore[arg-type]
