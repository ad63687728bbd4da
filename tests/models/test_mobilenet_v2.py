"""Faster R-CNN on a MobileNetV2 backbone with ImageNet weights from a file named its own way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign

from vidal.errors import ConfigError, VidalError
from vidal.models.detector import build_detector, load_detector_weights
from vidal.models.mobilenet_v2 import (
    load_mobilenet_v2_features,
    mobilenet_v2_feature_shapes,
    remap_mobilenet_v2_state,
)

SMALL = dict(min_size=96, max_size=128, rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=20)


def _renamed_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random MobileNetV2 feature state dict under other names (the shipped file's scheme:
    ``features.1.conv.0.weight`` where torchvision has ``1.conv.0.0.weight``), batch-norm
    parameters and statistics randomised too so a misplaced tensor shows."""
    torch.manual_seed(seed)
    features = torchvision.models.mobilenet_v2(weights=None).features
    state = {}
    for i, (key, value) in enumerate(features.state_dict().items()):
        leaf = key.rsplit(".", 1)[-1]
        if value.ndim == 1 and leaf in ("weight", "running_var"):
            value = torch.rand_like(value) + 0.5
        elif value.ndim == 1:
            value = 0.1 * torch.randn_like(value)
        state[f"features.block{i:03d}.{leaf}"] = value
    return state


