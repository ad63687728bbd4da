"""Inception-I3D: checkpoint key layout, TF "SAME" stride math, weight loading, bad input."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from vidal.errors import VidalError
from vidal.models import (
    I3D_ENDPOINTS,
    CheckpointError,
    InceptionI3d,
    i3d_state_dict_shapes,
    load_i3d_weights,
)
from vidal.models.i3d import _same_padding

# channels of each endpoint at full width, and its stride (T, H, W) (Carreira & Zisserman 2017)
_EXPECTED = {
    "Conv3d_1a_7x7": (64, (2, 2, 2)),
    "MaxPool3d_2a_3x3": (64, (2, 4, 4)),
    "Conv3d_2b_1x1": (64, (2, 4, 4)),
    "Conv3d_2c_3x3": (192, (2, 4, 4)),
    "MaxPool3d_3a_3x3": (192, (2, 8, 8)),
    "Mixed_3b": (256, (2, 8, 8)),
    "Mixed_3c": (480, (2, 8, 8)),
    "MaxPool3d_4a_3x3": (480, (4, 16, 16)),
    "Mixed_4b": (512, (4, 16, 16)),
    "Mixed_4c": (512, (4, 16, 16)),
    "Mixed_4d": (512, (4, 16, 16)),
    "Mixed_4e": (528, (4, 16, 16)),
    "Mixed_4f": (832, (4, 16, 16)),
    "MaxPool3d_5a_2x2": (832, (8, 32, 32)),
    "Mixed_5b": (832, (8, 32, 32)),
    "Mixed_5c": (1024, (8, 32, 32)),
}


def _random_checkpoint(num_classes: int = 400) -> dict[str, torch.Tensor]:
    """A state dict with exactly the pytorch-i3d keys and shapes, random values (a fresh dict)."""
    return dict(_cached_checkpoint(num_classes))


@functools.cache
def _cached_checkpoint(num_classes: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in i3d_state_dict_shapes(num_classes).items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen)
    return state


def test_key_list_matches_public_layout():
    shapes = i3d_state_dict_shapes()
    assert shapes["Conv3d_1a_7x7.conv3d.weight"] == (64, 3, 7, 7, 7)
    assert shapes["Conv3d_1a_7x7.bn.num_batches_tracked"] == ()
    assert "Conv3d_1a_7x7.conv3d.bias" not in shapes  # no bias before batch norm
    assert shapes["Conv3d_2c_3x3.conv3d.weight"] == (192, 64, 3, 3, 3)
    assert shapes["Mixed_3b.b1b.conv3d.weight"] == (128, 96, 3, 3, 3)
    assert shapes["Mixed_4f.b3b.conv3d.weight"] == (128, 528, 1, 1, 1)
    assert shapes["Mixed_5c.b0.bn.running_var"] == (384,)
    assert shapes["logits.conv3d.weight"] == (400, 1024, 1, 1, 1)
    assert shapes["logits.conv3d.bias"] == (400,)
    assert i3d_state_dict_shapes(157)["logits.conv3d.weight"] == (157, 1024, 1, 1, 1)
    branches = {k.split(".")[1] for k in shapes if k.startswith("Mixed_4c.")}
    assert branches == {"b0", "b1a", "b1b", "b2a", "b2b", "b3b"}
    # 3 stem units + 9 modules x 6 units, 6 keys each (conv weight, 5 bn), logits weight, bias
    assert len(shapes) == (3 + 9 * 6) * 6 + 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"final_endpoint": "Logits"},
        {"final_endpoint": "Logits", "num_classes": 157},
        {"final_endpoint": "Mixed_4f"},
        {"final_endpoint": "Mixed_3b", "width": 1 / 8, "in_channels": 2},
    ],
)
def test_model_state_dict_equals_key_list(kwargs):
    model = InceptionI3d(**kwargs)
    expected = i3d_state_dict_shapes(
        kwargs.get("num_classes", 400),
        in_channels=kwargs.get("in_channels", 3),
        final_endpoint=kwargs["final_endpoint"],
        width=kwargs.get("width", 1.0),
    )
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(expected)
    assert got == expected


def test_batch_norm_settings():
    bns = [m for m in InceptionI3d(final_endpoint="Mixed_3b").modules() if hasattr(m, "eps")]
    assert len(bns) == 9
    assert all(bn.eps == pytest.approx(1e-3) and bn.momentum == pytest.approx(0.01) for bn in bns)
    fast = InceptionI3d(final_endpoint="Mixed_3b", bn_momentum=0.1)
    assert all(m.momentum == pytest.approx(0.1) for m in fast.modules() if hasattr(m, "eps"))


def test_random_checkpoint_loads_strictly(tmp_path):
    state = _random_checkpoint()
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(state, path)
    model = InceptionI3d(final_endpoint="Logits")
    result = load_i3d_weights(model, path, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_full_checkpoint_loads_into_truncated_encoder(tmp_path):
    state = _random_checkpoint(157)  # a Charades-shaped file
    path = tmp_path / "rgb_charades.pt"
    torch.save(state, path)
    model = InceptionI3d(final_endpoint="Mixed_4f")
    load_i3d_weights(model, path)
    loaded = model.state_dict()
    assert set(loaded) < set(state)
    assert not any(k.startswith(("Mixed_5", "logits")) for k in loaded)
    assert all(torch.equal(v, state[k]) for k, v in loaded.items())


def test_checkpoint_without_num_batches_tracked_loads(tmp_path):
    state = {k: v for k, v in _random_checkpoint().items() if "num_batches_tracked" not in k}
    path = tmp_path / "old.pt"
    torch.save(state, path)
    load_i3d_weights(InceptionI3d(final_endpoint="Logits"), path)


def test_class_count_mismatch_names_the_key(tmp_path):
    path = tmp_path / "rgb_charades.pt"
    torch.save(_random_checkpoint(157), path)
    with pytest.raises(CheckpointError, match=r"logits\.conv3d\.weight.*157"):
        load_i3d_weights(InceptionI3d(final_endpoint="Logits", num_classes=400), path)


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = _random_checkpoint()
    del state["Mixed_3c.b2b.conv3d.weight"]
    state["Mixed_3c.b9.conv3d.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pt"
    torch.save(state, path)
    model = InceptionI3d(final_endpoint="Logits")
    with pytest.raises(CheckpointError, match=r"missing keys.*Mixed_3c\.b2b\.conv3d\.weight"):
        load_i3d_weights(model, path)
    with pytest.raises(CheckpointError, match=r"unexpected keys.*Mixed_3c\.b9"):
        load_i3d_weights(model, path)
    result = load_i3d_weights(model, path, strict=False)
    assert result.missing_keys == ["Mixed_3c.b2b.conv3d.weight"]
    assert result.unexpected_keys == ["Mixed_3c.b9.conv3d.weight"]


def test_narrow_model_rejects_checkpoint(tmp_path):
    path = tmp_path / "rgb_imagenet.pt"
    torch.save(_random_checkpoint(), path)
    with pytest.raises(CheckpointError, match=r"shape mismatch.*Conv3d_1a_7x7\.conv3d\.weight"):
        load_i3d_weights(InceptionI3d(width=1 / 8), path)


def test_bad_files(tmp_path):
    model = InceptionI3d(final_endpoint="Conv3d_1a_7x7")
    with pytest.raises(CheckpointError, match="not found"):
        load_i3d_weights(model, tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_i3d_weights(model, tmp_path / "junk.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="state dict"):
        load_i3d_weights(model, tmp_path / "list.pt")


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pad"),
    [
        ([8], [7], [2], [2, 3]),  # TF puts the odd cell after
        ([224], [7], [2], [2, 3]),
        ([4], [3], [2], [0, 1]),
        ([5], [3], [2], [1, 1]),
        ([2], [2], [2], [0, 0]),
        ([3], [2], [2], [0, 1]),
        ([6, 9], [1, 3], [1, 2], [1, 1, 0, 0]),  # last dim first, as F.pad wants
    ],
)
def test_same_padding_is_tf_style(size, kernel, stride, pad):
    assert _same_padding(size, kernel, stride) == pad


def test_endpoint_shapes_small_input():
    model = InceptionI3d(final_endpoint="Mixed_5c").eval()
    t, h, w = 8, 32, 48
    with torch.no_grad():
        out = model(torch.zeros(1, 3, t, h, w), endpoints=list(_EXPECTED))
    assert list(out) == list(_EXPECTED)
    for name, (channels, (st, sh, sw)) in _EXPECTED.items():
        size = (math.ceil(t / st), math.ceil(h / sh), math.ceil(w / sw))
        assert out[name].shape == (1, channels, *size), name
    assert model.out_channels == 1024
    assert model.endpoint_channels == {k: c for k, (c, _) in _EXPECTED.items()}


def test_odd_sizes_use_ceil():
    model = InceptionI3d(final_endpoint="Mixed_4f", width=1 / 8).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 5, 33, 17))
    assert out.shape == (1, 104, math.ceil(5 / 4), math.ceil(33 / 16), math.ceil(17 / 16))


def test_logits_endpoint_small_input():
    model = InceptionI3d(final_endpoint="Logits", num_classes=7, width=1 / 8).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 8, 32, 32)).shape == (2, 7)


@pytest.mark.slow
def test_full_size_shapes():
    model = InceptionI3d(final_endpoint="Logits").eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 8, 224, 224), endpoints=["Mixed_4f"])
    assert out["Mixed_4f"].shape == (1, 832, 2, 14, 14)
    assert out["Logits"].shape == (1, 400)


def test_bad_input_is_named():
    model = InceptionI3d(final_endpoint="Conv3d_1a_7x7")
    with pytest.raises(VidalError, match=r"x must have shape \[B, C=3, T, H, W\] \(5-D\)"):
        model(torch.zeros(3, 8, 16, 16))
    with pytest.raises(VidalError, match="got C=1"):
        model(torch.zeros(1, 1, 8, 16, 16))
    bad = torch.zeros(1, 3, 8, 16, 16)
    bad[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(VidalError, match="x contains NaN"):
        model(bad)
    with pytest.raises(VidalError, match="not built"):
        model(torch.zeros(1, 3, 8, 16, 16), endpoints=["Mixed_4f"])
    with pytest.raises(VidalError, match="final_endpoint='Mixed_9z'.*Mixed_4f"):
        InceptionI3d(final_endpoint="Mixed_9z")
    with pytest.raises(VidalError, match="width"):
        InceptionI3d(width=0)


def test_endpoint_list_order():
    assert I3D_ENDPOINTS[0] == "Conv3d_1a_7x7" and I3D_ENDPOINTS[-1] == "Logits"
    assert I3D_ENDPOINTS.index("Mixed_4f") < I3D_ENDPOINTS.index("MaxPool3d_5a_2x2")
