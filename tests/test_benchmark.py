"""The benchmark runner on a smoke suite: every output file is written and parses; reruns resume."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

import run_recbole_hier
from recbole_hier.benchmark.__main__ import main
from recbole_hier.benchmark import stats
from recbole_hier.checkpoint import load_checkpoint, save_checkpoint
from recbole_hier.benchmark.plan import Plan, RunSpec, SuiteError, grid_edges
from recbole_hier.benchmark.report import _cap_lines
from recbole_hier.benchmark.runner import run_one, threads_per_run
from recbole_hier.benchmark.store import RunStore
from tests.conftest import PROTOCOL, REPO, tiny_config_dict


def write_suite(tmp_path, tiny_data, tiny_bert, config_changes=(), **changes):
    config = {**tiny_config_dict(tiny_data, tiny_bert, tmp_path), **dict(config_changes)}
    config.pop("seed")
    config.pop("learning_rate", None)
    suite = {
        "name": "smoke", "presets": [PROTOCOL], "config": config, "seeds": [1, 2],
        "reference": "HierRec", "datasets": {"tiny": {}},
        "tuning": {"grid": {"learning_rate": [0.001, 0.01]}, "seed": 1},
        "models": {"HierRec": {}, "SASRec": {"config": {"n_layers": 1}},
                   "SASRecText": {"config": {"n_layers": 1}}, "UniSRec": {"config": {"n_layers": 1}},
                   "HierRec-noVAE": {"model": "HierRec", "tune": "HierRec", "config": {"vae": False}, "seeds": [2]}},
        **changes,
    }
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(suite))
    return str(path)


def test_smoke_suite_tunes_on_validation_writes_every_output_and_resumes(tiny_data, tiny_bert, tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # an allocator setting: changes speed, so it is recorded
    suite_file = write_suite(tmp_path, tiny_data, tiny_bert)
    results = str(tmp_path / "results")
    assert main(["--suite", suite_file, "--results", results]) == 0
    out = os.path.join(results, "smoke")
    runs_dir = os.path.join(out, "runs")
    runs = sorted(os.listdir(runs_dir))
    assert runs == sorted([f"tiny__{m}{g}__{s}.json" for m in ("HierRec", "SASRec", "SASRecText", "UniSRec")
                           for g, s in (("@learning_rate=0.001", 1), ("@learning_rate=0.01", 1), ("", 1), ("", 2))]
                          + ["tiny__HierRec-noVAE__2.json"])
    for model in ("HierRec", "SASRec", "SASRecText", "UniSRec"):
        grid = {lr: json.load(open(os.path.join(runs_dir, f"tiny__{model}@learning_rate={lr}__1.json")))
                for lr in (0.001, 0.01)}
        chosen = max(grid, key=lambda lr: grid[lr]["best_valid"]["ndcg@10"])  # first on ties
        if grid[0.001]["best_valid"]["ndcg@10"] == grid[0.01]["best_valid"]["ndcg@10"]:
            chosen = 0.001
        seed1 = json.load(open(os.path.join(runs_dir, f"tiny__{model}__1.json")))
        seed2 = json.load(open(os.path.join(runs_dir, f"tiny__{model}__2.json")))
        # the seed of the grid is not trained twice; every seed uses the validation choice
        assert seed1["reused_from"] == f"tiny__{model}@learning_rate={chosen}__1"
        assert seed1["test"] == grid[chosen]["test"] and seed1["name"] == model
        assert seed2["config"]["learning_rate"] == chosen and "reused_from" not in seed2
        if model == "HierRec":  # the ablation takes its parent's choice
            ablation = json.load(open(os.path.join(runs_dir, "tiny__HierRec-noVAE__2.json")))
            assert ablation["config"]["learning_rate"] == chosen and ablation["config"]["vae"] is False
    run = json.load(open(os.path.join(runs_dir, "tiny__HierRec__2.json")))
    for key in ("best_valid", "test", "epochs_run", "train_epoch_seconds", "eval_seconds", "peak_memory_mb"):
        assert key in run
    assert run["epochs_run"] == 1 and run["train_epoch_seconds"] > 0 and run["peak_memory_mb"] > 0
    assert run["device"].startswith("cpu (") and run["device"].endswith(" threads)")
    assert run["memory_kind"] == "process peak RSS"
    assert run["speed_env"]["MALLOC_ARENA_MAX"] == "4" and "PATH" not in run["speed_env"]
    assert len(run["train_loss"]) == 1 and run["train_loss"][0] > 0
    assert len(run["per_user"]["user"]) == len(run["per_user"]["ndcg@10"]) == 40
    # the breakdown's history length is the user's whole history, not the model's window (L 8)
    events = {}
    for line in open(os.path.join(tiny_data, "tiny", "tiny.inter")).readlines()[1:]:
        events[line.split("\t")[0]] = events.get(line.split("\t")[0], 0) + 1
    full = dict(zip(run["per_user"]["user"], run["per_user"]["history_length_full"]))
    assert full == {u: events[u] - 1 for u in run["per_user"]["user"]} and max(full.values()) > 8
    assert run["per_user"]["history_length"] == [min(n, 8) for n in run["per_user"]["history_length_full"]]
    # the per-user NDCG@10 averages to RecBole's own test NDCG@10
    assert abs(sum(run["per_user"]["ndcg@10"]) / 40 - run["test"]["ndcg@10"]) < 1e-3

    table = open(os.path.join(out, "leaderboard.md")).read()
    assert "## tiny" in table and "| HierRec |" in table and "| SASRec |" in table
    assert "popularity" in table and "history length" in table and "**" in table
    assert "by the target item's train interactions" in table
    # each model's bucket means carry the test over the bucket's users against the reference
    assert "in brackets, the Wilcoxon p over the group's users against HierRec:" in table
    rows = table.split("by history length", 1)[1].split("\n\n")[1].splitlines()[2:]
    assert next(r for r in rows if r.startswith("| HierRec |")).count("(") == 0
    assert all(cell.strip().endswith(")") for cell in
               next(r for r in rows if r.startswith("| SASRec |")).strip("|").split("|")[1:])
    lengths = sorted(full.values())
    median = (lengths[19] + lengths[20]) / 2
    assert (f"history length (interactions before the target; mean {sum(lengths) / 40:.1f}, "
            f"median {median:.0f} over the 40 test users)") in table
    assert "- HierRec: " in table and "learning_rate=0.01: " in table and "HierRec@" not in table
    verdict = next(line for line in table.splitlines() if line.startswith("Verdict: "))
    best = verdict.split(" is ", 1)[1].split(" ", 1)[0]
    assert best in ("SASRec", "SASRecText", "UniSRec")  # not the HierRec ablation
    assert f"| {best} |" in table and "; by seed 1: " in verdict
    assert ", seeds 2 vs 2, p seeds" in verdict  # both sides' seed counts: the rule needs 5 on each
    assert verdict.endswith("rule: every run finished, >= 5 seeds each, a higher mean, p seeds and p users < 0.05).")
    assert "not a win (2 seed(s), the rule needs 5 on both sides" in verdict
    assert "| HierRec-noVAE | 2 |" in table
    # every run used its one epoch; the seed-1 runs that reuse a grid run are listed once
    capped = next(line for line in table.splitlines() if line.startswith("Ran to the 1-epoch cap"))
    assert capped.split(": ", 1)[1].count("seed ") == 13
    # a one-seed row shows its value alone: "± 0.0000" would claim a spread never measured
    novae_row = next(line for line in table.splitlines() if line.startswith("| HierRec-noVAE |"))
    two_seed_row = next(line for line in table.splitlines() if line.startswith("| SASRec |"))
    assert "±" not in novae_row and "±" in two_seed_row
    assert "| peak MB | device |" in table and two_seed_row.endswith(f"| {run['device']} |")
    rows = list(csv.DictReader(open(os.path.join(out, "leaderboard.csv"))))
    assert {r["model"] for r in rows} == {"HierRec", "SASRec", "SASRecText", "UniSRec", "HierRec-noVAE"}
    sasrec = next(r for r in rows if r["model"] == "SASRec")
    assert sasrec["p seeds"] != "" and sasrec["p users"] != ""
    assert float(sasrec["test ndcg@10 mean"]) >= 0
    assert len(json.load(open(os.path.join(out, "leaderboard.json")))) == 5
    with open(os.path.join(out, "leaderboard.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    assert "still to do" not in capsys.readouterr().out
    assert main(["--suite", suite_file, "--results", results]) == 0
    assert capsys.readouterr().out.count("done before") == 17
    assert main(["--suite", suite_file, "--results", results, "--models", "SASRec"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("done before") == 4 and "HierRec" not in printed.split("leaderboard:")[0]
    # --seeds narrows the seeded runs; the grid runs the choice needs still count
    assert main(["--suite", suite_file, "--results", results, "--models", "SASRec", "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("done before") == 3 and "tiny__SASRec__2: done before" in printed
    assert "tiny__SASRec__1:" not in printed
    with pytest.raises(SystemExit, match=r"--seeds: \[3\] are not seeds of this suite; it has \[1, 2\]"):
        main(["--suite", suite_file, "--results", results, "--seeds", "1,3"])
    with pytest.raises(SystemExit, match=r"--seeds: 'x' is not a comma-separated list of integers"):
        main(["--suite", suite_file, "--results", results, "--seeds", "x"])
    with pytest.raises(SystemExit, match=r"--models: \['GRU4Rec'\] are not models of this suite"):
        main(["--suite", suite_file, "--results", results, "--models", "GRU4Rec"])
    with pytest.raises(SystemExit, match=r"--only: \['ml-1m'\] are not datasets of this suite"):
        main(["--suite", suite_file, "--results", results, "--only", "ml-1m"])
    os.unlink(os.path.join(out, "leaderboard.md"))
    assert run_recbole_hier.main(["--benchmark", suite_file, "--results", results, "--report_only"]) == 0
    assert "| SASRec |" in open(os.path.join(out, "leaderboard.md")).read()

    # a stored result made with another configuration is neither reused nor overwritten
    before = open(os.path.join(runs_dir, "tiny__SASRec__2.json")).read()
    changed = write_suite(tmp_path, tiny_data, tiny_bert,
                          models={"HierRec": {}, "SASRec": {"config": {"n_layers": 2}}})
    # (the ablation is no longer in the suite: its stored run stays on disk, out of the table)
    assert main(["--suite", changed, "--results", results, "--report_only"]) == 0
    stale_table = open(os.path.join(out, "leaderboard.md")).read()
    assert "| SASRec |" not in stale_table
    # no verdict against a baseline that has not run: the best baseline is not known yet
    assert "Verdict: not decided, no baseline has finished (not run yet: SASRec)." in stale_table
    assert main(["--suite", changed, "--results", results]) == 1
    printed = capsys.readouterr().out
    assert "different config for ['n_layers']" in printed
    assert open(os.path.join(runs_dir, "tiny__SASRec__2.json")).read() == before


def test_suite_tuning_is_validated(tmp_path):
    base = {"name": "s", "seeds": [1], "datasets": {"a": {}},
            "tuning": {"grid": {"learning_rate": [0.1, 0.2]}, "seed": 1}}
    cases = {
        "same number of grid points": {"M": {}, "N": {"grid": {"learning_rate": [0.1, 0.2, 0.3]}}},
        "not a tuned model": {"M": {"tune": False}, "N": {"tune": "M"}},
        "both fixes and tunes": {"M": {"config": {"learning_rate": 0.1}}},
    }
    for message, models in cases.items():
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump({**base, "models": models}))
        with pytest.raises(SuiteError, match=message):
            Plan.load(str(path))


def test_a_choice_at_the_edge_of_a_grid_is_flagged():
    grid = {"learning_rate": [0.001, 0.0005, 0.002], "hidden_size": [32, 64], "softmax": ["full", "a", "b"]}
    assert grid_edges(grid, {"learning_rate": 0.0005, "hidden_size": 64, "softmax": "a"}) == [("learning_rate", "lowest")]
    assert grid_edges(grid, {"learning_rate": 0.002, "hidden_size": 32, "softmax": "b"}) == [("learning_rate", "highest")]
    # an inner point is no edge; two values make every choice an edge, so they are not flagged
    assert grid_edges(grid, {"learning_rate": 0.001, "hidden_size": 32, "softmax": "full"}) == []
    assert grid_edges({"vae": [True, False, True]}, {"vae": True}) == []


def test_suite_precedence_and_filters(tmp_path):
    suite = {
        "name": "s", "seeds": [1, 2], "config": {"epochs": 3, "hidden_size": 8},
        "datasets": {"a": {"config": {"hidden_size": 16}}, "b": {}},
        "models": {"M": {}, "M-x": {"model": "M", "config": {"hidden_size": 32}, "datasets": ["a"]},
                   "P": {"seeds": [1]}},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    plan = Plan.load(str(path))
    runs = [spec for d, n in plan.cells() for spec in plan.seeded_runs(d, n)]
    keys = [r.key for r in runs]
    assert keys == ["a__M__1", "a__M__2", "a__M-x__1", "a__M-x__2", "a__P__1", "b__M__1", "b__M__2", "b__P__1"]
    by_key = {r.key: r for r in runs}
    assert by_key["a__M__1"].config["hidden_size"] == 16 and by_key["b__M__1"].config["hidden_size"] == 8
    assert by_key["a__M-x__2"].config["hidden_size"] == 32 and by_key["a__M-x__2"].model == "M"
    assert by_key["a__M-x__2"].config["seed"] == 2 and by_key["a__M__1"].config["epochs"] == 3


def test_a_dataset_entry_may_read_another_dataset_with_its_own_settings(tmp_path):
    suite = {"name": "s", "seeds": [1], "datasets": {"ml-100k": {}, "ml-100k-L200": {
        "dataset": "ml-100k", "config": {"MAX_ITEM_LIST_LENGTH": 200}}}, "models": {"M": {}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    plan = Plan.load(str(path))
    short, long = [spec for d, n in plan.cells() for spec in plan.seeded_runs(d, n)]
    assert (short.key, long.key) == ("ml-100k__M__1", "ml-100k-L200__M__1")
    assert short.recbole_dataset == long.recbole_dataset == "ml-100k"
    # the entry reads the dataset's preset, under its own settings
    assert long.config_files == short.config_files and long.config_files[-1].endswith("ml-100k.yaml")
    assert long.config["MAX_ITEM_LIST_LENGTH"] == 200 and "MAX_ITEM_LIST_LENGTH" not in short.config


def _processes():
    """``{pid: (parent pid, state)}`` from the Linux process table."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry)] = (int(fields[1]), fields[0])
    return table


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the process table from /proc")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_stopping_the_runner_stops_its_run(tiny_data, tiny_bert, tmp_path, jobs):
    """SIGTERM to the runner must not leave the runs in progress training on as orphans."""
    path = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 500, "stopping_step": 500})
    runner = subprocess.Popen([sys.executable, "-m", "recbole_hier.benchmark", "--suite", path,
                               "--results", str(tmp_path / "results"), "--models", "SASRec", "--jobs", jobs],
                              env={**os.environ, "PYTHONPATH": REPO},  # cwd: the test's temporary folder
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        children = []
        while len(children) < int(jobs) and time.time() < deadline:
            time.sleep(0.2)
            children = [pid for pid, (parent, _) in _processes().items() if parent == runner.pid]
        assert len(children) >= int(jobs), "the runner never started its runs"
        time.sleep(2)  # let the runs get going
        children = [pid for pid, (parent, _) in _processes().items() if parent == runner.pid]
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) != 0
        deadline = time.time() + 10
        while time.time() < deadline:
            alive = [pid for pid, (_, state) in _processes().items() if pid in children and state != "Z"]
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "the run outlived its runner"
    finally:
        if runner.poll() is None:
            runner.kill()


