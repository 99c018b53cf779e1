"""HierRec's tensors: shapes, padding invariance, causality, no leakage, the VAE and KL."""

import os

import pytest
import torch
import torch.nn.functional as F
from recbole.data.interaction import Interaction

from recbole_hier.model.hierrec.levels import MultiScaleLevel
from recbole_hier.model.score import ItemScorer
from recbole_hier.model.hierrec.vae import kl_to_standard_normal
from recbole_hier.model.scoring import ScoringSetting


def first_batch(data):
    return next(iter(data))


def eval_batch(test):
    interaction = test.dataset.inter_feat  # every test user: history + held-out target
    return interaction[: min(16, len(interaction))]


def test_shapes(built):
    config, dataset, train, valid, test, model = built()
    batch = first_batch(train)
    parts = model.calculate_loss(batch)
    assert isinstance(parts, tuple) and len(parts) == len(model.loss_fct.part_names) == 5
    assert all(p.dim() == 0 and torch.isfinite(p) for p in parts)
    sum(parts).backward()
    assert model.items.adaptor.weight.grad is not None
    assert model.items.text.grad is None  # the LM table is frozen
    model.eval()
    inter = eval_batch(test)
    with torch.no_grad():
        scores = model.full_sort_predict(inter)
        assert scores.shape == (len(inter), dataset.item_num)
        assert model.predict(inter).shape == (len(inter),)
        one = inter[:1]
        assert model.predict(one).shape == (1,)
        # predict agrees with the matching column of the full ranking
        full = scores[torch.arange(len(inter)), inter["item_id"]]
        assert torch.allclose(model.predict(inter), full, atol=1e-5)


@pytest.mark.parametrize("readout, levels", [("last", ["lstm", "tcn"]), ("residual", ["lstm", "tcn"]),
                                             ("attention", ["lstm", "tcn"]), ("last", ["attn", "lstm", "tcn"])])
def test_padding_does_not_change_user_vector(built, readout, levels):
    weights = [0.5] * len(levels) + [1.0]
    *_, test, model = built(readout=readout, levels=levels, level_loss_weights=weights)
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())  # the attn level's too (fast_ops)
    model.eval()
    inter = eval_batch(test)
    seq, lengths = inter["item_id_list"], inter["item_length"]
    assert (lengths < seq.size(1)).any(), "the tiny data should contain padded histories"
    with torch.no_grad():
        reference = model.forward(seq, lengths)
        # Fill every padded slot with real item ids: nothing may change.
        positions = torch.arange(seq.size(1)).unsqueeze(0)
        noisy = torch.where(positions >= lengths.unsqueeze(1), torch.randint_like(seq, 1, 20), seq)
        noisy_users = model.forward(noisy, lengths)
        # A history alone in its batch equals the same history among others.
        alone = model.forward(seq[:1], lengths[:1])
    for ref, other in zip(reference, noisy_users):
        assert torch.allclose(ref, other, atol=1e-5)
    for ref, single in zip(reference, alone):
        assert torch.allclose(ref[:1], single, atol=1e-5)


def test_cpu_dropout_keeps_each_element_with_probability_one_minus_p():
    from recbole_hier.model.dropout import Dropout

    torch.manual_seed(0)
    x = torch.ones(400, 50, 64)
    drop = Dropout(0.3)
    out = drop(x)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005  # 1.28M draws: std 0.0004
    # four elements share one 64-bit draw: each of the four slots, and a pair of neighbours,
    # must still be kept independently with 0.7 (a 63-bit draw would keep every fourth always)
    slots = kept.flatten().view(-1, 4).float()  # [320k 4]
    assert all(abs(rate - 0.7) < 0.005 for rate in slots.mean(0).tolist())
    assert abs((slots[:, 0] * slots[:, 1]).mean().item() - 0.49) < 0.005
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.7))
    assert abs(out.mean().item() - 1.0) < 0.01  # unbiased, as nn.Dropout
    torch.manual_seed(0)
    assert torch.equal(drop(x), out)  # reproducible from the seed
    x.requires_grad_(True)
    torch.manual_seed(0)
    drop(x).sum().backward()
    assert torch.allclose(x.grad, out)  # the gradient passes where the mask kept, scaled alike
    drop.eval()
    assert drop(x) is x
    assert torch.equal(Dropout(1.0)(torch.ones(3)), torch.zeros(3))


