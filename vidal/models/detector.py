"""The frame detector: torchvision Faster R-CNN that also returns class probabilities.

Zolfaghari Bengar (PhD thesis, 2021), Sec. 2.5.1, runs Faster R-CNN on every frame, resized
to a fixed height of 300 pixels, and scores frames from its detections. The uncertainty
baselines of Sec. 2.5.2 (least confidence, entropy, margin) need the *whole* class-probability
vector of every detection, which torchvision's :meth:`RoIHeads.postprocess_detections` drops:
it flattens the ``[P, K + 1]`` softmax of the ``P`` proposals into one candidate per
(proposal, foreground class), filters, and keeps only the score of the kept class.

:class:`RoIHeadsWithProbs` keeps it with the least change: it overrides only
``postprocess_detections`` -- the method already receives the class logits of every proposal --
and runs torchvision's own filtering steps (``clip_boxes_to_image``, score threshold,
``remove_small_boxes``, ``batched_nms``, top ``detections_per_img``) on the same candidates,
carrying one more index along: the proposal each candidate came from. The probability vector
of a kept detection is the softmax row of that proposal, so ``probs[n, labels[n]] ==
scores[n]`` holds exactly. Boxes, scores and labels are the ones torchvision returns (the tests
compare against the stock heads). ``forward`` then adds the vectors to torchvision's result
dicts, which :class:`GeneralizedRCNNTransform` passes through when it rescales the boxes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import mobilenet_v2
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import mobilenet_backbone, resnet_fpn_backbone
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops import boxes as box_ops
from torchvision.ops.misc import FrozenBatchNorm2d

from vidal.errors import ConfigError
from vidal.models.mobilenet_v2 import load_mobilenet_v2_features

__all__ = ["BACKBONES", "RoIHeadsWithProbs", "build_detector", "load_detector_weights"]

Backbone = Literal["resnet50_fpn", "mobilenet_v3_fpn", "mobilenet_v2", "mobilenet_v2_fpn"]
BACKBONES: tuple[str, ...] = (
    "resnet50_fpn",
    "mobilenet_v3_fpn",
    "mobilenet_v2",
    "mobilenet_v2_fpn",
)

# Backbone layers torchvision can train: (all of them, torchvision's default with pretrained weights).
_TRAINABLE_LAYERS = {
    "resnet50_fpn": (5, 3),
    "mobilenet_v3_fpn": (6, 3),
    "mobilenet_v2": (6, 3),
    "mobilenet_v2_fpn": (6, 3),
}
# the MobileNet FPN backbones: detector backbone -> torchvision classifier it is cut from
_MOBILENET_FPN = {"mobilenet_v3_fpn": "mobilenet_v3_large", "mobilenet_v2_fpn": "mobilenet_v2"}
_PREDICTOR = "roi_heads.box_predictor."


class RoIHeadsWithProbs(RoIHeads):
    """torchvision's :class:`RoIHeads` whose detections also carry class probabilities.

    In eval mode every result dict gets ``probs (Tensor[N, K + 1])``: the softmax over
    background + ``K`` classes of the proposal each of the ``N`` detections came from
    (column 0 is background). ``probs[n, labels[n]] == scores[n]``; the arg-max of a row need
    not be ``labels[n]``, since one proposal may yield detections of several classes (and
    background may dominate a low-scoring one). Training is unchanged.

    Build it from existing heads with :meth:`from_roi_heads`.
    """

    _kept_probs: list[Tensor]

    @classmethod
    def from_roi_heads(cls, heads: RoIHeads) -> RoIHeadsWithProbs:
        """The same heads (sharing their modules and settings) as :class:`RoIHeadsWithProbs`."""
        if heads.has_mask() or heads.has_keypoint():
            raise ConfigError(
                "RoIHeadsWithProbs supports box heads only (no mask or keypoint heads)"
            )
        new = cls(
            box_roi_pool=heads.box_roi_pool,
            box_head=heads.box_head,
            box_predictor=heads.box_predictor,
            fg_iou_thresh=heads.proposal_matcher.high_threshold,
            bg_iou_thresh=heads.proposal_matcher.low_threshold,
            batch_size_per_image=heads.fg_bg_sampler.batch_size_per_image,
            positive_fraction=heads.fg_bg_sampler.positive_fraction,
            bbox_reg_weights=heads.box_coder.weights,
            score_thresh=heads.score_thresh,
            nms_thresh=heads.nms_thresh,
            detections_per_img=heads.detections_per_img,
        )
        return new.train(heads.training)

    def postprocess_detections(
        self,
        class_logits: Tensor,
        box_regression: Tensor,
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """torchvision's post-processing, also recording the probabilities of kept detections.

        Args:
            class_logits (Tensor[P, K + 1]): logits of all ``P`` proposals of the batch.
            box_regression (Tensor[P, 4 * (K + 1)]): per-class box deltas.
            proposals (list[Tensor[P_i, 4]]): proposals of each image.
            image_shapes (list[tuple[int, int]]): ``(H, W)`` of each resized image.

        Returns:
            Per image, boxes ``Tensor[N, 4]``, scores ``Tensor[N]`` and labels ``Tensor[N]``,
            as torchvision returns them; the ``Tensor[N, K + 1]`` probabilities are kept for
            :meth:`forward`.
        """
        device = class_logits.device
        num_classes = class_logits.shape[-1]
        boxes_per_image = [p.shape[0] for p in proposals]
        pred_boxes = self.box_coder.decode(box_regression, proposals)  # [P, K + 1, 4]
        pred_scores = F.softmax(class_logits, -1)  # [P, K + 1]

        all_boxes, all_scores, all_labels, all_probs = [], [], [], []
        for boxes, probs, image_shape in zip(
            pred_boxes.split(boxes_per_image, 0),
            pred_scores.split(boxes_per_image, 0),
            image_shapes,
            strict=True,
        ):
            boxes = box_ops.clip_boxes_to_image(boxes, image_shape)
            labels = torch.arange(num_classes, device=device).view(1, -1).expand_as(probs)
            rows = torch.arange(probs.shape[0], device=device).view(-1, 1).expand_as(probs)
            # one candidate per (proposal, foreground class), as torchvision flattens them
            boxes = boxes[:, 1:].reshape(-1, 4)
            scores = probs[:, 1:].reshape(-1)
            labels = labels[:, 1:].reshape(-1)
            rows = rows[:, 1:].reshape(-1)

            inds = torch.where(scores > self.score_thresh)[0]
            boxes, scores, labels, rows = boxes[inds], scores[inds], labels[inds], rows[inds]
            keep = box_ops.remove_small_boxes(boxes, min_size=1e-2)
            boxes, scores, labels, rows = boxes[keep], scores[keep], labels[keep], rows[keep]
            keep = box_ops.batched_nms(boxes, scores, labels, self.nms_thresh)
            keep = keep[: self.detections_per_img]
            all_boxes.append(boxes[keep])
            all_scores.append(scores[keep])
            all_labels.append(labels[keep])
            all_probs.append(probs[rows[keep]])
        self._kept_probs = all_probs
        return all_boxes, all_scores, all_labels

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """torchvision's forward; in eval mode each result dict also holds ``probs``."""
        result, losses = super().forward(features, proposals, image_shapes, targets)
        if not self.training:
            probs, self._kept_probs = self._kept_probs, []
            for res, p in zip(result, probs, strict=True):
                res["probs"] = p
        return result, losses