@pytest.mark.parametrize("averaging", [{}, {"weight_average_epochs": 1.0}])
def test_a_paused_run_resumes_to_the_record_of_an_uninterrupted_run(tiny_data, tiny_bert, tmp_path, averaging):
    """Progress saved at each validation restores weights, optimizer, counters and every RNG:
    a run paused twice ends exactly where one process would have (dropout and the VAE draw),
    with weight averaging too (the raw weights train on, the average is validated and kept)."""
    path = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 3, "stopping_step": 10})
    spec = Plan.load(path).seeded_runs("tiny", "HierRec", {"learning_rate": 0.01, **averaging})[0]
    whole_dir, paused_dir = str(tmp_path / "whole"), str(tmp_path / "paused")
    assert run_one(spec, RunStore(whole_dir))[1] == "ran"
    progress = RunStore(paused_dir).progress_dir(spec.key)
    for _ in (1, 2):  # a deadline already passed: pause at the next validation
        where, status = run_one(spec, RunStore(paused_dir), deadline=0)
        assert status.startswith("paused") and where == progress
        assert os.path.isfile(os.path.join(progress, "last.pth"))
        assert not os.path.exists(os.path.join(paused_dir, spec.key + ".json"))
        # the frozen text table is rebuilt on resume, not stored: only its fingerprint is
        stored = load_checkpoint(os.path.join(progress, "last.pth"))
        assert list(stored["frozen"]) == ["items.text"] and stored["frozen"]["items.text"].shape[1] == 8
        assert "items.text" not in stored["state_dict"] and "items.adaptor.weight" in stored["state_dict"]
        assert "optimizer" in stored and "optimizer" not in stored["best"]  # training resumes from the former
        assert ("training_weights" in stored) == bool(averaging) and "training_weights" not in stored["best"]
        # the leaderboard says where a part-way run stands, from its saved progress
        from recbole_hier.benchmark.report import _part_way_lines

        table = "\n".join(_part_way_lines(Plan.load(path), RunStore(paused_dir), "tiny"))
        done = len(stored["epoch_seconds"])
        assert f"| {spec.key} | {done} | {stored['best_valid_score']:.4f} | {stored['cur_step']} |" in table
    kept_dir = str(tmp_path / "checkpoints")
    assert run_one(spec, RunStore(paused_dir, kept_dir)) == (os.path.join(paused_dir, spec.key + ".json"),
                                                             "ran (resumed)")
    assert not os.path.exists(progress)  # removed once the record is written
    whole = json.load(open(os.path.join(whole_dir, spec.key + ".json")))
    resumed = json.load(open(os.path.join(paused_dir, spec.key + ".json")))
    # without a checkpoint folder nothing but the record is left; with one, the best
    # checkpoint survives the resumes and scores the test users as the record says
    assert sorted(os.listdir(whole_dir)) == [spec.key + ".json"]
    assert os.listdir(kept_dir) == [spec.key + ".pth"]
    from recbole_hier.benchmark.rescore import score_checkpoint

    rescored = score_checkpoint(os.path.join(kept_dir, spec.key + ".pth"), [])[0]["test"]
    assert rescored == pytest.approx(resumed["per_user"]["ndcg@10"])
    assert whole["resumed_at_epochs"] == [] and resumed["resumed_at_epochs"] == [1, 2]
    # each process says what it ran on, from the epoch it started at
    assert [seg["from_epoch"] for seg in whole["segments"]] == [0]
    assert [seg["from_epoch"] for seg in resumed["segments"]] == [0, 1, 2]
    assert all(seg["device"] == whole["device"] and "speed_env" in seg for seg in resumed["segments"])
    # and what code: the checkout's commit (or the installed version) and the library versions
    import torch

    git = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
    from importlib.metadata import version

    code = {"commit": git.stdout.strip()} if git.returncode == 0 else {"recbole_hier": version("recbole_hier")}
    for seg in resumed["segments"]:
        assert seg["code"].items() >= code.items() and seg["code"]["torch"] == torch.__version__
    assert resumed["epochs_run"] == whole["epochs_run"] == 3
    assert len(resumed["train_epoch_seconds_each"]) == 3
    assert resumed["train_epoch_seconds"] == pytest.approx(sum(resumed["train_epoch_seconds_each"]) / 3)
    for key in ("train_loss", "best_valid", "test", "per_user", "valid_scores"):
        assert resumed[key] == whole[key], key
    assert [epoch for epoch, _ in whole["valid_scores"]] == [0, 1, 2]  # the curve, every validation
    assert max(score for _, score in whole["valid_scores"]) == pytest.approx(whole["best_valid"]["ndcg@10"], abs=1e-4)
    # each validation user's NDCG@10 at the best checkpoint: its mean is the selection score,
    # also where the best checkpoint came back from an earlier process
    for record in (whole, resumed):
        valid = record["per_user_valid"]
        assert len(valid["user"]) == len(valid["target"]) == len(valid["ndcg@10"]) == len(record["per_user"]["user"])
        assert np.mean(valid["ndcg@10"]) == pytest.approx(record["best_valid"]["ndcg@10"], abs=1e-4)