def test_tcn_is_causal():
    torch.manual_seed(0)
    tcn = MultiScaleLevel(hidden_size=8, kernel_size=3, dilations=[1, 2, 4], dropout=0.0).eval()
    x = torch.randn(2, 10, 8)
    out = tcn(x, torch.tensor([10, 10]))
    changed = x.clone()
    changed[:, 6:] = torch.randn(2, 4, 8)  # change the future of position 5
    out2 = tcn(changed, torch.tensor([10, 10]))
    assert torch.allclose(out[:, :6], out2[:, :6], atol=1e-6)
    assert not torch.allclose(out[:, 6:], out2[:, 6:])


def test_no_leakage_target_is_not_input(built):
    config, dataset, train, valid, test, model = built()
    model.eval()
    inter = eval_batch(test)
    with torch.no_grad():
        scores = model.full_sort_predict(inter)
        swapped = Interaction({**inter.interaction, "item_id": torch.roll(inter["item_id"], 1)})
        assert torch.equal(scores, model.full_sort_predict(swapped))
    # Every test history is the user's time-ordered items (read from the raw file)
    # before the held-out last one.
    path = os.path.join(config["data_path"], "tiny.inter")
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    max_len = config["MAX_ITEM_LIST_LENGTH"]
    for row in range(len(inter)):
        user = dataset.id2token("user_id", inter["user_id"][row].item())
        events = sorted((float(r[3]), r[1]) for r in rows if r[0] == user)
        items = [dataset.token2id("item_id", token) for _, token in events]
        length = inter["item_length"][row].item()
        assert inter["item_id"][row].item() == items[-1]
        assert inter["item_id_list"][row, :length].tolist() == items[:-1][-max_len:]


def test_training_samples_are_prefixes(built):
    """Each training target is the item right after its history (the tiny data walks
    the ring i -> i+1), and nothing follows the history inside the input."""
    config, dataset, train, *_ = built()
    feat = train.dataset.inter_feat
    n_items = len(dataset.field2id_token["item_id"]) - 1
    for row in range(len(feat)):
        length = feat["item_length"][row].item()
        last = int(dataset.id2token("item_id", feat["item_id_list"][row, length - 1].item())[1:])
        target = int(dataset.id2token("item_id", feat["item_id"][row].item())[1:])
        assert target == last % n_items + 1
        assert (feat["item_id_list"][row, length:] == 0).all()


def test_kl_is_non_negative_and_zero_at_prior():
    torch.manual_seed(0)
    mu, logvar = torch.randn(64, 16) * 3, torch.randn(64, 16) * 2
    assert (kl_to_standard_normal(mu, logvar) >= 0).all()
    assert torch.allclose(kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))


def test_kl_annealing_schedule(built):
    *_, model = built(kl_beta_max=0.2, kl_anneal_steps=10)
    assert model.kl_beta == 0.0
    expected = {0: 0.0, 5: 0.1, 10: 0.2, 50: 0.2}
    for step, beta in expected.items():
        model.set_kl_beta_for_step(step)
        assert model.kl_beta == pytest.approx(beta)
    *_, constant = built(kl_beta_max=0.3, kl_anneal_steps=0)
    assert constant.kl_beta == pytest.approx(0.3)


def test_eval_is_deterministic_and_uses_mu(built):
    *_, test, model = built()
    inter = eval_batch(test)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.full_sort_predict(inter), model.full_sort_predict(inter))
    model.train()
    z1, mu, _ = model.vae(torch.randn(4, model.hidden_size))
    assert not torch.equal(z1, mu)  # training samples z


