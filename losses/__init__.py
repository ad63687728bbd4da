"""Loss functions for training video models from sparse labels.

Depends on torch only; never imports :mod:`vidal`.

Shapes: the detector's per-pixel foreground logits are ``logits (Tensor[B, T, H, W])``; ground
truth and pseudo-labels ``target (Tensor[B, T, H, W])`` in ``[0, 1]``; which frames have ground
truth ``labeled (Tensor[B, T])`` (bool); class-capsule activations ``Tensor[B, K]``; latent clip
features ``Tensor[N, D]``.

- Localization on sparse labels: :func:`frame_bce`, :func:`masking_loss`,
  :func:`interpolation_loss`, :func:`mgw_loss` (Active Sparse Labeling, NeurIPS 2022, Eq. 4) and
  :func:`stew_loss` (CLAUS, CVPR 2023, Eqs. 4-5). They share one reduction convention, described
  in ``losses/_localization.py``: ``"none"`` gives weighted per-frame losses ``[B, T]``,
  ``"sum"`` their sum, ``"mean"`` their weighted mean (sum divided by the total weight).
- Pseudo-labels for the unlabeled frames: :func:`interpolate_boxes`, :func:`boxes_to_masks`,
  :func:`nearest_labeled_masks`.
- Classification on capsules: :func:`margin_loss`, :func:`spread_loss`, :func:`spread_margin`.
- Classification on soft targets (a label distribution per clip, e.g. a crowd's labels):
  :func:`soft_cross_entropy`, :func:`soft_margin_loss`.
- Deep clustering of latent features (CLAUS, Eq. 3): :func:`clustering_loss`, :func:`kmeans`,
  :class:`DeepClustering`.

Every loss is a function first and an ``nn.Module`` second, and takes
``reduction="none" | "mean" | "sum"``. Bad input raises :class:`LossInputError`.
"""

from losses._capsule import MarginLoss, SpreadLoss, margin_loss, spread_loss, spread_margin
from losses._clustering import DeepClustering, clustering_loss, kmeans
from losses._common import LossInputError
from losses._localization import (
    FrameBCELoss,
    InterpolationLoss,
    MaskingLoss,
    MGWLoss,
    frame_bce,
    interpolation_loss,
    masking_loss,
    mean_over_pixels,
    mgw_loss,
    mgw_weights,
)
from losses._pseudo_labels import boxes_to_masks, interpolate_boxes, nearest_labeled_masks
from losses._soft import (
    SoftCrossEntropyLoss,
    SoftMarginLoss,
    soft_cross_entropy,
    soft_margin_loss,
)
from losses._stew import STeWLoss, stew_loss, stew_weights

__all__ = [
    "LossInputError",
    # localization
    "frame_bce",
    "mean_over_pixels",
    "masking_loss",
    "interpolation_loss",
    "mgw_weights",
    "mgw_loss",
    "stew_weights",
    "stew_loss",
    "FrameBCELoss",
    "MaskingLoss",
    "InterpolationLoss",
    "MGWLoss",
    "STeWLoss",
    # pseudo-labels
    "interpolate_boxes",
    "boxes_to_masks",
    "nearest_labeled_masks",
    # classification
    "margin_loss",
    "spread_loss",
    "spread_margin",
    "MarginLoss",
    "SpreadLoss",
    # soft targets
    "soft_cross_entropy",
    "soft_margin_loss",
    "SoftCrossEntropyLoss",
    "SoftMarginLoss",
    # clustering
    "kmeans",
    "clustering_loss",
    "DeepClustering",
]
