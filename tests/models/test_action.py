"""Capsule action detector: shapes, MC-dropout contract, bad input, checkpoints, gradients."""

from __future__ import annotations

import dataclasses
import time

import pytest
import torch

from vidal.errors import ConfigError, VidalError
from vidal.models import (
    ActionDetector,
    ActionDetectorConfig,
    ActionOutput,
    CheckpointError,
    ClassCapsules,
    ConvCapsules2d,
    PrimaryCapsules2d,
    em_routing,
)

K = 5
CLIP = (2, 3, 8, 32, 32)  # B, C, T, H, W


def _model(**changes) -> ActionDetector:
    torch.manual_seed(0)
    config = dataclasses.replace(ActionDetectorConfig.small(num_classes=K), **changes)
    return ActionDetector(config)


def _clip(shape=CLIP, seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def model() -> ActionDetector:
    return _model()


# -- shapes ----------------------------------------------------------------------------------


def test_forward_shapes(model):
    out = model(_clip(), labels=torch.tensor([0, 4]))
    assert isinstance(out, ActionOutput)
    assert out.logits.shape == (2, 8, 32, 32)
    assert out.class_scores.shape == (2, K)
    assert out.features.shape == (2, model.feature_dim) == (2, 17 * K)
    assert ((out.class_scores > 0) & (out.class_scores < 1)).all()
    model.eval()
    out = model(_clip((1, 3, 4, 16, 48)))  # the smallest T and a wide frame
    assert out.logits.shape == (1, 4, 16, 48)


def test_labels_mask_the_decoder_not_the_scores(model):
    model.eval()
    clip = _clip()
    a = model(clip, labels=torch.tensor([0, 0]))
    b = model(clip, labels=torch.tensor([1, 0]))
    torch.testing.assert_close(a.class_scores, b.class_scores)
    torch.testing.assert_close(a.logits[1], b.logits[1])
    assert not torch.allclose(a.logits[0], b.logits[0])
    predicted = a.class_scores.argmax(1)
    torch.testing.assert_close(model(clip).logits, model(clip, labels=predicted).logits)


def test_full_config_matches_table_11():
    config = ActionDetectorConfig.full(num_classes=24)
    model = ActionDetector(config)
    assert model.encoder.out_channels == 832
    assert model.feature_dim == 408  # Latent_feats of Table 11
    primary = model.primary_capsules
    assert primary.capsules * (primary.pose_entries + 1) == 544  # Primary_caps of Table 11
    assert model.conv_capsules.out_capsules * 17 == 408  # Conv_caps of Table 11


def test_config_round_trips_through_a_plain_dict(model):
    saved = dataclasses.asdict(model.config)
    assert all(isinstance(v, (int, float, str, type(None))) for v in saved.values())
    rebuilt = ActionDetector(ActionDetectorConfig(**saved))
    rebuilt.load_state_dict(model.state_dict())
    model.eval()
    rebuilt.eval()
    clip = _clip()
    torch.testing.assert_close(rebuilt(clip).logits, model(clip).logits)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_classes", 0),
        ("width", 0.0),
        ("width", 2.0),
        ("capsule_dropout", 1.0),
        ("decoder_dropout", -0.1),
        ("primary_kernel", 2),
        ("routing_iterations", 0),
        ("bn_momentum", 0.0),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        ActionDetectorConfig(**{field: value})


# -- MC dropout ------------------------------------------------------------------------------


def test_mc_forward_without_dropout_repeats_one_map():
    model = _model(capsule_dropout=0.0, decoder_dropout=0.0)
    clip = _clip()
    probs = model.mc_forward(clip, passes=3)
    assert probs.shape == (3, 2, 8, 32, 32)
    assert ((probs >= 0) & (probs <= 1)).all()
    for r in range(1, 3):
        torch.testing.assert_close(probs[r], probs[0], rtol=0, atol=1e-6)
    model.eval()
    torch.testing.assert_close(probs[0], torch.sigmoid(model(clip).logits), rtol=0, atol=1e-6)


def test_mc_forward_with_dropout_varies(model):
    probs = model.mc_forward(_clip(), passes=4, seed=0)
    assert probs.shape == (4, 2, 8, 32, 32)
    assert not torch.allclose(probs[0], probs[1])
    assert probs.std(dim=0).mean() > 0


def test_mc_forward_runs_the_encoder_once(model):
    calls = []
    handle = model.encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        model.mc_forward(_clip(), passes=5, chunk_size=3)
    finally:
        handle.remove()
    assert len(calls) == 1


def test_mc_forward_chunks_and_seed(model):
    clip = _clip()
    a = model.mc_forward(clip, passes=3, seed=7)
    b = model.mc_forward(clip, passes=3, seed=7)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    quiet = _model(capsule_dropout=0.0, decoder_dropout=0.0)
    whole = quiet.mc_forward(clip, passes=3)
    chunked = quiet.mc_forward(clip, passes=3, chunk_size=2)
    torch.testing.assert_close(whole, chunked, rtol=0, atol=1e-6)


def test_mc_forward_features_and_labels():
    quiet = _model(capsule_dropout=0.0, decoder_dropout=0.0)
    clip = _clip()
    labels = torch.tensor([3, 1])
    probs, features = quiet.mc_forward(clip, passes=2, labels=labels, return_features=True)
    quiet.eval()
    out = quiet(clip, labels=labels)
    assert features.shape == (2, quiet.feature_dim)
    torch.testing.assert_close(features, out.features, rtol=0, atol=1e-5)
    torch.testing.assert_close(probs[1], torch.sigmoid(out.logits), rtol=0, atol=1e-6)


def test_mc_forward_restores_modes_and_uses_running_stats(model):
    model.train()
    model.decoder.eval()  # a mixed state must come back as it was
    before = {name: m.training for name, m in model.named_modules()}
    stats = model.encoder.Conv3d_1a_7x7.bn.running_mean.clone()
    model.mc_forward(_clip(), passes=2)
    assert {name: m.training for name, m in model.named_modules()} == before
    torch.testing.assert_close(model.encoder.Conv3d_1a_7x7.bn.running_mean, stats)
    model.eval()


def test_dropout_sits_after_the_encoder(model):
    dropouts = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts and not any(n.startswith("encoder.") for n in dropouts)
    assert "capsule_dropout" in dropouts and any(n.startswith("decoder.") for n in dropouts)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 8, 32, 32), r"clip must have shape \[B, C=3, T, H, W\] \(5-D\)"),
        ((1, 1, 8, 32, 32), r"clip must have shape \[B, C=3, T, H, W\], got C=1"),
        ((1, 3, 6, 32, 32), r"T a multiple of 4 .* got \[1, 3, 6, 32, 32\]"),
        ((1, 3, 8, 40, 32), r"H, W multiples of 16"),
    ],
)
def test_bad_clip_shape_is_named(model, shape, message):
    with pytest.raises(VidalError, match=message):
        model(torch.zeros(shape))
    with pytest.raises(VidalError, match=message):
        model.mc_forward(torch.zeros(shape), passes=2)