def build_detector(
    num_classes: int,
    *,
    backbone: Backbone = "resnet50_fpn",
    weights_path: str | os.PathLike | None = None,
    backbone_weights: str | os.PathLike | None = None,
    min_size: int = 300,
    max_size: int = 1000,
    trainable_backbone_layers: int | None = None,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
    anchor_sizes: Sequence[int] | None = None,
    returned_layers: Sequence[int] | None = None,
    **options: Any,
) -> FasterRCNN:
    """A torchvision Faster R-CNN frame detector whose detections carry class probabilities.

    The architecture is torchvision's ``fasterrcnn_resnet50_fpn`` or
    ``fasterrcnn_mobilenet_v3_large_fpn``, built with the same backbone helpers, or the
    Faster R-CNN on a MobileNetV2 backbone of torchvision's documentation (``mobilenet_v2``:
    the 1280-channel stride-32 features as the only level, anchors 32..512 at three aspect
    ratios, 7x7 RoIAlign with sampling ratio 2), or MobileNetV2 under torchvision's MobileNet
    FPN (``mobilenet_v2_fpn``, built like ``mobilenet_v3_fpn``), with its RoI heads replaced
    by :class:`RoIHeadsWithProbs`. Frames are resized so their shorter
    side is ``min_size`` (300 px, the thesis' fixed height, Sec. 2.5.1) unless the longer
    side would exceed ``max_size``.

    Without weights, every layer trains and uses ordinary batch norm (torchvision's rule
    for untrained models). With ``weights_path`` or ``backbone_weights``, batch norm is
    frozen and ``trainable_backbone_layers`` defaults to 3, as for torchvision's pretrained builders;
    see :func:`load_detector_weights` for the state dicts it accepts.

    Args:
        num_classes: number of object classes ``K`` (e.g. ``VideoDataset.num_classes``);
            the model predicts ``K + 1`` classes with background at index 0, so its labels
            are ``1..K`` (dataset class ``k`` is label ``k + 1``).
        backbone: ``"resnet50_fpn"``, ``"mobilenet_v3_fpn"`` (MobileNetV3-Large FPN),
            ``"mobilenet_v2"`` (torchvision's documented MobileNetV2 recipe; its box head sees
            1280 x 7 x 7 features, so it costs more per proposal than the FPN ones) or
            ``"mobilenet_v2_fpn"``.
        weights_path: optional local file with a detector or backbone state dict.
        backbone_weights: ``mobilenet_v2`` and ``mobilenet_v2_fpn`` only: a local file with
            ImageNet MobileNetV2 feature weights under any names, mapped by position (see
            :func:`vidal.models.mobilenet_v2.load_mobilenet_v2_features`); not with
            ``weights_path``.
        min_size: size of the shorter image side after resizing.
        max_size: largest allowed longer side after resizing.
        trainable_backbone_layers: backbone stages to train, counted from the top
            (ResNet-50: 0..5, MobileNet: 0..6); default all without weights, 3 with.
        score_thresh: detections scoring at or below this are dropped (torchvision's
            ``box_score_thresh``).
        nms_thresh: per-class NMS IoU threshold.
        detections_per_img: most detections kept per image.
        anchor_sizes: anchor box sizes in pixels of the resized image, smallest first:
            five for ``resnet50_fpn`` (one per FPN level; torchvision: 32..512), any number
            for ``mobilenet_v3_fpn``/``mobilenet_v2_fpn`` (all on each of their stride-32
            levels) and ``mobilenet_v2`` (its one level; torchvision: 32, 64, 128, 256,
            512). Objects far smaller than the smallest anchor overlap no anchor well
            (ResNet-50 FPN's finest level has stride 4, so ``(16, 32, 64, 128, 256)`` suits
            small objects; the MobileNets' stride-32 grid suits objects above ~32 px).
            With ``returned_layers``, one size per level, finest first, like ResNet-50 FPN
            (default ``32, 64, ...``). Pretrained RPN weights need the default count.
        returned_layers: ``mobilenet_v3_fpn``/``mobilenet_v2_fpn`` only: the stages (1..5)
            whose outputs feed the FPN, torchvision's ``returned_layers``. torchvision's ``[4, 5]``
            are both stride 32; ``[2, 3, 4, 5]`` adds stride-8 and stride-16 levels (five
            levels with the pooled one), the grid small objects need.
        **options: further keyword arguments of torchvision's :class:`FasterRCNN`
            (e.g. ``rpn_batch_size_per_image``, ``box_batch_size_per_image``,
            ``rpn_post_nms_top_n_train``), as torchvision's builders pass them on.

    Returns:
        A :class:`FasterRCNN` on the CPU. In eval mode, ``model(images)`` with
        ``images (list[Tensor[3, H, W]])`` in ``[0, 1]`` returns per image a dict of
        ``boxes (Tensor[N, 4])`` ``x1, y1, x2, y2`` pixels of the input image,
        ``labels (Tensor[N])`` int64 in ``1..K``, ``scores (Tensor[N])`` and
        ``probs (Tensor[N, K + 1])``; in train mode, with targets, the loss dict.

    Example:
        >>> model = build_detector(2, backbone="mobilenet_v3_fpn", min_size=100, max_size=160).eval()
        >>> out = model([torch.rand(3, 90, 120)])[0]
        >>> sorted(out), out["probs"].shape[1]
        (['boxes', 'labels', 'probs', 'scores'], 3)
    """
    _check_build(num_classes, backbone, weights_path, backbone_weights, options)
    pretrained = weights_path is not None or backbone_weights is not None
    layers = _trainable_layers(backbone, trainable_backbone_layers, pretrained=pretrained)
    returned_layers = _check_returned_layers(backbone, returned_layers)
    anchor_sizes = _check_anchor_sizes(backbone, anchor_sizes, returned_layers)
    norm_layer = FrozenBatchNorm2d if pretrained else nn.BatchNorm2d
    options = dict(
        options,
        min_size=min_size,
        max_size=max_size,
        box_score_thresh=score_thresh,
        box_nms_thresh=nms_thresh,
        box_detections_per_img=detections_per_img,
    )
    if backbone == "resnet50_fpn":
        model = _resnet50_fpn_detector(num_classes, norm_layer, layers, anchor_sizes, options)
    elif backbone == "mobilenet_v2":
        model = _mobilenet_v2_detector(num_classes, norm_layer, layers, anchor_sizes, options)
    else:
        model = _mobilenet_fpn_detector(
            backbone, num_classes, norm_layer, layers, anchor_sizes, returned_layers, options
        )
    model.roi_heads = RoIHeadsWithProbs.from_roi_heads(model.roi_heads)
    if weights_path is not None:
        load_detector_weights(model, weights_path)
    if backbone_weights is not None:
        load_mobilenet_v2_features(
            getattr(model.backbone, "body", model.backbone), backbone_weights
        )
    return model


