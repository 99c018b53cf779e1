"""How a user vector scores an item vector: the dot product, or the cosine over a temperature.

With the dot product an item vector's length raises its score for every user, and
the ID embeddings of frequent items receive the most updates, so length can carry
popularity. Cosine scoring takes that channel away; the temperature restores a
sharp softmax (cosines lie in [-1, 1]). Training and ranking use the same scorer.
"""

import torch.nn.functional as F

SCORES = ("dot", "cosine")


class ItemScorer:
    def __init__(self, kind, temperature):
        if kind not in SCORES:
            raise ValueError(f"HierRec: score must be one of {SCORES}, got {kind!r}")
        temperature = float(temperature)
        if not temperature > 0:
            raise ValueError(f"HierRec: score_temperature must be > 0, got {temperature!r}")
        self.kind = kind
        # the dot product is used as is: its scale is learned by the vectors
        self.temperature = temperature if kind == "cosine" else 1.0

    def _prepare(self, vectors):
        return F.normalize(vectors, dim=-1) if self.kind == "cosine" else vectors

    def all_items(self, user, item_table):
        """``[B H] x [N H] -> [B N]``: every item's score for every user."""
        return self._prepare(user) @ self._prepare(item_table).t() / self.temperature

    def pairs(self, user, items):
        """``[B H] x [B H] -> [B]``: row ``b``'s item scored for row ``b``'s user."""
        return (self._prepare(user) * self._prepare(items)).sum(dim=-1) / self.temperature
