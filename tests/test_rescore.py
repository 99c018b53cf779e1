"""A suite model's rescore grid: scored on the best checkpoint by the runner, chosen on validation
by the plan's rule, printed by the report."""

import json
import os

import pytest
import yaml

from recbole_hier.benchmark import rescore
from recbole_hier.benchmark.__main__ import main
from recbole_hier.benchmark.plan import Plan, SuiteError
from recbole_hier.benchmark.runner import run_one
from recbole_hier.benchmark.store import RunStore
from tests.test_benchmark import write_suite

GRID = {"cold_score": ["calibrated"], "cold_score_temperature": [0.05, 0.5]}
RULE = {"metric": "warm ndcg@10", "within": 0.5, "pick": "smallest cold_score_temperature"}


def test_the_runner_scores_the_grid_on_the_best_checkpoint_and_the_report_prints_the_choice(tiny_data, tiny_bert,
                                                                                            tmp_path):
    suite = write_suite(tmp_path, tiny_data, tiny_bert, config_changes={"cold_item_ratio": 0.2, "id_dropout": 0.5},
                        tuning=None, seeds=[1], reference="HierRec",
                        models={"HierRec": {"rescore": {"grid": GRID, "choose": RULE}}, "SASRec": {"config": {"n_layers": 1}}})
    suite_dict = yaml.safe_load(open(suite))
    suite_dict.pop("tuning")
    open(suite, "w").write(yaml.safe_dump(suite_dict))
    results = str(tmp_path / "results")
    assert main(["--suite", suite, "--results", results]) == 0
    record = json.load(open(os.path.join(results, "smoke", "runs", "tiny__HierRec__1.json")))
    rows = record["rescored"]
    assert [row["setting"] for row in rows] == [{}, {"cold_score": "calibrated", "cold_score_temperature": 0.05},
                                                {"cold_score": "calibrated", "cold_score_temperature": 0.5}]
    # the trained setting's row is the run's own test evaluation, user for user
    assert rows[0]["test"] == pytest.approx(record["per_user"]["ndcg@10"], abs=1e-6)
    assert rows[1]["test"] != pytest.approx(rows[0]["test"], abs=1e-6)  # cold targets move
    assert len(rows[0]["valid"]) == len(record["per_user_valid"]["user"]) == len(record["per_user_valid"]["target"])
    assert "rescored" not in json.load(open(os.path.join(results, "smoke", "runs", "tiny__SASRec__1.json")))
    # the rule, applied by hand: warm validation within 50% of as trained, the smallest temperature
    cold = set(record["cold_items"])
    warm = [t not in cold for t in record["per_user_valid"]["target"]]
    warm_mean = [sum(v for v, w in zip(row["valid"], warm) if w) / sum(warm) for row in rows]
    eligible = [row for row, m in zip(rows[1:], warm_mean[1:]) if m >= 0.5 * warm_mean[0]] or [rows[0]]
    chosen = min(eligible, key=lambda row: row["setting"].get("cold_score_temperature", 0))
    board = open(os.path.join(results, "smoke", "leaderboard.md")).read()
    text = ", ".join(f"{k}: {v}" for k, v in chosen["setting"].items()) or "as trained"
    assert f"| HierRec | 1 | warm ndcg@10 within 50% of as trained, smallest cold_score_temperature | {text} |" in board


def _record(valid_rows, targets=("a", "b", "c", "d"), cold=("d",)):
    users = ["u1", "u2", "u3", "u4"]
    return {"per_user_valid": {"user": users, "target": list(targets)}, "cold_items": list(cold),
            "rescored": [{"setting": s, "valid": v, "test": v} for s, v in valid_rows]}


def test_the_rule_picks_on_validation_within_the_bound_or_the_best():
    record = _record([({}, [1.0, 1.0, 1.0, 0.0]),                       # warm 1.0, all 0.75
                      ({"cold_score_temperature": 0.05}, [0.4, 0.4, 0.4, 1.0]),  # warm 0.4: out of a 10% bound
                      ({"cold_score_temperature": 0.1}, [0.95, 0.95, 0.95, 1.0]),  # warm 0.95: in it
                      ({"cold_score_temperature": 0.2}, [1.0, 1.0, 1.0, 0.5])])
    groups = {"u1": "warm", "u2": "warm", "u3": "warm", "u4": "cold"}
    rule = {"metric": "warm ndcg@10", "within": 0.1, "pick": "smallest cold_score_temperature"}
    assert rescore.choose(record, rule, groups)["setting"] == {"cold_score_temperature": 0.1}
    assert rescore.choose(record, {**rule, "pick": "largest cold_score_temperature"}, groups)["setting"] == {
        "cold_score_temperature": 0.2}
    assert rescore.choose(record, {"metric": "ndcg@10"}, groups)["setting"] == {"cold_score_temperature": 0.1}
    assert rescore.choose(record, {"metric": "cold ndcg@10"}, groups)["setting"] == {"cold_score_temperature": 0.05}
    assert rescore.choose(record, {**rule, "within": 0.0}, groups)["setting"] == {"cold_score_temperature": 0.2}
    # the bound's base may be a grid point (``of``); rows without the picked key are not candidates
    listed = _record([({}, [0.5, 0.5, 0.5, 0.0]), ({"cold_score": "vector"}, [1.0, 1.0, 1.0, 0.0]),
                      ({"cold_score": "calibrated", "cold_score_temperature": 0.05}, [0.93, 0.93, 0.93, 1.0]),
                      ({"cold_score": "calibrated", "cold_score_temperature": 0.1}, [0.96, 0.96, 0.96, 1.0])])
    of_vector = {**rule, "within": 0.05, "of": {"cold_score": "vector"}}
    assert rescore.choose(listed, of_vector, groups)["setting"]["cold_score_temperature"] == 0.1
    assert rescore.choose(listed, {**of_vector, "of": {}}, groups)["setting"]["cold_score_temperature"] == 0.05
    # nothing within the bound: the trained setting stands
    worse = _record([({}, [1.0, 1.0, 1.0, 0.0]), ({"cold_score_temperature": 0.05}, [0.85, 0.85, 0.85, 1.0])])
    assert rescore.choose(worse, rule, groups)["setting"] == {}


