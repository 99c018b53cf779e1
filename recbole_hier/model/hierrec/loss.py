"""HierRec's multi-task loss: next-item CE at every level, plus the VAE term.

``L = sum_k lambda_k * CE(s(u_k, E), y)  +  w_vae * (CE(s(z, E), y) + beta * KL)``

where ``s`` is the item scorer (``score.py``: dot product or cosine / temperature).

Every head is scored against the item table in one fused product: the K heads' user
vectors are stacked into ``[K*B H]`` and multiplied once by ``E^T``, so a step runs one
large matrix product and one softmax (forward and backward) instead of K of each; the
catalogue-sized work is what grows with the data. The softmax and its gradient share
one buffer (``softmax.py``, which also offers a sampled softmax). The per-head losses and gradients equal K separate
products through autograd's cross-entropy up to float rounding (a test compares them).

Each weighted part is returned separately, so RecBole's trainer logs them one by
one; a part whose weight is 0 is not computed.
"""

from recbole_hier.model.hierrec.vae import kl_to_standard_normal


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
