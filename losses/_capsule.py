"""Classification losses on class-capsule activations: the margin loss and the spread loss.

Both action-detection papers train the classifier with "margin-loss for classification" taken
from VideoCapsuleNet (Duarte et al., NeurIPS 2018): Rana & Rawat, NeurIPS 2022, Sec. 3.3, and
CVPR 2023, Sec. 3 and Eq. 6. Two capsule losses go by that description:

- the **margin loss** of Sabour et al. (*Dynamic Routing Between Capsules*, NeurIPS 2017,
  Eq. 4), on capsule lengths: :func:`margin_loss`;
- the **spread loss** of Hinton et al. (*Matrix Capsules with EM Routing*, ICLR 2018, Eq. 3),
  whose margin grows during training: :func:`spread_loss` with :func:`spread_margin`.
  VideoCapsuleNet, whose capsules follow Hinton et al., trains its class capsules with the
  spread loss, the margin growing linearly from 0.2 to 0.9 over training.

Activations are the class capsules' activations (or lengths), ``Tensor[B, K]`` in ``[0, 1]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from losses._common import LossInputError, check_reduction, check_tensor, reduce

__all__ = ["margin_loss", "spread_loss", "spread_margin", "MarginLoss", "SpreadLoss"]


def _class_indices(target: object, num_classes: int, batch: int) -> Tensor:
    target = check_tensor(target, "target", "B", (batch,))
    if target.is_floating_point() or target.dtype == torch.bool:
        raise LossInputError(f"target must be an integer Tensor[B] of classes; got {target.dtype}")
    if batch and (int(target.min()) < 0 or int(target.max()) >= num_classes):
        raise LossInputError(
            f"target classes must lie in [0, K) = [0, {num_classes}); "
            f"got values in [{int(target.min())}, {int(target.max())}]"
        )
    return target.long()


def _check_activations(activations: object, reduction: str) -> tuple[int, int]:
    """``(B, K)`` of ``activations (Tensor[B, K])``, checked with ``reduction``."""
    activations = check_tensor(activations, "activations", "B, K")
    check_reduction(reduction)
    batch, num_classes = activations.shape
    return batch, num_classes


def margin_loss(
    activations: Tensor,
    target: Tensor,
    *,
    m_pos: float = 0.9,
    m_neg: float = 0.1,
    neg_weight: float = 0.5,
    reduction: str = "mean",
) -> Tensor:
    """Capsule margin loss (Sabour et al., NeurIPS 2017, Eq. 4).

    ``L = sum_k T_k max(0, m_pos - a_k)^2 + neg_weight (1 - T_k) max(0, a_k - m_neg)^2``, summed
    over the ``K`` classes, where ``T_k`` is 1 for the present class(es).

    Args:
        activations (Tensor[B, K]): class-capsule activations (lengths) in ``[0, 1]``.
        target (Tensor[B] or Tensor[B, K]): integer class per clip, or a float/bool
            ``[B, K]`` presence (multi-hot) matrix.
        m_pos: an activation of a present class below this is penalised (paper: 0.9).
        m_neg: an activation of an absent class above this is penalised (paper: 0.1).
        neg_weight: ``lambda``, down-weights the absent classes (paper: 0.5).
        reduction: ``"none"`` for the per-clip ``Tensor[B]``, ``"mean"`` over the batch or
            ``"sum"``.

    Returns:
        ``Tensor[B]`` or a scalar tensor.

    Example:
        >>> a = torch.tensor([[0.8, 0.3, 0.0]])
        >>> round(margin_loss(a, torch.tensor([0])).item(), 4)  # 0.1^2 + 0.5 * 0.2^2
        0.03
    """
    batch, num_classes = _check_activations(activations, reduction)
    if isinstance(target, Tensor) and target.dim() == 2:
        check_tensor(target, "target", "B, K", activations.shape)
        present = target.to(activations.dtype)
    else:
        indices = _class_indices(target, num_classes, batch)
        present = F.one_hot(indices, num_classes).to(activations.dtype)
    pos = present * torch.clamp(m_pos - activations, min=0) ** 2
    neg = neg_weight * (1 - present) * torch.clamp(activations - m_neg, min=0) ** 2
    return reduce((pos + neg).sum(dim=1), reduction)


def spread_loss(
    activations: Tensor,
    target: Tensor,
    *,
    margin: float = 0.9,
    reduction: str = "mean",
) -> Tensor:
    """Capsule spread loss (Hinton et al., ICLR 2018, Eq. 3), as used by VideoCapsuleNet.

    ``L = sum_{i != t} max(0, margin - (a_t - a_i))^2`` with ``t`` the target class. Hinton et
    al. and VideoCapsuleNet grow ``margin`` linearly from 0.2 to 0.9 during training; pass
    ``margin=spread_margin(step, total_steps)`` (or set :attr:`SpreadLoss.margin`) to do so.

    Args:
        activations (Tensor[B, K]): class-capsule activations in ``[0, 1]``.
        target (Tensor[B]): integer class of each clip.
        margin: the required gap between the target activation and every other one.
        reduction: ``"none"`` for the per-clip ``Tensor[B]``, ``"mean"`` over the batch or
            ``"sum"``.

    Returns:
        ``Tensor[B]`` or a scalar tensor.

    Example:
        >>> a = torch.tensor([[0.8, 0.3, 0.0]])
        >>> round(spread_loss(a, torch.tensor([0]), margin=0.9).item(), 4)  # 0.4^2 + 0.1^2
        0.17
    """
    batch, num_classes = _check_activations(activations, reduction)
    indices = _class_indices(target, num_classes, batch)
    a_target = activations.gather(1, indices[:, None])  # [B, 1]
    gap = torch.clamp(margin - (a_target - activations), min=0) ** 2  # [B, K]
    others = F.one_hot(indices, num_classes) == 0
    per_clip = torch.where(others, gap, torch.zeros_like(gap)).sum(dim=1)
    return reduce(per_clip, reduction)


def spread_margin(step: int, total_steps: int, *, start: float = 0.2, end: float = 0.9) -> float:
    """Margin of the spread loss at a training step: linear from ``start`` to ``end``.

    Reaches ``end`` at ``step = total_steps`` and stays there.

    Args:
        step: current training step (``>= 0``).
        total_steps: steps over which the margin grows (``> 0``).
        start: margin at step 0 (Hinton et al.: 0.2).
        end: final margin (Hinton et al.: 0.9).

    Returns:
        The margin.

    Example:
        >>> spread_margin(50, 100)
        0.55
    """
    if total_steps <= 0:
        raise LossInputError(f"total_steps must be > 0; got {total_steps}")
    if step < 0:
        raise LossInputError(f"step must be >= 0; got {step}")
    fraction = min(step / total_steps, 1.0)
    return start + (end - start) * fraction


class _MarginModule(nn.Module):
    """The margin settings and reduction of a margin-loss module; ``_loss`` computes it."""

    def __init__(
        self,
        *,
        m_pos: float = 0.9,
        m_neg: float = 0.1,
        neg_weight: float = 0.5,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.m_pos, self.m_neg, self.neg_weight = m_pos, m_neg, neg_weight
        self.reduction = check_reduction(reduction)

    @staticmethod
    def _loss(activations: Tensor, target: Tensor, **options: object) -> Tensor:
        return margin_loss(activations, target, **options)  # type: ignore[arg-type]

    def forward(self, activations: Tensor, target: Tensor) -> Tensor:
        return self._loss(
            activations,
            target,
            m_pos=self.m_pos,
            m_neg=self.m_neg,
            neg_weight=self.neg_weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"m_pos={self.m_pos}, m_neg={self.m_neg}, neg_weight={self.neg_weight}, "
            f"reduction={self.reduction!r}"
        )


class MarginLoss(_MarginModule):
    """Module form of :func:`margin_loss` (Sabour et al., NeurIPS 2017, Eq. 4).

    Example:
        >>> loss = MarginLoss()
        >>> round(loss(torch.tensor([[0.9, 0.1]]), torch.tensor([0])).item(), 4)
        0.0
    """


class SpreadLoss(nn.Module):
    """Module form of :func:`spread_loss`; set :attr:`margin` as training goes on.

    Example:
        >>> loss = SpreadLoss(margin=spread_margin(0, 1000))
        >>> loss.margin = spread_margin(500, 1000)
        >>> round(loss(torch.tensor([[0.8, 0.3]]), torch.tensor([0])).item(), 4)
        0.0025
    """

    def __init__(self, *, margin: float = 0.9, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = margin
        self.reduction = check_reduction(reduction)

    def forward(self, activations: Tensor, target: Tensor) -> Tensor:
        return spread_loss(activations, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