def _check_build(
    num_classes: int,
    backbone: str,
    weights_path: str | os.PathLike | None,
    backbone_weights: str | os.PathLike | None,
    options: Mapping[str, Any],
) -> None:
    """Raise :class:`ConfigError` on a backbone, class count or option build_detector refuses."""
    if backbone not in BACKBONES:
        raise ConfigError(f"unknown backbone {backbone!r}; known backbones: {list(BACKBONES)}")
    if num_classes < 1:
        raise ConfigError(f"num_classes must be >= 1 (foreground classes), got {num_classes}")
    if backbone_weights is not None and (
        weights_path is not None or backbone not in ("mobilenet_v2", "mobilenet_v2_fpn")
    ):
        raise ConfigError(
            "backbone_weights is for the mobilenet_v2 backbones, without weights_path; got "
            f"backbone {backbone!r}" + (" and weights_path" if weights_path is not None else "")
        )
    clash = sorted(
        set(options)
        & {"box_score_thresh", "box_nms_thresh", "box_detections_per_img", "num_classes"}
    )
    if clash:
        raise ConfigError(
            f"pass {clash} as build_detector's own arguments, not as FasterRCNN options"
        )


def _trainable_layers(backbone: str, layers: int | None, *, pretrained: bool) -> int:
    """The backbone stages to train: all from scratch, torchvision's default when pretrained."""
    all_layers, pretrained_default = _TRAINABLE_LAYERS[backbone]
    if layers is None:
        layers = pretrained_default if pretrained else all_layers
    if not 0 <= layers <= all_layers:
        raise ConfigError(
            f"trainable_backbone_layers must be in 0..{all_layers} for {backbone}, got {layers}"
        )
    return layers


