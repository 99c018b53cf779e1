"""benchmark/sessions.py: sessions per test-time window, by hand and from an atomic file."""

import numpy as np
import pytest

from recbole_hier.benchmark import sessions


def test_window_sessions_by_hand():
    # user 1: times 0 1 2 | 100 101 | 300 (the target, never in the window)
    # user 2: times 5 6 7 8, window of 3 before the target 8 -> 5 6 7, one session
    users = np.array([2, 1, 1, 1, 1, 1, 1, 2, 2, 2])
    times = np.array([8, 300, 0, 1, 2, 100, 101, 5, 6, 7], dtype=float)
    counts, lengths = sessions.window_sessions(users, times, window=10, gap=50)
    assert counts.tolist() == [2, 1] and lengths.tolist() == [3, 2, 3]
    # a window of 3 drops user 1's first two steps: 2 | 100 101
    counts, lengths = sessions.window_sessions(users, times, window=3, gap=50)
    assert counts.tolist() == [2, 1] and lengths.tolist() == [1, 2, 3]
    # a gap larger than every step: one session each
    counts, _ = sessions.window_sessions(users, times, window=10, gap=1000)
    assert counts.tolist() == [1, 1]


def test_main_reads_the_dataset_and_its_time_unit(tmp_path, capsys):
    folder = tmp_path / "gaps"
    folder.mkdir()
    rows = ["user_id:token\titem_id:token\ttimestamp:float"]
    for user in range(1, 4):
        # two sittings 2 days apart, then the target; times in milliseconds
        for step, day in enumerate([0, 0, 0, 2, 2, 2, 5]):
            rows.append(f"u{user}\ti{user + step}\t{(day * 86400 + step) * 1000}")
    (folder / "gaps.inter").write_text("\n".join(rows) + "\n")
    argv = ["--dataset", "gaps", "--gaps", "3600,604800", "--units_per_second", "1000",
            f"--data_path={tmp_path}", "--load_col={'inter': ['user_id', 'item_id', 'timestamp']}",
            "--MAX_ITEM_LIST_LENGTH=50"]
    out = sessions.main(argv)
    assert out["users"] == 3 and out["window"] == 50
    hour, week = out["rows"]
    assert (hour["mean"], hour["one_session"], hour["mean_length"]) == (2.0, 0.0, 3.0)
    assert (week["mean"], week["one_session"], week["mean_length"]) == (1.0, 1.0, 6.0)
    assert "| 3,600 | 2.00 | 2 | 0.0% | 3.0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        sessions.main(["--gaps", "1h"])
    assert "--gaps '1h': expected comma-separated seconds" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no timestamp field is loaded"):
        sessions.main(argv[:-2] + ["--load_col={'inter': ['user_id', 'item_id']}"])