def test_nan_clip_is_rejected(model):
    clip = _clip()
    clip[1, 2, 3, 4, 5] = float("nan")
    with pytest.raises(VidalError, match="clip contains NaN"):
        model(clip)
    with pytest.raises(VidalError, match="clip contains NaN"):
        model.mc_forward(clip, passes=2)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.tensor([0]), r"labels must be an integer Tensor\[B=2\]"),
        (torch.tensor([0.0, 1.0]), r"labels must be an integer Tensor\[B=2\]"),
        (torch.tensor([0, K]), rf"class indices in \[0, {K}\)"),
        ([0, 1], r"labels must be an integer Tensor\[B=2\]"),
    ],
)
def test_bad_labels_are_named(model, labels, message):
    with pytest.raises(VidalError, match=message):
        model(_clip(), labels=labels)


def test_bad_mc_arguments(model):
    with pytest.raises(VidalError, match="passes=0"):
        model.mc_forward(_clip(), passes=0)
    with pytest.raises(VidalError, match="chunk_size=0"):
        model.mc_forward(_clip(), passes=2, chunk_size=0)


def test_checkpoint_for_other_class_count_is_named(model):
    other = ActionDetector(ActionDetectorConfig.small(num_classes=K + 2))
    with pytest.raises(
        CheckpointError, match=rf"num_classes={K}, this model has num_classes={K + 2}"
    ):
        other.load_state_dict(model.state_dict())


def test_checkpoint_of_other_width_is_named(model):
    wider = ActionDetector(dataclasses.replace(model.config, width=0.25))
    with pytest.raises(CheckpointError, match=r"shape mismatch.*encoder\.Conv3d_1a_7x7"):
        wider.load_state_dict(model.state_dict())


# -- training --------------------------------------------------------------------------------


def test_gradients_reach_every_parameter():
    model = _model()
    model.train()
    out = model(_clip(), labels=torch.tensor([1, 2]))
    loss = out.logits.mean() + out.class_scores.sum() + out.features.square().mean()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_small_preset_is_fast_on_cpu():
    model = _model()
    model.train()
    clip, labels = _clip(), torch.tensor([0, 1])

    def step() -> float:
        start = time.perf_counter()
        out = model(clip, labels=labels)
        (out.logits.mean() + out.class_scores.sum()).backward()
        return time.perf_counter() - start

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a loaded CI box, extra threads only spin
    try:
        step()  # first call pays for kernel selection
        assert min(step() for _ in range(3)) < 1.0
    finally:
        torch.set_num_threads(threads)


# -- capsule layers --------------------------------------------------------------------------