def test_progress_of_another_config_is_refused(tiny_data, tiny_bert, tmp_path):
    path = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 2})
    spec = Plan.load(path).seeded_runs("tiny", "SASRec", {"learning_rate": 0.01})[0]
    store = RunStore(str(tmp_path / "runs"))
    assert run_one(spec, store, deadline=0)[1].startswith("paused")
    spec.config["learning_rate"] = 0.001
    where, status = run_one(spec, store)
    assert status.startswith("failed")
    error = open(where).read()
    assert "learning_rate" in error and "delete" in error and spec.key + ".progress" in error
    assert os.path.isfile(os.path.join(store.progress_dir(spec.key), "last.pth"))  # kept, not overwritten


def test_a_changed_preset_or_default_makes_a_stored_run_and_its_progress_stale(tiny_data, tiny_bert, tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text("stopping_step: 4\n")
    models = {"HierRec": {}, "SASRec": {"config": {"n_layers": 1}}}
    plan = Plan.load(write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 2},
                                 tuning=None, presets=[PROTOCOL, str(preset)], models=models))
    spec = plan.seeded_runs("tiny", "HierRec", {})[0]
    store = RunStore(str(tmp_path / "runs"))
    assert run_one(spec, store)[1] == "ran"
    record = store.load(spec.key)
    from recbole_hier.model.hierrec.keys import HIERREC_KEYS

    assert record["inherited"]["stopping_step"] == 4 and "text_cache_dir" not in record["inherited"]
    assert record["inherited"]["readout"] == HIERREC_KEYS["readout"].default
    assert store.current(spec) == record
    # a run that ran under another default of a key its suite leaves alone is stale; the suite
    # naming the value it ran with for its model class makes it current again
    other_default = next(v for v in HIERREC_KEYS["readout"].choices if v != HIERREC_KEYS["readout"].default)
    store.write(spec.key, {**record, "inherited": {**record["inherited"], "readout": other_default}})
    assert store.stale_keys(spec, store.load(spec.key)) == ["readout"] and store.current(spec) is None
    pinned = Plan.load(write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 2},
                                   tuning=None, presets=[PROTOCOL, str(preset)], models=models,
                                   model_defaults={"HierRec": {"readout": other_default}}))
    pinned_spec = pinned.seeded_runs("tiny", "HierRec", {})[0]
    assert pinned_spec.config["readout"] == other_default and store.current(pinned_spec) is not None
    assert "readout" not in pinned.seeded_runs("tiny", "SASRec", {})[0].config
    # a default the package gained or lost since counts only where a suite sets it
    gained = {k: v for k, v in record["inherited"].items() if k != "score_levels"}
    store.write(spec.key, {**record, "inherited": {**gained, "retired_key": 1}})
    assert store.stale_keys(spec, store.load(spec.key)) == []
    # a record from before runs kept what they inherited compares by its suite keys alone,
    # until --stamp_inherited gives it today's defaults and presets
    store.write(spec.key, {k: v for k, v in record.items() if k != "inherited"})
    other = plan.seeded_runs("tiny", "SASRec", {})[0]
    assert run_one(other, store, deadline=0)[1].startswith("paused")
    last = os.path.join(store.progress_dir(other.key), "last.pth")
    legacy = load_checkpoint(last)
    legacy.pop("format"), legacy.pop("inherited")
    save_checkpoint(legacy, last)
    preset.write_text("stopping_step: 5\n")
    assert store.stale_keys(spec, store.load(spec.key)) == []
    preset.write_text("stopping_step: 4\n")
    assert main(["--suite", plan.path, "--results", str(tmp_path / "elsewhere"), "--stamp_inherited"]) == 0
    assert "inherited" not in store.load(spec.key)  # another results folder: untouched
    assert sorted(store.stamp_inherited(plan)) == [spec.key + ".json", other.key + ".progress"]
    assert store.load(spec.key)["inherited"] == record["inherited"] and store.load(spec.key)["inherited_stamped"]
    assert store.stamp_inherited(plan) == [] and "inherited_stamped" not in record
    # a run already stale by its suite keys ran under other settings than today's: left unstamped
    legacy_record = {k: v for k, v in record.items() if k != "inherited"}
    store.write(spec.key, {**legacy_record, "config": {**record["config"], "epochs": 3}})
    assert store.stamp_inherited(plan) == [] and "inherited" not in store.load(spec.key)
    store.write(spec.key, record)
    # progress saved under the old preset is refused, not continued; so is the record
    preset.write_text("stopping_step: 5\n")
    assert store.stale_keys(spec, store.load(spec.key)) == ["stopping_step"]
    where, status = run_one(other, store)
    assert status.startswith("failed") and "['stopping_step']" in open(where).read()


