"""The scale benchmark: synthetic data of the asked size, every stage measured, growth fitted."""

import json

import numpy as np

from recbole_hier.benchmark import scale
from recbole_hier.benchmark.synthetic import write_dataset


def test_synthetic_data_has_the_asked_size_and_a_popularity_skew(tmp_path):
    users, items, interactions = write_dataset(str(tmp_path), "s", 5000, seed=1)
    with open(tmp_path / "s" / "s.inter") as f:
        rows = [line.split("\t") for line in list(f)[1:]]
    assert len(rows) == interactions and abs(interactions - 5000) < 5
    per_user = np.unique([r[0] for r in rows], return_counts=True)[1]
    assert len(per_user) == users and per_user.min() >= 5
    per_item = np.sort(np.unique([r[1] for r in rows], return_counts=True)[1])[::-1]
    assert per_item[0] > 5 * np.median(per_item)  # Zipf-like head
    assert sum(1 for _ in open(tmp_path / "s" / "s.item")) == items + 1


def test_a_small_scale_run_measures_every_stage(tmp_path, capsys):
    out = tmp_path / "out"
    rows = scale.main(["--sizes", "2e3,4e3", "--models", "HierRec,SASRec", "--train_batches", "1",
                       "--eval_batches", "1", "--threads", "1", "--work", str(tmp_path / "work"), "--out", str(out),
                       "--MAX_ITEM_LIST_LENGTH", "10", "--hidden_size=16", "--n_layers=1", "--history_storage=index"])
    assert [r["interactions"] for r in rows] == [2000, 4000]
    for row in rows:
        assert set(scale.STAGES) <= set(row["HierRec"]) and "failed" not in row["HierRec"]
        assert {"create_dataset", "data_preparation", "train epoch", "eval"} <= set(row["SASRec"])
        assert all(row[m]["peak RSS"] > 0 for m in ("HierRec", "SASRec"))
    table = (out / "scale.md").read_text()
    assert "| 4,000 |" in table and "Growth exponents" in table
    assert json.load(open(out / "scale.json"))["rows"][1]["interactions"] == 4000
    assert "extra keys: ['--hidden_size=16'" in capsys.readouterr().out
