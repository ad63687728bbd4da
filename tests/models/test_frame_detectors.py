"""One contract for every frame detector backend, and the scoring path taking any of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidal.errors import VidalError
from vidal.models.darknet import load_darknet_detector
from vidal.models.detection_file import read_coco_results, write_coco_results
from vidal.models.detector import build_detector
from vidal.models.detectors import (
    FrameDetector,
    ImageDetector,
    TorchvisionDetector,
    check_detections,
    empty_detections,
)
from vidal.scoring.detection import detection_frame_scores
from vidal.train.detection import detect_frames

SMALL = dict(min_size=64, max_size=96, rpn_pre_nms_top_n_test=50, rpn_post_nms_top_n_test=20)
FRAMES = np.random.default_rng(0).integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)


def _faster_rcnn(backbone: str) -> TorchvisionDetector:
    torch.manual_seed(0)
    model = build_detector(2, backbone=backbone, score_thresh=0.0, **SMALL).eval()
    with torch.no_grad():  # favour class 1 so detections score above one half too
        model.roi_heads.box_predictor.cls_score.bias.copy_(torch.tensor([0.0, 3.0, 0.0]))
    return TorchvisionDetector(model, batch_size=2)


def _file_backend(tmp_path: Path) -> FrameDetector:
    dets = _faster_rcnn("mobilenet_v3_fpn").detect_frames(FRAMES)
    path = write_coco_results(tmp_path / "dets.json", {"clip": dets})
    return read_coco_results(path, class_names=("a", "b"), frame_counts={"clip": len(FRAMES)})


@pytest.fixture(params=["faster_rcnn_v3", "faster_rcnn_v2", "darknet", "file"])
def backend(request, tiny_darknet, tmp_path: Path) -> FrameDetector:
    if request.param == "faster_rcnn_v3":
        return _faster_rcnn("mobilenet_v3_fpn")
    if request.param == "faster_rcnn_v2":
        return _faster_rcnn("mobilenet_v2")
    if request.param == "darknet":
        cfg, weights, _ = tiny_darknet
        return load_darknet_detector(cfg, weights, names=["a", "b"], score_thresh=0.0, batch_size=2)
    return _file_backend(tmp_path)


def _read_frames(video_id: str, ts) -> np.ndarray:
    assert video_id == "clip"
    return FRAMES[list(ts)]


def test_contract(backend: FrameDetector):
    assert isinstance(backend, FrameDetector) and backend.num_classes == 2
    dets = backend.detect_video("clip", [4, 0, 3], _read_frames)
    assert len(dets) == 3
    total = 0
    for d in dets:
        check_detections(
            d, 2
        )  # shapes, dtypes, labels, rows sum to 1, probs[n, labels[n] + 1] == scores[n]
        m = len(d["scores"])
        total += m
        assert np.array_equal(d["probs"][np.arange(m), d["labels"] + 1], d["scores"])
        assert (d["boxes"] >= 0).all() and (d["boxes"][:, [0, 2]] <= 64).all()
        assert (d["boxes"][:, [1, 3]] <= 48).all()
    assert total > 0
    # the same frames asked one by one give the same detections
    again = backend.detect_video("clip", [3], _read_frames)[0]
    for key in ("boxes", "labels", "scores", "probs"):
        np.testing.assert_allclose(again[key], dets[2][key], rtol=1e-5, atol=1e-5)
    if isinstance(backend, ImageDetector):
        direct = backend.detect_frames(FRAMES[[4, 0, 3]])
        assert [len(d["scores"]) for d in direct] == [len(d["scores"]) for d in dets]
    # scoring takes any backend
    extra = detection_frame_scores({"clip": dets}, min_score=0.0)
    assert all(
        np.isfinite(extra[name]["clip"]).all() for name in ("entropy", "margin", "least_confidence")
    )


def test_torchvision_adapter_is_detect_frames():
    det = _faster_rcnn("mobilenet_v3_fpn")
    ours = det.detect_frames(FRAMES)
    theirs = detect_frames(det.model, FRAMES, batch_size=2)
    for a, b in zip(ours, theirs, strict=True):
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[k], b[k]) for k in a)


def test_torchvision_adapter_needs_probabilities():
    from torchvision.models.detection.roi_heads import RoIHeads

    det = _faster_rcnn("mobilenet_v3_fpn")
    heads = det.model.roi_heads
    det.model.roi_heads = RoIHeads(  # torchvision's own heads: no probs
        heads.box_roi_pool, heads.box_head, heads.box_predictor, 0.5, 0.5, 512, 0.25, None,
        0.0, 0.5, 100,
    )  # fmt: skip
    with pytest.raises(VidalError, match="no class probabilities"):
        det.detect_frames(FRAMES[:1])


def test_check_detections_catches_broken_contracts():
    good = {
        "boxes": np.zeros((1, 4), np.float32),
        "labels": np.array([1]),
        "scores": np.array([0.7], np.float32),
        "probs": np.array([[0.2, 0.1, 0.7]], np.float32),
    }
    check_detections(good, 2)
    check_detections(empty_detections(2), 2)
    broken = [
        ({"labels": np.array([2])}, "labels must be in 0..1"),
        (
            {"scores": np.array([0.6], np.float32)},
            r"scores must equal probs\[n, labels\[n\] \+ 1\]",
        ),
        ({"probs": np.array([[0.3, 0.1, 0.7]], np.float32)}, "summing to 1"),
        ({"probs": np.array([[0.3, 0.7]], np.float32)}, r"probs must be float32 \(1, 3\)"),
        ({"boxes": np.zeros((1, 4))}, "boxes must be float32"),
    ]
    for change, message in broken:
        with pytest.raises(VidalError, match=message):
            check_detections({**good, **change}, 2)


def test_bad_frames(tiny_darknet):
    cfg, weights, _ = tiny_darknet
    detector = load_darknet_detector(cfg, weights, names=["a", "b"])
    with pytest.raises(
        VidalError, match=r"frames: expected uint8 RGB frames of shape \[N, H, W, 3\]"
    ):
        detector.detect_frames(FRAMES.astype(np.float32))
    with pytest.raises(VidalError, match=r"read_frames\('clip', \[0\]\): expected uint8"):
        detector.detect_video("clip", [0], lambda v, ts: FRAMES[0])
