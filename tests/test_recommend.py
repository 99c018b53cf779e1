"""Top-k recommendations from a checkpoint: the dataset's tokens, the whole history, seen items
excluded, batched, and bad requests refused before anything is written."""

import csv
import json
import os

import pytest
import torch

import run_recbole_hier
from recbole_hier import load_data_and_model
from recbole_hier.recommend import Histories, RecommendError, Recommender, read_histories, read_users, recommend
from recbole_hier.model.scoring import ScoringSetting
from tests.conftest import tiny_config_dict


@pytest.fixture(scope="module")
def trained(tiny_data, tiny_bert, tmp_path_factory):
    """Checkpoints of one-epoch HierRec, SASRec and UniSRec runs on the tiny data."""
    from recbole_hier import run_recbole_hier as train

    work = tmp_path_factory.mktemp("recommend")
    cwd = os.getcwd()
    os.chdir(work)  # RecBole's log folders
    try:
        files = {}
        for name, model, extra in (("HierRec", "HierRec", {"id_dropout": 0.5}), ("SASRec", "SASRec", {}),
                                   ("HierRec-text", "HierRec", {"item_repr": "text"}), ("UniSRec", "UniSRec", {})):
            config = {**tiny_config_dict(tiny_data, tiny_bert, work), "n_layers": 1, **extra}
            result = train(model, "tiny", [os.path.join(os.path.dirname(__file__), "..", "properties", "protocol",
                                                        "sequential.yaml")], config)
            files[name] = result["saved_model_file"]
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
    interaction = histories.batch([uid], ["item_id"])
    length = interaction[config["ITEM_LIST_LENGTH_FIELD"]][0]
    tokens = [dataset.field2id_token["item_id"][i] for i in interaction["item_id_list"][0, :length]]
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


@pytest.mark.parametrize("model", ["HierRec", "SASRec"])
def test_a_new_users_history_is_scored_like_a_known_users(trained, tiny_data, model):
    history = _history(tiny_data)["u3"]
    known = recommend(trained[model], users=["u3"], topk=5)
    new = recommend(trained[model], histories=[("someone", history)], topk=5)
    assert [row[0] for row in new] == ["someone"] * 5
    assert [row[1:3] for row in new] == [row[1:3] for row in known]
    assert [row[3] for row in new] == pytest.approx([row[3] for row in known], rel=1e-5)
    shorter = recommend(trained[model], histories=[("a", history[:3]), ("b", history[-2:])], topk=3)
    assert [row[0] for row in shorter] == ["a"] * 3 + ["b"] * 3
    assert not {item for label, _, item, _ in shorter if label == "a"} & set(history[:3])


def _new_items_file(tiny_data, tmp_path, rows, fields=("item_id", "title", "genre")):
    """A --new_items file: each (new id, old id) row copies the old item's columns ``fields``."""
    with open(os.path.join(tiny_data, "tiny", "tiny.item")) as f:
        header = f.readline().rstrip("\n").split("\t")
        lines = {line.split("\t")[0]: line.rstrip("\n").split("\t") for line in f}
    columns = [i for i, column in enumerate(header) if column.split(":")[0] in fields]
    path = tmp_path / "new.item"
    text = "\t".join(header[i] for i in columns) + "\n"
    for new, old in rows:
        text += "\t".join([new] + [lines[old][i] for i in columns[1:]]) + "\n"
    path.write_text(text)
    return str(path)


def _most_recommended(rows):
    counts = {}
    for _, _, item, _ in rows:
        counts[item] = counts.get(item, 0) + 1
    return max(counts, key=counts.get), counts


def test_a_new_item_with_an_items_text_scores_as_that_item_by_text(trained, tiny_data, tmp_path):
    popular, counts = _most_recommended(recommend(trained["HierRec-text"], topk=10, exclude_seen=False))
    path = _new_items_file(tiny_data, tmp_path, [("brand-new", popular)])
    recommender = Recommender.load(trained["HierRec-text"])
    original = recommender.model.items.text[recommender.token2item[popular]].clone()
    assert recommender.add_items(path) == ["brand-new"]
    new_id = recommender.token2item["brand-new"]
    assert new_id == recommender.dataset.item_num  # after every trained item
    # the same text through the model's own template and language model: the same frozen vector
    assert torch.allclose(recommender.model.items.text[new_id], original, atol=1e-5)
    rows = recommender.for_users(topk=11, exclude_seen=False, item_fields=["title"])
    scores = {(user, item): score for user, _, item, score, _ in rows}
    users = {user for user, _, item, _, _ in rows if item == popular}
    assert len(users) == counts[popular] > 0  # wherever the original is in the top-10 ...
    for user in users:  # ... its copy is beside it, with its score
        assert scores[(user, "brand-new")] == pytest.approx(scores[(user, popular)], abs=1e-5)
    titles = {item: title for _, _, item, _, title in rows}
    assert titles["brand-new"] == titles[popular] and titles[popular].endswith("story")


