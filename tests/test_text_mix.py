"""text_mix_count: rarely trained items ranked by a mixture of the model's and the text's probabilities."""


import pytest
import torch
import torch.nn.functional as F
from recbole_hier.model.scoring import ScoringSetting


def _text_scores(model, interaction, temperature):  # [B N]: cos(user, text part) / T, before the shift
    table = model.item_table()
    user = model._score_user(interaction, table)
    return F.normalize(user, dim=-1) @ F.normalize(model.items.text_vectors(), dim=-1).t() / temperature


def test_each_item_mixes_model_and_text_probabilities_by_its_training_interactions(built):
    config, dataset, train, _, test, model = built(model="HierRec", cold_score="calibrated",
                                                   cold_score_temperature=0.2, text_mix_count=3.0)
    targets = train._dataset.inter_feat["item_id"]
    assert torch.equal(model.train_item_counts, torch.bincount(targets, minlength=dataset.item_num).float())
    model.eval()
    interaction = next(iter(test))[0]
    with torch.no_grad():
        mixed = model.full_sort_predict(interaction)
        ScoringSetting(text_mix_count=0.0).apply(model)  # no item lacks an ID part here: the model's own scores
        plain = model.full_sort_predict(interaction)
        ScoringSetting(cold_score="vector").apply(model)
        assert torch.equal(model.full_sort_predict(interaction), plain)
        text = _text_scores(model, interaction, 0.2)
    real = slice(1, None)  # padding (id 0) keeps its score and is not in the normalizer
    text = text + (torch.logsumexp(plain[:, real], 1, keepdim=True) - torch.logsumexp(text[:, real], 1, keepdim=True))
    a = 3.0 / (3.0 + model.train_item_counts)
    expected = torch.log((1 - a) * plain.exp() + a * text.exp())
    assert torch.allclose(mixed[:, real], expected[:, real], atol=1e-4)
    assert torch.equal(mixed[:, 0], plain[:, 0])
    rare = model.train_item_counts[real] < model.train_item_counts[real].max()
    assert not torch.allclose(mixed[:, real][:, rare], plain[:, real][:, rare])
    ScoringSetting(cold_score="calibrated", text_mix_count=3.0).apply(model)  # pair scoring agrees with full ranking
    ids = torch.arange(len(interaction)) % (dataset.item_num - 1) + 1
    interaction[model.ITEM_ID] = ids
    with torch.no_grad():
        assert torch.allclose(model.predict(interaction), mixed.gather(1, ids[:, None]).squeeze(1), atol=1e-5)


def test_items_without_a_trained_id_part_keep_the_text_score_alone(built):
    from recbole_hier.model.score import calibrated_text_scores

    _, dataset, _, _, test, model = built(model="HierRec", cold_item_ratio=0.2, cold_score="calibrated",
                                          cold_score_temperature=0.2, text_mix_count=1e9)
    cold, known = dataset.cold_item_ids, model.items.id_mask.bool()
    assert torch.equal(model.train_item_counts[cold], torch.zeros(len(cold)))
    model.eval()
    interaction = next(iter(test))[0]
    with torch.no_grad():
        mixed = model.full_sort_predict(interaction)
        ScoringSetting(text_mix_count=0.0).apply(model)
        cold_only = model.full_sort_predict(interaction)
        ScoringSetting(cold_score="vector").apply(model)
        plain = model.full_sort_predict(interaction)
        user = model._score_user(interaction, model.item_table())
    assert torch.allclose(mixed[:, cold], cold_only[:, cold])  # weight 1, whatever text_mix_count
    # a count this large leaves every trained item (nearly) to its text too
    everything = calibrated_text_scores(plain, user, model.items.text_vectors(), known, 0.2,
                                        torch.ones(dataset.item_num))
    assert torch.allclose(mixed[:, 1:], everything[:, 1:], atol=1e-4)
    # weight 0 keeps a score exactly; the default weights are those of text_mix_count 0
    zero = calibrated_text_scores(plain, user, model.items.text_vectors(), known, 0.2, torch.zeros(dataset.item_num))
    assert torch.equal(zero, plain)
    assert torch.equal(calibrated_text_scores(plain, user, model.items.text_vectors(), known, 0.2,
                                              (~known).float()), cold_only)


def test_text_mix_count_needs_calibrated_cold_scores(built):
    with pytest.raises(ValueError, match="text_mix_count mixes .* set cold_score: calibrated"):
        built(model="HierRec", text_mix_count=5.0)


def test_sasrectext_scores_items_by_text_as_hierrec_does(built):
    """The same calibrated text scores and mixture over SASRec's user vector (a like-for-like baseline)."""
    from recbole_hier.model.score import calibrated_text_scores

    _, dataset, _, _, test, model = built(model="SASRecText", n_layers=1, cold_item_ratio=0.2,
                                          cold_score="calibrated", cold_score_temperature=0.2, text_mix_count=3.0)
    model.eval()
    interaction = next(iter(test))[0]
    with torch.no_grad():
        mixed = model.full_sort_predict(interaction)
        ScoringSetting(cold_score="vector", text_mix_count=0.0).apply(model)
        plain = model.full_sort_predict(interaction)  # RecBole's SASRec scoring
        user = model.forward(interaction[model.ITEM_SEQ], interaction[model.ITEM_SEQ_LEN])
        text = model.item_embedding.text_vectors()
    known = model.item_embedding.id_mask.bool()
    weight = torch.where(known, 3.0 / (3.0 + model.train_item_counts), torch.ones(dataset.item_num))
    assert torch.allclose(mixed, calibrated_text_scores(plain, user, text, known, 0.2, weight), atol=1e-5)
    assert not torch.allclose(mixed[:, dataset.cold_item_ids], plain[:, dataset.cold_item_ids])
    ScoringSetting(cold_score="calibrated", text_mix_count=3.0).apply(model)
    ids = torch.arange(len(interaction)) % (dataset.item_num - 1) + 1
    interaction[model.ITEM_ID] = ids
    with torch.no_grad():
        assert torch.allclose(model.predict(interaction), mixed.gather(1, ids[:, None]).squeeze(1), atol=1e-5)
    with pytest.raises(ValueError, match="SASRecText: text_mix_count mixes"):
        built(model="SASRecText", n_layers=1, text_mix_count=3.0)
