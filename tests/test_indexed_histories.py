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