def _check_returned_layers(backbone: str, layers: Sequence[int] | None) -> list[int] | None:
    """``returned_layers`` sorted and checked (MobileNet FPN stages 1..5)."""
    if layers is None:
        return None
    chosen = sorted({int(k) for k in layers})
    if backbone not in _MOBILENET_FPN or not chosen or not 1 <= chosen[0] <= chosen[-1] <= 5:
        raise ConfigError(
            f"returned_layers: MobileNet stages in 1..5 for {list(_MOBILENET_FPN)} only, got "
            f"{chosen} for {backbone}"
        )
    return chosen


def _check_anchor_sizes(
    backbone: str, sizes: Sequence[int] | None, returned_layers: list[int] | None
) -> tuple[int, ...] | None:
    """``anchor_sizes`` as ints, one per level where the backbone has fixed levels."""
    if sizes is None:
        return None
    sizes = tuple(int(a) for a in sizes)
    need = 5 if backbone == "resnet50_fpn" else None
    if returned_layers is not None:
        need = len(returned_layers) + 1
    if not sizes or min(sizes) < 1 or (need and len(sizes) != need):
        raise ConfigError(
            f"anchor_sizes must be positive pixel sizes ({need or 'any number'} for {backbone}), "
            f"got {list(sizes)}"
        )
    return sizes


