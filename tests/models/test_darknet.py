"""The Darknet reader: cfg + weights into torch, YOLO decoding, class vectors, real detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidal.errors import ConfigError
from vidal.metrics.boxes import box_iou
from vidal.models.darknet import (
    COCO_NAMES,
    DarknetNet,
    YoloHead,
    coco_class_map,
    decode_yolo,
    load_darknet_detector,
    read_class_names,
    read_darknet_cfg,
    yolo_class_probs,
)
from vidal.models.detectors import check_detections
from vidal.models.i3d import CheckpointError


def _reference_forward(x: torch.Tensor, params: list[dict[str, np.ndarray]]) -> list[torch.Tensor]:
    """The tiny network of conftest.TINY_CFG written out by hand, batch norm not folded."""

    def conv(x, p, *, stride=1, groups=1, act=None):
        w = torch.from_numpy(p["weight"])
        k = w.shape[-1]
        if "scale" in p:
            y = F.conv2d(x, w, None, stride, k // 2, groups=groups)
            y = F.batch_norm(
                y,
                torch.from_numpy(p["mean"]),
                torch.from_numpy(p["var"]),
                torch.from_numpy(p["scale"]),
                torch.from_numpy(p["bias"]),
                eps=1e-5,
            )
        else:
            y = F.conv2d(x, w, torch.from_numpy(p["bias"]), stride, 0, groups=groups)
        return act(y) if act else y

    leaky = lambda y: F.leaky_relu(y, 0.1)  # noqa: E731
    l0 = conv(x, params[0], stride=2, act=leaky)
    l1 = conv(l0, params[1], groups=8, act=F.relu6)
    l2 = conv(l1, params[2])
    l3 = l2 + l0  # shortcut from=-3
    l5 = F.max_pool2d(l3, 3, 1, padding=1)  # l4 is dropout
    l6 = torch.cat([l5, l3], 1)
    l7 = conv(l6, params[3], stride=2, act=leaky)
    head1 = conv(l7, params[4])
    l11 = F.interpolate(l7, scale_factor=2, mode="nearest")
    head2 = conv(torch.cat([l11, l3], 1), params[5])
    return [head1, head2]


def test_tiny_network_matches_a_hand_written_reference(tiny_darknet):
    cfg, weights, params = tiny_darknet
    net = DarknetNet.from_files(cfg, weights)
    assert net.input_size == (32, 32) and not net.letterbox
    assert [len(h.anchors) for h in net.heads] == [2, 2]
    assert net.heads[0].anchors.tolist() == [[12.0, 12.0], [24.0, 24.0]]
    assert net.heads[0].scale_x_y == 1.05 and net.heads[1].scale_x_y == 1.0
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = net(x), _reference_forward(x, params)
    assert [o.shape for o in ours] == [(2, 14, 8, 8), (2, 14, 16, 16)]
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_seen_as_int32_in_old_headers(tiny_darknet, darknet_bytes, tmp_path: Path):
    cfg, weights, params = tiny_darknet
    old = tmp_path / "old.weights"
    old.write_bytes(darknet_bytes(params, wide_seen=False))  # version 0.1: 4 bytes less
    assert old.stat().st_size == weights.stat().st_size - 4
    new, legacy = DarknetNet.from_files(cfg, weights), DarknetNet.from_files(cfg, old)
    for (key, a), b in zip(new.state_dict().items(), legacy.state_dict().values(), strict=True):
        assert torch.equal(a, b), key


def test_weights_that_do_not_match_the_cfg(tiny_darknet, tmp_path: Path):
    cfg, weights, _ = tiny_darknet
    data = weights.read_bytes()
    short = tmp_path / "short.weights"
    short.write_bytes(data[:-40])
    # the last convolution (line 78 of the cfg) runs out of floats
    with pytest.raises(
        CheckpointError, match=r"short\.weights: ends inside .*tiny\.cfg:\d+ \[convolutional\]"
    ):
        DarknetNet.from_files(cfg, short)
    long = tmp_path / "long.weights"
    long.write_bytes(data + np.zeros(3, np.float32).tobytes())
    with pytest.raises(
        CheckpointError, match=r"long\.weights: 3 floats left after the last convolution"
    ):
        DarknetNet.from_files(cfg, long)
    odd = tmp_path / "odd.weights"
    odd.write_bytes(data + b"\0")
    with pytest.raises(CheckpointError, match="not float32"):
        DarknetNet.from_files(cfg, odd)
    with pytest.raises(CheckpointError, match="cannot read"):
        DarknetNet.from_files(cfg, tmp_path / "missing.weights")
    header_only = tmp_path / "header.weights"
    header_only.write_bytes(data[:18])
    with pytest.raises(CheckpointError, match=r"header\.weights: 18 bytes, too short"):
        DarknetNet.from_files(cfg, header_only)
    # a cfg with one convolution without batch norm needs fewer floats than the file holds
    no_bn = tmp_path / "no_bn.cfg"
    no_bn.write_text(cfg.read_text().replace("batch_normalize=1\n", "", 1))
    with pytest.raises(CheckpointError, match=r"24 floats left after the last convolution"):
        DarknetNet.from_files(no_bn, weights)


def test_real_cfg_with_the_other_models_weights(yolo_fastest):
    xl, small = yolo_fastest / "yolo-fastest-1.1-xl", yolo_fastest / "yolo-fastest-1.1"
    with pytest.raises(
        CheckpointError,
        match=r"yolo-fastest-1\.1\.weights: ends inside .*-xl\.cfg:\d+ \[convolutional\]",
    ):
        DarknetNet.from_files(f"{xl}.cfg", f"{small}.weights")
    with pytest.raises(CheckpointError, match=r"-xl\.weights: \d+ floats left after the last"):
        DarknetNet.from_files(f"{small}.cfg", f"{xl}.weights")


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("activation=relu6", "activation=gelu"),
            r"tiny\.cfg:\d+ \[convolutional\]: activation 'gelu'",
        ),
        (("[dropout]", "[crop]"), r"tiny\.cfg:\d+ \[crop\]: layer type not supported"),
        (
            ("layers = -1, -3", "layers = -1, 40"),
            r"\[route\]: layer 40 does not name an earlier layer",
        ),
        (
            ("classes=2\nnum=4\nscale", "classes=3\nnum=4\nscale"),
            r"\[yolo\]: 2 anchors x \(3 classes \+ 5\)",
        ),
        (("[route]\nlayers=-3", "[route]\nlayers=-3\ngroups=2"), r"groups=2 is not supported"),
        (("filters=8\nsize=1", "filters=eight\nsize=1"), r"filters='eight' is not an integer"),
        (("width=32", "width=32\nwidth 32"), r"tiny\.cfg:4: expected \[section\] or key=value"),
    ],
)
def test_bad_cfg(tiny_darknet, tmp_path: Path, edit, message):
    cfg, _, _ = tiny_darknet
    text = cfg.read_text()
    assert edit[0] in text
    bad = tmp_path / "bad" / "tiny.cfg"
    bad.parent.mkdir()
    bad.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError, match=message):
        DarknetNet(read_darknet_cfg(bad))


def test_cfg_without_net_or_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        read_darknet_cfg(tmp_path / "none.cfg")
    path = tmp_path / "x.cfg"
    path.write_text("[convolutional]\nfilters=1\n")
    with pytest.raises(ConfigError, match=r"x\.cfg: a Darknet cfg starts with a \[net\] section"):
        read_darknet_cfg(path)


def test_decode_zero_logits():
    """Zero logits: box centred in its cell, anchor-sized, objectness and classes 0.5."""
    head = YoloHead(torch.tensor([[8.0, 16.0]]), classes=2)
    out = torch.zeros(1, 7, 2, 4)  # one anchor, 2 x 4 grid
    out[0, 0, 1, 3] = 2.0  # t_x of cell (y=1, x=3)
    boxes, obj, cls = decode_yolo([out], [head], (32, 64))
    assert boxes.shape == (1, 8, 4) and obj.shape == (1, 8) and cls.shape == (1, 8, 2)
    torch.testing.assert_close(boxes[0, 0], torch.tensor([0.5 / 4, 0.5 / 2, 8 / 64, 16 / 32]))
    last = (3 + torch.sigmoid(torch.tensor(2.0))) / 4
    torch.testing.assert_close(
        boxes[0, 7],
        torch.stack([last, torch.tensor(1.5 / 2), torch.tensor(0.125), torch.tensor(0.5)]),
    )
    assert torch.all(obj == 0.5) and torch.all(cls == 0.5)
    # YOLOv4's scale_x_y stretches the sigmoid around the cell centre
    stretched = YoloHead(head.anchors, classes=2, scale_x_y=2.0)
    out[0, 0, 1, 3] = 100.0
    boxes, _, _ = decode_yolo([out], [stretched], (32, 64))
    torch.testing.assert_close(boxes[0, 7, 0], torch.tensor((3 + 1.5) / 4))


def test_class_probs_and_mapping():
    names = ["person", "car", "truck", "dog"]
    classes, matrix = coco_class_map(names, {"person": ["person"], "vehicle": ["car", "truck"]})
    assert classes == ("person", "vehicle")
    assert matrix.tolist() == [[1, 0], [0, 1], [0, 1], [0, 0]]
    obj = torch.tensor([0.9, 0.5, 0.0])
    q = torch.tensor([[0.1, 0.5, 0.3, 0.1], [0.02, 0.01, 0.01, 0.96], [0.2, 0.2, 0.2, 0.2]])
    probs = yolo_class_probs(obj, q, matrix)
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    # vehicle = obj * (q_car + q_truck) / sum q; the dog's share goes to background
    torch.testing.assert_close(probs[0], torch.tensor([0.1 + 0.9 * 0.1, 0.9 * 0.1, 0.9 * 0.8]))
    torch.testing.assert_close(probs[1, 0], torch.tensor(1 - 0.5 * 0.04))
    assert probs[2, 0] == 1.0
    # all 80 COCO classes, unmapped: the full vector, K + 1 = 81 columns
    names80, identity = coco_class_map(COCO_NAMES)
    assert names80 == COCO_NAMES and torch.equal(identity, torch.eye(80))
    with pytest.raises(ConfigError, match="'lorry' is not a detector class"):
        coco_class_map(names, {"vehicle": ["car", "lorry"]})
    with pytest.raises(ConfigError, match="'car' is mapped to two classes"):
        coco_class_map(names, {"a": ["car"], "b": ["car"]})


def test_names_file(yolo_fastest):
    assert read_class_names(yolo_fastest / "coco.names") == COCO_NAMES


def test_tiny_detector_contract_and_unmapped_classes(tiny_darknet):
    cfg, weights, _ = tiny_darknet
    frames = np.random.default_rng(0).integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)
    both = load_darknet_detector(cfg, weights, names=["a", "b"], score_thresh=0.01)
    only_a = load_darknet_detector(
        cfg, weights, names=["a", "b"], class_map={"x": ["a"]}, score_thresh=0.01
    )
    assert both.num_classes == 2 and only_a.num_classes == 1
    dets_both, dets_a = both.detect_frames(frames), only_a.detect_frames(frames)
    assert sum(len(d["scores"]) for d in dets_both) > 0
    for d in dets_both:
        check_detections(d, 2)
        assert (d["boxes"][:, 2] <= 56).all() and (d["boxes"][:, 3] <= 40).all()
    for d in dets_a:
        check_detections(d, 1)
    # a box whose most probable class is the unmapped "b" is dropped
    import cv2

    net = both.net
    resized = np.stack([cv2.resize(f, (32, 32)) for f in frames])
    with torch.no_grad():
        x = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255
        _, _, cls = decode_yolo(net(x), net.heads, net.input_size)
    top_a = (cls.argmax(-1) == 0).sum().item()
    assert 0 < sum(len(d["scores"]) for d in dets_a) <= top_a
    with pytest.raises(ConfigError, match="predicts \\[2\\] classes but 80 names"):
        load_darknet_detector(cfg, weights)


def _best_iou(dets, gt_boxes) -> np.ndarray:
    return np.array(
        [
            box_iou(d["boxes"], g[None]).max() if len(d["boxes"]) else 0.0
            for d, g in zip(dets, gt_boxes, strict=True)
        ]
    )


@pytest.mark.parametrize(
    "model, clip, mapping, min_found, min_mean_iou",
    [
        # the trial run of shared/data/README.md: 40/40 at mean IoU 0.87 and 0.82 (car),
        # 39/40 at 0.77 and 38/40 at 0.72 (person); vidal's reader: 40/40 0.87, 40/40 0.82,
        # 40/40 0.80, 38/40 0.72
        ("yolo-fastest-1.1-xl", "davis_car", {"car": ["car", "truck", "bus"]}, 39, 0.85),
        pytest.param(
            "yolo-fastest-1.1",
            "davis_car",
            {"car": ["car", "truck", "bus"]},
            38,
            0.80,
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "yolo-fastest-1.1-xl",
            "jhmdb_person",
            {"person": ["person"]},
            38,
            0.77,
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "yolo-fastest-1.1",
            "jhmdb_person",
            {"person": ["person"]},
            36,
            0.70,
            marks=pytest.mark.slow,
        ),
    ],
)
def test_yolo_fastest_finds_the_object_on_real_frames(
    request, yolo_fastest, model, clip, mapping, min_found, min_mean_iou
):
    frames, gt = request.getfixturevalue(clip)
    detector = load_darknet_detector(
        yolo_fastest / f"{model}.cfg",
        yolo_fastest / f"{model}.weights",
        class_map=mapping,
        score_thresh=0.25,
    )
    dets = detector.detect_frames(frames)
    for d in dets:
        check_detections(d, 1)
    iou = _best_iou(dets, gt)
    assert (iou >= 0.5).sum() >= min_found
    assert iou.mean() >= min_mean_iou


@pytest.mark.slow
def test_letterbox_when_the_cfg_asks_for_it(yolo_fastest, davis_car, tmp_path: Path):
    """``[net] letter_box=1``: frames are letterboxed and boxes mapped back to the frame
    (on DAVIS the car is still found on every frame; plain resizing, the cfg's own setting,
    measured mean IoU 0.87 against 0.84 letterboxed)."""
    frames, gt = davis_car
    cfg = tmp_path / "letterbox.cfg"
    text = (yolo_fastest / "yolo-fastest-1.1-xl.cfg").read_text()
    cfg.write_text(text.replace("[net]", "[net]\nletter_box=1", 1))
    detector = load_darknet_detector(
        cfg,
        yolo_fastest / "yolo-fastest-1.1-xl.weights",
        class_map={"car": ["car", "truck", "bus"]},
        score_thresh=0.25,
    )
    assert detector.net.letterbox
    iou = _best_iou(detector.detect_frames(frames[::4]), gt[::4])
    assert (iou >= 0.5).all() and iou.mean() >= 0.8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda(tiny_darknet):
    cfg, weights, _ = tiny_darknet
    frames = np.random.default_rng(0).integers(0, 256, (2, 40, 56, 3), dtype=np.uint8)
    cpu = load_darknet_detector(cfg, weights, names=["a", "b"], score_thresh=0.01)
    gpu = load_darknet_detector(cfg, weights, names=["a", "b"], score_thresh=0.01, device="cuda")
    for a, b in zip(cpu.detect_frames(frames), gpu.detect_frames(frames), strict=True):
        check_detections(b, 2)
        np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-4)
