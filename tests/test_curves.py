"""benchmark.curves: how far a kept checkpoint stands above its validation curve."""

import json
import math

import pytest

from recbole_hier.benchmark import curves


def test_curve_figures_measure_the_spike_against_the_curve_around_it():
    # validations at epochs 0..8; the best (0.9 at epoch 4) stands 0.4 above the median of
    # the window of two validations each side (0.3, 0.5, 0.9, 0.5, 0.4 -> 0.5)
    curve = [[e, s] for e, s in enumerate([0.1, 0.2, 0.3, 0.5, 0.9, 0.5, 0.4, 0.4, 0.3])]
    got = curves.curve_figures(curve, window=2, cap=3)
    assert got["best"] == 0.9 and got["best epoch"] == 4
    assert got["level"] == pytest.approx(0.5) and got["spike"] == pytest.approx(0.4)
    assert got["best by cap"] == pytest.approx(0.3)  # epochs 0-2 only
    # patience 2 stops after epoch 2 only if 3 validations in a row miss the best: none do before epoch 4
    assert got["best by patience"] == pytest.approx(0.9)
    steps = [0.4, -0.4, -0.1, 0.0, -0.1]  # changes over the last two thirds (from epoch 3)
    mean = sum(steps) / len(steps)
    assert got["step sd"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in steps) / len(steps)))


def test_a_shorter_patience_stops_where_recbole_would():
    # RecBole counts a score equal to the best as a new best (the checkpoint is saved again)
    curve = [[e, s] for e, s in enumerate([0.5, 0.4, 0.5, 0.3, 0.3, 0.6, 0.7])]
    assert curves.curve_figures(curve, patience=1)["best by patience"] == pytest.approx(0.5)
    assert curves.curve_figures(curve, patience=2)["best by patience"] == pytest.approx(0.7)
    assert curves.curve_figures(curve)["best epoch"] == 6
    ties = [[0, 0.2], [1, 0.5], [2, 0.5], [3, 0.1]]
    assert curves.curve_figures(ties)["best epoch"] == 2


def test_the_longest_wait_counts_validations_until_a_new_best_came():
    # new bests (ties count) at validations 0, 2, 5, 6: waits 2, 3, 1; the trailing misses never ended
    curve = [[e, s] for e, s in enumerate([0.5, 0.4, 0.5, 0.3, 0.3, 0.6, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1])]
    assert curves.curve_figures(curve)["longest wait"] == 3
    assert curves.curve_figures([[0, 0.9], [1, 0.1], [2, 0.2]])["longest wait"] == 0


def test_curve_figures_of_a_resumed_curve_do_not_claim_the_epochs_before_it():
    got = curves.curve_figures([[20, 0.5], [21, 0.7], [22, 0.6]], window=5, cap=40)
    assert got["best epoch"] == 21 and math.isnan(got["best by cap"]) and math.isnan(got["best by patience"])


def _record(dataset, name, seed, curve, best, test):
    return {"dataset": dataset, "name": name, "seed": seed, "valid_metric": "NDCG@10",
            "best_valid": {"ndcg@10": best}, "test": {"ndcg@10": test}, "valid_scores": curve}


def test_table_names_runs_without_a_curve_holding_their_checkpoint(tmp_path, capsys):
    runs = tmp_path / "long" / "runs"
    runs.mkdir(parents=True)
    records = {
        "d__A__1": _record("d", "A", 1, [[0, 0.1], [1, 0.3], [2, 0.2]], 0.3, 0.25),
        "d__A__2": _record("d", "A", 2, [[0, 0.2], [1, 0.5], [2, 0.1]], 0.5, 0.35),
        "d__B__1": _record("d", "B", 1, None, 0.4, 0.3),  # stored before records kept curves
        "d__B__2": _record("d", "B", 2, [[30, 0.2], [31, 0.3], [32, 0.2]], 0.4, 0.3),  # resumed after its best
        "d__Pop__1": _record("d", "Pop", 1, [[0, 0.05]], 0.05, 0.04),  # never trained
        "d__A@learning_rate=0.1__1": _record("d", "A", 1, [[0, 0.9], [1, 0.9], [2, 0.9]], 0.9, 0.9),  # tuning
    }
    for key, record in records.items():
        (runs / f"{key}.json").write_text(json.dumps(record))
    curves.main(["--suite", "long", "--results", str(tmp_path), "--window", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| d |")]
    assert [row.split(" | ")[1:3] for row in rows] == [["A", "1"], ["A", "2"], ["**A**", "mean of 2"]]
    # the mean row: best (0.3 + 0.5) / 2, spike ((0.3 - 0.2) + (0.5 - 0.2)) / 2, longest wait 1, test 0.30
    mean = rows[-1].split(" | ")
    assert mean[3] == "0.4000" and mean[6] == "0.2000" and mean[10] == "1.0" and mean[11] == "0.3000 |"
    assert "d__B__1, d__B__2" in out and "Pop" not in out and "0.9000" not in out


def test_an_unknown_suite_folder_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit):
        curves.main(["--suite", "nope", "--results", str(tmp_path)])
    assert "nope" in capsys.readouterr().err
