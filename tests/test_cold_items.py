"""The cold-item protocol: held-out items never reach training, and are scored without it."""

import pytest
import torch

from recbole_hier import pipeline
from recbole_hier.model.scoring import ScoringSetting


def _train_rows(train_data, config):
    feat = train_data._dataset.inter_feat
    items, lengths = feat["item_id_list"], feat[config["ITEM_LIST_LENGTH_FIELD"]]
    return [(int(t), tuple(items[i, : lengths[i]].tolist())) for i, t in enumerate(feat["item_id"])]


def test_cold_items_leave_training_entirely_and_evaluation_unchanged(built):
    config, dataset, train, valid, test, _ = built(model="SASRec", n_layers=1)
    cold_config, cold_dataset, cold_train, cold_valid, cold_test, _ = built(model="SASRec", n_layers=1,
                                                                           cold_item_ratio=0.2)
    cold = set(cold_dataset.cold_item_ids.tolist())
    assert len(cold) == 6  # 20% of 30 items
    rows = _train_rows(cold_train, cold_config)
    assert rows and all(target not in cold and not cold & set(history) for target, history in rows)
    # every warm training sample is there, with its cold steps taken out (order kept)
    expected = {(t, tuple(i for i in h if i not in cold)) for t, h in _train_rows(train, config) if t not in cold}
    assert set(rows) == {row for row in expected if row[1]}
    for split, cold_split in ((valid, cold_valid), (test, cold_test)):  # evaluation is RecBole's, unchanged
        assert torch.equal(split._dataset.inter_feat["item_id"], cold_split._dataset.inter_feat["item_id"])
        assert torch.equal(split._dataset.inter_feat["item_id_list"], cold_split._dataset.inter_feat["item_id_list"])
    assert any(t in cold for t in cold_test._dataset.inter_feat["item_id"].tolist())
    other_seed = built(model="SASRec", n_layers=1, cold_item_ratio=0.2, seed=8)[1]
    assert set(other_seed.cold_item_ids.tolist()) == cold  # cold_item_seed, not the run's seed


@pytest.mark.parametrize("model", ["SASRec", "HierRec"])
def test_no_parameter_learns_from_cold_items(make_config, model):
    config = make_config(model=model, n_layers=1, cold_item_ratio=0.2, epochs=2)
    run = pipeline.build(config)
    cold = run.dataset.cold_item_ids
    table = run.model.item_embedding if model == "SASRec" else run.model.items.id_embedding
    before = table.weight.detach().clone()
    run.trainer.fit(run.train_data, run.valid_data, saved=False, show_progress=False)
    after = table.weight.detach()
    assert torch.equal(after[cold], before[cold])  # neither targets, inputs nor softmax negatives
    warm = torch.tensor([i for i in range(1, run.dataset.item_num) if i not in set(cold.tolist())])
    assert not torch.equal(after[warm], before[warm])
    if model == "HierRec":  # cold items are their text alone
        items = run.model.items
        items.eval()
        assert torch.allclose(items.weight[cold], items.adaptor(items.text[cold]), atol=1e-6)
        assert not torch.allclose(items.weight[warm], items.adaptor(items.text[warm]))


def test_a_ratio_that_leaves_no_cold_or_no_warm_item_is_refused(built):
    with pytest.raises(ValueError, match="cold_item_ratio 0.01 holds out 0 of 30 items"):
        built(cold_item_ratio=0.01)


@pytest.mark.parametrize("key, value", [("item_bias", True), ("id_gate", "frequency"), ("align_loss_weight", 0.1),
                                        ("behavior_fusion", "concat"), ("id_fill", "neighbours")])
def test_a_retired_switch_is_refused_with_where_its_measurement_is(make_config, key, value):
    with pytest.raises(ValueError, match=rf"key '{key}' in the .* was retired: it measured nothing \(results/levers.md"):
        make_config(model="HierRec", **{key: value})


def test_calibrated_cold_scores_share_the_models_normalizer_over_trained_items(built):
    from recbole_hier.model.score import calibrated_text_scores

    config, dataset, _, _, test, model = built(model="HierRec", cold_item_ratio=0.2, cold_score="calibrated",
                                               cold_score_temperature=0.2)
    cold = dataset.cold_item_ids
    known = model.items.id_mask.bool()
    model.eval()
    interaction = next(iter(test))[0]
    calibrated = model.full_sort_predict(interaction)
    ScoringSetting(cold_score="vector").apply(model)
    plain = model.full_sort_predict(interaction)
    assert torch.equal(calibrated[:, known], plain[:, known])  # trained items keep their scores
    assert not torch.allclose(calibrated[:, cold], plain[:, cold])
    table = model.item_table()
    user = model._score_user(interaction, table)
    text = torch.nn.functional.normalize(user, dim=-1) @ torch.nn.functional.normalize(
        model.items.text_vectors(), dim=-1).t() / 0.2
    real = known.clone()
    real[0] = False
    shift = calibrated[:, cold] - text[:, cold]  # one shift per user, for every cold item
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-5)
    assert torch.allclose(torch.logsumexp(text[:, real] + shift[:, :1], 1), torch.logsumexp(plain[:, real], 1),
                          atol=1e-5)
    assert torch.allclose(calibrated_text_scores(plain, user, model.items.text_vectors(), known, 0.2), calibrated)
    ScoringSetting(cold_score="calibrated").apply(model)
    ids = cold[torch.arange(len(interaction)) % len(cold)]  # pair scoring agrees with full ranking
    interaction[model.ITEM_ID] = ids
    assert torch.allclose(model.predict(interaction), calibrated.gather(1, ids[:, None]).squeeze(1))


def test_calibrated_cold_scores_need_text_id_items(built):
    with pytest.raises(ValueError, match="cold_score: calibrated .* needs item_repr: text\\+id \\(got text\\)"):
        built(model="HierRec", cold_score="calibrated", item_repr="text")