def test_a_new_item_of_a_text_and_id_model_is_its_text_part(trained, tiny_data, tmp_path):
    path = _new_items_file(tiny_data, tmp_path, [("brand-new", "i5"), ("newer", "i6")])
    recommender = Recommender.load(trained["HierRec"])
    items = recommender.model.items
    old = items.weight.detach().clone()
    recommender.add_items(path)
    table = items.weight.detach()  # [n_items+2 H]
    assert torch.equal(table[: len(old)], old)  # trained items unchanged
    five, six = recommender.token2item["i5"], recommender.token2item["i6"]
    text_part = items.adaptor(items.text[[five, six]]).detach()
    assert torch.allclose(table[-2:], text_part, atol=1e-6) and not torch.allclose(table[-2:], old[[five, six]])
    cli = tmp_path / "with-new.jsonl"
    run_recbole_hier.main(["--recommend", f"--model_file={trained['HierRec']}", f"--new_items={path}",
                           "--history=i1,i2,brand-new", "--item_fields=title,genre", f"--output={cli}"])
    lines = [json.loads(line) for line in cli.read_text().splitlines()]
    assert len(lines) == 10 and {"title", "genre"} <= set(lines[0]) and lines[0]["user"] == "new"
    assert "brand-new" not in {line["item"] for line in lines}  # seen: it is in the history


def test_new_items_are_refused_where_they_cannot_be_scored(trained, tiny_data, tmp_path):
    path = _new_items_file(tiny_data, tmp_path, [("brand-new", "i3")])
    with pytest.raises(RecommendError, match="SASRec .* cannot score items it never saw"):
        recommend(trained["SASRec"], new_items=path)
    no_text = _new_items_file(tiny_data, tmp_path, [("brand-new", "i3")], fields=("item_id", "title"))
    with pytest.raises(RecommendError, match=r"lacks column\(s\) \['genre'\]"):
        recommend(trained["HierRec"], new_items=no_text)
    taken = _new_items_file(tiny_data, tmp_path, [("i3", "i4")])
    with pytest.raises(RecommendError, match="already items of tiny .*i3"):
        recommend(trained["HierRec"], new_items=taken)
    with pytest.raises(RecommendError, match="--new_items: .*missing.item does not exist"):
        recommend(trained["HierRec"], new_items=str(tmp_path / "missing.item"))


def test_bad_histories_are_refused(trained, tmp_path):
    with pytest.raises(RecommendError, match=r"1 item\(s\) of the histories are not items of tiny \(e.g. nope\)"):
        recommend(trained["HierRec"], histories=[("x", ["i1", "nope"])])
    bad = tmp_path / "histories.tsv"
    bad.write_text("a\ti1,i2\nb i3\n")
    with pytest.raises(RecommendError, match="histories.tsv, line 2: expected 'label<TAB>item"):
        read_histories(history_file=str(bad))
    bad.write_text("a\ti1\na\ti2\n")
    with pytest.raises(RecommendError, match="line 2: label 'a' is used twice"):
        read_histories(history_file=str(bad))
    with pytest.raises(RecommendError, match="--item_fields: 'colour' is not an item field"):
        recommend(trained["HierRec"], users=["u1"], item_fields=["colour"])
    with pytest.raises(RecommendError, match="known users .* or new ones"):
        run_recbole_hier.main(["--recommend", f"--model_file={trained['HierRec']}", "--users=u1", "--history=i1",
                               f"--output={tmp_path / 'r.csv'}"])