def _resnet50_fpn_detector(
    num_classes: int,
    norm_layer: type[nn.Module],
    layers: int,
    anchor_sizes: tuple[int, ...] | None,
    options: dict[str, Any],
) -> FasterRCNN:
    """As ``torchvision.models.detection.fasterrcnn_resnet50_fpn``."""
    body = resnet_fpn_backbone(
        backbone_name="resnet50", weights=None, norm_layer=norm_layer, trainable_layers=layers
    )
    if anchor_sizes is not None:
        sizes = tuple((a,) for a in anchor_sizes)
        options["rpn_anchor_generator"] = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    return FasterRCNN(body, num_classes + 1, **options)


def _mobilenet_fpn_detector(
    backbone: str,
    num_classes: int,
    norm_layer: type[nn.Module],
    layers: int,
    anchor_sizes: tuple[int, ...] | None,
    returned_layers: list[int] | None,
    options: dict[str, Any],
) -> FasterRCNN:
    """As ``torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn`` (V3 or V2)."""
    body = mobilenet_backbone(
        backbone_name=_MOBILENET_FPN[backbone],
        weights=None,
        fpn=True,
        norm_layer=norm_layer,
        trainable_layers=layers,
        returned_layers=returned_layers,
    )
    levels: tuple[tuple[int, ...], ...]
    if returned_layers is None:
        levels = (tuple(anchor_sizes or (32, 64, 128, 256, 512)),) * 3
    else:
        per_level = anchor_sizes or tuple(32 * 2**i for i in range(len(returned_layers) + 1))
        levels = tuple((a,) for a in per_level)
    return FasterRCNN(
        body,
        num_classes + 1,
        rpn_anchor_generator=AnchorGenerator(levels, ((0.5, 1.0, 2.0),) * len(levels)),
        **{"rpn_score_thresh": 0.05, **options},
    )


def _mobilenet_v2_detector(
    num_classes: int,
    norm_layer: type[nn.Module],
    trainable_layers: int,
    anchor_sizes: Sequence[int] | None,
    options: dict[str, Any],
) -> FasterRCNN:
    """torchvision's documented "Faster R-CNN with a MobileNetV2 backbone", its stages frozen
    from the bottom as torchvision's MobileNet backbones freeze them."""
    features = mobilenet_v2(weights=None, norm_layer=norm_layer).features
    features.out_channels = 1280
    # stage starts: the stem, each stride-2 block, the last block (torchvision's rule)
    stages = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    stages.append(len(features) - 1)
    frozen = len(features) if trainable_layers == 0 else stages[len(stages) - trainable_layers]
    for block in features[:frozen]:
        block.requires_grad_(False)
    sizes = tuple(anchor_sizes or (32, 64, 128, 256, 512))
    return FasterRCNN(
        features,
        num_classes + 1,
        rpn_anchor_generator=AnchorGenerator((sizes,), ((0.5, 1.0, 2.0),)),
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        **options,
    )


