"""How a user vector scores an item vector: the dot product, or the cosine over a temperature.

With the dot product an item vector's length raises its score for every user, and
the ID embeddings of frequent items receive the most updates, so length can carry
popularity. Cosine scoring takes that channel away; the temperature restores a
sharp softmax (cosines lie in [-1, 1]). Training and ranking use the same scorer.

Items the model has not (or rarely) trained can instead be ranked by their text on the
model's scale: ``calibrated_text_scores``, applied by :class:`TextScoresMixin` (keys
``cold_score`` and ``text_mix_count``, shared by HierRec and SASRecText).
"""

import torch
import torch.nn.functional as F

from recbole_hier.model.items import train_counts


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

    def all_items(self, user, item_table):
        """``[B H] x [N H] -> [B N]``: every item's score for every user."""
        return self.user_side(user) @ self.item_side(item_table).t()

    def pairs(self, user, items):
        """``[B H] x [B H] -> [B]``: row ``b``'s item scored for row ``b``'s user."""
        return (self.user_side(user) * self.item_side(items)).sum(dim=-1)


def calibrated_text_scores(scores, user, text_items, known, temperature, text_weight=None):
    """``[B N]`` scores in which each item not ``known`` (``[N]`` bool: it has a trained ID
    part) is scored by its text alone, ``cos(user, text_items[i]) / temperature``, shifted per
    user so that this text softmax and the model's softmax ``scores`` have one normalizer over
    the known items (padding, id 0, left out): the item's log-probability under a text-only
    scorer, on the model's scale. A smaller temperature ranks unseen items higher.

    ``text_weight`` ``[N]`` in [0, 1] (None: 1 for the items not known, 0 for the rest) mixes
    the two per item: ``log((1 - a_i) exp(s_i) + a_i exp(t_i))``, the log of a mixture of the
    model's and the text's probabilities on that shared scale, so that an item the model has
    seen rarely is ranked by its text too. An item of weight 0 keeps its score exactly."""
    text = F.normalize(user, dim=-1) @ F.normalize(text_items, dim=-1).t() / temperature  # [B N]
    known = known.clone()
    known[0] = False
    shift = torch.logsumexp(scores[:, known], 1, keepdim=True) - torch.logsumexp(text[:, known], 1, keepdim=True)
    text = text + shift
    if text_weight is not None:  # log(0) = -inf drops a part exactly
        text = torch.logaddexp(torch.log1p(-text_weight) + scores, torch.log(text_weight) + text)
        known = text_weight == 0
    known[0] = True  # padding keeps its own score (the trainer masks it)
    return torch.where(known, scores, text)  # [B N]


def has_text_scores(model):
    """Whether ``model`` applies ``cold_score``/``text_mix_count`` when ranking (a subclass
    that ranks its own way turns ``text_scores`` off, so a setting for it is refused)."""
    return bool(getattr(model, "text_scores", False))


class TextScoresMixin:
    """For models whose items are ``self.item_representation`` (text + ID parts): the keys
    ``cold_score``, ``cold_score_temperature`` and ``text_mix_count`` (``text_keys.py``),
    applied to full-ranking scores by :meth:`text_scored` when evaluating."""

    text_scores = True

    def init_text_scores(self, config, dataset):
        self.cold_score, self.cold_score_temperature = config["cold_score"], config["cold_score_temperature"]
        self.text_mix_count = config["text_mix_count"]
        # training interactions per item, for text_mix_count (rebuilt with the model, not saved)
        self.register_buffer("train_item_counts", train_counts(dataset).float(), persistent=False)

    def calibrating(self):
        """Whether some items are scored by ``cold_score: calibrated`` now: items without a
        trained ID part, or with ``text_mix_count`` every item in part."""
        items = self.item_representation
        if self.cold_score != "calibrated" or self.training:
            return False
        mask = items.id_mask
        return self.text_mix_count > 0 or (mask is not None and not bool(mask.all()))

    def text_scored(self, scores, user, text):
        """``[B N]`` full-ranking ``scores`` of users ``[B H]`` with the calibrated text scores
        (item text parts ``text`` ``[N H]``) where :meth:`calibrating` says so."""
        if not self.calibrating():
            return scores
        mask = self.item_representation.id_mask
        known = mask.bool() if mask is not None else torch.ones(scores.size(1), dtype=torch.bool, device=scores.device)
        weight = None
        if self.text_mix_count > 0:
            counts = self.train_item_counts
            counts = torch.cat([counts, counts.new_zeros(len(known) - len(counts))])  # added items: none
            weight = torch.where(known, self.text_mix_count / (self.text_mix_count + counts), torch.ones_like(counts))
        return calibrated_text_scores(scores, user, text, known, self.cold_score_temperature, weight)

    def predict_by_full_ranking(self, interaction):  # [B]: the shift of the text scores needs every item's score
        scores = self.full_sort_predict(interaction)  # [B n_items]
        return scores.gather(1, interaction[self.ITEM_ID].unsqueeze(1)).squeeze(1)
