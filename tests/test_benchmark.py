"""The benchmark runner on a smoke suite: every output file is written and parses; reruns resume."""

import csv
import json
import os

import yaml

from recbole_hier.benchmark.__main__ import main
from recbole_hier.benchmark.suite import expand, load_suite
from tests.conftest import PROTOCOL, tiny_config_dict


def write_suite(tmp_path, tiny_data, tiny_bert):
    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path)
    config.pop("seed")
    suite = {
        "name": "smoke", "presets": [PROTOCOL], "config": config, "seeds": [1, 2],
        "reference": "HierRec", "datasets": {"tiny": {}},
        "models": {"HierRec": {}, "SASRec": {"config": {"n_layers": 1}}},
    }
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(suite))
    return str(path)


def test_smoke_suite_writes_every_output_and_resumes(tiny_data, tiny_bert, tmp_path, capsys):
    suite_file = write_suite(tmp_path, tiny_data, tiny_bert)
    results = str(tmp_path / "results")
    assert main(["--suite", suite_file, "--results", results]) == 0
    out = os.path.join(results, "smoke")
    runs = sorted(os.listdir(os.path.join(out, "runs")))
    assert runs == ["tiny__HierRec__1.json", "tiny__HierRec__2.json", "tiny__SASRec__1.json", "tiny__SASRec__2.json"]
    run = json.load(open(os.path.join(out, "runs", runs[0])))
    for key in ("best_valid", "test", "epochs_run", "train_epoch_seconds", "eval_seconds", "peak_memory_mb"):
        assert key in run
    assert run["epochs_run"] == 1 and run["train_epoch_seconds"] > 0 and run["peak_memory_mb"] > 0
    assert len(run["per_user"]["user"]) == len(run["per_user"]["ndcg@10"]) == 40
    # the per-user NDCG@10 averages to RecBole's own test NDCG@10
    assert abs(sum(run["per_user"]["ndcg@10"]) / 40 - run["test"]["ndcg@10"]) < 1e-3

    table = open(os.path.join(out, "leaderboard.md")).read()
    assert "## tiny" in table and "| HierRec |" in table and "| SASRec |" in table
    assert "popularity" in table and "history length" in table and "**" in table
    rows = list(csv.DictReader(open(os.path.join(out, "leaderboard.csv"))))
    assert {r["model"] for r in rows} == {"HierRec", "SASRec"}
    sasrec = next(r for r in rows if r["model"] == "SASRec")
    assert sasrec["p seeds"] != "" and sasrec["p users"] != ""
    assert float(sasrec["test ndcg@10 mean"]) >= 0
    assert len(json.load(open(os.path.join(out, "leaderboard.json")))) == 2
    with open(os.path.join(out, "leaderboard.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    capsys.readouterr()
    assert main(["--suite", suite_file, "--results", results]) == 0
    assert capsys.readouterr().out.count("done before") == 4


def test_suite_precedence_and_filters(tmp_path):
    suite = {
        "name": "s", "seeds": [1, 2], "config": {"epochs": 3, "hidden_size": 8},
        "datasets": {"a": {"config": {"hidden_size": 16}}, "b": {}},
        "models": {"M": {}, "M-x": {"model": "M", "config": {"hidden_size": 32}, "datasets": ["a"]},
                   "P": {"seeds": [1]}},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    runs = expand(load_suite(str(path)))
    keys = [r.key for r in runs]
    assert keys == ["a__M__1", "a__M-x__1", "a__P__1", "a__M__2", "a__M-x__2", "b__M__1", "b__P__1", "b__M__2"]
    by_key = {r.key: r for r in runs}
    assert by_key["a__M__1"].config["hidden_size"] == 16 and by_key["b__M__1"].config["hidden_size"] == 8
    assert by_key["a__M-x__2"].config["hidden_size"] == 32 and by_key["a__M-x__2"].model == "M"
    assert by_key["a__M-x__2"].config["seed"] == 2 and by_key["a__M__1"].config["epochs"] == 3
