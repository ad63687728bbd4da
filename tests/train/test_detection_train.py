"""Training the frame detector on the labeled frames of a pool, and batched inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import VidalError
from vidal.models.detector import build_detector
from vidal.pool import LabelPool
from vidal.train.detection import LabeledFrames, detect_frames, detect_video, train_detector

H, W, T = 48, 64, 6

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def videos() -> tuple[VideoDataset, dict[str, np.ndarray]]:
    """A red square moving right (class 0), a green one (class 1), and an empty video."""
    frames, annotations = {}, []
    for v, (color, label) in enumerate([((255, 0, 0), 0), ((0, 255, 0), 1)]):
        imgs = np.full((T, H, W, 3), 40, np.uint8)
        boxes = []
        for t in range(T):
            x1, y1 = 4 + 4 * t, 8 + 4 * v
            imgs[t, y1 : y1 + 24, x1 : x1 + 24] = color
            boxes.append([x1, y1, x1 + 24, y1 + 24])
        frames[f"v{v}"] = imgs
        annotations.append(
            VideoAnnotation(
                f"v{v}", T, W, H, tubes=[Tube(0, label, 0, np.array(boxes, np.float32))]
            )
        )
    frames["empty"] = np.full((T, H, W, 3), 40, np.uint8)
    annotations.append(VideoAnnotation("empty", T, W, H))
    return VideoDataset(["red", "green"], annotations), frames


def _reader(frames):
    return lambda vid, ts: frames[vid][list(ts)]


def test_labeled_frames_dataset(videos):
    dataset, frames = videos
    pool = LabelPool.from_dataset(dataset)
    pool.add_frames("v1", [3, 1])
    pool.add_frames("empty", [0])
    items = LabeledFrames(dataset, pool, _reader(frames))
    assert items.items == [("v1", 1), ("v1", 3), ("empty", 0)]
    image, target = items[0]
    assert image.shape == (3, H, W) and image.dtype == torch.float32 and float(image.max()) == 1.0
    assert target["labels"].tolist() == [2]  # dataset class 1 -> detector label 2
    assert target["boxes"].tolist() == [[8.0, 12.0, 32.0, 36.0]]
    _, empty = items[2]
    assert empty["boxes"].shape == (0, 4) and empty["labels"].shape == (0,)
    bad = LabeledFrames(dataset, pool, lambda vid, ts: frames[vid][list(ts)][..., :2])
    with pytest.raises(VidalError, match=r"\[1, H, W, 3\]"):
        bad[0]


def test_training_lowers_the_loss_and_is_reproducible(videos, tiny_detector):
    dataset, frames = videos
    pool = LabelPool.from_dataset(dataset)
    pool.add_frames("v0", [2])
    pool.add_frames("empty", [3])  # a negative frame
    torch.manual_seed(0)
    model = build_detector(2, backbone="mobilenet_v3_fpn", **tiny_detector)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    options = dict(
        read_frames=_reader(frames), lr=0.01, batch_size=2, hflip=0.0, seed=0, progress=False
    )
    losses = train_detector(model, dataset, pool, steps=6, lr_drops=(), **options)
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert np.mean(losses[-2:]) < np.mean(losses[:2]), losses
    assert not model.training
    # same seed, same start: same losses; the caller's random state is untouched
    model.load_state_dict(start)
    state = torch.random.get_rng_state()
    again = train_detector(model, dataset, pool, steps=2, lr_drops=(), **options)
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_allclose(again, losses[:2], rtol=1e-5)


def _bn_buffers(model):
    return {
        k: v.clone()
        for k, v in model.state_dict().items()
        if k.endswith(("running_mean", "running_var"))
    }


def test_keep_bn_stats_leaves_the_running_statistics(videos, tiny_detector):
    """lr 0: only batch norm's running statistics can change; ``keep_bn_stats`` keeps them."""
    dataset, frames = videos
    pool = LabelPool.from_dataset(dataset)
    pool.add_frames("v0", [1, 4])
    torch.manual_seed(0)
    model = build_detector(2, backbone="mobilenet_v3_fpn", **tiny_detector)
    start = _bn_buffers(model)
    assert start, "the untrained detector has ordinary batch norm"
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    options = dict(read_frames=_reader(frames), lr=0.0, batch_size=2, steps=2, progress=False)

    train_detector(model, dataset, pool, keep_bn_stats=True, **options)
    after = _bn_buffers(model)
    assert all(torch.equal(after[k], start[k]) for k in start)
    # the layers get their momentum back, and then training moves the statistics again
    assert {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == momenta
    train_detector(model, dataset, pool, **options)
    after = _bn_buffers(model)
    assert any(not torch.allclose(after[k], start[k]) for k in start)

    # restored after an error too (a non-finite loss stops training)
    with pytest.raises(VidalError, match="not finite"):
        train_detector(
            model, dataset, pool, keep_bn_stats=True, **{**options, "lr": 1e30, "steps": 20}
        )
    assert {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == momenta


def test_training_needs_labels_and_one_length(videos, tiny_detector):
    dataset, frames = videos
    model = build_detector(2, backbone="mobilenet_v3_fpn", **tiny_detector)
    pool = LabelPool.from_dataset(dataset)
    with pytest.raises(VidalError, match="no labeled frames"):
        train_detector(model, dataset, pool, read_frames=_reader(frames), steps=1, progress=False)
    pool.add_frames("v0", [0])
    with pytest.raises(VidalError, match="epochs or steps"):
        train_detector(model, dataset, pool, read_frames=_reader(frames), steps=1, epochs=1)


def test_detect_frames_and_video(videos, tiny_detector):
    dataset, frames = videos
    torch.manual_seed(0)
    model = build_detector(2, backbone="mobilenet_v3_fpn", score_thresh=0.0, **tiny_detector)
    dets = detect_frames(model, frames["v0"][:3], batch_size=2)
    assert len(dets) == 3 and not model.training
    for d in dets:
        n = len(d["scores"])
        assert n > 0
        assert d["boxes"].shape == (n, 4) and d["probs"].shape == (n, 3)
        assert d["labels"].dtype == np.int64 and set(d["labels"]) <= {0, 1}  # dataset classes
        np.testing.assert_array_equal(d["probs"][np.arange(n), d["labels"] + 1], d["scores"])
    by_video = detect_video(model, _reader(frames), "v0", [2, 0], batch_size=1)
    expected = detect_frames(model, frames["v0"][[2, 0]], batch_size=1)
    for got, want in zip(by_video, expected, strict=True):
        for key in ("boxes", "labels", "scores", "probs"):
            np.testing.assert_array_equal(got[key], want[key])
    with pytest.raises(VidalError, match=r"frames\[0\]"):
        detect_frames(model, [np.zeros((H, W), np.uint8)])


def test_dispersion_recorder_as_callback_leaves_training_unchanged(videos, tiny_detector):
    from vidal.scoring.dispersion import DetectionPredictor, DispersionRecorder

    dataset, frames = videos
    pool = LabelPool.from_dataset(dataset)
    pool.add_frames("v0", [2])
    pool.add_frames("empty", [3])
    options = dict(
        read_frames=_reader(frames), lr=0.01, batch_size=2, hflip=0.5, seed=0, progress=False
    )
    torch.manual_seed(0)
    plain = build_detector(2, backbone="mobilenet_v3_fpn", **tiny_detector)
    start = {k: v.clone() for k, v in plain.state_dict().items()}
    train_detector(plain, dataset, pool, epochs=2, **options)

    unlabeled = {v: (n, np.flatnonzero(~pool.mask(v))) for v, n in pool.num_frames.items()}
    recorder = DispersionRecorder(
        DetectionPredictor(_reader(frames), unlabeled, threshold=0.05), points=2
    )
    seen = []

    def callback(step, total, model):
        seen.append((step, total, model.training))
        recorder(step, total, model)

    recorded = build_detector(2, backbone="mobilenet_v3_fpn", **tiny_detector)
    recorded.load_state_dict(start)
    train_detector(recorded, dataset, pool, epochs=2, callback=callback, **options)
    assert seen == [(1, 2, True), (2, 2, True)]  # 2 labeled frames, batches of 2: a step an epoch
    assert recorder.steps == [1, 2]  # at the end of each epoch
    for a, b in zip(plain.state_dict().values(), recorded.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    d = recorder.dispersion()
    assert {v: x.shape for v, x in d.items()} == {v: (T,) for v in pool.num_frames}
    assert all(set(x.tolist()) <= {0.0, 0.5} for x in d.values())
    assert d["v0"][2] == 0.0  # a labeled frame was not predicted: one fixed label
