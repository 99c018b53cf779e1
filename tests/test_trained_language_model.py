"""plm_train_layers: the language model's top layers trained with the recommender
(text/trainable.py), for HierRec and SASRecText, on a real 2-layer BERT."""

import os

import pytest
import torch

from tests.conftest import PROTOCOL, tiny_config_dict
from tests.test_recommend import _new_items_file


@pytest.mark.parametrize("layers", [1, "all"])
def test_the_trained_layers_start_where_the_frozen_model_is(built, layers):
    config, dataset, *_, model = built(plm_train_layers=layers)
    items = model.items
    assert items.trainable_text.k == (2 if layers == "all" else 1)
    # pretrained weights survive the model's weight initialisation, so the first refresh
    # reproduces the frozen table
    assert torch.allclose(items.text_rows(), dataset.item_text_table, atol=1e-5)
    assert "items.text" not in model.state_dict()  # rebuilt from the layers, never saved
    assert any(name.startswith("items.trainable_text.layers.") for name in model.state_dict())


@pytest.mark.parametrize("model_name, softmax", [("HierRec", "full"), ("HierRec", "sampled"),
                                                 ("SASRecText", "sampled"), ("SASRecText", "full")])
def test_a_training_step_moves_the_layers_through_the_items_it_scores(built, model_name, softmax):
    extra = {"n_layers": 1} if model_name == "SASRecText" else {}
    _, _, train, *_, model = built(model=model_name, plm_train_layers=1, softmax=softmax, num_negatives=5, **extra)
    model.train()
    layers = model.item_representation.trainable_text
    before = [p.detach().clone() for p in layers.parameters()]
    batch = next(iter(train))
    losses = model.calculate_loss(batch)
    loss = sum(losses) if isinstance(losses, tuple) else losses
    loss.backward()
    grads = [p.grad for p in layers.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    torch.optim.SGD(layers.parameters(), lr=1.0).step()
    assert any(not torch.equal(b, p) for b, p in zip(before, layers.parameters()))
    # evaluating re-encodes every item with the layers as they are now
    model.eval()
    assert torch.allclose(model.item_representation.text_rows(), layers.table(), atol=1e-6)


def test_texts_run_in_chunks_of_similar_length_and_come_back_in_order(tiny_bert, monkeypatch):
    from recbole_hier.text.trainable import TrainableText

    torch.manual_seed(0)
    lengths = torch.randint(1, 12, (20,))
    config = {"plm_name_or_path": tiny_bert, "plm_train_layers": 1, "plm_trust_remote_code": False,
              "plm_pooling": "mean", "plm_gradient_checkpointing": False}
    layers = TrainableText(config, torch.randn(int(lengths.sum()), 32), lengths).eval()
    ids = torch.randperm(20)
    one_by_one = torch.cat([layers(ids[i:i + 1]) for i in range(20)])  # no padding at all
    assert torch.allclose(layers(ids, chunk=3), one_by_one, atol=1e-5)
    assert torch.allclose(layers(ids, chunk=1000), one_by_one, atol=1e-5)  # padding never counts
    # transformers without create_bidirectional_mask (4.x): the additive mask gives the same vectors
    import transformers.masking_utils

    monkeypatch.delattr(transformers.masking_utils, "create_bidirectional_mask")
    assert torch.allclose(layers(ids, chunk=1000), one_by_one, atol=1e-5)


def test_without_begin_step_a_trained_language_model_refuses_to_read_stale_vectors(built):
    *_, model = built(plm_train_layers=1)
    model.train()
    with pytest.raises(RuntimeError, match="begin_step"):
        model.items.table()


def test_the_layers_get_their_own_learning_rate_and_weight_decay(make_config):
    from recbole_hier import pipeline

    run = pipeline.build(make_config(plm_train_layers=1, plm_learning_rate=1e-5, plm_weight_decay=0.05))
    groups = run.trainer.optimizer.param_groups
    layers = set(map(id, run.model.items.language_model_parameters()))
    assert len(groups) == 2 and {id(p) for p in groups[1]["params"]} == layers
    assert groups[1]["lr"] == 1e-5 and groups[1]["weight_decay"] == 0.05
    assert groups[0]["lr"] == run.config["learning_rate"] and not layers & {id(p) for p in groups[0]["params"]}
    frozen = pipeline.build(make_config())
    assert len(frozen.trainer.optimizer.param_groups) == 1


def test_the_layers_learning_rate_warms_up_linearly_over_optimisation_steps(make_config):
    from recbole_hier import pipeline

    run = pipeline.build(make_config(plm_train_layers=1, plm_learning_rate=1e-3, plm_warmup_steps=10, epochs=2))
    steps = len(run.train_data)
    run.trainer._train_epoch(run.train_data, 0)
    assert run.trainer.optimizer.param_groups[1]["lr"] == pytest.approx(1e-3 * steps / 10)
    assert run.trainer.optimizer.param_groups[0]["lr"] == run.config["learning_rate"]  # the rest: no warm-up
    run.trainer._train_epoch(run.train_data, 20)  # past the warm-up (a resumed run's epoch index)
    assert run.trainer.optimizer.param_groups[1]["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize("change, message", [
    ({"plm_train_layers": 3}, "plm_train_layers: 3 is more than the 2 layers"),
    ({"plm_train_layers": "some"}, "plm_train_layers must be a number"),
    ({"plm_train_layers": 1, "item_repr": "id"}, "item_repr: id reads none"),
])
def test_a_bad_plm_train_layers_is_refused_naming_the_key(built, change, message):
    with pytest.raises(ValueError, match=message):
        built(**change)


