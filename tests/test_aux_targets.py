"""Auxiliary targets: labels from the target interaction only; weight 0 switches them off."""

import pytest
import torch
from recbole.data.interaction import Interaction

AUX = {"semantic": [{"field": "genre", "weight": 0.5}], "lstm": [{"field": "rating", "weight": 0.3}]}


def test_aux_parts_are_logged_and_trainable(built):
    *_, train, valid, test, model = built(level_aux_targets=AUX)
    parts = model.calculate_loss(next(iter(train)))
    assert len(parts) == 5 + 2
    assert [aux.name for aux in model.aux_targets] == ["aux_semantic_genre", "aux_lstm_rating"]
    assert all(p > 0 for p in parts[-2:])
    sum(parts).backward()
    assert all(aux.head.weight.grad is not None for aux in model.aux_targets)


def test_labels_come_from_the_target_only(built):
    config, dataset, train, valid, test, model = built(level_aux_targets=AUX)
    batch = next(iter(train))
    genre, rating = model.aux_targets
    target = batch["item_id"]
    labels = genre.labels(batch, target)
    # multi-hot of the target item's genres, and nothing else
    tokens = dataset.field2id_token["genre"]
    for row in range(5):
        item = int(dataset.id2token("item_id", target[row].item())[1:])
        expected = {"action", "comedy", "drama", "horror", "romance", "scifi"}
        names = {tokens[c] for c in labels[row].nonzero().view(-1).tolist()}
        assert len(names) == 1 and names <= expected
        assert names == {["action", "comedy", "drama", "horror", "romance", "scifi"][item % 6]}
    # History changes do not move the labels or the head's loss terms' labels.
    shuffled = Interaction({**batch.interaction, "item_id_list": torch.roll(batch["item_id_list"], 1, 0),
                            "rating_list": torch.zeros_like(batch["rating_list"])})
    assert torch.equal(genre.labels(shuffled, target), labels)
    assert torch.equal(rating.labels(shuffled, target), rating.labels(batch, target))
    # The target's own rating drives the rating label.
    other = Interaction({**batch.interaction, "rating": torch.zeros_like(batch["rating"])})
    assert (rating.labels(other, target) == 0).all()
    assert not torch.equal(rating.labels(batch, target), rating.labels(other, target))
    assert rating.head.out_features == 5  # ratings 1..5: one class each


def test_zero_weight_vanishes(built):
    aux = {"semantic": [{"field": "genre", "weight": 0.0}], "tcn": [{"field": "rating", "weight": 0.0}]}
    *_, train, valid, test, model = built(level_aux_targets=aux)
    parts = model.calculate_loss(next(iter(train)))
    assert parts[-1] == 0 and parts[-2] == 0


@pytest.mark.parametrize("aux, message", [
    ({"top": [{"field": "genre"}]}, "unknown level"),
    ({"semantic": [{"field": "plot"}]}, "'plot'"),
    ({"semantic": ["genre"]}, "dicts"),
    ([{"field": "genre"}], "level_aux_targets must be a dict"),
])
def test_bad_aux_config(built, aux, message):
    with pytest.raises(ValueError, match=message):
        built(level_aux_targets=aux)


def test_the_epoch_line_names_every_loss_part(make_config):
    from recbole_hier import pipeline

    run = pipeline.build(make_config(level_aux_targets=AUX))
    losses = run.trainer._train_epoch(run.train_data, 0)
    line = run.trainer._generate_train_loss_output(0, 0.0, 1.0, losses)
    names = ["ce_semantic", "ce_lstm", "ce_tcn", "vae_ce", "vae_kl", "aux_semantic_genre", "aux_lstm_rating"]
    assert run.model.loss_names == names and all(f"{name}\x1b" in line or f"{name}:" in line for name in names)
    assert "train_loss" not in line
