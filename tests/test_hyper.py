"""Hyper-parameter search with RecBole's HyperTuning, through the CLI, on tiny data."""

import csv

import pytest
import yaml

import run_recbole_hier
from recbole_hier.hyper import read_space
from tests.conftest import tiny_config_dict


def test_cli_four_point_exhaustive_search(tiny_data, tiny_bert, tmp_path, capsys):
    space = tmp_path / "space.hyper"
    space.write_text("learning_rate choice [0.001, 0.01]\nhidden_size choice [8, 16]\n")
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, tiny_bert, tmp_path)))
    output = str(tmp_path / "hyper" / "tiny")
    rows = run_recbole_hier.main(["--hyper", f"--params_file={space}", "--dataset=tiny",
                                  f"--config_files={config_file}", f"--hyper_output={output}"])
    assert len(rows) == 4
    assert sorted((r["params"]["learning_rate"], r["params"]["hidden_size"]) for r in rows) == [
        (0.001, 8), (0.001, 16), (0.01, 8), (0.01, 16)]
    with open(output + ".csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4
    chosen = [r for r in table if r["chosen"] == "*"]
    assert len(chosen) == 1
    best_valid = max(float(r["valid ndcg@10"]) for r in table)
    assert float(chosen[0]["valid ndcg@10"]) == best_valid  # chosen on validation only
    assert "test ndcg@10" in table[0]
    assert "chosen (*) by validation" in open(output + ".md").read()
    assert "4 trials" in capsys.readouterr().out


def test_space_file_is_parsed_without_eval(tmp_path):
    marker = tmp_path / "ran"
    bad = tmp_path / "bad.hyper"
    bad.write_text(f"x choice __import__('pathlib').Path({str(marker)!r}).touch()\n")
    with pytest.raises(ValueError, match="bad.hyper:1"):
        read_space(str(bad))
    assert not marker.exists()
    good = tmp_path / "good.hyper"
    good.write_text("# comment\nlr loguniform -8,-2\nd uniform 0.1,0.5\nk quniform 1,5,1\nm choice ['a', 'b']\n")
    assert read_space(str(good)) == {"lr": ("loguniform", [-8.0, -2.0]), "d": ("uniform", [0.1, 0.5]),
                                     "k": ("quniform", [1.0, 5.0, 1.0]), "m": ("choice", ["a", "b"])}
    wrong = tmp_path / "wrong.hyper"
    wrong.write_text("lr normal 0,1\n")
    with pytest.raises(ValueError, match="wrong.hyper:1"):
        read_space(str(wrong))
