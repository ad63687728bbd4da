"""Training the action detector on sparse labels: exact resume through a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidal.data import load_dataset
from vidal.data.store import FrameStore
from vidal.data.synth import SynthConfig, make_dataset
from vidal.errors import VidalError
from vidal.models.action import (
    ActionDetectorConfig,
    ActionModel,
    load_action_checkpoint,
    save_action_checkpoint,
)
from vidal.pool import LabelPool
from vidal.train.action import ActionTrainConfig, train_action_model


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    cfg = SynthConfig(videos=3, width=64, height=48, min_frames=12, max_frames=12, seed=5)
    ann = make_dataset(tmp_path_factory.mktemp("train-synth"), cfg, progress=False)
    dataset = load_dataset("vidal", ann)
    pool = LabelPool.from_dataset(dataset)
    for vid, n in pool.num_frames.items():
        pool.add_frames(vid, np.arange(0, n, 4))
    return dataset, pool, FrameStore(dataset, size=(48, 64))


CONFIG = ActionTrainConfig(loss="mgw", steps=2, batch_size=1, size=(48, 64), pos_weight=3.0)


def _model(dataset) -> ActionModel:
    torch.manual_seed(0)
    return ActionModel(ActionDetectorConfig.small(num_classes=dataset.num_classes))


def _train(model, data, steps, **kw):
    dataset, pool, store = data
    cfg = ActionTrainConfig(**{**CONFIG.__dict__, "steps": steps})
    return train_action_model(model, dataset, pool, store, cfg, seed=7, progress=False, **kw)


def test_resume_through_a_checkpoint_equals_training_at_once(data, tmp_path: Path):
    straight = _model(data[0])
    _train(straight, data, 3)

    first = _model(data[0])
    _train(first, data, 1)
    path = save_action_checkpoint(first, tmp_path / "ckpt.pt", train_state=True)
    again = load_action_checkpoint(path)
    assert again.steps_trained == 1 and again.train_state is not None
    _train(again, data, 2, resume=True)
    assert again.steps_trained == 3
    for (name, a), b in zip(
        straight.state_dict().items(), again.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)

    # without the train state (or without resume) the continuation starts afresh: different
    fresh = load_action_checkpoint(save_action_checkpoint(first, tmp_path / "plain.pt"))
    assert fresh.train_state is None
    _train(fresh, data, 2, resume=True)
    differs = [
        not torch.equal(a, b)
        for a, b in zip(straight.state_dict().values(), fresh.state_dict().values(), strict=True)
    ]
    assert any(differs)


def test_checkpoint_with_train_state_loads_weights_only(data, tmp_path: Path):
    model = _model(data[0])
    _train(model, data, 1)
    path = save_action_checkpoint(model, tmp_path / "ckpt.pt", train_state=True)
    state = torch.load(path, weights_only=True)
    assert set(state["train_state"]) >= {"optimizer", "sampler_rng", "torch_rng"}
    assert state["train_state"]["optimizer"]["state"]  # Adam moments are there


def test_sampler_gives_the_distance_to_the_videos_nearest_label(data):
    from vidal.train.action import SparseClipSampler

    dataset, pool, store = data
    sampler = SparseClipSampler(dataset, pool, store, clip_len=8, seed=0)
    vid = pool.videos_with_labels()[0]  # labeled every 4th frame: 0, 4, 8
    np.testing.assert_array_equal(sampler.distance(vid, np.arange(1, 9)), [1, 2, 1, 0, 1, 2, 1, 0])
    batch = sampler.sample(3)
    assert batch["distance"].shape == batch["labeled"].shape
    assert (batch["distance"][batch["labeled"]] == 0).all()
    assert (batch["distance"] <= 2).all()  # never further than half the label spacing


def test_true_class_decoding_uses_the_given_poses(data):
    from vidal.tasks.action import ActionTask, clip_windows, predict_video
    from vidal.train.action import clip_to_tensor, video_class

    dataset, _, store = data
    model = _model(dataset).eval()
    video = dataset[dataset.video_ids[0]]
    frames = store.frames(video.video_id)
    k = video_class(video)
    probs, _ = predict_video(model, frames, clip_len=8, device=torch.device("cpu"), label=k)
    # by hand: every clip decoded with class k, overlapping clips averaged
    n = len(frames)
    total, count = np.zeros(probs.shape, np.float32), np.zeros(n, np.float32)
    with torch.no_grad():
        for s in clip_windows(n, 8):
            idx = np.arange(s, s + 8).clip(max=n - 1)
            out = model.detector(clip_to_tensor(frames[idx])[None], labels=torch.tensor([k]))
            np.add.at(total, idx, torch.sigmoid(out.logits)[0].numpy())
            np.add.at(count, idx, 1.0)
    np.testing.assert_allclose(probs, total / count[:, None, None], atol=1e-5)
    other, _ = predict_video(
        model, frames, clip_len=8, device=torch.device("cpu"), label=(k + 1) % dataset.num_classes
    )
    assert not np.array_equal(probs, other)  # the decoder sees the poses of the class it is given

    task = ActionTask(
        dataset, dataset, model_config=model.config, train_config=CONFIG, progress=False
    )
    predicted, true = task.evaluate(model), task.evaluate(model, true_class=True)
    assert predicted["classification_accuracy"] == true["classification_accuracy"]
    assert set(predicted) == set(true)


def test_scores_carry_frame_features_and_the_true_error(data):
    """ActionTask.score adds each frame's latent feature and, on annotated data, 1 - IoU."""
    from vidal.metrics.localization import frame_ious
    from vidal.tasks.action import ActionTask, predict_video

    dataset, pool, store = data
    model = _model(dataset).eval()
    task = ActionTask(
        dataset, dataset, model_config=model.config, train_config=CONFIG, passes=2, progress=False
    )
    scores = task.score(model, pool, seed=0)
    vid = dataset.video_ids[0]
    n = dataset[vid].num_frames
    assert scores.extra["frame_features"][vid].shape == (n, model.detector.feature_dim)
    err = scores.extra["gt_error"][vid]
    probs, _ = predict_video(model, store.frames(vid), clip_len=8, device=torch.device("cpu"))
    np.testing.assert_allclose(err, 1 - frame_ious(probs, dataset[vid]))
    assert err.shape == (n,) and ((err >= 0) & (err <= 1)).all()