def test_the_speed_script_times_recommending_against_a_validation_pass(tiny_data, tmp_path, capsys):
    from recbole_hier.benchmark import recommend_speed

    out = recommend_speed.main(["--dataset", "tiny", "--model", "SASRec", "--threads", "1", "--batch_size", "7",
                                f"--data_path={tiny_data}", "--n_layers=1", f"--checkpoint_dir={tmp_path}",
                                "--load_col={'inter': ['user_id', 'item_id', 'timestamp']}"])
    assert out["users"] == 40 and out["valid_seconds"] > 0 and out["recommend_seconds"] > 0
    assert "users/s" in capsys.readouterr().out


def test_with_calibrated_cold_scores_a_new_item_moves_and_trained_items_keep_their_scores(trained, tiny_data,
                                                                                           tmp_path):
    path = _new_items_file(tiny_data, tmp_path, [("brand-new", "i5")])
    ask = dict(users=["u1"], topk=45, exclude_seen=False, new_items=path)
    plain = {i: s for _, _, i, s in recommend(trained["HierRec"], **ask)}
    sharp = {i: s for _, _, i, s in recommend(trained["HierRec"], scoring=ScoringSetting(
        cold_score="calibrated", cold_score_temperature=0.05), **ask)}
    soft = {i: s for _, _, i, s in recommend(trained["HierRec"], scoring=ScoringSetting(
        cold_score="calibrated", cold_score_temperature=0.5), **ask)}
    assert {i: s for i, s in sharp.items() if i != "brand-new"} == pytest.approx(
        {i: s for i, s in plain.items() if i != "brand-new"}, abs=1e-5)
    assert sharp["brand-new"] != pytest.approx(plain["brand-new"], abs=1e-4)
    assert sharp["brand-new"] != pytest.approx(soft["brand-new"], abs=1e-4)  # the temperature counts
    out = tmp_path / "calibrated.csv"
    run_recbole_hier.main(["--recommend", f"--model_file={trained['HierRec']}", f"--new_items={path}", "--users=u1",
                           "--topk=45", "--exclude_seen=false", "--cold_score=calibrated",
                           "--cold_score_temperature=0.05", f"--output={out}"])
    cli = {row["item"]: float(row["score"]) for row in csv.DictReader(out.open())}
    assert cli["brand-new"] == pytest.approx(sharp["brand-new"], abs=1e-4)
    with pytest.raises(RecommendError, match="SASRec has no cold_score"):
        recommend(trained["SASRec"], users=["u1"], scoring=ScoringSetting(cold_score="calibrated"))
    with pytest.raises(RecommendError, match="cold_score_temperature must be > 0, got -1"):
        recommend(trained["HierRec"], users=["u1"], scoring=ScoringSetting(cold_score_temperature=-1))
    # UniSRec ranks by cosine through its own adaptor and never calls the calibrated scorer:
    # a cold_score for it is refused, not accepted and ignored
    for setting in ({"cold_score": "calibrated"}, {"cold_score_temperature": 0.05}, {"text_mix_count": 5.0}):
        with pytest.raises(RecommendError, match="UniSRec has no cold_score"):
            recommend(trained["UniSRec"], users=["u1"], scoring=ScoringSetting(**setting))


def test_text_mix_count_moves_trained_items_toward_their_text_and_needs_calibrated_scores(trained, tmp_path):
    ask = dict(users=["u1"], topk=45, exclude_seen=False)
    own = {i: s for _, _, i, s in recommend(trained["HierRec"], scoring=ScoringSetting(cold_score="calibrated"), **ask)}
    mixed = {i: s for _, _, i, s in recommend(
        trained["HierRec"], scoring=ScoringSetting(cold_score="calibrated", text_mix_count=5.0), **ask)}
    assert set(mixed) == set(own) and mixed != pytest.approx(own, abs=1e-4)
    out = tmp_path / "mixed.csv"
    run_recbole_hier.main(["--recommend", f"--model_file={trained['HierRec']}", "--users=u1", "--topk=45",
                           "--exclude_seen=false", "--cold_score=calibrated", "--text_mix_count=5",
                           f"--output={out}"])
    assert {row["item"]: float(row["score"]) for row in csv.DictReader(out.open())} == pytest.approx(mixed, abs=1e-4)
    with pytest.raises(RecommendError, match="text_mix_count mixes the model's scores with the calibrated"):
        recommend(trained["HierRec"], users=["u1"], scoring=ScoringSetting(cold_score="vector", text_mix_count=5.0))
