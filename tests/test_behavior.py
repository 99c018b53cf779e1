"""Behaviour text on a small hand-made dataset: rendering, time cut-off, no leakage."""

import logging
import os

import pytest
import torch
from recbole.data import data_preparation
from recbole.data.interaction import Interaction

from recbole_hier.text.behavior import BEHAVIOR_FIELD
from recbole_hier.text.templates import TextSpecError
from recbole_hier.registry import create_dataset, get_model

# user, item, rating, time
INTER = [
    ("u1", "i1", 5, 1), ("u1", "i2", 4, 10), ("u1", "i3", 2, 20), ("u1", "i4", 3, 30), ("u1", "i5", 1, 40),
    ("u2", "i2", 3, 5), ("u2", "i3", 5, 15), ("u2", "i1", 4, 25), ("u2", "i4", 2, 35), ("u2", "i5", 5, 45),
    ("u3", "i3", 4, 2), ("u3", "i4", 4, 12), ("u3", "i5", 3, 22), ("u3", "i1", 2, 32),
]
# user, item, tag, time
TAGS = [
    ("u1", "i2", "funny", 5),         # before the interaction (t=10): used
    ("u1", "i2", "dark comedy", 10),  # at the interaction: used
    ("u1", "i2", "later", 11),        # after it: ignored
    ("u1", "i5", "spoiler", 100),     # after u1's last (test) interaction: ignored
    ("u2", "i9", "orphan", 1),        # no such interaction
]


@pytest.fixture
def hand_data(tmp_path):
    folder = tmp_path / "data" / "hand"
    folder.mkdir(parents=True)
    with open(folder / "hand.inter", "w") as f:
        f.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        f.writelines(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in INTER)
    with open(folder / "hand.tags.tsv", "w") as f:
        f.write("user_id:token\titem_id:token\ttag:token_seq\ttimestamp:float\n")
        f.writelines(f"{u}\t{i}\t{g}\t{t}\n" for u, i, g, t in TAGS)
    with open(folder / "hand.item", "w") as f:
        f.write("item_id:token\ttitle:token_seq\n")
        f.writelines(f"i{n}\t{w} story\n" for n, w in enumerate(["red", "blue", "green", "dark", "sad"], 1))
    return str(tmp_path / "data")


def behavior_config(make_config, hand_data, **overrides):
    settings = dict(
        dataset="hand", data_path=hand_data, MAX_ITEM_LIST_LENGTH=5,
        load_col={"inter": ["user_id", "item_id", "rating", "timestamp"], "item": ["item_id", "title"]},
        behavior_text_template="rated {rating} of 5", behavior_side_file="hand.tags.tsv",
        behavior_side_template="tagged {tag}", state="INFO",
    )
    settings.update(overrides)
    return make_config(**settings)


def behavior_of(dataset, user, item):
    feat = dataset.inter_feat
    rows = (feat["user_id"] == dataset.token2id("user_id", user)) & (
        feat["item_id"] == dataset.token2id("item_id", item))
    return dataset.id2token(BEHAVIOR_FIELD, feat[BEHAVIOR_FIELD][rows].item())


def test_texts_use_only_events_at_or_before_the_interaction(make_config, hand_data, caplog):
    caplog.set_level(logging.INFO)
    config = behavior_config(make_config, hand_data)
    dataset = create_dataset(config)
    # inter_feat rows are the targets of the augmented samples; the first
    # interaction of each user is not a target, so check via the split data.
    train, valid, test = dataset.build()
    full = dataset.field2id_token[BEHAVIOR_FIELD]
    assert "rated 4 of 5; tagged funny, dark comedy" in full
    assert not any("later" in t or "spoiler" in t or "orphan" in t for t in full)
    assert behavior_of(test, "u1", "i5") == "rated 1 of 5"
    assert "distinct behaviour texts" in caplog.text
    assert dataset.behavior_text_table.shape == (len(full), 32)
    assert torch.count_nonzero(dataset.behavior_text_table[0]) == 0


def test_history_carries_past_behaviour_only(built, make_config, hand_data):
    config = behavior_config(make_config, hand_data)
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    batch = test.dataset.inter_feat
    row = (batch["user_id"] == dataset.token2id("user_id", "u1")).nonzero().item()
    length = batch["item_length"][row].item()
    history = [dataset.id2token(BEHAVIOR_FIELD, b) for b in batch["behavior_text_list"][row, :length].tolist()]
    assert history == ["rated 5 of 5", "rated 4 of 5; tagged funny, dark comedy", "rated 2 of 5", "rated 3 of 5"]
    assert dataset.id2token(BEHAVIOR_FIELD, batch[BEHAVIOR_FIELD][row].item()) == "rated 1 of 5"

    model = get_model("HierRec")(config, train._dataset).eval()
    assert model.uses_behavior
    with torch.no_grad():
        model.semantic.behavior_gate.fill_(1.0)  # opened, as training does (it starts closed)
        scores = model.full_sort_predict(batch)
        # The target's own behaviour is not an input...
        other_target = Interaction({**batch.interaction, BEHAVIOR_FIELD: torch.ones_like(batch[BEHAVIOR_FIELD])})
        assert torch.equal(scores, model.full_sort_predict(other_target))
        # ...while the history's behaviour is.
        other_history = batch["behavior_text_list"].clone()
        other_history[:, 0] = torch.where(other_history[:, 0] > 0, 1, 0)
        other_history[:, 1] = torch.where(other_history[:, 1] > 0, 2, 0)
        changed = Interaction({**batch.interaction, "behavior_text_list": other_history})
        assert not torch.allclose(scores, model.full_sort_predict(changed))