def _positional_reference(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """torchvision's features (ordinary batch norm) with ``state`` loaded by position."""
    reference = torchvision.models.mobilenet_v2(weights=None).features
    keys = list(reference.state_dict())
    reference.load_state_dict(dict(zip(keys, state.values(), strict=True)))
    return reference.eval()


def _check_exact(backbone: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    ours = backbone.state_dict()
    shapes = mobilenet_v2_feature_shapes()
    assert len(shapes) == len(state) == 312
    for (name, tensor), ref in zip(state.items(), shapes, strict=True):
        if ref.endswith("num_batches_tracked"):
            assert ref not in ours  # frozen batch norm keeps no counter
            continue
        assert torch.equal(ours[ref], tensor), (name, ref)


def test_remap_is_exact_and_the_output_is_the_positional_reference(tmp_path: Path):
    state = _renamed_state()
    remapped = remap_mobilenet_v2_state(state)
    assert list(remapped) == list(mobilenet_v2_feature_shapes())
    assert all(a is b for a, b in zip(remapped.values(), state.values(), strict=True))
    path = tmp_path / "renamed.pt"
    torch.save(state, path)
    model = build_detector(2, backbone="mobilenet_v2", backbone_weights=path, **SMALL).eval()
    _check_exact(model.backbone, state)
    # pretrained: frozen batch norm, and torchvision's 3 trainable stages (stages start at
    # blocks 0, 2, 4, 7, 14, 18, so blocks 7 onwards train)
    assert isinstance(model.backbone[0][1], FrozenBatchNorm2d)
    trainable = [any(p.requires_grad for p in b.parameters()) for b in model.backbone]
    assert trainable == [False] * 7 + [True] * 12
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(
            model.backbone(x), _positional_reference(state)(x), rtol=1e-4, atol=1e-4
        )


def test_the_shipped_imagenet_file(mobilenet_v2_file: Path, davis_car):
    state = torch.load(mobilenet_v2_file, weights_only=True)
    model = build_detector(1, backbone="mobilenet_v2", backbone_weights=mobilenet_v2_file).eval()
    _check_exact(model.backbone, state)
    frame = torch.from_numpy(davis_car[0][0]).permute(2, 0, 1).float() / 255
    with torch.no_grad():
        images, _ = model.transform([frame])  # ImageNet normalisation, 300 px
        ours = model.backbone(images.tensors)
        theirs = _positional_reference(state)(images.tensors)
    assert ours.shape[1] == 1280
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    fpn = build_detector(1, backbone="mobilenet_v2_fpn", backbone_weights=mobilenet_v2_file)
    _check_exact(fpn.backbone.body, state)


def test_architecture_is_torchvisions_documented_recipe():
    ours = build_detector(2, backbone="mobilenet_v2", **SMALL)
    # torchvision's docs, "Faster R-CNN with a MobileNetV2 backbone"
    backbone = torchvision.models.mobilenet_v2(weights=None).features
    backbone.out_channels = 1280
    with torch.device("meta"):  # shapes only
        theirs = FasterRCNN(
            backbone,
            num_classes=3,
            rpn_anchor_generator=AnchorGenerator(((32, 64, 128, 256, 512),), ((0.5, 1.0, 2.0),)),
            box_roi_pool=MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2),
        )
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    assert ours.rpn.anchor_generator.sizes == ((32, 64, 128, 256, 512),)
    assert ours.roi_heads.box_roi_pool.featmap_names == ["0"]
    assert all(p.requires_grad for p in ours.backbone.parameters())  # untrained: all layers
    det = ours.eval()([torch.rand(3, 60, 80)])[0]
    assert det["probs"].shape == (len(det["scores"]), 3)


def test_fpn_variant_has_finer_levels(tmp_path: Path):
    path = tmp_path / "renamed.pt"
    torch.save(_renamed_state(), path)
    frozen = build_detector(
        2, backbone="mobilenet_v2_fpn", backbone_weights=path, trainable_backbone_layers=0
    )
    assert not any(p.requires_grad for p in frozen.backbone.body.parameters())
    model = build_detector(
        2,
        backbone="mobilenet_v2_fpn",
        returned_layers=[2, 3, 4, 5],
        anchor_sizes=(16, 32, 64, 128, 256),
        min_size=240,
        max_size=320,
    )
    images, _ = model.transform([torch.rand(3, 240, 320)])
    feats = list(model.backbone(images.tensors).values())
    assert [round(320 / f.shape[-1]) for f in feats] == [8, 16, 32, 32, 64]


def test_wrong_backbone_files(tmp_path: Path):
    features = torchvision.models.mobilenet_v2(weights=None).features

    def fails(obj, message: str) -> None:
        path = tmp_path / "bad.pt"
        torch.save(obj, path)
        with pytest.raises(VidalError, match=message):
            load_mobilenet_v2_features(features, path)

    resnet = torchvision.models.resnet18(weights=None).state_dict()
    fails(
        resnet,
        r"bad\.pt: tensor 0 'conv1\.weight' \(64, 3, 7, 7\) .* "
        r"MobileNetV2's '0\.0\.weight' \(32, 3, 3, 3\)",
    )
    state = _renamed_state()
    fails(
        dict(list(state.items())[:300]),
        r"300 tensors, MobileNetV2's features have 312; "
        r"the first missing is '17\.conv\.2\.weight' \(320, 960, 1, 1\)",
    )
    fails({**state, "head.weight": torch.zeros(10, 1280)}, r"the first extra is 'head\.weight'")
    swapped = list(state.items())
    swapped[1], swapped[2] = swapped[2], swapped[1]  # batch norm weight and bias
    fails(dict(swapped), r"tensor 1 'features\.block002\.bias' \(32,\) .* '0\.1\.weight'")
    fails([torch.zeros(3)], "not a state dict")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(VidalError, match=r"garbage\.pt: cannot read MobileNetV2 weights"):
        load_mobilenet_v2_features(features, garbage)
    # through the builder, the same one-line error
    torch.save(resnet, tmp_path / "resnet.pt")
    with pytest.raises(VidalError, match=r"resnet\.pt: tensor 0 'conv1\.weight'"):
        build_detector(2, backbone="mobilenet_v2", backbone_weights=tmp_path / "resnet.pt")
    # a torchvision classifier state dict (with its head) loads: names differ, order is kept
    classifier = torchvision.models.mobilenet_v2(weights=None)
    torch.save(classifier.state_dict(), tmp_path / "classifier.pt")
    load_mobilenet_v2_features(features, tmp_path / "classifier.pt")
    assert torch.equal(features[5].conv[1][0].weight, classifier.features[5].conv[1][0].weight)


def test_backbone_weights_options(tmp_path: Path):
    with pytest.raises(ConfigError, match="backbone_weights is for the mobilenet_v2 backbones"):
        build_detector(2, backbone="mobilenet_v3_fpn", backbone_weights=tmp_path / "x.pt")
    with pytest.raises(ConfigError, match="and weights_path"):
        build_detector(
            2,
            backbone="mobilenet_v2",
            backbone_weights=tmp_path / "x.pt",
            weights_path=tmp_path / "y.pt",
        )
    with pytest.raises(ConfigError, match="returned_layers"):
        build_detector(2, backbone="mobilenet_v2", returned_layers=[2, 3])


def test_classifier_weights_path(tmp_path: Path):
    """``weights_path`` with torchvision's MobileNetV2 classifier (``features.*`` keys, head
    ignored) loads into the backbone, which is the ``features`` sequence itself."""
    model = build_detector(2, backbone="mobilenet_v2", **SMALL)
    classifier = torchvision.models.mobilenet_v2(weights=None)
    torch.save(classifier.state_dict(), tmp_path / "cls.pt")
    assert load_detector_weights(model, tmp_path / "cls.pt") == "classifier"
    assert torch.equal(model.backbone[18][0].weight, classifier.features[18][0].weight)
