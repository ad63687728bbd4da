import json

import pytest

from vidal.config import ExperimentConfig, load_config
from vidal.errors import ConfigError


def test_empty_yaml_is_a_valid_experiment(tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text("")
    cfg = load_config(p)
    assert cfg == ExperimentConfig(name="exp")


def test_nested_fields_and_types(tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text(
        "cycles: 2\nseeds: [0, 1]\nmodel: {size: [32, 48]}\n"
        "select: {selector: claus, options: {num_clusters: 3}}\nbudget: {step: 1}\n"
    )
    cfg = load_config(p, overrides={"train": {"steps": 5}})
    assert cfg.seeds == (0, 1) and cfg.model.size == (32, 48) and cfg.budget.step == 1.0
    assert cfg.select.options == {"num_clusters": 3} and cfg.train.steps == 5
    assert cfg.out_dir().name == "exp"


def test_unknown_keys_list_the_known_ones(tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text("trian: {steps: 3}\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown key\(s\) \['trian'\] \('trian': did you mean 'train'\?\); known keys: \['name'",
    ):
        load_config(p)
    p.write_text("train: {steps: many}\n")
    with pytest.raises(ConfigError, match="train.steps: expected int, got 'many'"):
        load_config(p)


def test_flow_settings_are_checked_when_the_config_loads(tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text("score: {flow: dis-fast, flow_scale: 0.5}\n")
    assert (load_config(p).score.flow, load_config(p).score.flow_scale) == ("dis-fast", 0.5)
    p.write_text("score: {flow: dis-slow}\n")
    with pytest.raises(ConfigError, match=r"score.flow='dis-slow': one of .*dis-fast"):
        load_config(p)
    p.write_text("score: {flow_scale: 2}\n")
    with pytest.raises(ConfigError, match=r"score.flow_scale=2.0: must be in \(0, 1\]"):
        load_config(p)


def test_a_run_folder_takes_more_cycles_but_not_another_experiment(tmp_path):
    import dataclasses

    from vidal.config import ExperimentConfig, SelectConfig
    from vidal.errors import VidalError
    from vidal.experiment import remember_config

    cfg = ExperimentConfig(cycles=2)
    remember_config(tmp_path, cfg)
    remember_config(tmp_path, dataclasses.replace(cfg, cycles=5))  # continue with more cycles
    assert json.loads((tmp_path / "config.json").read_text())["cycles"] == 5
    with pytest.raises(VidalError, match=r"differs in \['select'\]"):
        remember_config(tmp_path, dataclasses.replace(cfg, select=SelectConfig("random")))