def test_progress_made_with_another_text_table_is_refused(tiny_data, tiny_bert, tmp_path):
    path = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"epochs": 3})
    spec = Plan.load(path).seeded_runs("tiny", "SASRecText", {"learning_rate": 0.01})[0]
    store = RunStore(str(tmp_path / "runs"))
    assert run_one(spec, store, deadline=0)[1].startswith("paused")
    last = os.path.join(store.progress_dir(spec.key), "last.pth")
    progress = load_checkpoint(last)
    assert list(progress["frozen"]) == ["item_embedding.text"]  # SASRecText's name for the table
    progress["frozen"]["item_embedding.text"][3] += 0.01  # as if one item's text had changed
    save_checkpoint({k: v for k, v in progress.items() if k != "format"}, last)
    where, status = run_one(spec, store)
    assert status.startswith("failed")
    error = open(where).read()
    assert "different 'item_embedding.text'" in error and "delete" in error and last in error
    assert os.path.isfile(last)  # kept, not overwritten


def test_parallel_runs_split_the_cores_unless_the_user_chose():
    assert threads_per_run(1, environ={}, cores=8) is None  # one run: torch's default
    assert threads_per_run(2, environ={}, cores=8) == 4
    assert threads_per_run(3, environ={}, cores=2) == 1  # never below one
    assert threads_per_run(2, environ={"OMP_NUM_THREADS": "3"}, cores=8) is None


def test_parallel_jobs_give_the_runs_of_a_sequential_suite(tiny_data, tiny_bert, tmp_path, capsys, monkeypatch):
    # SASRec alone keeps it quick; the tiny runs are deterministic on the CPU
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    path = write_suite(tmp_path, tiny_data, tiny_bert)
    records = {}
    for jobs in ("1", "3"):
        results = tmp_path / f"results{jobs}"
        kept = tmp_path / f"checkpoints{jobs}"
        assert main(["--suite", path, "--results", str(results), "--models", "SASRec", "--jobs", jobs,
                     "--keep_checkpoints", str(kept)]) == 0
        runs_dir = results / "smoke" / "runs"
        records[jobs] = {name: json.load(open(runs_dir / name)) for name in os.listdir(runs_dir)}
        assert (results / "smoke" / "leaderboard.md").exists()
        # every trained run keeps its checkpoint; seed 1 reused a grid run's record
        assert sorted(os.listdir(kept)) == ["tiny__SASRec@learning_rate=0.001__1.pth",
                                            "tiny__SASRec@learning_rate=0.01__1.pth", "tiny__SASRec__2.pth"]
    assert sorted(records["3"]) == sorted(records["1"]) == [
        "tiny__SASRec@learning_rate=0.001__1.json", "tiny__SASRec@learning_rate=0.01__1.json",
        "tiny__SASRec__1.json", "tiny__SASRec__2.json"]
    for name, record in records["1"].items():
        assert records["3"][name]["test"] == record["test"], name
        assert records["3"][name].get("reused_from") == record.get("reused_from"), name
        assert records["3"][name]["device"].endswith(f", {threads_per_run(3)} threads)"), name
    with pytest.raises(SystemExit):
        main(["--suite", path, "--results", str(tmp_path / "r0"), "--jobs", "0"])
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err


