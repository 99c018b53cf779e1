"""The sampled softmax: exact where every item is drawn, the logQ correction by hand, an
unbiased normalizer, padding and left-out items never drawn, and every model trains with it."""

import math

import pytest
import torch
import torch.nn.functional as F

from recbole_hier.model.score import ItemScorer
from recbole_hier.model.softmax import SampledSoftmax, next_item_ce, sampled_next_item_ce
from tests.test_model import first_batch


@pytest.mark.parametrize("kind", ["dot", "cosine"])
def test_with_every_item_drawn_once_the_sampled_loss_is_the_full_softmax(kind):
    torch.manual_seed(0)
    b, n, h = 5, 9, 6
    scorer = ItemScorer(kind, 0.2)
    items = torch.randn(n, h, requires_grad=True)
    users = [torch.randn(b, h, requires_grad=True) for _ in range(2)]
    target = torch.tensor([1, 2, 2, 8, 5])
    inputs = [items, *users]
    every = torch.arange(n)  # each item drawn exactly once: E[n_j] = 1, no correction
    sampled = sampled_next_item_ce(scorer, users, items, target, every, torch.zeros(n))
    full = next_item_ce(scorer, users, items, target)
    assert torch.allclose(sampled, full, atol=1e-5)
    reference = F.cross_entropy(scorer.all_items(users[0], items), target)
    assert torch.allclose(sampled[0], reference, atol=1e-5)
    got = torch.autograd.grad(sampled.sum(), inputs)
    want = torch.autograd.grad(full.sum(), inputs)
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-5)


def test_the_log_q_correction_and_accidental_hits_on_a_hand_built_example():
    # one user, unit item vectors along the axes: the score of item j is user[j]
    items = torch.eye(4)
    user = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    target = torch.tensor([1])
    negatives = torch.tensor([2, 1, 3, 3])  # item 1 is the row's own target: masked
    q = torch.tensor([0.0, 0.2, 0.5, 0.3])
    log_expected = torch.log(4 * q[negatives])
    loss = sampled_next_item_ce(ItemScorer("dot", 1.0), [user], items, target, negatives, log_expected)
    # exp(s_t) + sum over the other draws of exp(s_j) / (4 q_j)
    normalizer = math.exp(1.0) + math.exp(2.0) / 2.0 + 2 * math.exp(3.0) / 1.2
    assert loss.item() == pytest.approx(math.log(normalizer) - 1.0, rel=1e-6)


@pytest.mark.parametrize("kind", ["dot", "cosine"])
def test_the_fused_sampled_loss_and_its_gradients_match_autograd_over_the_formula(kind):
    torch.manual_seed(3)
    b, n, h, s = 6, 12, 5, 9
    scorer = ItemScorer(kind, 0.3)
    items = torch.randn(n, h, requires_grad=True)
    users = [torch.randn(b, h, requires_grad=True) for _ in range(3)]
    target = torch.tensor([1, 4, 4, 7, 11, 2])
    negatives = torch.tensor([4, 4, 3, 9, 1, 10, 2, 5, 4])  # repeats, and hits of several rows
    log_expected = torch.randn(s)
    got = sampled_next_item_ce(scorer, users, items, target, negatives, log_expected)
    # the formula of the module docstring, differentiated by autograd
    u = scorer.user_side(torch.cat(users))  # [3B H]
    t = target.repeat(3)
    positive = (u * scorer.item_side(items[t])).sum(-1, keepdim=True)  # [3B 1]
    drawn = u @ scorer.item_side(items[negatives]).t() - log_expected  # [3B S]
    drawn = drawn.masked_fill(negatives.unsqueeze(0) == t.unsqueeze(1), -torch.inf)
    logits = torch.cat([positive, drawn], dim=1)
    want = (torch.logsumexp(logits, dim=1) - logits[:, 0]).view(3, -1).mean(dim=1)
    assert torch.allclose(got, want, atol=1e-6)
    weights = torch.tensor([0.5, 1.0, 2.0])  # a different upstream gradient per head
    for g, w in zip(torch.autograd.grad((got * weights).sum(), [items, *users]),
                    torch.autograd.grad((want * weights).sum(), [items, *users])):
        assert torch.allclose(g, w, atol=1e-6)