def test_a_decoder_language_model_is_refused_clearly(tiny_data, tmp_path):
    from transformers import GPT2Config, GPT2Model

    from recbole_hier.text.trainable import TrainableText

    folder = tmp_path / "gpt2"
    GPT2Model(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100)).save_pretrained(folder)
    config = {"plm_name_or_path": str(folder), "plm_train_layers": 1, "plm_trust_remote_code": False,
              "plm_pooling": "last", "plm_gradient_checkpointing": False}
    with pytest.raises(ValueError, match="plm_train_layers: .* is a gpt2 model; .* encoder models"):
        TrainableText(config, torch.zeros(1, 32), torch.ones(1))


def test_a_fine_tuned_checkpoint_scores_with_its_trained_layers_and_embeds_new_items_with_them(
        tiny_data, tiny_bert, tmp_path):
    from recbole_hier import run_recbole_hier as train
    from recbole_hier.quick_start import load_data_and_model
    from recbole_hier.recommend.recommender import Recommender

    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path, plm_train_layers=1, plm_learning_rate=0.05,
                              epochs=2, softmax="sampled", num_negatives=8)
    model_file = train("HierRec", "tiny", [PROTOCOL], config)["saved_model_file"]
    _, model, dataset, *_ = load_data_and_model(model_file)
    model.eval()
    items = model.items
    trained = items.text_rows()
    assert not torch.allclose(trained, dataset.item_text_table, atol=1e-3)  # no frozen vector served
    assert torch.allclose(trained, items.trainable_text.table(), atol=1e-6)
    # a new item with an old item's text: embedded by the trained layers, not the frozen model
    path = _new_items_file(tiny_data, tmp_path, [("brand-new", "i5")])
    recommender = Recommender.load(model_file)
    recommender.add_items(path)
    new_items = recommender.model.items
    old = dataset.field2token_id[dataset.iid_field]["i5"]
    new_row = new_items.text_rows()[-1]
    assert torch.allclose(new_row, new_items.text_rows()[old], atol=1e-5)
    assert not torch.allclose(new_row, dataset.item_text_table[old], atol=1e-3)
    # and so does a direct forward of the whole language model with the trained top layer in place
    from recbole_hier.text.encoder import TextEncoder
    from recbole_hier.text.tables import item_texts

    encoder = TextEncoder(tiny_bert, "mean", 128, 16)
    encoder.model.encoder.layer[1].load_state_dict(items.trainable_text.layers[0].state_dict())
    direct = encoder.encode([item_texts(dataset)[0][old]])[0]
    assert torch.allclose(new_row, direct, atol=1e-5)
    assert os.path.exists(model_file)