def load_detector_weights(model: FasterRCNN, weights_path: str | os.PathLike) -> str:
    """Load a local state dict into ``model`` (read with ``torch.load(weights_only=True)``).

    Three kinds are recognised by their keys:

    - ``"detector"``: a whole Faster R-CNN (keys ``backbone.*``, ``rpn.*``, ``roi_heads.*``),
      e.g. torchvision's COCO weights saved to a file. When its class count differs from
      the model's, the box predictor is left freshly initialised and a warning says so.
    - ``"backbone"``: the detector's backbone with FPN (keys ``body.*``, ``fpn.*``).
    - ``"classifier"``: the ImageNet classification network the backbone is cut from
      (torchvision ``resnet50`` or ``mobilenet_v3_large`` keys); its head is ignored.

    A checkpoint dict holding the state dict under ``"model"`` or ``"state_dict"`` is
    unwrapped first. (torchvision's legacy ``COCO_V1`` ResNet-50 detector was trained with
    frozen batch-norm ``eps=0``, which its own builder restores; here ``eps`` stays 1e-5.)

    Args:
        model: a model from :func:`build_detector`.
        weights_path: the file.

    Returns:
        The kind of state dict loaded.

    Raises:
        ConfigError: the file cannot be read, or its keys or shapes do not fit the model.
    """
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError) as e:
        raise ConfigError(f"{weights_path}: cannot read weights: {e}") from e
    for wrapper in ("model", "state_dict"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ConfigError(f"{weights_path}: not a state dict (a mapping of names to tensors)")
    state = dict(state)
    if any(k.startswith(("rpn.", "roi_heads.")) for k in state):
        kind, target, expected_missing = "detector", model, set()
        head = model.roi_heads.box_predictor.cls_score.out_features
        theirs = state.get(_PREDICTOR + "cls_score.weight")
        if theirs is not None and theirs.shape[0] != head:
            warnings.warn(
                f"{weights_path}: the weights predict {theirs.shape[0]} classes (with background) but "
                f"the model {head}; the box predictor is replaced by a new, untrained one",
                stacklevel=2,
            )
            state = {k: v for k, v in state.items() if not k.startswith(_PREDICTOR)}
            expected_missing = {k for k in model.state_dict() if k.startswith(_PREDICTOR)}
    elif any(k.startswith(("body.", "fpn.")) for k in state):
        kind, target, expected_missing = "backbone", model.backbone, set()
    else:
        # MobileNetV2's backbone is its ``features`` sequence itself
        target = getattr(model.backbone, "body", model.backbone)
        kind, expected_missing = "classifier", set()
        body_keys = set(target.state_dict())
        # MobileNet's body is its ``features`` sequence; ResNet's keeps the layer names.
        state = {k.removeprefix("features."): v for k, v in state.items()}
        state = {
            k: v for k, v in state.items() if k in body_keys or k.endswith("num_batches_tracked")
        }
        if not state:
            raise ConfigError(
                f"{weights_path}: no key matches the model; expected a detector, backbone or "
                f"{type(target).__name__} classifier state dict"
            )
    try:
        result = target.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise ConfigError(f"{weights_path}: {kind} weights do not fit the model: {e}") from e
    missing = [k for k in result.missing_keys if k not in expected_missing]
    if missing or result.unexpected_keys:
        raise ConfigError(
            f"{weights_path}: {kind} weights do not fit the model: "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), "
            f"{len(result.unexpected_keys)} unexpected keys (e.g. {result.unexpected_keys[:3]})"
        )
    return kind