def test_hours_limit_stops_before_starting_a_run(tiny_data, tiny_bert, tmp_path, capsys):
    path = write_suite(tmp_path, tiny_data, tiny_bert)
    results = tmp_path / "results"
    assert main(["--suite", path, "--results", str(results), "--hours", "0"]) == 3
    printed = capsys.readouterr().out
    assert "rerun the same command to resume" in printed and "17 run(s) still to do: tiny__HierRec@" in printed
    assert not (results / "smoke" / "runs").exists() or not os.listdir(results / "smoke" / "runs")
    (results / "smoke" / "runs" / "tiny__SASRec__2.progress").mkdir(parents=True)
    assert main(["--suite", path, "--results", str(results), "--report_only"]) == 0
    assert "part-way (a rerun continues them from their saved progress): tiny__SASRec__2" in capsys.readouterr().out


def test_progress_of_a_finished_run_is_not_trained_again(make_config, tmp_path):
    """Killed after its last validation (say, during the test evaluation): the rerun
    trains nothing and tests the stored best checkpoint."""
    from recbole.data import data_preparation
    from recbole.utils import init_seed

    from recbole_hier.benchmark.progress import resumable
    from recbole_hier.registry import create_dataset, get_model, get_trainer

    config = make_config(model="SASRec", epochs=2, n_layers=1)
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    trainer_class = resumable(get_trainer(config["MODEL_TYPE"], "SASRec"), str(tmp_path / "progress"), {"a": 1})

    def new_trainer():
        init_seed(config["seed"], config["reproducibility"])
        return trainer_class(config, get_model("SASRec")(config, train._dataset))

    first = new_trainer()
    assert first.resume_progress(train) is None
    best = first.fit(train, valid, saved=True, verbose=False)
    expected = first.evaluate(test, load_best_model=True)
    again = new_trainer()
    assert again.resume_progress(train) == 2
    weights = {k: v.clone() for k, v in again.model.state_dict().items()}
    best_file = open(again.saved_model_file, "rb").read()
    assert again.fit(train, valid, saved=True, verbose=False) == best
    assert all((again.model.state_dict()[k] == v).all() for k, v in weights.items())  # not trained
    assert open(again.saved_model_file, "rb").read() == best_file  # best checkpoint kept as it was
    assert again.evaluate(test, load_best_model=True) == expected
    again.discard_progress()
    assert not (tmp_path / "progress").exists()


def test_p_values_that_underflow_are_not_printed_as_zero():
    # thousands of users all favouring one model: scipy's Wilcoxon p-value underflows to 0.0
    p = stats.paired_user_test(dict.fromkeys(map(str, range(5000)), 0.0),
                               {str(u): 0.1 + u * 1e-6 for u in range(5000)})
    assert p == 0.0 and stats.format_p(p) == "< 1e-300"
    assert stats.format_p(None) == "n/a" and stats.format_p(0.0123) == "0.0123"


def test_the_detectable_lead_shrinks_with_seeds_only_by_the_seed_noise():
    rng = np.random.default_rng(0)
    users = [str(u) for u in range(400)]
    fixed = rng.normal(0.0, 0.1, len(users))  # each user's own difference: seeds do not average it out

    def runs(offset, noise, seeds):
        return [{"per_user": {"user": users, "ndcg@10": list(offset + rng.normal(0, noise, len(users)))}}
                for _ in range(seeds)]

    ours, theirs = runs(0.2 + fixed, 0.05, 2), runs(0.1, 0.05, 2)
    lead = stats.detectable_lead(ours, theirs, seeds=2)
    diffs = np.mean([r["per_user"]["ndcg@10"] for r in ours], 0) - np.mean([r["per_user"]["ndcg@10"] for r in theirs], 0)
    assert lead["users"] == 400
    assert lead["now"] == pytest.approx((1.95996 + 0.84162) * diffs.std(ddof=1) / 20, rel=1e-4)
    assert lead["at_seeds"] == pytest.approx(lead["now"])  # projected to the seeds run: the same
    many = stats.detectable_lead(ours, theirs, seeds=50)["at_seeds"]
    # the seed part (0.05^2 a side) averages away; the users' own part (0.1^2) stays
    assert (1.95996 + 0.84162) * 0.1 / 20 * 0.9 < many < lead["now"]
    quiet = stats.detectable_lead(runs(0.2 + fixed, 0.0, 2), runs(0.1, 0.0, 2), seeds=50)
    assert quiet["at_seeds"] == pytest.approx(quiet["now"])  # no seed noise: more seeds do not help
    assert stats.detectable_lead(ours[:1], theirs, seeds=5)["at_seeds"] is None  # one run: no seed spread
    assert stats.detectable_lead([{"per_user": {"user": users[:9], "ndcg@10": [0.1] * 9}}], theirs) is None


def test_range_buckets_are_inclusive_and_the_last_is_open():
    buckets = stats.TARGET_COUNT_BUCKETS
    assert [stats.range_bucket(v, buckets) for v in (0, 4, 5, 99, 100, 10**6)] == [
        "0-4", "0-4", "5-9", "50-99", "100+", "100+"]
    assert stats.range_bucket(-1, buckets) is None
    assert [stats.history_bucket(n) for n in (0, 10, 11, 50, 51, 100, 101, 5000)] == [
        "0", "6-10", "11-20", "21-50", "51-100", "51-100", "101+", "101+"]


def test_runs_that_used_every_epoch_are_named_in_the_table():
    def run(name, seed, epochs_run, lr=0.001, dataset="d", grid=False):
        config = {"epochs": 50, "learning_rate": lr, "seed": seed}
        spec = RunSpec(dataset, name, name, seed, [], config, {"learning_rate": lr} if grid else None)
        return spec, {"dataset": dataset, "name": spec.run_name, "model": name, "seed": seed,
                      "epochs_run": epochs_run, "config": config}

    runs = [run("SASRec", 1, 50, grid=True), run("SASRec", 1, 50),  # the same training twice
            run("SASRec", 2, 50), run("HierRec", 1, 31), run("GRU4Rec", 1, 50, dataset="other")]
    [line, blank] = _cap_lines("d", runs)
    assert line.startswith("Ran to the 50-epoch cap") and blank == ""
    assert line.endswith(": SASRec (learning_rate=0.001, seed 1), SASRec (seed 2).")
    assert _cap_lines("d", [run("HierRec", 1, 49)]) == []


