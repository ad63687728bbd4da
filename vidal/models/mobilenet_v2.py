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
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torchvision.models import mobilenet_v2

from vidal.models.i3d import CheckpointError

__all__ = ["load_mobilenet_v2_features", "mobilenet_v2_feature_shapes", "remap_mobilenet_v2_state"]


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
