"""How a user vector scores an item vector: the dot product, or the cosine over a temperature.

With the dot product an item vector's length raises its score for every user, and
the ID embeddings of frequent items receive the most updates, so length can carry
popularity. Cosine scoring takes that channel away; the temperature restores a
sharp softmax (cosines lie in [-1, 1]). Training and ranking use the same scorer.
An optional per-item offset (HierRec's ``item_bias``) is added to either score: it gives
cosine scoring a popularity channel that an item without interactions does not inherit.
"""

import torch.nn.functional as F


class ItemScorer:
    """``kind``: ``dot`` or ``cosine``; ``temperature`` > 0 (validated with the config keys)."""

    def __init__(self, kind, temperature):
        self.kind = kind
        self.temperature = float(temperature)

    def user_side(self, user):  # [B H]
        # the temperature goes on the [B H] side, not on the [B N] scores; dot is used as is
        return F.normalize(user, dim=-1) / self.temperature if self.kind == "cosine" else user

    def item_side(self, items):  # [N H]
        return F.normalize(items, dim=-1) if self.kind == "cosine" else items

    def all_items(self, user, item_table, bias=None):
        """``[B H] x [N H] -> [B N]``: every item's score for every user, plus the items'
        score offsets ``bias`` ``[N]`` when given."""
        scores = self.user_side(user) @ self.item_side(item_table).t()
        return scores if bias is None else scores + bias

    def pairs(self, user, items, bias=None):
        """``[B H] x [B H] -> [B]``: row ``b``'s item scored for row ``b``'s user (+ ``bias`` ``[B]``)."""
        scores = (self.user_side(user) * self.item_side(items)).sum(dim=-1)
        return scores if bias is None else scores + bias
