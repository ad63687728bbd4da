"""The Faster R-CNN frame detector: architecture, class probabilities, local weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn, fasterrcnn_resnet50_fpn
from torchvision.models.detection.roi_heads import RoIHeads

from vidal.errors import ConfigError
from vidal.models.detector import RoIHeadsWithProbs, build_detector, load_detector_weights

# torchvision's own detector tests run at min_size=100; small RPN/RoI samples keep CPU time low.
SMALL = dict(min_size=100, max_size=160, rpn_pre_nms_top_n_test=200, rpn_post_nms_top_n_test=100)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mobilenet() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_detector(2, backbone="mobilenet_v3_fpn", score_thresh=0.0, **SMALL).eval()
    with torch.no_grad():  # favour class 1, so some detections score above 0.5
        model.roi_heads.box_predictor.cls_score.bias.copy_(torch.tensor([0.0, 3.0, 0.0]))
    return model


def _images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.rand(3, 60, 80, generator=g), torch.rand(3, 72, 64, generator=g)]


def _stock_heads(heads: RoIHeadsWithProbs) -> RoIHeads:
    """torchvision's RoIHeads with the same modules and settings."""
    return RoIHeads(
        heads.box_roi_pool,
        heads.box_head,
        heads.box_predictor,
        heads.proposal_matcher.high_threshold,
        heads.proposal_matcher.low_threshold,
        heads.fg_bg_sampler.batch_size_per_image,
        heads.fg_bg_sampler.positive_fraction,
        heads.box_coder.weights,
        heads.score_thresh,
        heads.nms_thresh,
        heads.detections_per_img,
    ).eval()


@pytest.mark.parametrize(
    "backbone, reference",
    [
        ("mobilenet_v3_fpn", fasterrcnn_mobilenet_v3_large_fpn),
        ("resnet50_fpn", fasterrcnn_resnet50_fpn),
    ],
)
def test_architecture_is_torchvisions(backbone, reference):
    ours = build_detector(3, backbone=backbone)
    theirs = reference(weights=None, weights_backbone=None, num_classes=4)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    assert ours.rpn.anchor_generator.sizes == theirs.rpn.anchor_generator.sizes
    assert ours.rpn.score_thresh == theirs.rpn.score_thresh
    assert ours.transform.min_size == (300,)  # the thesis' fixed height
    assert isinstance(ours.roi_heads, RoIHeadsWithProbs)


def test_probs_agree_with_labels_and_scores(mobilenet):
    captured = []
    hook = mobilenet.roi_heads.box_predictor.register_forward_hook(
        lambda m, i, o: captured.append(o[0])
    )
    try:
        with torch.no_grad():
            out = mobilenet(_images())
    finally:
        hook.remove()
    all_probs = F.softmax(captured[0], -1)  # [P, K + 1] over all proposals of the batch
    strong = 0
    for det in out:
        n = len(det["scores"])
        assert n > 0
        assert det["probs"].shape == (n, 3) and det["boxes"].shape == (n, 4)
        torch.testing.assert_close(det["probs"].sum(1), torch.ones(n))
        # the score is the probability of the label, exactly
        assert torch.equal(det["probs"][torch.arange(n), det["labels"]], det["scores"])
        assert (det["probs"].max(1).values >= det["scores"]).all()
        # a score above one half is the arg-max of the distribution
        high = det["scores"] > 0.5
        strong += int(high.sum())
        assert torch.equal(det["probs"][high].argmax(1), det["labels"][high])
        # every row is the softmax of one proposal's logits
        assert (torch.cdist(det["probs"], all_probs).min(1).values == 0).all()
    assert strong > 0


