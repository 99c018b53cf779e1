"""benchmark/histories.py: history lengths and repeats, from an atomic file with known answers."""

from recbole_hier.benchmark import histories


def _doubled(folder, users=4, steps=8):
    """Each user rates items 1..steps in order, every one twice at the same time (as a file
    with one row per tag of an item would)."""
    folder.mkdir()
    rows = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(1, users + 1):
        for step in range(steps):
            rows += [f"u{user}\t{step + 1}\t{step * 100 + user}"] * 2
    (folder / "doubled.inter").write_text("\n".join(rows) + "\n")


def test_repeats_and_ties_are_counted_as_a_model_sees_them(tmp_path, capsys):
    _doubled(tmp_path / "doubled")
    argv = ["--dataset", "doubled", f"--data_path={tmp_path}", "--MAX_ITEM_LIST_LENGTH=50",
            "--load_col={'inter': ['user_id', 'item_id', 'timestamp']}"]
    out = histories.main(argv)
    assert (out["users"], out["interactions"]) == (4, 64)
    assert out["history_mean"] == out["history_median"] == 15
    # the test target is the second copy of item 8, right after the first
    assert out["test_repeat_last"] == out["test_in_window"] == 1.0
    # training targets: positions 1..13 of 1,1,2,2,...; the odd ones repeat their last item (7 of 13)
    assert out["train_repeat_last"] == 7 / 13
    assert out["tied_share"] == 8 / 15 and out["tied_rising_share"] == 0.0  # a tie is the same item
    assert out["test_tied_share"] == 1.0
    # the validation target, the first copy of item 8, follows item 7's second copy 100 later
    assert out["valid_tied_share"] == 0.0
    assert "test targets equal to the history's last item: 100.0%" in capsys.readouterr().out
    deduplicated = histories.main(argv + ["--rm_dup_inter=first"])
    assert (deduplicated["interactions"], deduplicated["history_mean"]) == (32, 7)
    assert deduplicated["test_repeat_last"] == deduplicated["train_repeat_last"] == deduplicated["tied_share"] == 0.0
    assert deduplicated["test_tied_share"] == deduplicated["valid_tied_share"] == 0.0


def test_validation_targets_tied_in_time_are_counted_apart_from_test_targets(tmp_path):
    folder = tmp_path / "sittings"
    folder.mkdir()
    rows = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(1, 4):  # items 1-4 apart, 5 and 6 in one sitting (the validation target), 7 later
        times = [100, 200, 300, 400, 500, 500, 900]
        rows += [f"u{user}\t{item + 1}\t{t}" for item, t in enumerate(times)]
    (folder / "sittings.inter").write_text("\n".join(rows) + "\n")
    out = histories.main(["--dataset", "sittings", f"--data_path={tmp_path}", "--MAX_ITEM_LIST_LENGTH=50",
                          "--load_col={'inter': ['user_id', 'item_id', 'timestamp']}"])
    assert out["valid_tied_share"] == 1.0 and out["test_tied_share"] == 0.0
    assert out["tied_share"] == 3 / 18
