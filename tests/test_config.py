"""Config precedence, package defaults and safe value parsing."""

import os

import pytest
import yaml

import torch

from recbole_hier.config import Config, package_model_yaml, parse_value, set_mixed_precision_defaults
from tests.conftest import PROTOCOL


def test_package_defaults_are_loaded_for_hierrec(tiny_data):
    config = Config("HierRec", "tiny", [PROTOCOL], {"data_path": tiny_data})
    with open(package_model_yaml("HierRec")) as f:
        defaults = yaml.safe_load(f)
    for key in ("hidden_size", "levels", "item_repr", "kl_beta_max", "level_loss_weights"):
        assert config[key] == defaults[key]
    assert config["train_neg_sample_args"]["distribution"] == "none"


def test_precedence(tiny_data, tmp_path):
    low, high = tmp_path / "low.yaml", tmp_path / "high.yaml"
    low.write_text("hidden_size: 48\ndropout_prob: 0.1\nkl_beta_max: 0.5\nreadout: attention\n")
    high.write_text("hidden_size: 40\ndropout_prob: 0.2\n")
    config = Config(
        "HierRec", "tiny", [PROTOCOL, str(low), str(high)],
        {"data_path": tiny_data, "hidden_size": 36, "kl_beta_max": 0.25},
        cmd_args=["--hidden_size=32"],
    )
    assert config["hidden_size"] == 32  # command line
    assert config["kl_beta_max"] == 0.25  # config_dict over files
    assert config["dropout_prob"] == 0.2  # later file over earlier
    assert config["readout"] == "attention"  # file over package default
    assert config["levels"] == ["lstm", "tcn"]  # package default


def test_dataset_yaml_outranks_package_defaults():
    # RecBole's own ml-100k YAML sets load_col; it must survive our model YAML.
    config = Config("HierRec", "ml-100k")
    assert config["load_col"] == {"inter": ["user_id", "item_id", "rating", "timestamp"]}


def test_ml100k_honours_data_path(tmp_path, monkeypatch):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(repo)
    assert Config("SASRec", "ml-100k", [PROTOCOL])["data_path"] == os.path.join("dataset/", "ml-100k")
    with pytest.raises(FileNotFoundError, match="ml-100k"):
        Config("SASRec", "ml-100k", [PROTOCOL], {"data_path": str(tmp_path)})


def test_values_are_parsed_without_eval(tmp_path):
    marker = tmp_path / "ran"
    text = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    assert parse_value(text) == text and not marker.exists()
    assert parse_value("[1, 2]") == [1, 2] and parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("None") is None
    assert parse_value("mean") == "mean"


def test_bad_command_line_and_missing_files(tiny_data):
    with pytest.raises(ValueError, match="--key=value"):
        Config("HierRec", "tiny", [PROTOCOL], {"data_path": tiny_data}, cmd_args=["hidden_size=3"])
    with pytest.raises(FileNotFoundError, match="no-such.yaml"):
        Config("HierRec", "tiny", ["no-such.yaml"])


def test_mixed_precision_is_on_by_default_on_cuda_only_and_a_key_wins(tiny_data):
    config = Config("HierRec", "tiny", [PROTOCOL], {"data_path": tiny_data})
    assert config["device"].type == "cpu" and config["enable_amp"] is False
    on_cuda = {"device": torch.device("cuda"), "enable_amp": False, "enable_scaler": False}
    set_mixed_precision_defaults(on_cuda, external={})
    assert on_cuda["enable_amp"] is True and on_cuda["enable_scaler"] is True
    chosen = {"device": torch.device("cuda"), "enable_amp": False, "enable_scaler": False}
    set_mixed_precision_defaults(chosen, external={"enable_amp": False})
    assert chosen["enable_amp"] is False and chosen["enable_scaler"] is True