def test_boxes_scores_labels_are_torchvisions(mobilenet):
    heads = mobilenet.roi_heads
    with torch.no_grad():
        ours = mobilenet(_images())
        mobilenet.roi_heads = _stock_heads(heads)
        try:
            theirs = mobilenet(_images())
        finally:
            mobilenet.roi_heads = heads
    for a, b in zip(ours, theirs, strict=True):
        assert "probs" not in b
        for key in ("boxes", "scores", "labels"):
            assert torch.equal(a[key], b[key])


def test_resnet50_forward_gives_probs():
    model = build_detector(
        1, backbone="resnet50_fpn", score_thresh=0.0, detections_per_img=10, **SMALL
    ).eval()
    with torch.no_grad():
        det = model([torch.rand(3, 50, 70)])[0]
    n = len(det["scores"])
    assert det["probs"].shape == (n, 2)
    assert torch.equal(det["probs"][torch.arange(n), det["labels"]], det["scores"])
    assert (det["boxes"][:, 2] <= 70).all() and (det["boxes"][:, 3] <= 50).all()  # input pixels


def test_training_mode_returns_losses_with_empty_targets():
    model = build_detector(2, backbone="mobilenet_v3_fpn", **SMALL).train()
    targets = [
        {"boxes": torch.tensor([[5.0, 5.0, 30.0, 40.0]]), "labels": torch.tensor([2])},
        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
    ]
    losses = model(_images(), targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_full_detector_weights_round_trip(tmp_path: Path, mobilenet):
    path = tmp_path / "det.pt"
    torch.save(mobilenet.state_dict(), path)
    loaded = build_detector(2, backbone="mobilenet_v3_fpn", weights_path=path, **SMALL)
    ours = mobilenet.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, ours[key]), key
    # pretrained: frozen batch norm and torchvision's default of 3 trainable layers
    assert isinstance(loaded.backbone.body["0"][1], torchvision.ops.FrozenBatchNorm2d)
    assert not any(p.requires_grad for p in loaded.backbone.body["0"].parameters())


def test_other_class_count_replaces_the_predictor(tmp_path: Path, mobilenet):
    path = tmp_path / "det.pt"
    torch.save({"model": mobilenet.state_dict()}, path)  # a checkpoint wrapping the weights
    with pytest.warns(UserWarning, match="box predictor is replaced"):
        loaded = build_detector(4, backbone="mobilenet_v3_fpn", weights_path=path, **SMALL)
    assert loaded.roi_heads.box_predictor.cls_score.out_features == 5
    assert torch.equal(
        loaded.roi_heads.box_head.fc6.weight, mobilenet.roi_heads.box_head.fc6.weight
    )


def test_backbone_only_weights(tmp_path: Path):
    classifier = torchvision.models.mobilenet_v3_large(weights=None)
    path = tmp_path / "mobilenet_v3_large.pth"
    torch.save(classifier.state_dict(), path)
    model = build_detector(2, backbone="mobilenet_v3_fpn", **SMALL)
    assert load_detector_weights(model, path) == "classifier"
    assert torch.equal(model.backbone.body["0"][0].weight, classifier.features[0][0].weight)
    path2 = tmp_path / "backbone.pt"
    torch.save(model.backbone.state_dict(), path2)
    other = build_detector(2, backbone="mobilenet_v3_fpn", **SMALL)
    assert load_detector_weights(other, path2) == "backbone"
    assert torch.equal(
        other.backbone.fpn.layer_blocks[0][0].weight, model.backbone.fpn.layer_blocks[0][0].weight
    )


def test_bad_weights_and_options(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        build_detector(2, backbone="mobilenet_v3_fpn", weights_path=tmp_path / "missing.pt")
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
    with pytest.raises(ConfigError, match="do not fit|no key"):
        build_detector(2, backbone="mobilenet_v3_fpn", weights_path=path)
    with pytest.raises(ConfigError, match="known backbones"):
        build_detector(2, backbone="vgg16")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="trainable_backbone_layers"):
        build_detector(2, backbone="mobilenet_v3_fpn", trainable_backbone_layers=7)
    with pytest.raises(ConfigError, match="own arguments"):
        build_detector(2, backbone="mobilenet_v3_fpn", box_score_thresh=0.3)