def test_a_paused_fine_tuning_run_resumes_its_layers_and_their_optimizer_state(tiny_data, tiny_bert, tmp_path):
    from recbole_hier.benchmark.plan import Plan
    from recbole_hier.benchmark.runner import run_one
    from recbole_hier.benchmark.store import RunStore
    from tests.test_benchmark import write_suite

    path = write_suite(tmp_path, tiny_data, tiny_bert, tuning=None, reference="HierRec",
                       config_changes={"epochs": 2, "stopping_step": 10, "plm_train_layers": 1,
                                       "plm_learning_rate": 0.01, "softmax": "sampled", "num_negatives": 8},
                       models={"HierRec": {}})
    spec = Plan.load(path).seeded_runs("tiny", "HierRec", {})[0]
    whole, paused = RunStore(str(tmp_path / "whole")), RunStore(str(tmp_path / "paused"))
    assert run_one(spec, whole)[1] == "ran"
    assert run_one(spec, paused, deadline=0)[1].startswith("paused")
    assert run_one(spec, paused)[1] == "ran (resumed)"
    a, b = whole.load(spec.key), paused.load(spec.key)
    assert b["resumed_at_epochs"] == [1]
    for key in ("train_loss", "best_valid", "test", "per_user"):  # the same layers, Adam moments and draws
        assert a[key] == b[key], key


def test_init_from_carries_everything_but_the_other_catalogue_s_items(tiny_data, tiny_bert, tmp_path):
    from recbole_hier import pipeline, run_recbole_hier as train
    from recbole_hier.checkpoint import CheckpointError, load_checkpoint
    from recbole_hier.config import Config
    from recbole_hier.quick_start import load_data_and_model
    from tests.conftest import write_tiny_dataset

    other = tmp_path / "other"
    write_tiny_dataset(str(other), name="ring", n_users=60)  # another catalogue (its own items and users)
    source = train("HierRec", "tiny", [PROTOCOL], tiny_config_dict(tiny_data, tiny_bert, tmp_path / "a",
                                                                    plm_train_layers=1))["saved_model_file"]
    stored = load_checkpoint(source)["state_dict"]
    config = tiny_config_dict(str(other), tiny_bert, tmp_path / "b", plm_train_layers=1, init_from=source)
    model = pipeline.build(Config("HierRec", "ring", [PROTOCOL], config), with_trainer=False).model
    state = model.state_dict()
    for name in ("levels.0.forward_lstms.0.weight_hh_l0", "items.adaptor.weight",
                 "items.trainable_text.layers.0.output.dense.weight"):
        assert torch.equal(state[name], stored[name]), name
    assert not torch.equal(state["items.id_embedding.weight"][:5], stored["items.id_embedding.weight"][:5])
    # a run from it trains and saves; loading its checkpoint needs no init_from file any more
    target = train("HierRec", "ring", [PROTOCOL], config)["saved_model_file"]
    os.remove(source)
    assert load_data_and_model(target)[1] is not None
    # another model, or another shape, is refused naming what does not fit
    sas = train("SASRecText", "tiny", [PROTOCOL], tiny_config_dict(tiny_data, tiny_bert, tmp_path / "c",
                                                                    n_layers=1))["saved_model_file"]
    with pytest.raises(CheckpointError, match="is a SASRecText checkpoint; this run trains HierRec"):
        pipeline.build(Config("HierRec", "ring", [PROTOCOL], {**config, "init_from": sas}), with_trainer=False)
    wide = train("HierRec", "tiny", [PROTOCOL], tiny_config_dict(tiny_data, tiny_bert, tmp_path / "d",
                                                                  hidden_size=32))["saved_model_file"]
    with pytest.raises(CheckpointError, match="does not fit this model: .*hidden_size"):
        pipeline.build(Config("HierRec", "ring", [PROTOCOL], {**config, "init_from": wide, "plm_train_layers": 0}),
                       with_trainer=False)
