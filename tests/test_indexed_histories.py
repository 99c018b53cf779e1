"""history_storage: index gives RecBole's sequential samples, field by field, without the [N L] copy."""

import numpy as np
import pytest
import torch

from recbole_hier import pipeline
from recbole_hier.data.indexed_histories import IndexedHistories


def _rows(split):
    return split[np.arange(len(split))]  # what a data loader's batches hold (joined with item features)


@pytest.mark.parametrize("model, extra", [
    ("SASRec", {"n_layers": 1}),
    ("HierRec", {"behavior_text_template": "rated {rating}"}),  # behavior_text_list too
])
def test_indexed_histories_give_recboles_samples_field_by_field(built, model, extra):
    indexed = built(model=model, history_storage="index", MAX_ITEM_LIST_LENGTH=5, **extra)  # windows cut
    reference = built(model=model, MAX_ITEM_LIST_LENGTH=5, **extra)
    assert isinstance(indexed[2]._dataset.inter_feat, IndexedHistories)
    for ours, theirs in zip(indexed[2:5], reference[2:5]):  # train, valid, test
        a, b = _rows(ours._dataset), _rows(theirs._dataset)
        assert sorted(a.columns) == sorted(b.columns)
        assert any(c.endswith("_list") and c != "item_id_list" for c in a.columns)  # rating_list, ...
        for column in b.columns:
            assert a[column].dtype == b[column].dtype, column
            assert torch.equal(a[column], b[column]), column
    assert len(indexed[2]._dataset) == len(reference[2]._dataset) > 0


def test_a_model_trains_and_evaluates_on_indexed_histories_as_on_recboles(make_config):
    results = []
    for storage in ("recbole", "index"):
        run = pipeline.build(make_config(model="SASRec", n_layers=1, history_storage=storage, epochs=2))
        run.trainer.fit(run.train_data, run.valid_data, saved=False, show_progress=False)
        results.append(run.trainer.evaluate(run.test_data, load_best_model=False))
    assert results[0] == pytest.approx(results[1])


def test_recommendation_histories_are_the_same_from_indexed_storage(built):
    from recbole_hier.recommend import Histories

    config, dataset, *_ = built(model="SASRec", n_layers=1, history_storage="index", MAX_ITEM_LIST_LENGTH=5)
    ref_config, ref_dataset, *_ = built(model="SASRec", n_layers=1, MAX_ITEM_LIST_LENGTH=5)
    assert isinstance(dataset.inter_feat, IndexedHistories)  # no [N L] lists behind it
    ours, theirs = Histories(dataset, config), Histories(ref_dataset, ref_config)
    assert ours.span == theirs.span and sorted(ours.columns) == sorted(theirs.columns)
    for field in theirs.columns:
        assert torch.equal(ours.columns[field], theirs.columns[field]), field
    users = sorted(theirs.span)[:4]
    a, b = ours.batch(users, ["item_id"]), theirs.batch(users, ["item_id"])
    assert torch.equal(a["item_id_list"], b["item_id_list"])