def test_training_speed_can_time_the_first_batches_only(tiny_data, tmp_path):
    from recbole_hier.benchmark.training_speed import main as speed

    out = tmp_path / "speed.json"
    args = ["--dataset", "tiny", "--models", "SASRec", "--threads", "1", "--train_batch_size", "16",
            "--MAX_ITEM_LIST_LENGTH", "5", f"--data_path={tiny_data}", "--n_layers=1"]
    with pytest.raises(RuntimeError, match="measuring SASRec failed: its process exited with code 1"):
        speed(args)  # the tiny data needs its timestamp column loaded: the child fails, the parent says so
    args.append("--load_col={'inter': ['user_id', 'item_id', 'timestamp']}")
    results = speed(args + ["--max_batches", "1", "--json", str(out)])
    run = results["SASRec"]
    assert run["timed_batches"] == 1 < run["train_batches"]  # one batch timed, scaled to the epoch
    assert run["train_epoch_s"] > 0 and run["eval_s"] > 0 and isinstance(run["speed_env"], dict)
    assert json.load(open(out))["SASRec"]["timed_batches"] == 1
    with pytest.raises(SystemExit):
        speed(args + ["--max_batches", "0"])


@pytest.mark.parametrize("bigger, chosen", [(True, 0.2), (False, 0.1)])
def test_the_plan_chooses_on_validation_in_the_metric_direction(tmp_path, bigger, chosen):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "seeds": [1, 2], "datasets": {"a": {}}, "reference": "M",
                                    "tuning": {"grid": {"learning_rate": [0.1, 0.2, 0.3]}, "seed": 1},
                                    "models": {"M": {}, "M-x": {"model": "M", "tune": "M"}}}))
    plan = Plan.load(str(path))
    store = RunStore(str(tmp_path / "runs"))
    grid = plan.grid_runs("a", "M")
    assert [s.key for s in grid] == [f"a__M@learning_rate={lr}__1" for lr in (0.1, 0.2, 0.3)]
    with pytest.raises(LookupError, match="not finished: learning_rate=0.1; learning_rate=0.2"):
        plan.chosen_point("a", "M", store)
    for spec, score in zip(grid, (0.05, 0.09, 0.07)):
        store.write(spec.key, {"config": spec.config, "valid_metric": "Loss", "valid_metric_bigger": bigger,
                               "best_valid": {"loss": score}})
    assert plan.chosen_point("a", "M", store) == {"learning_rate": chosen}
    assert plan.chosen_point("a", "M-x", store) == {"learning_rate": chosen}  # the ablation borrows it
    pairs = plan.seeded_with_reuse("a", "M", store)
    assert [(s.key, reuse) for s, reuse in pairs] == [("a__M__1", f"a__M@learning_rate={chosen}__1"), ("a__M__2", None)]
    assert [reuse for _, reuse in plan.seeded_with_reuse("a", "M-x", store)] == [None, None]  # other config


def _record(dataset, name, seed, ndcg_by_user, config):
    users = [f"u{i}" for i in range(len(ndcg_by_user))]
    mean = sum(ndcg_by_user) / len(ndcg_by_user)
    return {"dataset": dataset, "name": name, "model": name, "seed": seed, "config": config,
            "valid_metric": "NDCG@10", "valid_metric_bigger": True, "best_valid": {"ndcg@10": mean},
            "test": {"ndcg@10": mean}, "epochs_run": 3, "train_epoch_seconds": 1.0, "eval_seconds": 0.1,
            "peak_memory_mb": 10.0, "segments": [{"from_epoch": 0, "device": "cpu"}],
            "per_user": {"user": users, "ndcg@10": list(ndcg_by_user)}}


@pytest.mark.parametrize("outcome, expected", [
    ("win", "a win (rule: every run finished, >= 5 seeds each"),
    ("lower mean", "not a win (the mean is not higher; rule:"),
    ("few seeds", "not a win (4 seed(s), the rule needs 5 on both sides; rule:"),
    ("noisy seeds", "not a win (p seeds "),
    ("few users", "not a win (p users "),
    ("unfinished", "not a win (runs not finished: a__C__2022, a__C__2023, a__C__2024; rule:"),
])
def test_the_verdict_says_which_condition_fails(tmp_path, outcome, expected):
    from recbole_hier.benchmark.report import write_all

    seeds = [2020, 2021, 2022, 2023] + ([] if outcome == "few seeds" else [2024])
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "seeds": seeds, "reference": "M", "datasets": {"a": {}},
                                    "models": {"M": {}, "B": {}, "C": {}}}))
    plan = Plan.load(str(path))
    store = RunStore(str(tmp_path / "runs"))
    users = 3 if outcome == "few users" else 200
    for spec_m, spec_b, spec_c in zip(*(plan.seeded_runs("a", n) for n in ("M", "B", "C"))):
        lift = {"win": 0.05, "lower mean": -0.05, "few seeds": 0.05, "few users": 0.05, "unfinished": 0.05,
                "noisy seeds": [0.3, -0.2, 0.25, -0.2, 0.2][seeds.index(spec_m.seed)]}[outcome]
        base = [0.1 + 0.001 * ((u * 7 + spec_m.seed) % 13) for u in range(users)]
        store.write(spec_b.key, _record("a", "B", spec_b.seed, base, spec_b.config))
        store.write(spec_m.key, _record("a", "M", spec_m.seed, [v + lift + 0.0001 * (u % 5) for u, v in enumerate(base)],
                                        spec_m.config))
        if outcome != "unfinished" or spec_c.seed < 2022:
            store.write(spec_c.key, _record("a", "C", spec_c.seed, [v * 0.5 for v in base], spec_c.config))
    write_all(plan, store, str(tmp_path / "out"))
    table = (tmp_path / "out" / "leaderboard.md").read_text()
    line = next(line for line in table.splitlines() if line.startswith("Verdict: "))
    assert expected in line, line
    assert ("best finished baseline" in line) == (outcome == "unfinished")
    assert "by seed 2020: " in line and "| test ndcg@10 by seed |" in table
    power = next((line for line in table.splitlines() if line.startswith("Detectable lead of M ")), None)
    assert power is None if users < 10 else f"paired test over the {users} test users" in power


def test_the_leaderboard_splits_cold_and_warm_targets(tmp_path):
    from recbole_hier.benchmark.report import write_all

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "seeds": [1, 2], "reference": "M", "datasets": {"a": {}},
                                    "models": {"M": {}, "B": {}}}))
    plan = Plan.load(str(path))
    store = RunStore(str(tmp_path / "runs"))
    targets = ["c1", "w1", "w2", "c2"]  # users u0..u3; c1 and c2 were held out
    for name, values in (("M", [0.5, 0.0, 0.25, 0.0]), ("B", [0.0, 1.0, 0.5, 0.0])):
        for spec in plan.seeded_runs("a", name):
            record = _record("a", name, spec.seed, values, spec.config)
            record["per_user"]["target"] = targets
            record["cold_items"] = ["c1", "c2"]
            store.write(spec.key, record)
    write_all(plan, store, str(tmp_path / "out"))
    table = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "| model | cold NDCG@10 (n=2) | cold Recall@10 | warm NDCG@10 (n=2) | warm Recall@10 |" in table
    assert "| M | 0.2500 | 0.5000 | 0.1250 | 0.5000 |" in table
    assert "| B | 0.0000 | 0.0000 | 0.7500 | 1.0000 |" in table
    other = plan.seeded_runs("a", "B")[0]
    record = store.load(other.key)
    record["cold_items"] = ["c1"]
    store.write(other.key, record)
    with pytest.raises(ValueError, match="held out different cold items"):
        write_all(plan, store, str(tmp_path / "out2"))