@pytest.mark.parametrize(
    "overrides",
    [
        {"item_repr": "text"},
        {"item_repr": "id"},
        {"levels": ["lstm"], "level_loss_weights": [0.0, 1.0]},
        {"levels": [], "level_loss_weights": [1.0]},
        {"vae": False},
        {"text_adaptor": "moe", "use_position": False},
    ],
)
def test_ablations_are_config_changes(built, overrides):
    *_, train, valid, test, model = built(**overrides)
    parts = model.calculate_loss(first_batch(train))
    assert len(parts) == 1 + len(model.level_kinds) + 2
    sum(parts).backward()
    if overrides.get("vae") is False:
        assert model.vae is None and parts[-1] == 0 and parts[-2] == 0
    if overrides.get("item_repr") == "id":
        assert model.items.text is None and model.items.id_embedding is not None


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"item_repr": "words"}, "item_repr"),
        ({"levels": ["gru"]}, "levels"),
        ({"levels": ["lstm"]}, "level_loss_weights"),
        ({"text_adaptor": "deep"}, "text_adaptor"),
        ({"readout": "mean"}, "readout"),
        ({"hidden_size": 15}, "even"),
        ({"kl_beta_max": -1.0}, "kl_beta_max"),
        ({"score": "l2"}, "score"),
        ({"score": "cosine", "score_temperature": 0.0}, "score_temperature"),
        ({"text_adaptor": "mlp"}, "text_adaptor"),  # retired: results/levers.md
        ({"text_loss_weight": 0.1, "item_repr": "id"}, "text_loss_weight ranks items by their text"),
    ],
)
def test_bad_model_config_is_rejected_at_construction(built, overrides, message):
    with pytest.raises(ValueError, match=message):
        built(**overrides)


def test_cosine_scores_ignore_item_vector_length():
    user, items = torch.randn(3, 8), torch.randn(5, 8)
    lengths = torch.tensor([0.1, 1.0, 3.0, 10.0, 100.0]).unsqueeze(1)
    cosine = ItemScorer("cosine", 0.1)
    assert torch.allclose(cosine.all_items(user, items), cosine.all_items(user, items * lengths), atol=1e-5)
    assert cosine.all_items(user, items).abs().max() <= 10.0 + 1e-5  # |cos| / 0.1
    dot = ItemScorer("dot", 0.1)  # the temperature only applies to cosine
    assert torch.allclose(dot.all_items(user, items), user @ items.t())
    assert not torch.allclose(dot.all_items(user, items), dot.all_items(user, items * lengths))


def test_cosine_scoring_trains_and_ranks_consistently(built):
    *_, train, valid, test, model = built(score="cosine", score_temperature=0.05)
    sum(model.calculate_loss(first_batch(train))).backward()
    assert model.items.id_embedding.weight.grad.abs().sum() > 0
    model.eval()
    inter = eval_batch(test)
    with torch.no_grad():
        scores = model.full_sort_predict(inter)
        assert scores.abs().max() <= 1 / 0.05 + 1e-4
        full = scores[torch.arange(len(inter)), inter["item_id"]]
        assert torch.allclose(model.predict(inter), full, atol=1e-5)


