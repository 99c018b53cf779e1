"""Promoting a lever to a default: the stored runs move to new model names and stay current."""

import os

import pytest

from recbole_hier.benchmark.__main__ import main
from recbole_hier.benchmark.plan import Plan
from recbole_hier.benchmark.runner import run_one
from recbole_hier.benchmark.store import RunStore
from recbole_hier.model.hierrec.keys import HIERREC_KEYS
from tests.test_benchmark import write_suite


def test_a_promoted_lever_and_the_former_default_keep_their_runs(tiny_data, tiny_bert, tmp_path, capsys):
    default = HIERREC_KEYS["readout"].default
    lever = next(v for v in HIERREC_KEYS["readout"].choices if v != default)
    results = str(tmp_path / "results")
    grid = {"grid": {"learning_rate": [0.01]}, "seed": 1}  # one point: a grid run the seeded run reuses
    before = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 2}, tuning=grid, models={
        "HierRec": {}, "HierRec-lever": {"model": "HierRec", "tune": "HierRec", "config": {"readout": lever}}})
    assert main(["--suite", before, "--results", results, "--seeds", "1"]) == 0
    store = RunStore(os.path.join(results, "smoke", "runs"))
    grid_key = store.load("tiny__HierRec__1")["reused_from"]
    assert grid_key.startswith("tiny__HierRec@learning_rate=")
    chosen = {"learning_rate": float(grid_key.split("=")[1].split("__")[0])}
    paused = Plan.load(before).seeded_runs("tiny", "HierRec", chosen)[1]
    assert paused.seed == 2 and run_one(paused, store, deadline=0)[1].startswith("paused")
    stored = sorted(os.listdir(store.runs_dir))

    # the default becomes the lever's value (a suite's model_defaults stands in for the package's)
    for wrong in (["HierRec"], ["HierRec=HierRec-lever"]):
        with pytest.raises(SystemExit):
            main(["--suite", before, "--results", results, "--rename_model", *wrong])
    assert sorted(os.listdir(store.runs_dir)) == stored  # refused before anything moved
    with pytest.raises(SystemExit, match="no stored runs of model 'HierRec-typo'"):
        main(["--suite", before, "--results", results, "--rename_model", "HierRec-typo=HierRec-x"])
    assert main(["--suite", before, "--results", results,
                 "--rename_model", "HierRec=HierRec-former", "--rename_model", "HierRec-lever=HierRec"]) == 0
    printed = capsys.readouterr().out
    assert "HierRec -> HierRec-former: 3 run(s)" in printed and "HierRec-lever -> HierRec: 1 run(s)" in printed
    assert sorted(os.listdir(store.runs_dir)) == sorted(
        name.replace("__HierRec", "__HierRec-former").replace("HierRec-former-lever", "HierRec") for name in stored)
    record = store.load("tiny__HierRec-former__1")
    assert record["name"] == "HierRec-former" and record["renamed_from"] == "tiny__HierRec__1"
    assert record["reused_from"] == grid_key.replace("__HierRec@", "__HierRec-former@")
    assert store.load(record["reused_from"])["name"] == "HierRec-former@" + grid_key.split("@")[1].split("__")[0]
    assert store.load("tiny__HierRec__1")["config"]["readout"] == lever

    after = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 2}, tuning=grid,
                        model_defaults={"HierRec": {"readout": lever}}, models={
                            "HierRec": {"tune": "HierRec-former"},
                            "HierRec-former": {"model": "HierRec", "config": {"readout": default}}})
    plan = Plan.load(after)
    todo = plan.todo(store, ["tiny"], ["HierRec", "HierRec-former"], [1])
    assert todo == []  # every renamed run is current under the suite that pins the former default
    assert run_one(plan.seeded_runs("tiny", "HierRec-former", chosen)[1], store)[1] == "ran (resumed)"
    assert main(["--suite", after, "--results", results, "--report_only"]) == 0
    board = open(os.path.join(results, "smoke", "leaderboard.md")).read()
    assert "| HierRec-former |" in board and "| HierRec |" in board