def test_frame_ious_by_hand():
    from vidal.data.annotations import Tube, VideoAnnotation
    from vidal.metrics.localization import frame_ious

    # frame 0: the box [0, 0, 4, 4] (16 px) against a prediction of its left half -> 0.5;
    # frame 1: no actor and nothing predicted -> 1; frame 2: no actor, 4 px predicted -> 0
    tube = Tube(0, 0, 0, np.array([[0, 0, 4, 4]], np.float32))
    video = VideoAnnotation("v", 3, 8, 8, label=0, tubes=[tube])
    maps = np.zeros((3, 8, 8), np.float32)
    maps[0, 0:4, 0:2] = 1.0
    maps[2, 6:8, 6:8] = 1.0
    assert frame_ious(maps, video).tolist() == [0.5, 1.0, 0.0]


def _same_weights(a: ActionModel, b: ActionModel) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_dispersion_recording_during_training_leaves_training_unchanged(data):
    from vidal.pool import Budget
    from vidal.scoring.dispersion import ActionPredictor, DispersionRecorder
    from vidal.select import APUSelector
    from vidal.train.action import clip_to_tensor

    dataset, pool, store = data
    plain = _model(dataset)
    _train(plain, data, 4)

    todo = {v: n for v, n in pool.num_frames.items() if not pool.mask(v).all()}
    predictor = ActionPredictor(
        lambda v: clip_to_tensor(store.frames(v)), todo, clip_len=CONFIG.clip_len
    )
    recorder = DispersionRecorder(predictor, points=4)
    calls = []

    def callback(step, total, model):
        calls.append((step, total, model.training))
        recorder(step, total, model)

    recorded = _model(dataset)
    _train(recorded, data, 4, callback=callback)
    assert calls == [(1, 4, True), (2, 4, True), (3, 4, True), (4, 4, True)]
    assert recorder.steps == [1, 2, 3, 4]
    assert _same_weights(plain, recorded)  # eval-mode predictions draw no random numbers

    k = dataset.num_classes
    for p in recorder.history:
        assert set(p.frames) == set(todo) and set(p.videos) == set(todo)
        for vid, labels in p.frames.items():
            assert labels.shape == (todo[vid],) and ((labels >= -1) & (labels < k)).all()
    d = recorder.dispersion()
    assert all(set(np.round(x * 4).tolist()) <= {0, 1, 2, 3} for x in d.values())
    selection = APUSelector()(recorder.scores(), pool, Budget(frames=3), np.random.default_rng(0))
    assert selection.num_frames == 3


def test_soft_class_targets_one_hot_trains_exactly_as_hard_labels(data):
    from vidal.train.action import video_class

    dataset, pool, _ = data
    k = dataset.num_classes
    hard = _model(dataset)
    _train(hard, data, 2)
    one_hot = {v: np.eye(k)[video_class(dataset[v])] for v in pool.video_ids}
    soft_model = _model(dataset)
    _train(soft_model, data, 2, class_targets=one_hot)
    assert _same_weights(hard, soft_model)

    spread = {v: np.full(k, 1.0 / k) for v in pool.video_ids}
    uncertain = _model(dataset)
    result = _train(uncertain, data, 2, class_targets=spread)
    assert np.isfinite(result["classification"]) and not _same_weights(hard, uncertain)

    with pytest.raises(VidalError, match="summing to 1"):
        _train(_model(dataset), data, 1, class_targets={pool.video_ids[0]: np.ones(k)})
    with pytest.raises(VidalError, match="not in the pool"):
        _train(_model(dataset), data, 1, class_targets={"nope": np.eye(k)[0]})


def test_progress_in_a_log_file_is_a_few_lines_not_one_per_step(data, capsys):
    """Off a terminal the bar redraws rarely: the loss shown beside it must not force a redraw
    on every step (a `vidal train > log` wrote one line per step)."""
    dataset, pool, store = data
    cfg = ActionTrainConfig(**{**CONFIG.__dict__, "steps": 12})
    train_action_model(_model(dataset), dataset, pool, store, cfg, seed=7, progress=True)
    err = capsys.readouterr().err
    assert "train (mgw)" in err
    assert err.count("\r") + err.count("\n") <= 4, err
