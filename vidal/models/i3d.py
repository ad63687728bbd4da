"""Inception-I3D video encoder, state-dict compatible with the public pytorch-i3d checkpoints.

The network is the two-stream Inflated 3D ConvNet of Carreira & Zisserman, *Quo Vadis, Action
Recognition?* (CVPR 2017, Fig. 3): a 7x7x7 stem, two 3D max pools that leave time alone,
nine Inception modules with 3x3x3 branches, and a 1x1x1 classifier. Convolutions and pools use
TensorFlow ``"SAME"`` padding (computed from the input size at run time, asymmetric when the
total padding is odd), so an input of ``[B, 3, 8, 224, 224]`` gives ``Mixed_4f`` features of
``[B, 832, 2, 14, 14]``: every endpoint up to ``Mixed_3c`` has stride ``(2, s, s)`` and
``Mixed_4b`` to ``Mixed_4f`` stride ``(4, 16, 16)``.

Module names follow the public checkpoint layout (``rgb_imagenet.pt`` with 400 Kinetics classes,
``rgb_charades.pt`` with 157 Charades classes): ``Conv3d_1a_7x7.conv3d.weight``,
``Conv3d_1a_7x7.bn.running_mean``, ``Mixed_4f.b1b.conv3d.weight``, ``logits.conv3d.bias`` and
so on; :func:`i3d_state_dict_shapes` lists every key with its shape. Active Sparse Labeling
(Rana & Rawat, NeurIPS 2022, Sec. 4) and CLAUS (Rana & Rawat, CVPR 2023, supplement Table 11)
use the encoder up to ``Mixed_4f`` with the Charades weights.

Inputs are RGB clips scaled to ``[-1, 1]``, as the checkpoints were trained.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidal.errors import VidalError

__all__ = [
    "I3D_ENDPOINTS",
    "CheckpointError",
    "InceptionI3d",
    "i3d_state_dict_shapes",
    "load_i3d_weights",
]

#: Endpoints of Inception-I3D in network order; ``final_endpoint`` is one of these.
I3D_ENDPOINTS: tuple[str, ...] = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
    "Logits",
)

# Output channels of the branches b0, b1a, b1b, b2a, b2b, b3b of each Inception module
# (Carreira & Zisserman 2017, Fig. 3, the Inception-v1 channel plan).
_INCEPTION_CHANNELS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
# kernel (T, H, W) and stride of the max pools between stages
_POOLS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "MaxPool3d_2a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_3a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_4a_3x3": ((3, 3, 3), (2, 2, 2)),
    "MaxPool3d_5a_2x2": ((2, 2, 2), (2, 2, 2)),
}
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


class CheckpointError(VidalError):
    """A weights file or state dict that does not fit the model; the message names the keys."""


def _check_clip(x: Any, name: str, *, channels: int) -> None:
    """Raise :class:`VidalError` unless ``x`` is a finite float ``Tensor[B, channels, T, H, W]``."""
    if not isinstance(x, Tensor):
        raise VidalError(f"{name} must be a torch.Tensor [B, C, T, H, W], got {type(x).__name__}")
    if x.dim() != 5:
        raise VidalError(
            f"{name} must have shape [B, C={channels}, T, H, W] (5-D), got {list(x.shape)}"
        )
    if x.shape[1] != channels:
        raise VidalError(
            f"{name} must have shape [B, C={channels}, T, H, W], got C={x.shape[1]} "
            f"in {list(x.shape)}"
        )
    if min(x.shape) < 1:
        raise VidalError(f"{name} must not be empty, got shape {list(x.shape)}")
    if not x.is_floating_point():
        raise VidalError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise VidalError(f"{name} contains NaN or infinite values")


def _same_padding(size: Sequence[int], kernel: Sequence[int], stride: Sequence[int]) -> list[int]:
    """TF ``"SAME"`` padding for ``F.pad`` (last dim first): output size ``ceil(size / stride)``."""
    pad: list[int] = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride), strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        pad += [total // 2, total - total // 2]
    return pad


class _MaxPool3dSame(nn.Module):
    """3D max pool with TF ``"SAME"`` padding (padded cells never win the max)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        pad = _same_padding(x.shape[-3:], self.kernel, self.stride)
        if any(pad):
            x = F.pad(x, pad, value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)


