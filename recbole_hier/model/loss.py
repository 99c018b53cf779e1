"""HierRec's multi-task loss: next-item CE at every level, plus the VAE term.

``L = sum_k lambda_k * CE(s(u_k, E), y)  +  w_vae * (CE(s(z, E), y) + beta * KL)``

where ``s`` is the item scorer (``score.py``: dot product or cosine / temperature).

Each weighted part is returned separately, so RecBole's trainer logs them one by
one; a part whose weight is 0 is not computed.
"""

import torch
import torch.nn.functional as F

from recbole_hier.model.vae import kl_to_standard_normal


def next_item_ce(scorer, user, item_table, target, excluded=None):
    """Full-softmax cross-entropy of the next item: ``[B H] x [N H] -> scalar``; ``excluded``
    items (ids ``[C]``) are left out of the softmax."""
    logits = scorer.all_items(user, item_table)  # [B N]
    if excluded is not None:
        logits = logits.index_fill(1, excluded.to(logits.device), -torch.inf)
    return F.cross_entropy(logits, target)


class MultiTaskLoss:
    """Weights validated with the config keys: one per level, all >= 0."""

    def __init__(self, level_names, level_weights, vae_weight, scorer):
        self.level_weights = [float(w) for w in level_weights]
        self.vae_weight = float(vae_weight)
        self.scorer = scorer
        self.part_names = [f"ce_{name}" for name in level_names] + ["vae_ce", "vae_kl"]
        self.excluded_items = None  # ids left out of every softmax (the cold-item protocol)

    def __call__(self, level_users, item_table, target, vae_out=None, kl_beta=0.0):
        """``level_users``: ``[B H]`` per level; ``vae_out``: ``(z, mu, logvar)`` or None."""
        zero = item_table.new_zeros(())
        parts = [
            w * next_item_ce(self.scorer, u, item_table, target, self.excluded_items) if w > 0 else zero
            for w, u in zip(self.level_weights, level_users)
        ]
        if vae_out is not None and self.vae_weight > 0:
            z, mu, logvar = vae_out
            parts.append(self.vae_weight * next_item_ce(self.scorer, z, item_table, target, self.excluded_items))
            parts.append(self.vae_weight * kl_beta * kl_to_standard_normal(mu, logvar).mean())
        else:
            parts += [zero, zero]
        return tuple(parts)
