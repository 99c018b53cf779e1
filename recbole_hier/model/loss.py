"""HierRec's multi-task loss: next-item CE at every level, plus the VAE term.
(The fused full-softmax CE lives here; ``softmax.py`` chooses it or a sampled one.)

``L = sum_k lambda_k * CE(s(u_k, E), y)  +  w_vae * (CE(s(z, E), y) + beta * KL)``

where ``s`` is the item scorer (``score.py``: dot product or cosine / temperature).

Every head is scored against the item table in one fused product: the K heads' user
vectors are stacked into ``[K*B H]`` and multiplied once by ``E^T``, so a step runs one
large matrix product and one softmax (forward and backward) instead of K of each; the
catalogue-sized work is what grows with the data. The softmax and its gradient share
one buffer (``_FullSoftmaxCE``). The per-head losses and gradients equal K separate
products through autograd's cross-entropy up to float rounding (a test compares them).

Each weighted part is returned separately, so RecBole's trainer logs them one by
one; a part whose weight is 0 is not computed.
"""

import torch
import torch.nn.functional as F

from recbole_hier.model.vae import kl_to_standard_normal


class _FullSoftmaxCE(torch.autograd.Function):
    """``CE(users @ items^T, target)`` per row, holding one ``[M N]`` buffer from forward
    to backward: the scores, turned into the gradient in place. Autograd's own
    cross-entropy keeps the log-probabilities and allocates two more ``[M N]`` tensors
    in backward; at a large catalogue those copies are most of a step's memory."""

    ROWS = 1024  # logsumexp in row slices, so its temporary is [1024 N], not [M N]

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")  # backward under the same autocast state as forward
    def forward(ctx, users, items, target, excluded):
        scores = (users @ items.t()).float()  # [M N]
        if excluded is not None:
            scores.index_fill_(1, excluded, -torch.inf)
        lse = torch.cat([torch.logsumexp(scores[i:i + _FullSoftmaxCE.ROWS], dim=1)
                         for i in range(0, len(scores), _FullSoftmaxCE.ROWS)])  # [M]
        loss = lse - scores.gather(1, target[:, None]).squeeze(1)  # [M]
        ctx.save_for_backward(users, items, target, scores, lse)
        ctx.used = False
        return loss

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_loss):
        if ctx.used:  # the buffer became the gradient the first time
            raise RuntimeError("the fused next-item loss can be differentiated once per forward")
        ctx.used = True
        users, items, target, scores, lse = ctx.saved_tensors
        grad = scores.sub_(lse[:, None]).exp_()  # softmax  [M N]
        grad[torch.arange(len(grad), device=grad.device), target] -= 1.0
        grad = grad.mul_(grad_loss[:, None])  # float32; the products below autocast like forward's
        grad_users = grad @ items if ctx.needs_input_grad[0] else None  # [M H]
        grad_items = grad.t() @ users if ctx.needs_input_grad[1] else None  # [N H]
        return grad_users, grad_items, None, None


def next_item_ce(scorer, users, item_table, target, excluded=None):
    """Full-softmax next-item cross-entropy of each of K heads against one item table:
    ``K x [B H]``, ``[N H]``, target ``[B]`` -> ``[K]`` (mean over the batch per head);
    ``excluded`` items (ids ``[C]``) are left out of every softmax."""
    k = len(users)
    stacked = scorer.user_side(torch.cat(users))  # [K*B H]
    items = scorer.item_side(item_table)  # [N H]
    excluded = None if excluded is None else excluded.to(items.device)
    ce = _FullSoftmaxCE.apply(stacked, items, target.repeat(k), excluded)  # [K*B]
    return ce.view(k, -1).mean(dim=1)  # [K]


class MultiTaskLoss:
    """Weights validated with the config keys: one per level, all >= 0."""

    def __init__(self, level_names, level_weights, vae_weight, scorer, softmax):
        self.level_weights = [float(w) for w in level_weights]
        self.vae_weight = float(vae_weight)
        self.scorer = scorer
        self.softmax = softmax  # full or sampled (softmax.py), with the items left out of training
        self.part_names = [f"ce_{name}" for name in level_names] + ["vae_ce", "vae_kl"]

    def __call__(self, level_users, item_table, target, vae_out=None, kl_beta=0.0):
        """``level_users``: ``[B H]`` per level; ``vae_out``: ``(z, mu, logvar)`` or None."""
        weights = list(self.level_weights)
        users = list(level_users)
        use_vae = vae_out is not None and self.vae_weight > 0
        if use_vae:
            weights.append(self.vae_weight)
            users.append(vae_out[0])
        heads = [i for i, w in enumerate(weights) if w > 0]
        zero = item_table.new_zeros(())
        parts = [zero] * (len(self.level_weights) + 2)
        if heads:
            ce = self.softmax(self.scorer, [users[i] for i in heads], item_table, target)
            for i, loss in zip(heads, ce):
                parts[i] = weights[i] * loss
        if use_vae:
            _, mu, logvar = vae_out
            parts[-1] = self.vae_weight * kl_beta * kl_to_standard_normal(mu, logvar).mean()
        return tuple(parts)
