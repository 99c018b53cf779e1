"""The text-aware baselines, SASRecText and UniSRec: shapes, padding invariance, no leakage,
frozen text that is read, and configuration that refuses unequal inputs."""

import pytest
import torch
from recbole.data.interaction import Interaction

from tests.test_model import eval_batch, first_batch

MODELS = ["SASRecText", "UniSRec"]


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_a_frozen_text_table_that_is_read(built, name):
    config, dataset, train, valid, test, model = built(model=name, n_layers=1)
    assert config["n_layers"] == 1 and config["inner_size"] == 256  # SASRec's defaults are inherited
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())  # fast_ops swapped them
    loss = model.calculate_loss(first_batch(train))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    items = model.item_embedding
    assert items.text.grad is None and items.id_embedding.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in items.adaptor.parameters())
    model.eval()
    inter = eval_batch(test)
    with torch.no_grad():
        scores = model.full_sort_predict(inter)
        assert scores.shape == (len(inter), dataset.item_num)
        full = scores[torch.arange(len(inter)), inter["item_id"]]
        assert torch.allclose(model.predict(inter), full, atol=1e-4)
        if name == "UniSRec":  # cosine / temperature
            assert scores.abs().max() <= 1 / config["temperature"] + 1e-3
        # the frozen text decides the scores: another table, other scores
        items.text.mul_(-1.0)
        assert not torch.allclose(model.full_sort_predict(inter), scores)


@pytest.mark.parametrize("name", MODELS)
def test_padding_and_the_target_never_change_the_scores(built, name):
    *_, test, model = built(model=name, n_layers=1)
    model.eval()
    inter = eval_batch(test)
    seq, lengths = inter["item_id_list"], inter["item_length"]
    assert (lengths < seq.size(1)).any(), "the tiny data should contain padded histories"
    positions = torch.arange(seq.size(1)).unsqueeze(0)
    noisy = torch.where(positions >= lengths.unsqueeze(1), torch.randint_like(seq, 1, 20), seq)
    other_target = (inter["item_id"] % 20) + 1
    with torch.no_grad():
        reference = model.full_sort_predict(inter)
        changed = Interaction({**inter.interaction, "item_id_list": noisy, "item_id": other_target})
        assert torch.allclose(model.full_sort_predict(changed), reference, atol=1e-5)


def test_text_only_baselines_and_unequal_inputs(built, make_config):
    *_, model = built(model="SASRecText", item_repr="text", n_layers=1)
    assert model.item_embedding.id_embedding is None
    with pytest.raises(ValueError, match="SASRecText reads no behaviour text"):
        make_config(model="SASRecText", behavior_text_template="rated {rating}")
    with pytest.raises(ValueError, match="UniSRec: loss_type must be CE"):
        make_config(model="UniSRec", loss_type="BPR")
    with pytest.raises(ValueError, match="text_adaptor must be one of"):
        make_config(model="UniSRec", text_adaptor="whiten")


def test_the_moe_adaptor_is_a_softmax_mixture_of_whitening_experts():
    from recbole_hier.model.adaptors import MoEAdaptor

    torch.manual_seed(0)
    moe = MoEAdaptor(6, 4, n_experts=3, dropout=0.0).eval()
    for expert in moe.experts:
        torch.nn.init.normal_(expert.bias)
    torch.nn.init.normal_(moe.w_gate)
    x = torch.randn(5, 6)
    gates = (x @ moe.w_gate).softmax(dim=-1)  # [5 3]
    expected = sum(gates[:, k:k + 1] * ((x - e.bias) @ e.lin.weight.t()) for k, e in enumerate(moe.experts))
    assert torch.allclose(moe(x), expected, atol=1e-6)
    moe.train()
    torch.nn.init.normal_(moe.w_noise)
    assert not torch.allclose(moe(x), expected)  # gate noise while training