def test_behaviour_starts_gated_shut_and_training_opens_the_gate(make_config, hand_data):
    config = behavior_config(make_config, hand_data)
    dataset = create_dataset(config)
    train, valid, _ = data_preparation(config, dataset)
    model = get_model("HierRec")(config, train._dataset)
    histories = valid.dataset.inter_feat
    other = Interaction({**histories.interaction,
                         "behavior_text_list": torch.where(histories["behavior_text_list"] > 0, 1, 0)})

    def scores(interaction):
        model.eval()
        with torch.no_grad():
            return model.full_sort_predict(interaction)

    # a fresh model is the one without behaviour: the gate is shut
    assert torch.equal(model.semantic.behavior_gate, torch.zeros(model.hidden_size))
    assert torch.equal(scores(histories), scores(other))
    # the first step's gradient opens it; the behaviour adaptor learns once it is open
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(2):
        model.train()
        optimizer.zero_grad()
        sum(model.calculate_loss(next(iter(train)))).backward()
        if step == 0:
            assert model.semantic.behavior_gate.grad.abs().sum() > 0
            assert model.behaviors.adaptor.weight.grad.abs().sum() == 0
        optimizer.step()
    assert model.behaviors.adaptor.weight.grad.abs().sum() > 0
    assert not torch.equal(scores(histories), scores(other))


def test_behaviour_share_measures_the_gated_term(make_config, hand_data):
    from recbole_hier.benchmark.behaviour_share import measure

    config = behavior_config(make_config, hand_data)
    dataset = create_dataset(config)
    train, valid, _ = data_preparation(config, dataset)
    model = get_model("HierRec")(config, train._dataset)
    fresh = measure(model, dataset, valid)
    # validation histories: u1 and u2 three steps each, u3 two; "rated 4 of 5" three of the eight
    assert fresh["steps"] == 8 and fresh["added_norm"] == 0 and fresh["behaviour_norm"] > 0
    assert fresh["texts"] == 5 and fresh["top5_share"] == 1.0 and fresh["top5"][0] == "rated 4 of 5"
    assert 0.5 < fresh["mean_cosine"] < 1
    with torch.no_grad():
        model.semantic.behavior_gate.fill_(0.5)
    assert abs(measure(model, dataset, valid)["added_norm"] - 0.5 * fresh["behaviour_norm"]) < 1e-6
    plain = behavior_config(make_config, hand_data, behavior_text_template=None, behavior_side_file=None)
    plain_data = create_dataset(plain)
    train, valid, _ = data_preparation(plain, plain_data)
    with pytest.raises(ValueError, match="reads no behaviour text: set behavior_text_template"):
        measure(get_model("HierRec")(plain, train._dataset), plain_data, valid)


def test_template_only_and_placeholder(make_config, hand_data, caplog):
    caplog.set_level(logging.INFO)
    dataset = create_dataset(behavior_config(
        make_config, hand_data, behavior_text_template=None, behavior_placeholder="watched"))
    texts = set(dataset.field2id_token[BEHAVIOR_FIELD][1:])
    assert texts == {"tagged funny, dark comedy", "watched"}
    assert "13 of 14 interactions have no behaviour text" in caplog.text


@pytest.mark.parametrize("overrides, message", [
    ({"behavior_text_template": "rated {stars}"}, "'stars'"),
    ({"behavior_side_file": "nope.tsv"}, "nope.tsv"),
    ({"behavior_side_template": "tagged {label}"}, "'label'"),
    ({"behavior_side_template": None}, "behavior_side_template"),
])
def test_behaviour_errors_name_the_problem(make_config, hand_data, overrides, message):
    with pytest.raises((TextSpecError, FileNotFoundError), match=message):
        create_dataset(behavior_config(make_config, hand_data, **overrides))


def test_ml_latest_small_preset_does_not_load_the_leaky_tags_column():
    import yaml

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(repo, "properties", "dataset", "ml-latest-small.yaml")) as f:
        preset = yaml.safe_load(f)
    assert "tags" not in preset["load_col"]["item"]
    assert not any(key.startswith("behavior_") for key in preset)  # off: results/behaviour_aux/NOTES.md
