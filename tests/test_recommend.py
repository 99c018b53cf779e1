"""Top-k recommendations from a checkpoint: the dataset's tokens, the whole history, seen items
excluded, batched, and bad requests refused before anything is written."""

import csv
import json
import os

import pytest
import yaml

import run_recbole_hier
from recbole_hier import load_data_and_model
from recbole_hier.recommend import Histories, RecommendError, read_users, recommend
from tests.conftest import tiny_config_dict


@pytest.fixture(scope="module")
def trained(tiny_data, tiny_bert, tmp_path_factory):
    """Checkpoints of one-epoch HierRec and SASRec runs on the tiny data."""
    from recbole_hier import run_recbole_hier as train

    work = tmp_path_factory.mktemp("recommend")
    cwd = os.getcwd()
    os.chdir(work)  # RecBole's log folders
    try:
        files = {}
        for model in ("HierRec", "SASRec"):
            config = {**tiny_config_dict(tiny_data, tiny_bert, work), "n_layers": 1}
            result = train(model, "tiny", [os.path.join(os.path.dirname(__file__), "..", "properties", "protocol",
                                                        "sequential.yaml")], config)
            files[model] = result["saved_model_file"]
    finally:
        os.chdir(cwd)
    return files


def _history(tiny_data):
    history = {}
    with open(os.path.join(tiny_data, "tiny", "tiny.inter")) as f:
        next(f)
        for line in f:
            user, item, _, time = line.rstrip("\n").split("\t")
            history.setdefault(user, []).append((float(time), item))
    return {u: [i for _, i in sorted(events)] for u, events in history.items()}


@pytest.mark.parametrize("model", ["HierRec", "SASRec"])
def test_every_user_gets_k_unseen_items_in_score_order(trained, tiny_data, model):
    rows = recommend(trained[model], topk=5, batch_size=7)  # several batches
    history = _history(tiny_data)
    by_user = {}
    for user, rank, item, score in rows:
        by_user.setdefault(user, []).append((rank, item, score))
    assert set(by_user) == set(history)
    for user, recs in by_user.items():
        assert [r for r, _, _ in recs] == [1, 2, 3, 4, 5]
        assert all(item.startswith("i") and item not in history[user] for _, item, _ in recs)
        scores = [s for _, _, s in recs]
        assert scores == sorted(scores, reverse=True)
    with_seen = recommend(trained[model], users=["u1"], topk=40, exclude_seen=False)
    assert len(with_seen) == 30 and set(history["u1"]) <= {item for _, _, item, _ in with_seen}


def test_the_history_is_everything_the_files_hold(trained, tiny_data):
    config, model, dataset, *_ = load_data_and_model(trained["HierRec"])
    histories = Histories(dataset, config)
    uid = dataset.field2token_id["user_id"]["u3"]
    interaction, lengths = histories.batch([uid], ["item_id"])
    tokens = [dataset.field2id_token["item_id"][i] for i in interaction["item_id_list"][0, : lengths[0]]]
    assert tokens == _history(tiny_data)["u3"][-config["MAX_ITEM_LIST_LENGTH"]:]  # the test item included


def test_the_cli_writes_csv_and_jsonl(trained, tmp_path, capsys):
    out = tmp_path / "recs.jsonl"
    run_recbole_hier.main(["--recommend", f"--model_file={trained['SASRec']}", "--users=u1,u2", "--topk=3",
                           f"--output={out}"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["user"], r["rank"]) for r in lines] == [("u1", 1), ("u1", 2), ("u1", 3), ("u2", 1), ("u2", 2), ("u2", 3)]
    users_file = tmp_path / "users.txt"
    users_file.write_text("u4\n\nu5\n")
    run_recbole_hier.main(["--recommend", f"--model_file={trained['HierRec']}", f"--users_file={users_file}",
                           f"--output={tmp_path / 'recs.csv'}"])
    with open(tmp_path / "recs.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 20 and set(table[0]) == {"user", "rank", "item", "score"}
    assert "top-10 for 2 users written to" in capsys.readouterr().out


def test_bad_requests_are_refused_before_anything_is_written(trained, tmp_path):
    with pytest.raises(RecommendError, match=r"1 user\(s\) have no history in tiny \(e.g. nobody\)"):
        recommend(trained["SASRec"], users=["u1", "nobody"])
    with pytest.raises(RecommendError, match="does not exist: create"):
        run_recbole_hier.main(["--recommend", f"--model_file={trained['SASRec']}",
                               f"--output={tmp_path / 'missing' / 'r.csv'}"])
    with pytest.raises(RecommendError, match="must end in .csv or .jsonl"):
        run_recbole_hier.main(["--recommend", f"--model_file={trained['SASRec']}", f"--output={tmp_path / 'r.txt'}"])
    with pytest.raises(RecommendError, match="names no user"):
        read_users(users_file=str(_empty(tmp_path)))
    assert not any(p.name.startswith(("r.", "missing", ".tmp")) for p in tmp_path.iterdir())  # nothing written


def _empty(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n")
    return path