@pytest.mark.parametrize("sampling", ["popularity", "uniform"])
def test_the_corrected_draws_estimate_the_full_normalizer_without_bias(sampling):
    torch.manual_seed(1)
    counts = torch.tensor([0, 50, 20, 5, 1, 0, 3])  # item 5 was never trained (popularity: add-one)
    softmax = SampledSoftmax(sampling, 64, counts)
    scores = torch.randn(len(counts))
    target = torch.tensor([1])
    estimates = []
    for _ in range(4000):
        ids, log_expected = softmax.draw(target)
        estimates.append(torch.exp(scores[ids] - log_expected).sum())
    # every item but padding: the full softmax's normalizer over the catalogue
    want = torch.exp(scores[1:]).sum()
    assert torch.stack(estimates).mean() == pytest.approx(want.item(), rel=0.02)


def test_padding_and_left_out_items_are_never_drawn_and_q_follows_the_counts():
    counts = torch.tensor([0, 30, 10, 0, 60])
    popularity = SampledSoftmax("popularity", 5000, counts)
    assert torch.allclose(popularity.probabilities(), torch.tensor([0, 31, 11, 1, 61]) / 104.0)
    popularity.exclude(torch.tensor([4]))  # the cold-item protocol leaves item 4 out of training
    ids, _ = popularity.draw(torch.tensor([1, 2]))
    assert set(ids.tolist()) == {1, 2, 3}
    uniform = SampledSoftmax("uniform", 5000, counts)
    assert torch.allclose(uniform.probabilities(), torch.tensor([0, 1, 1, 1, 1]) / 4.0)
    assert 0 not in uniform.draw(torch.tensor([1]))[0].tolist()
    in_batch = SampledSoftmax("in_batch", 1, counts)
    target = torch.tensor([1, 4, 4])
    ids, log_expected = in_batch.draw(target)
    assert ids.tolist() == [1, 4, 4]  # the batch's targets, one expected count per draw
    assert torch.allclose(log_expected, torch.log(3 * torch.tensor([30, 60, 60]) / 100.0))
    with pytest.raises(ValueError, match="negative_sampling must be one of"):
        SampledSoftmax("hard", 4, counts)


@pytest.mark.parametrize("model", ["HierRec", "SASRecText", "UniSRec"])
@pytest.mark.parametrize("sampling", ["popularity", "in_batch"])
def test_every_model_trains_with_the_sampled_softmax(built, model, sampling):
    torch.manual_seed(3)
    config, dataset, train, *_, net = built(model=model, n_layers=1, softmax="sampled", num_negatives=16,
                                           negative_sampling=sampling)
    assert net.softmax.kind == "sampled" and net.softmax.sampling == sampling
    batch = first_batch(train)[torch.arange(4)]  # a few rows: in-batch negatives leave most items out
    loss = net.calculate_loss(batch)
    total = sum(loss) if isinstance(loss, tuple) else loss
    assert torch.isfinite(total) and total.item() > 0
    total.backward()
    ids = net.item_representation.id_embedding.weight.grad  # [N H]
    # only the batch's targets, its histories' items and the drawn items get a gradient;
    # padding never does
    assert ids[0].abs().sum() == 0 and ids[batch["item_id"]].abs().sum() > 0
    if sampling == "in_batch":
        untouched = torch.ones(len(ids), dtype=torch.bool)
        untouched[batch["item_id"]] = untouched[batch["item_id_list"].flatten()] = False
        assert untouched.any() and ids[untouched].abs().sum() == 0


def test_sampled_softmax_needs_a_cross_entropy(make_config):
    with pytest.raises(ValueError, match="softmax: sampled is a cross-entropy over sampled items"):
        make_config(model="SASRecText", softmax="sampled", loss_type="BPR",
                    train_neg_sample_args={"distribution": "uniform", "sample_num": 1})
    with pytest.raises(ValueError, match="negative_sampling"):
        make_config(model="HierRec", softmax="sampled", negative_sampling="hard")


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_the_fused_losses_train_under_cpu_autocast(softmax):
    # bfloat16 user and item vectors, float32 scores: the backward's products must not mix dtypes
    torch.manual_seed(4)
    layer = torch.nn.Linear(8, 8)
    x, items = torch.randn(6, 8), torch.randn(20, 8)
    target, negatives = torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([7, 8, 2, 9, 19])

    def loss():
        users, table = layer(x), layer(items)
        if softmax == "full":
            return next_item_ce(ItemScorer("dot", 1.0), [users], table, target)
        return sampled_next_item_ce(ItemScorer("dot", 1.0), [users], table, target, negatives, torch.zeros(5))

    want = torch.autograd.grad(loss().sum(), layer.weight)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = loss()
    got = torch.autograd.grad(mixed.sum(), layer.weight)[0]
    assert got.dtype == torch.float32
    assert torch.allclose(got, want, rtol=0.05, atol=0.02)