class _Unit3d(nn.Module):
    """Conv3d (TF ``"SAME"`` padding) + BatchNorm3d + ReLU; named ``conv3d`` and ``bn``.

    Without batch norm (the ``logits`` layer) the convolution has a bias and no activation.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        batch_norm: bool = True,
        activation: bool = True,
        momentum: float = _BN_MOMENTUM,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, bias=not batch_norm)
        self.bn = (
            nn.BatchNorm3d(out_channels, eps=_BN_EPS, momentum=momentum) if batch_norm else None
        )
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        pad = _same_padding(x.shape[-3:], self.kernel, self.stride)
        if any(pad):
            x = F.pad(x, pad)
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class _Inception3d(nn.Module):
    """Inflated Inception module: 1x1x1 | 1x1x1-3x3x3 | 1x1x1-3x3x3 | maxpool-1x1x1, concatenated."""

    def __init__(
        self, in_channels: int, channels: Sequence[int], *, momentum: float = _BN_MOMENTUM
    ) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3b = channels
        self.b0 = _Unit3d(in_channels, c0, momentum=momentum)
        self.b1a = _Unit3d(in_channels, c1a, momentum=momentum)
        self.b1b = _Unit3d(c1a, c1b, (3, 3, 3), momentum=momentum)
        self.b2a = _Unit3d(in_channels, c2a, momentum=momentum)
        self.b2b = _Unit3d(c2a, c2b, (3, 3, 3), momentum=momentum)
        self.b3a = _MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = _Unit3d(in_channels, c3b, momentum=momentum)
        self.out_channels = c0 + c1b + c2b + c3b

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))],
            dim=1,
        )


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _check_endpoint(final_endpoint: str) -> None:
    if final_endpoint not in I3D_ENDPOINTS:
        raise VidalError(
            f"final_endpoint={final_endpoint!r} is not an I3D endpoint; known: "
            + ", ".join(I3D_ENDPOINTS)
        )


def _check_width(width: float) -> None:
    if not (isinstance(width, (int, float)) and 0 < width <= 1 and math.isfinite(width)):
        raise VidalError(f"width={width!r} must be a number in (0, 1] (e.g. 1/8 for tests)")


def i3d_state_dict_shapes(
    num_classes: int = 400,
    *,
    in_channels: int = 3,
    final_endpoint: str = "Logits",
    width: float = 1.0,
) -> dict[str, tuple[int, ...]]:
    """Every ``state_dict`` key of Inception-I3D with its shape, in network order.

    With the defaults this is the layout of the public ``rgb_imagenet.pt`` checkpoint
    (``num_classes=157`` for ``rgb_charades.pt``): for each unit ``<name>.conv3d.weight``
    ``[out, in, kT, kH, kW]`` (no bias) and ``<name>.bn.{weight, bias, running_mean,
    running_var}`` ``[out]`` plus ``<name>.bn.num_batches_tracked`` ``[]``; for the Inception
    modules the units are ``b0, b1a, b1b, b2a, b2b, b3b``; last ``logits.conv3d.weight``
    ``[num_classes, 1024, 1, 1, 1]`` and ``logits.conv3d.bias`` ``[num_classes]``.

    Args:
        num_classes: classes of the ``logits`` layer (400 Kinetics, 157 Charades).
        in_channels: input channels (3 for RGB, 2 for optical flow).
        final_endpoint: last endpoint built (see :data:`I3D_ENDPOINTS`); keys past it are left out.
        width: channel multiplier in ``(0, 1]``; only 1.0 matches the public checkpoints.

    Returns:
        Ordered mapping key -> shape, equal to ``InceptionI3d(...).state_dict()`` shapes.

    Example:
        >>> shapes = i3d_state_dict_shapes()
        >>> shapes["Conv3d_1a_7x7.conv3d.weight"], shapes["logits.conv3d.weight"]
        ((64, 3, 7, 7, 7), (400, 1024, 1, 1, 1))
    """
    _check_endpoint(final_endpoint)
    _check_width(width)
    shapes: dict[str, tuple[int, ...]] = {}

    def unit(name: str, cin: int, cout: int, k: int) -> None:
        shapes[f"{name}.conv3d.weight"] = (cout, cin, k, k, k)
        for part in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.bn.{part}"] = (cout,)
        shapes[f"{name}.bn.num_batches_tracked"] = ()

    stop = I3D_ENDPOINTS.index(final_endpoint)
    channels = in_channels
    for endpoint in I3D_ENDPOINTS[: stop + 1]:
        if endpoint == "Conv3d_1a_7x7":
            unit(endpoint, channels, _scaled(64, width), 7)
            channels = _scaled(64, width)
        elif endpoint == "Conv3d_2b_1x1":
            unit(endpoint, channels, _scaled(64, width), 1)
        elif endpoint == "Conv3d_2c_3x3":
            unit(endpoint, channels, _scaled(192, width), 3)
            channels = _scaled(192, width)
        elif endpoint in _INCEPTION_CHANNELS:
            c0, c1a, c1b, c2a, c2b, c3b = (_scaled(c, width) for c in _INCEPTION_CHANNELS[endpoint])
            unit(f"{endpoint}.b0", channels, c0, 1)
            unit(f"{endpoint}.b1a", channels, c1a, 1)
            unit(f"{endpoint}.b1b", c1a, c1b, 3)
            unit(f"{endpoint}.b2a", channels, c2a, 1)
            unit(f"{endpoint}.b2b", c2a, c2b, 3)
            unit(f"{endpoint}.b3b", channels, c3b, 1)
            channels = c0 + c1b + c2b + c3b
        elif endpoint == "Logits":
            shapes["logits.conv3d.weight"] = (num_classes, channels, 1, 1, 1)
            shapes["logits.conv3d.bias"] = (num_classes,)
    return shapes


class InceptionI3d(nn.Module):
    """Inception-I3D (Carreira & Zisserman 2017) up to a chosen endpoint.

    Args:
        num_classes: classes of the ``logits`` layer; used only when ``final_endpoint`` is
            ``"Logits"`` (400 for ``rgb_imagenet.pt``, 157 for ``rgb_charades.pt``).
        in_channels: input channels (3 RGB, 2 flow).
        final_endpoint: last endpoint built, one of :data:`I3D_ENDPOINTS`; ``"Mixed_4f"`` (832
            channels at stride ``(4, 16, 16)``) is the encoder of ASL and CLAUS.
        width: channel multiplier in ``(0, 1]`` (each layer keeps at least one channel); 1/8
            gives a tiny encoder for CPU tests and the demo. Only 1.0 fits the checkpoints.
        dropout: dropout probability before the ``logits`` layer (only with ``"Logits"``).
        bn_momentum: batch-norm momentum of the running statistics: 0.01 as in pytorch-i3d
            (right for long training from a checkpoint); 0.1 lets a model trained for a few
            hundred steps from scratch evaluate well. Not stored in checkpoints.

    Attributes:
        out_channels: channels of the ``final_endpoint`` output (832 for ``"Mixed_4f"``).
        endpoint_channels: channels of every endpoint that is built.

    Example:
        >>> net = InceptionI3d(width=1 / 8).eval()
        >>> net(torch.zeros(1, 3, 8, 32, 32)).shape
        torch.Size([1, 104, 2, 2, 2])
        >>> feats = net(torch.zeros(1, 3, 8, 32, 32), endpoints=("Conv3d_1a_7x7", "Mixed_3c"))
        >>> {name: tuple(f.shape) for name, f in feats.items()}  # final endpoint included
        {'Conv3d_1a_7x7': (1, 8, 4, 16, 16), 'Mixed_3c': (1, 60, 4, 4, 4), 'Mixed_4f': (1, 104, 2, 2, 2)}
    """

    def __init__(
        self,
        *,
        num_classes: int = 400,
        in_channels: int = 3,
        final_endpoint: str = "Mixed_4f",
        width: float = 1.0,
        dropout: float = 0.5,
        bn_momentum: float = _BN_MOMENTUM,
    ) -> None:
        super().__init__()
        _check_endpoint(final_endpoint)
        _check_width(width)
        if num_classes < 1 or in_channels < 1:
            raise VidalError(
                f"num_classes={num_classes} and in_channels={in_channels} must be >= 1"
            )
        if not 0.0 <= dropout < 1.0:
            raise VidalError(f"dropout={dropout!r} must be in [0, 1)")
        if not 0.0 < bn_momentum <= 1.0:
            raise VidalError(f"bn_momentum={bn_momentum!r} must be in (0, 1]")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.final_endpoint = final_endpoint
        self.width = width
        self.endpoint_channels: dict[str, int] = {}
        stop = I3D_ENDPOINTS.index(final_endpoint)
        channels = in_channels
        for endpoint in I3D_ENDPOINTS[: stop + 1]:
            module: nn.Module
            if endpoint == "Conv3d_1a_7x7":
                module = _Unit3d(
                    channels, _scaled(64, width), (7, 7, 7), (2, 2, 2), momentum=bn_momentum
                )
                channels = _scaled(64, width)
            elif endpoint == "Conv3d_2b_1x1":
                module = _Unit3d(channels, _scaled(64, width), momentum=bn_momentum)
            elif endpoint == "Conv3d_2c_3x3":
                module = _Unit3d(channels, _scaled(192, width), (3, 3, 3), momentum=bn_momentum)
                channels = _scaled(192, width)
            elif endpoint in _POOLS:
                module = _MaxPool3dSame(*_POOLS[endpoint])
            elif endpoint in _INCEPTION_CHANNELS:
                scaled = [_scaled(c, width) for c in _INCEPTION_CHANNELS[endpoint]]
                module = _Inception3d(channels, scaled, momentum=bn_momentum)
                channels = module.out_channels
            else:  # Logits: average pool, dropout, 1x1x1 classifier (with bias, no BN)
                self.dropout = nn.Dropout(dropout)
                self.logits = _Unit3d(channels, num_classes, batch_norm=False, activation=False)
                channels = num_classes
                self.endpoint_channels[endpoint] = channels
                break
            self.add_module(endpoint, module)
            self.endpoint_channels[endpoint] = channels
        self.out_channels = channels

    def _logits(self, x: Tensor) -> Tensor:
        # 2x7x7 valid average pool over Mixed_5c (clipped to the feature size), dropout,
        # 1x1x1 classifier, then the mean over the remaining positions: [B, num_classes].
        kernel = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))
        x = F.avg_pool3d(x, kernel, stride=1)
        x = self.logits(self.dropout(x))
        return x.mean(dim=(2, 3, 4))

    @overload
    def forward(self, x: Tensor) -> Tensor: ...

    @overload
    def forward(self, x: Tensor, *, endpoints: Sequence[str]) -> dict[str, Tensor]: ...

    def forward(
        self, x: Tensor, *, endpoints: Sequence[str] | None = None
    ) -> Tensor | dict[str, Tensor]:
        """Run the network up to ``final_endpoint``.

        Args:
            x: clips ``Tensor[B, C, T, H, W]`` with ``C = in_channels``, values in ``[-1, 1]``.
                Any ``T, H, W >= 1``; endpoint sizes are ``ceil(size / stride)``.
            endpoints: if given, names of endpoints to return as well (they must be built).

        Returns:
            Without ``endpoints`` the ``final_endpoint`` output, ``Tensor[B, C', T', H', W']``
            (``[B, num_classes]`` for ``"Logits"``); with ``endpoints`` a dict name -> output
            holding those endpoints and ``final_endpoint``, in network order.
        """
        _check_clip(x, "x", channels=self.in_channels)
        wanted: set[str] = set()
        if endpoints is not None:
            if isinstance(endpoints, str):
                raise VidalError(
                    f"endpoints must be a sequence of names, got the string {endpoints!r}"
                )
            unknown = [e for e in endpoints if e not in self.endpoint_channels]
            if unknown:
                raise VidalError(
                    f"endpoints {unknown} are not built (final_endpoint={self.final_endpoint!r}); "
                    f"available: {', '.join(self.endpoint_channels)}"
                )
            wanted = set(endpoints) | {self.final_endpoint}
        out: dict[str, Tensor] = {}
        for endpoint in self.endpoint_channels:
            x = self._logits(x) if endpoint == "Logits" else getattr(self, endpoint)(x)
            if endpoint in wanted:
                out[endpoint] = x
        return x if endpoints is None else out


class _Incompatible(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def _state_dict_problems(
    expected: Mapping[str, Sequence[int]],
    state_dict: Mapping[str, Any],
    *,
    strict: bool,
    optional_suffixes: tuple[str, ...] = (),
) -> list[str]:
    """Human-readable list of missing, unexpected and wrongly shaped keys (empty if it fits)."""
    problems: list[str] = []
    shaped = [
        f"{k}: file {list(v.shape)} vs model {list(expected[k])}"
        for k, v in state_dict.items()
        if k in expected and isinstance(v, Tensor) and tuple(v.shape) != tuple(expected[k])
    ]
    if shaped:
        problems.append("shape mismatch: " + "; ".join(shaped))
    not_tensors = [k for k, v in state_dict.items() if not isinstance(v, Tensor)]
    if not_tensors:
        problems.append(f"not tensors: {not_tensors[:10]}")
    if strict:
        missing = [k for k in expected if k not in state_dict and not k.endswith(optional_suffixes)]
        unexpected = [k for k in state_dict if k not in expected]
        if missing:
            problems.append(f"missing keys ({len(missing)}): {missing[:10]}")
        if unexpected:
            problems.append(f"unexpected keys ({len(unexpected)}): {unexpected[:10]}")
    return problems


def load_i3d_weights(
    model: InceptionI3d, path: str | os.PathLike[str], *, strict: bool = True
) -> _Incompatible:
    """Load a pytorch-i3d style checkpoint (e.g. ``rgb_charades.pt``) into ``model``.

    The file is read with ``torch.load(weights_only=True)`` onto the CPU and copied into the
    model's parameters, wherever they live. Keys of endpoints past ``model.final_endpoint``
    (``Mixed_5b``, ``Mixed_5c``, ``logits`` for the ``Mixed_4f`` encoder) are dropped first,
    so a full checkpoint loads into a truncated encoder. Checkpoints saved before
    ``num_batches_tracked`` existed load too (the counters keep their values).

    Args:
        model: the encoder to fill.
        path: local checkpoint file holding a ``state_dict`` (key -> tensor).
        strict: require every model key to be in the file and no unknown key in it; shapes
            must always match.

    Returns:
        ``(missing_keys, unexpected_keys)`` as reported by ``load_state_dict`` (both empty
        with ``strict=True``).

    Raises:
        CheckpointError: the file is missing or not a state dict, or keys / shapes do not fit
            (the message names them, e.g. a 157-class ``logits`` layer for a 400-class model).
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"I3D weights file not found: {os.fspath(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise CheckpointError(f"cannot read I3D weights from {os.fspath(path)!r}: {err}") from err
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(
            f"{os.fspath(path)!r} does not hold a state dict (mapping key -> tensor), "
            f"got {type(state).__name__}"
        )
    built = set(model.endpoint_channels)

    def endpoint_of(key: str) -> str:
        head = key.split(".", 1)[0]
        return "Logits" if head == "logits" else head

    state = {
        k: v
        for k, v in state.items()
        if endpoint_of(k) in built or endpoint_of(k) not in I3D_ENDPOINTS
    }
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = _state_dict_problems(
        expected, state, strict=strict, optional_suffixes=("num_batches_tracked",)
    )
    if problems:
        raise CheckpointError(
            f"I3D weights {os.fspath(path)!r} do not fit the model (final_endpoint="
            f"{model.final_endpoint!r}, num_classes={model.num_classes}, width={model.width}): "
            + " | ".join(problems)
        )
    result = model.load_state_dict(state, strict=False)
    return _Incompatible(
        missing_keys=[k for k in result.missing_keys if not k.endswith("num_batches_tracked")],
        unexpected_keys=list(result.unexpected_keys),
    )
