"""The fused multi-task loss: one product for every head, equal to one product per head."""

import pytest
import torch
import torch.nn.functional as F

from recbole_hier.model.hierrec.loss import MultiTaskLoss
from recbole_hier.model.softmax import _FullSoftmaxCE
from recbole_hier.model.score import ItemScorer
from recbole_hier.model.softmax import FullSoftmax, SampledSoftmax
from recbole_hier.model.hierrec.vae import kl_to_standard_normal


def separate_parts(loss, users, z, mu, logvar, items, target, beta):
    """The loss written head by head: what the fused product must reproduce."""
    scorer = loss.scorer
    parts = []
    for w, u in zip(loss.level_weights, users):
        logits = scorer.all_items(u, items)
        if loss.softmax.excluded is not None:
            logits[:, loss.softmax.excluded] = -torch.inf
        parts.append(w * F.cross_entropy(logits, target) if w > 0 else items.new_zeros(()))
    logits = scorer.all_items(z, items)
    if loss.softmax.excluded is not None:
        logits[:, loss.softmax.excluded] = -torch.inf
    parts.append(loss.vae_weight * F.cross_entropy(logits, target))
    parts.append(loss.vae_weight * beta * kl_to_standard_normal(mu, logvar).mean())
    return parts


@pytest.mark.parametrize("kind", ["dot", "cosine"])
@pytest.mark.parametrize("excluded", [None, [3, 7]])
def test_fused_heads_equal_separate_heads_in_value_and_gradient(kind, excluded, monkeypatch):
    monkeypatch.setattr(_FullSoftmaxCE, "ROWS", 4)  # the logsumexp runs in several row slices
    torch.manual_seed(0)
    b, n, h = 6, 11, 8
    weights = [0.5, 0.0, 1.0]  # a zero weight: that head is not computed and reads 0
    loss = MultiTaskLoss(["semantic", "lstm", "tcn"], weights, 0.3, ItemScorer(kind, 0.1), FullSoftmax())
    loss.softmax.exclude(None if excluded is None else torch.tensor(excluded))
    items = torch.randn(n, h, requires_grad=True)
    users = [torch.randn(b, h, requires_grad=True) for _ in weights]
    z, mu, logvar = (torch.randn(b, h, requires_grad=True) for _ in range(3))
    target = torch.tensor([0, 1, 2, 4, 5, 10])  # never an excluded item
    inputs = [items, *users, z, mu, logvar]

    fused = loss(users, items, target, (z, mu, logvar), kl_beta=0.2)
    fused_grads = torch.autograd.grad(sum(fused), inputs, allow_unused=True)
    reference = separate_parts(loss, users, z, mu, logvar, items, target, 0.2)
    reference_grads = torch.autograd.grad(sum(reference), inputs, allow_unused=True)

    assert len(fused) == len(loss.part_names) == 5
    assert fused[1].item() == 0.0
    for got, want in zip(fused, reference):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6), (got, want)
    for got, want in zip(fused_grads, reference_grads):
        if want is None:
            assert got is None or torch.count_nonzero(got) == 0
        else:
            assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)


def test_without_the_vae_its_parts_are_zero_and_levels_still_fused():
    torch.manual_seed(1)
    loss = MultiTaskLoss(["semantic", "lstm"], [1.0, 1.0], 0.5, ItemScorer("dot", 1.0), FullSoftmax())
    items, target = torch.randn(5, 4), torch.tensor([1, 2, 3])
    users = [torch.randn(3, 4), torch.randn(3, 4)]
    parts = loss(users, items, target, vae_out=None)
    assert [p.item() for p in parts[2:]] == [0.0, 0.0]
    assert torch.allclose(parts[1], F.cross_entropy(users[1] @ items.t(), target))


@pytest.mark.parametrize("softmax", [FullSoftmax, lambda: SampledSoftmax("uniform", 3, torch.ones(5))])
def test_a_second_backward_through_the_same_forward_is_refused(softmax):
    loss = MultiTaskLoss(["semantic"], [1.0], 0.0, ItemScorer("dot", 1.0), softmax())
    items = torch.randn(5, 4, requires_grad=True)
    (part, *_) = loss([torch.randn(3, 4)], items, torch.tensor([0, 1, 2]))
    part.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once per forward"):
        part.backward()


def test_under_autocast_the_loss_stays_float32_and_close_to_full_precision():
    torch.manual_seed(2)
    loss = MultiTaskLoss(["semantic", "lstm"], [1.0, 0.5], 0.0, ItemScorer("dot", 1.0), FullSoftmax())
    items = torch.randn(40, 16, requires_grad=True)
    users = [torch.randn(8, 16) for _ in range(2)]
    target = torch.randint(0, 40, (8,))
    full = loss(users, items, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = loss(users, items, target)
    assert all(p.dtype == torch.float32 for p in half)
    for got, want in zip(half, full):
        assert torch.allclose(got, want, rtol=0.05)
    sum(half).backward()
    assert items.grad.dtype == torch.float32 and torch.isfinite(items.grad).all()