def test_anchor_sizes_let_small_objects_match():
    from torchvision.ops import box_iou

    small = torch.tensor([[40.0, 40.0, 52.0, 52.0]])  # a 12 px object on ResNet-50 FPN's P2 grid
    best = {}
    for sizes in (None, (16, 32, 64, 128, 256)):
        model = build_detector(2, min_size=96, max_size=128, anchor_sizes=sizes)
        images, _ = model.transform([torch.rand(3, 96, 128)])
        feats = list(model.backbone(images.tensors).values())
        best[sizes] = float(box_iou(small, model.rpn.anchor_generator(images, feats)[0]).max())
    assert best[None] < 0.3 < best[(16, 32, 64, 128, 256)]  # 0.3: the RPN's background IoU
    mobile = build_detector(2, backbone="mobilenet_v3_fpn", anchor_sizes=(16, 32, 64))
    assert mobile.rpn.anchor_generator.sizes == ((16, 32, 64),) * 3
    assert mobile.rpn.head.cls_logits.out_channels == 9  # 3 sizes x 3 aspect ratios
    with pytest.raises(ConfigError, match="anchor_sizes"):
        build_detector(2, backbone="resnet50_fpn", anchor_sizes=(16, 32))
    with pytest.raises(ConfigError, match="anchor_sizes"):
        build_detector(2, backbone="mobilenet_v3_fpn", anchor_sizes=(0, 32))


def test_mobilenet_returned_layers_add_finer_levels():
    from torchvision.ops import box_iou

    small = torch.tensor([[80.0, 80.0, 96.0, 96.0]])  # 16 px in a 240 x 320 image
    best, strides = {}, {}
    for layers in (None, (2, 3, 4, 5)):
        model = build_detector(
            2,
            backbone="mobilenet_v3_fpn",
            min_size=240,
            max_size=320,
            returned_layers=layers,
            anchor_sizes=None if layers is None else (16, 32, 64, 128, 256),
        )
        images, _ = model.transform([torch.rand(3, 240, 320)])
        feats = list(model.backbone(images.tensors).values())
        strides[layers] = [round(320 / f.shape[-1]) for f in feats]
        best[layers] = float(box_iou(small, model.rpn.anchor_generator(images, feats)[0]).max())
    assert strides[None] == [32, 32, 64]  # torchvision's MobileNetV3 FPN
    assert strides[(2, 3, 4, 5)] == [8, 16, 32, 32, 64]
    assert best[None] < 0.3 < 0.7 < best[(2, 3, 4, 5)]  # 0.3 / 0.7: the RPN's IoU thresholds
    default = build_detector(2, backbone="mobilenet_v3_fpn", returned_layers=[3, 4, 5])
    assert default.rpn.anchor_generator.sizes == ((32,), (64,), (128,), (256,))
    with pytest.raises(ConfigError, match="anchor_sizes"):  # one size per level
        build_detector(
            2, backbone="mobilenet_v3_fpn", returned_layers=[3, 4, 5], anchor_sizes=(16, 32)
        )
    with pytest.raises(ConfigError, match="returned_layers"):
        build_detector(2, backbone="mobilenet_v3_fpn", returned_layers=[0, 5])
    with pytest.raises(ConfigError, match="returned_layers"):
        build_detector(2, backbone="resnet50_fpn", returned_layers=[2, 3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    model = (
        build_detector(2, backbone="mobilenet_v3_fpn", score_thresh=0.0, **SMALL).eval().to("cuda")
    )
    with torch.no_grad():
        det = model([img.to("cuda") for img in _images()])[0]
    assert det["probs"].device.type == "cuda"
    n = len(det["scores"])
    assert torch.equal(det["probs"][torch.arange(n, device="cuda"), det["labels"]], det["scores"])