def test_em_routing_single_parent_is_weighted_mean():
    votes = torch.randn(3, 6, 1, 16)
    acts = torch.rand(3, 6)
    poses, out = em_routing(votes, acts, beta_u=torch.zeros(1), beta_a=torch.zeros(1))
    expected = (votes[:, :, 0] * acts[..., None]).sum(1) / acts.sum(1, keepdim=True)
    torch.testing.assert_close(poses[:, 0], expected, rtol=1e-4, atol=1e-5)
    assert out.shape == (3, 1) and ((out > 0) & (out < 1)).all()


def test_em_routing_prefers_the_parent_the_votes_agree_on():
    gen = torch.Generator().manual_seed(0)
    centre = torch.randn(16, generator=gen)
    votes = torch.empty(1, 8, 2, 16)
    votes[0, :, 0] = centre + 0.01 * torch.randn(8, 16, generator=gen)  # agreement
    votes[0, :, 1] = 3.0 * torch.randn(8, 16, generator=gen)  # disagreement
    poses, acts = em_routing(
        votes, torch.ones(1, 8), beta_u=torch.zeros(2), beta_a=torch.zeros(2), iterations=3
    )
    assert acts[0, 0] > 0.9 > acts[0, 1]  # a parent left without data sits at sigmoid(beta_a)
    torch.testing.assert_close(poses[0, 0], centre, rtol=0, atol=0.02)


def test_capsule_layers_shapes_and_padding():
    primary = PrimaryCapsules2d(6, 3, kernel_size=3)
    poses, acts = primary(torch.randn(2, 6, 5, 7))
    assert poses.shape == (2, 3, 16, 5, 7) and acts.shape == (2, 3, 5, 7)
    conv = ConvCapsules2d(3, 4, kernel_size=3, stride=2)
    poses2, acts2 = conv(poses, acts)
    assert poses2.shape == (2, 4, 16, 3, 4) and acts2.shape == (2, 4, 3, 4)
    class_poses, scores = ClassCapsules(4)(poses2, acts2)
    assert class_poses.shape == (2, 4, 16) and scores.shape == (2, 4)
    with pytest.raises(VidalError, match=r"poses must have shape \[B, I=3, P=16, H, W\]"):
        conv(poses[:, :2], acts[:, :2])
    with pytest.raises(VidalError, match=r"activations must have shape \[B=2, I=3, H=5, W=7\]"):
        conv(poses, acts[..., :3])


def test_class_capsules_pool_each_type():
    poses = torch.randn(1, 2, 16, 3, 3)
    acts = torch.zeros(1, 2, 3, 3)
    acts[0, 0, 1, 2] = 1.0  # one active capsule of type 0: its pose is the class pose
    acts[0, 1] = 0.5
    class_poses, scores = ClassCapsules(2)(poses, acts)
    torch.testing.assert_close(class_poses[0, 0], poses[0, 0, :, 1, 2], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(class_poses[0, 1], poses[0, 1].mean((-2, -1)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(scores, torch.tensor([[1 / 9, 0.5]]))


def test_conv_capsules_match_a_loop_over_windows():
    # the vectorised unfold + routing equals routing each window by hand
    torch.manual_seed(0)
    conv = ConvCapsules2d(2, 3, kernel_size=3, iterations=2)
    poses, acts = torch.randn(1, 2, 16, 4, 4), torch.rand(1, 2, 4, 4)
    out_poses, out_acts = conv(poses, acts)
    padded_p = torch.nn.functional.pad(poses, (1, 1, 1, 1))
    padded_a = torch.nn.functional.pad(acts, (1, 1, 1, 1))
    y, x = 2, 1
    window_p = padded_p[0, :, :, y : y + 3, x : x + 3]  # [I, P, 3, 3]
    window_a = padded_a[0, :, y : y + 3, x : x + 3]  # [I, 3, 3]
    children_p = window_p.permute(2, 3, 0, 1).reshape(9 * 2, 4, 4)  # kernel offset, then type
    children_a = window_a.permute(1, 2, 0).reshape(1, 9 * 2)
    votes = torch.einsum("ixy,ijyz->ijxz", children_p, conv.weight).reshape(1, 18, 3, 16)
    mu, a = em_routing(votes, children_a, beta_u=conv.beta_u, beta_a=conv.beta_a, iterations=2)
    torch.testing.assert_close(out_poses[0, :, :, y, x], mu[0])
    torch.testing.assert_close(out_acts[0, :, y, x], a[0])


@pytest.mark.slow
def test_full_size_forward():
    model = ActionDetector(ActionDetectorConfig.full(num_classes=24)).eval()
    with torch.no_grad():
        out = model(_clip((1, 3, 8, 224, 224)))
        probs = model.mc_forward(_clip((1, 3, 8, 224, 224)), passes=2)
    assert out.logits.shape == (1, 8, 224, 224)
    assert out.class_scores.shape == (1, 24) and out.features.shape == (1, 408)
    assert probs.shape == (2, 1, 8, 224, 224)