def test_the_embedding_throughput_script_embeds_the_first_n_texts_the_same_in_both_orders(tiny_data, tiny_bert, capsys):
    from recbole_hier.benchmark import embedding_throughput

    ratio = embedding_throughput.main(["--data_path", tiny_data, "--dataset", "tiny", "--fields", "title,genre",
                                       "--plm_name_or_path", tiny_bert, "--limit", "20", "--threads", "1",
                                       "--batch_size", "4"])
    out = capsys.readouterr().out
    assert ratio > 0 and out.startswith("20 texts from") and "same vectors: True" in out


def test_a_key_set_to_none_differs_from_a_key_left_to_the_presets():
    from recbole_hier.benchmark.plan import differing_keys

    assert differing_keys({"epochs": 3, "behavior_text_template": None}, {"epochs": 3}) == ["behavior_text_template"]
    assert differing_keys({"epochs": 3}, {"epochs": 3, "behavior_text_template": None}) == ["behavior_text_template"]
    assert differing_keys({"epochs": 3, "x": None}, {"epochs": 3, "x": None}) == []
    assert differing_keys({"lr": (1, 2)}, {"lr": [1, 2]}) == []  # compared as JSON


def test_the_lever_table_compares_each_variant_with_the_reference_at_the_seeds_both_ran(tmp_path, capsys):
    from recbole_hier.benchmark import levers

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "seeds": [1, 2], "reference": "M", "datasets": {"a": {}},
                                    "models": {"M": {}, "B": {}, "M-x": {"model": "M", "config": {"hidden_size": 1},
                                                                         "seeds": [2]}}}))
    plan = Plan.load(str(path))
    store = RunStore(str(tmp_path / "s" / "runs"))
    targets = ["c1", "r1", "r2", "p1"]  # a cold item, two with 0-4 and one with 5-9 train interactions
    values = {("M", 1): [0.0, 0.1, 0.1, 0.5], ("M", 2): [0.0, 0.3, 0.1, 0.7], ("B", 1): [0.2] * 4,
              ("B", 2): [0.2] * 4, ("M-x", 2): [0.4, 0.2, 0.2, 0.6]}
    for name in ("M", "B", "M-x"):
        for spec in plan.seeded_runs("a", name):
            record = _record("a", name, spec.seed, values[name, spec.seed], spec.config)
            record["model"] = plan.model_class(name)
            record["per_user"]["target"] = targets
            record["cold_items"] = ["c1"]
            record["train_item_counts"] = {"r1": 1, "r2": 4, "p1": 7}
            store.write(spec.key, record)
    (tmp_path / "levers.md").write_text("old table\n\n## Retired switches\nkept notes\n")
    assert main(["--levers", str(tmp_path / "levers.md"), "--suite", str(path), "--results", str(tmp_path)]) == 0
    assert (tmp_path / "levers.md").read_text().endswith("\n## Retired switches\nkept notes\n")
    rows = levers.write_levers([str(path)], str(tmp_path))
    assert [r["lever"] for r in rows] == ["M-x"]  # B is a baseline, not a lever
    row = rows[0]
    assert row["seeds"] == [2] and row["config"] == {"hidden_size": 1}
    assert row["test"] == pytest.approx(0.35) and row["test ref"] == pytest.approx(0.275)  # seed 2 only
    assert row["test 0-4"] == pytest.approx(0.2) and row["ref 0-4"] == pytest.approx(0.2)
    assert row["test 5-9"] == pytest.approx(0.6) and row["ref 5-9"] == pytest.approx(0.7)
    assert row["test cold"] == pytest.approx(0.4) and row["ref cold"] == pytest.approx(0.0)
    # higher on validation, but no seed kept validation users to test it over
    line = "| s | a | M-x (hidden_size: 1) | 2 | 0.3500 | 0.2750 | +27.3% | n/a | untested | 0.3500 | 0.2750 | +27.3% |"
    assert line in capsys.readouterr().out and line in (tmp_path / "levers.md").read_text()
    # over validation users where every run at those seeds kept them; n/a where one did not
    users = [f"u{i}" for i in range(12)]
    for name, value in (("M", 0.1), ("M-x", 0.3)):
        spec = plan.seeded_runs("a", name)[-1]
        store.write(spec.key, {**store.load(spec.key),
                               "per_user_valid": {"user": users, "ndcg@10": [value + i / 100 for i in range(12)]}})
    row = levers.write_levers([str(path)], str(tmp_path))[0]
    assert row["p valid users"] < 0.01 and row["valid user seeds"] == [2]
    assert levers.wins_on_validation(row) == "yes"
    assert levers.wins_on_validation({**row, "p valid users": 0.2}) == "no"  # higher, not significantly
    assert levers.wins_on_validation({**row, "valid": row["valid ref"]}) == "no"  # level: never a win
    store.write("a__M__2", {**store.load("a__M__2"), "per_user_valid": {"user": users}})
    row = levers.write_levers([str(path)], str(tmp_path))[0]
    assert row["p valid users"] is None and row["valid user seeds"] == []
    assert "| 0.2750 | +27.3% | n/a | untested | 0.3500 |" in (tmp_path / "levers.md").read_text()


def test_breakdown_tests_pair_the_users_of_each_group():
    users = [f"u{i}" for i in range(24)]
    groups = {u: "short" if i < 12 else "long" for i, u in enumerate(users)}
    reference = {u: 0.1 + i / 100 for i, u in enumerate(users)}
    other = {u: v + (0.2 if groups[u] == "long" else 0.0) for u, v in reference.items()}
    other.pop("u0")  # a user the other model never evaluated is left out of its group's pairs
    p = stats.breakdown_tests(reference, other, groups)
    assert set(p) == {"short", "long"} and p["long"] < 0.01 and p["short"] == 1.0
    assert stats.breakdown_tests(reference, other, {u: "one" for u in users[:5]}) == {"one": None}  # < 10 pairs