def test_the_report_prints_each_seed_s_choice_and_their_mean():
    from types import SimpleNamespace

    from recbole_hier.benchmark.report import _rescore_lines

    def run(seed, valid_rows, test_rows, name="M"):
        record = _record(valid_rows)
        record["rescored"] = [{**row, "test": test} for row, test in zip(record["rescored"], test_rows)]
        record.update(name=name, dataset="d", seed=seed,
                      per_user={"user": ["u1", "u2", "u3", "u4"], "target": ["a", "b", "c", "d"]})
        return record

    # seed 1 validates best at T 0.1 (test mean 0.5, cold 1.0, warm 1/3), seed 2 at T 0.2 (0.25, 0.0, 1/3)
    runs = [run(1, [({}, [0.0] * 4), ({"cold_score_temperature": 0.1}, [1.0] * 4),
                    ({"cold_score_temperature": 0.2}, [0.5] * 4)],
                [[0.0] * 4, [1.0, 0.0, 0.0, 1.0], [0.0] * 4]),
            run(2, [({}, [0.0] * 4), ({"cold_score_temperature": 0.1}, [0.2] * 4),
                    ({"cold_score_temperature": 0.2}, [0.6] * 4)],
                [[0.0] * 4, [0.0] * 4, [0.0, 0.0, 1.0, 0.0]])]
    plan = SimpleNamespace(models={"M": {"rescore": {"grid": {"cold_score_temperature": [0.1, 0.2]}}}})
    lines = _rescore_lines(plan, "d", runs)
    assert "| M | 1 | ndcg@10, best | cold_score_temperature: 0.1 | 1.0000 | 0.5000 | 1.0000 | 0.3333 |" in lines
    assert "| M | 2 | ndcg@10, best | cold_score_temperature: 0.2 | 0.6000 | 0.2500 | 0.0000 | 0.3333 |" in lines
    assert ("| **M** | **mean of 2** | | each seed's choice | **0.8000** | **0.3750** | **0.5000** | **0.3333** |"
            in lines)
    assert not any(line.startswith("At each seed's choice") for line in lines)  # one model: nothing to pair
    # a second model, validating lower, at seeds 2 and 3: paired with M over seed 2 only
    plan.models["N"] = plan.models["M"]
    runs += [run(seed, [({}, [0.1] * 4)], [[0.5] * 4], name="N") for seed in (2, 3)]
    lines = _rescore_lines(plan, "d", runs)
    assert any(line.startswith("At each seed's choice") and line.endswith(
        ": M 0.2500 against N 0.5000 (seeds 2: p seeds n/a, p users n/a).") for line in lines)


@pytest.mark.parametrize("entry, message", [
    ({"grid": {"cold_temperature": [0.1]}}, "rescore grid key 'cold_temperature' is not a scoring key"),
    ({"grid": {"cold_score_temperature": [0.1]}, "choose": {"metric": "recall@10"}}, "rescore metric must be"),
    ({"grid": {"cold_score_temperature": [0.1]}, "choose": {"within": 0.05}}, "within and pick together"),
    ({"grid": {"cold_score_temperature": [0.1]}, "choose": {"within": 0.05, "pick": "smallest text_mix_count"}},
     "pick must be 'smallest KEY' or 'largest KEY' with KEY in the grid"),
    ({"grid": {"cold_score_temperature": [0.1]}, "chose": {}}, "rescore keys \\['chose'\\] are not among"),
    ({"grid": [{"cold_score": "vector"}, {"cold_temperature": 0.1}]}, "rescore grid key 'cold_temperature'"),
    ({"grid": [{"cold_score": "vector"}], "choose": {"within": 0.05, "pick": "smallest cold_score",
                                                      "of": {"cold_score": "calibrated"}}}, "is not a point of the grid"),
    ({"grid": []}, "rescore needs a grid"),
])
def test_a_bad_rescore_entry_is_refused_naming_what_is_wrong(tiny_data, tiny_bert, tmp_path, entry, message):
    suite = write_suite(tmp_path, tiny_data, tiny_bert, models={"HierRec": {"rescore": entry}})
    with pytest.raises(SuiteError, match=message):
        Plan.load(suite)


