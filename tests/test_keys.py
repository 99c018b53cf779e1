"""HierRec's keys: declared once; the YAML of defaults and docs/keys.md agree with the
declaration; every key is typed and checked before any data is read."""

import os

import pytest
import yaml

from recbole_hier.config import Config, package_model_yaml
from recbole_hier.keydocs import KEYS_DOC, documented_models, keys_document
from recbole_hier.keys import Key, KeySet
from tests.conftest import PROTOCOL, REPO


@pytest.mark.parametrize("name", ["HierRec", "SASRecText", "UniSRec"])
def test_the_yaml_of_defaults_is_the_declaration(name):
    keys = documented_models()[name]
    with open(package_model_yaml(name), encoding="utf-8") as f:
        text = f.read()
    assert text == keys.yaml(), f"{name}.yaml disagrees with its declaration: run python -m recbole_hier.keydocs"
    defaults = yaml.safe_load(text)
    assert defaults == {key.name: key.default for key in keys.keys}


def test_the_key_reference_is_the_declaration():
    with open(KEYS_DOC, encoding="utf-8") as f:
        document = f.read()
    assert document == keys_document(), "docs/keys.md disagrees with the declarations: run python -m recbole_hier.keydocs"
    for name, keys in documented_models().items():
        assert f"## {name}\n\n{keys.markdown()}" in document


def test_a_drifted_yaml_or_table_is_detected():
    keys = KeySet("M", [Key("size", "int", 4, "How big.", low=1), Key("kind", "str", "a", "Which.", choices=("a", "b"))])
    assert keys.yaml().splitlines() == ["size: 4                         # (int) How big. >= 1.",
                                        "kind: a                         # (str) Which. Range in ['a', 'b']."]
    drifted = Key("kind", "str", "a", "Which.", choices=("a", "b", "c"))
    assert KeySet("M", [keys["size"], drifted]).markdown() != keys.markdown()


@pytest.mark.parametrize("value, parsed", [("no", False), ("off", None), ("Yes", True), ("0", False),
                                           (1, True), ("maybe", None), (2, None)])
def test_booleans_accept_true_false_yes_no_1_0_only(make_config, value, parsed):
    if parsed is None:
        with pytest.raises(ValueError, match="plm_trust_remote_code must be a boolean"):
            make_config(plm_trust_remote_code=value)
    else:
        assert make_config(plm_trust_remote_code=value)["plm_trust_remote_code"] is parsed


def test_command_line_values_are_typed_before_data_is_read(tiny_data, tmp_path):
    def config(*args):
        return Config("HierRec", "tiny", [PROTOCOL], {"data_path": str(tmp_path / "no-data-here")}, cmd_args=list(args))

    with pytest.raises(ValueError, match=r"hidden_size must be a number \(int\), got 'abc'"):
        config("--hidden_size=abc")
    with pytest.raises(ValueError, match="vae must be a boolean"):
        config("--vae=maybe")
    with pytest.raises(ValueError, match=r"dropout_prob must be in \[0, 1\), got 1.0"):
        config("--dropout_prob=1.0")
    with pytest.raises(ValueError, match=r"levels entries must be in \['lstm', 'tcn', 'attn'\]"):
        config("--levels=['gru']")
    with pytest.raises(ValueError, match="hidden_size must be a whole number"):
        config("--hidden_size=64.5")
    parsed = config("--vae=no", "--hidden_size=32.0", "--kl_beta_max=1")
    assert parsed["vae"] is False and parsed["hidden_size"] == 32 and isinstance(parsed["kl_beta_max"], float)


def test_every_preset_file_holds_known_valid_keys(make_config):
    import glob

    for path in sorted(glob.glob(os.path.join(REPO, "properties", "model", "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            preset = yaml.safe_load(f)
        config = make_config(**preset)  # HierRec validates every key at construction
        assert {key: config[key] for key in preset} == preset, path