def test_the_validation_user_test_uses_the_seeds_where_both_sides_kept_validation_users():
    from recbole_hier.benchmark import levers

    users = [f"u{i}" for i in range(12)]

    def run(seed, value=None):
        record = {"seed": seed, "test": {"ndcg@10": 0.1}, "per_user": {"user": users, "ndcg@10": [0.1] * 12}}
        if value is not None:  # stored after records kept validation users
            record["per_user_valid"] = {"user": users, "ndcg@10": [value + i / 100 for i in range(12)]}
        return record

    reference = [run(1), run(2, 0.1), run(3, 0.3)]
    lever = [run(1, 0.9), run(2, 0.3), run(3)]  # seed 1's reference and seed 3's lever kept none
    p, seeds = stats._valid_user_test(reference, lever)
    assert seeds == [2] and p < 0.01
    # seed 1's lever values (0.9, a win) must not enter: the reference has none to pair them with
    lever[2] = run(3, 0.1)
    p_both, seeds_both = stats._valid_user_test(reference, lever)
    assert seeds_both == [2, 3] and p_both == 1.0  # +0.2 at seed 2, -0.2 at seed 3: level on average
    assert stats._valid_user_test(reference[:1], lever[:1]) == (None, [])
    row = {"p valid users": p, "valid user seeds": seeds, "seeds": [1, 2, 3]}
    assert levers._valid_users_cell(row).endswith(" (2)")
    assert levers._valid_users_cell({**row, "valid user seeds": [1, 2, 3]}) == stats.format_p(p)


def test_a_run_starts_from_the_same_seed_s_run_on_another_catalogue(tiny_data, tiny_bert, tmp_path, capsys):
    from tests.conftest import write_tiny_dataset

    other = tmp_path / "other"
    write_tiny_dataset(str(other), name="ring", n_users=60)
    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path)
    config.pop("seed")
    suite = {"name": "transfer", "presets": [PROTOCOL], "config": config, "seeds": [1],
             # the run that starts from ring's comes first in suite order: it waits for its source
             "datasets": {"tiny": {}, "ring": {"config": {"data_path": str(other)}}},
             "models": {"HierRec": {}, "HierRec-pre": {"model": "HierRec", "datasets": ["tiny"],
                                                       "init_from": {"dataset": "ring", "model": "HierRec"}}}}
    suite_file = tmp_path / "transfer.yaml"
    suite_file.write_text(yaml.safe_dump(suite))
    results = str(tmp_path / "results")
    runs = os.path.join(results, "transfer", "runs")
    load = lambda key: json.load(open(os.path.join(runs, key + ".json")))  # noqa: E731

    assert main(["--suite", str(suite_file), "--results", results]) == 0
    out = capsys.readouterr().out
    assert out.index("ring__HierRec__1: ran") < out.index("tiny__HierRec-pre__1: ran")
    pre, plain = load("tiny__HierRec-pre__1"), load("tiny__HierRec__1")
    assert pre["init_from_run"] == "ring__HierRec__1" and plain["init_from_run"] is None
    # the same data, config and seed: only the starting weights differ
    assert pre["config"] == plain["config"] and pre["train_loss"] != plain["train_loss"]
    assert os.path.exists(os.path.join(runs, "ring__HierRec__1.pth"))  # kept: a run starts from it
    assert not os.path.exists(os.path.join(runs, "tiny__HierRec__1.pth"))

    assert main(["--suite", str(suite_file), "--results", results]) == 0
    assert capsys.readouterr().out.count("done before") == 3

    # without the source's checkpoint the run cannot start, and says which run it waits for
    os.remove(os.path.join(runs, "ring__HierRec__1.pth"))
    os.remove(os.path.join(runs, "tiny__HierRec-pre__1.json"))
    assert main(["--suite", str(suite_file), "--results", results, "--models", "HierRec-pre"]) == 1
    assert "skipped tiny__HierRec-pre__1: the run it starts from, ring__HierRec__1," in capsys.readouterr().out
    # with its model selected, the source trains again (its record stands) and the run follows
    assert main(["--suite", str(suite_file), "--results", results]) == 0
    out = capsys.readouterr().out
    assert "ring__HierRec__1: ran" in out and "tiny__HierRec-pre__1: ran" in out
    assert load("tiny__HierRec-pre__1")["test"] == pre["test"]


@pytest.mark.parametrize("init_from, message", [
    ({"dataset": "b", "model": "M"}, r"must name one of the suite's datasets \['a'\]"),
    ({"dataset": "a", "model": "S"}, r"'S' runs SASRec, not HierRec; a checkpoint starts only a run of its own model"),
    ({"dataset": "a", "model": "M", "seed": 1}, r"'init_from' has an unknown key 'seed'"),
    ({"dataset": "a", "model": "Few"}, r"'Few' has no run at seeds \[2\] to start from"),
])
def test_init_from_is_checked_when_the_suite_loads(tmp_path, init_from, message):
    suite = {"name": "s", "seeds": [1, 2], "datasets": {"a": {}},
             "models": {"M": {"model": "HierRec"}, "S": {"model": "SASRec"}, "Few": {"model": "HierRec", "seeds": [1]},
                        "Pre": {"model": "HierRec", "init_from": init_from}}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    with pytest.raises(SuiteError, match=message):
        Plan.load(str(path))


@pytest.mark.parametrize("change, message", [
    # a dataset's run setting outside its config: it used to be ignored, and the run failed
    # later on a dataset folder it never meant
    ({"datasets": {"a": {"data_path": "elsewhere"}}},
     r"dataset 'a' has an unknown key 'data_path'; it is a run setting: put it under 'config:'"),
    ({"models": {"M": {"seed": [1]}}}, r"model 'M' has an unknown key 'seed'; did you mean 'seeds'\?"),
    ({"tuning": {"grid": {"learning_rate": [0.1]}, "seed": 1, "dataset": ["a"]}},
     r"'tuning' has an unknown key 'dataset'; did you mean 'datasets'\?"),
    ({"verdict": {"min_seed": 3}}, r"'verdict' has an unknown key 'min_seed'; did you mean 'min_seeds'\?"),
    ({"datasets": {"a": {"verdict": {"seeds": 3}}}}, r"dataset 'a''s 'verdict' has an unknown key 'seeds'"),
    ({"referense": "M"}, r"the suite has an unknown key 'referense'; did you mean 'reference'\?"),
    ({"datasets": {"a": {"config": {"learning_rat": 0.1}}}}, r"unknown key 'learning_rat'.*did you mean learning_rate"),
    ({"models": {"M": {"config": {"hiden_size": 8}}}}, r"unknown key 'hiden_size' in the model 'M''s config"),
    ({"model_defaults": {"HierRek": {"readout": "last"}}}, r"'model_defaults' has an unknown key 'HierRek'"),
    ({"model_defaults": {"M": {"reedout": "last"}}}, r"unknown key 'reedout' in the 'model_defaults' of 'M'"),
    ({"model_defaults": {"M": "last"}}, r"'model_defaults' of 'M' must map keys to values"),
])
def test_a_suite_key_that_nothing_reads_is_an_error_naming_the_closest_key(tmp_path, change, message):
    suite = {"name": "s", "seeds": [1], "datasets": {"a": {}}, "models": {"M": {}}, **change}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(suite))
    with pytest.raises(SuiteError, match=message):
        Plan.load(str(path))
    for shipped in os.listdir(os.path.join(REPO, "properties", "benchmark")):  # every shipped suite is valid
        Plan.load(os.path.join(REPO, "properties", "benchmark", shipped))