def test_a_kept_checkpoint_is_scored_under_each_setting_and_an_unapplied_key_is_refused(tiny_data, tiny_bert,
                                                                                         tmp_path):
    from recbole_hier import run_recbole_hier as train
    from tests.conftest import PROTOCOL, tiny_config_dict

    config = {**tiny_config_dict(tiny_data, tiny_bert, tmp_path), "cold_item_ratio": 0.2, "id_dropout": 0.5}
    model_file = train("HierRec", "tiny", [PROTOCOL], config)["saved_model_file"]
    rows = rescore.score_checkpoint(model_file, [{"score_levels": "mean"},
                                                 {"cold_score": "calibrated", "cold_score_temperature": 0.2},
                                                 {"cold_score": "calibrated", "text_mix_count": 1000.0}])
    assert [row["setting"] for row in rows][1:] == [{"score_levels": "mean"},
                                                    {"cold_score": "calibrated", "cold_score_temperature": 0.2},
                                                    {"cold_score": "calibrated", "text_mix_count": 1000.0}]
    for row in rows[1:]:  # each setting ranks differently from the trained one
        assert row["test"] != pytest.approx(rows[0]["test"], abs=1e-6)
        assert len(row["valid"]) == len(rows[0]["valid"]) and len(row["test"]) == len(rows[0]["test"])
    # scoring is restored afterwards: the trained setting scores the same again
    assert rescore.score_checkpoint(model_file, [])[0]["test"] == pytest.approx(rows[0]["test"])
    plain = train("SASRec", "tiny", [PROTOCOL], {**config, "n_layers": 1})["saved_model_file"]
    with pytest.raises(ValueError, match="cold_score: SASRec has no cold_score"):
        rescore.score_checkpoint(plain, [{"cold_score": "calibrated"}])


def test_a_grid_key_the_model_does_not_apply_fails_the_run_before_training(tiny_data, tiny_bert, tmp_path):
    suite = write_suite(tmp_path, tiny_data, tiny_bert, tuning=None, seeds=[1], reference="SASRec",
                        models={"SASRec": {"config": {"n_layers": 1}, "rescore": {"grid": {"score_levels": ["mean"]}}}})
    spec = Plan.load(suite).seeded_runs("tiny", "SASRec", {})[0]
    store = RunStore(str(tmp_path / "runs"))
    where, status = run_one(spec, store)
    assert status.startswith("failed") and "score_levels: SASRec has no score_levels" in open(where).read()
    assert not os.path.exists(os.path.join(store.progress_dir(spec.key), "last.pth"))  # no epoch ran
    assert store.load(spec.key) is None


def test_a_record_without_the_grid_keeps_its_figures_and_trains_again_for_it(tiny_data, tiny_bert, tmp_path):
    models = {"SASRecText": {"config": {"n_layers": 1}}}
    suite = write_suite(tmp_path, tiny_data, tiny_bert, tuning=None, seeds=[1], reference="SASRecText", models=models)
    results = str(tmp_path / "results")
    assert main(["--suite", suite, "--results", results]) == 0
    store = RunStore(os.path.join(results, "smoke", "runs"))
    before = store.load("tiny__SASRecText__1")
    grid = {"cold_score_temperature": [0.05]}
    models["SASRecText"]["rescore"] = {"grid": grid}
    suite = write_suite(tmp_path, tiny_data, tiny_bert, tuning=None, seeds=[1], reference="SASRecText", models=models)
    plan = Plan.load(suite)
    spec = plan.seeded_runs("tiny", "SASRecText", {})[0]
    assert store.current(spec) == before and store.unscored(spec, before)  # its figures stand, in the report too
    assert plan.todo(store) == [spec.key] and [r for _, r in plan.stored(store)[0]] == [before]
    assert main(["--suite", suite, "--results", results]) == 0
    after = store.load(spec.key)
    assert [row["setting"] for row in after["rescored"]] == [{}, {"cold_score_temperature": 0.05}]
    assert after["per_user"] == before["per_user"]  # the same config and seed train the same model
    assert plan.todo(store) == []
    # scored under another grid: stale, never silently kept
    models["SASRecText"]["rescore"] = {"grid": {"cold_score_temperature": [0.2]}}
    suite = write_suite(tmp_path, tiny_data, tiny_bert, tuning=None, seeds=[1], reference="SASRecText", models=models)
    assert Plan.load(suite).seeded_runs("tiny", "SASRecText", {})[0] and store.stale_keys(
        Plan.load(suite).seeded_runs("tiny", "SASRecText", {})[0], after) == ["rescore"]