def test_bilstm_level_equals_a_packed_bilstm():
    """The unpacked two-direction implementation computes exactly a packed BiLSTM."""
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    from recbole_hier.model.hierrec.levels import SequentialLevel

    torch.manual_seed(0)
    level = SequentialLevel(hidden_size=8, num_layers=2, dropout=0.0).eval()
    packed = nn.LSTM(8, 4, num_layers=2, batch_first=True, bidirectional=True)
    for layer in range(2):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(packed, f"{name}_l{layer}").data.copy_(getattr(level.forward_lstms[layer], f"{name}_l0"))
            getattr(packed, f"{name}_l{layer}_reverse").data.copy_(getattr(level.backward_lstms[layer], f"{name}_l0"))
    x, lengths = torch.randn(5, 7, 8), torch.tensor([7, 3, 1, 5, 6])
    reference, _ = packed(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    reference, _ = pad_packed_sequence(reference, batch_first=True, total_length=7)
    mask = (torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(-1)
    assert torch.allclose(level(x, lengths), level.norm(reference) * mask, atol=1e-5)


def test_bilstm_level_runs_in_float32_under_cpu_autocast():
    """CPU autocast (enable_amp) must not hand the LSTMs bfloat16: oneDNN lacks that
    kernel on CPUs without AVX-512; in float32 the level computes what it does without it."""
    from recbole_hier.model.hierrec.levels import SequentialLevel

    torch.manual_seed(0)
    level = SequentialLevel(hidden_size=8, num_layers=2, dropout=0.0).eval()
    x, lengths = torch.randn(5, 7, 8), torch.tensor([7, 3, 1, 5, 6])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = level(x.bfloat16(), lengths)
    assert mixed.dtype == torch.float32
    assert torch.allclose(mixed, level(x.bfloat16().float(), lengths), atol=1e-6)


def test_the_attention_level_is_causal():
    from recbole_hier.model.hierrec.levels import AttentionLevel

    torch.manual_seed(0)
    level = AttentionLevel(16, 2, 2, 0.0).eval()
    x = torch.randn(2, 6, 16)
    lengths = torch.tensor([6, 4])
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 3, 16)  # the future of position 2
    with torch.no_grad():
        a, b = level(x, lengths), level(changed, lengths)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6) and not torch.allclose(a[0, 3:], b[0, 3:])
    assert torch.all(a[1, 4:] == 0)  # padding is zero


def test_the_text_part_is_the_calibrated_scorers_softmax_over_every_trained_item(built):
    # its own temperature: rescoring cold_score_temperature never changes what was trained
    *_, train, valid, test, model = built(text_loss_weight=0.5, score_levels="mean", text_loss_temperature=0.2,
                                          cold_score_temperature=0.07)
    model.eval()  # no dropout: the same user vectors twice
    inter = first_batch(train)
    target = inter[model.POS_ITEM_ID]
    left_out = torch.tensor([i for i in range(1, model.n_items) if i not in set(target.tolist())][:2])
    model.exclude_from_training(left_out)
    parts = model.calculate_loss(inter)
    assert model.loss_names[-1] == "text_ce" and len(parts) == len(model.loss_names)
    with torch.no_grad():
        table = model.item_table()
        users = model._users(inter, table)
        user = torch.stack(users + [model.vae.mu(users[-1])]).mean(0)  # the mean-of-heads scoring vector
        text = model.items.adaptor(model.items.text)  # [N H]
        logits = F.normalize(user, dim=-1) @ F.normalize(text, dim=-1).t() / 0.2
        logits[:, left_out] = -torch.inf  # never in a training softmax
        want = 0.5 * F.cross_entropy(logits, target)
    assert parts[-1].item() == pytest.approx(want.item(), rel=1e-4)
    model.zero_grad()
    parts[-1].backward()
    assert model.items.adaptor.weight.grad.abs().sum() > 0
    assert "text_ce" not in built()[-1].loss_names  # off by default


def test_mean_scoring_ranks_by_the_mean_of_every_trained_heads_user_vector(built):
    *_, test, model = built(score_levels="mean")
    model.eval()
    inter = eval_batch(test)
    with torch.no_grad():
        table = model.item_table()
        users = model._users(inter, table)
        heads = users + [model.vae.mu(users[-1])]
        want = torch.stack(heads).mean(0) @ table.t()
        assert torch.allclose(model.full_sort_predict(inter), want, atol=1e-5)
        ScoringSetting(score_levels="top").apply(model)
        assert torch.allclose(model.full_sort_predict(inter), heads[-1] @ table.t(), atol=1e-5)
