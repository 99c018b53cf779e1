"""UniSRec, fine-tuned on the target dataset only (no cross-domain pre-training).

Reference: Yupeng Hou, Shanlei Mu, Wayne Xin Zhao, Yaliang Li, Bolin Ding and Ji-Rong
Wen. "Towards Universal Sequence Representation Learning for Recommender Systems."
KDD 2022.

Items are represented by a mixture-of-experts adaptor of parametric-whitening experts
over frozen text vectors, plus an ID embedding (the paper's transductive setting);
a SASRec encoder reads the history; a user vector scores items by cosine similarity
divided by a temperature, trained with full-softmax cross-entropy.

NOTE: departures from the paper. We do not pre-train across domains (no sequence-item
or sequence-sequence contrastive pre-training): every parameter is trained from scratch
on the target dataset, and the encoder is not frozen. The text vectors are the shared
text table of this package (the configured language model, all-MiniLM-L6-v2 by
default, mean-pooled) instead of BERT's [CLS] vector, and the hidden size is SASRec's
(64) rather than the paper's 300, so every model in a suite has the same width.
"""

import torch.nn.functional as F

from recbole_hier.model.baselines.sasrec_text import SASRecText
from recbole_hier.model.score import ItemScorer
from recbole_hier.model.baselines.keys import UNISREC_KEYS


class UniSRec(SASRecText):
    config_keys = UNISREC_KEYS
    # cosine over its own adaptor's vectors; its keys have no cold_score, and its scoring
    # never applies SASRecText's calibrated text scores
    text_scores = False

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        self.temperature = config["temperature"]

    @staticmethod
    def adaptor_dropout(config):
        return config["adaptor_dropout_prob"]

    def _cosine(self, user, items):  # [B H], [N H] -> [B N]
        return F.normalize(user, dim=-1) @ F.normalize(items, dim=-1).t() / self.temperature

    @staticmethod
    def training_scorer(config):
        return ItemScorer("cosine", config["temperature"])

    def full_softmax_loss(self, interaction):
        user = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])  # [B H]
        logits = self._cosine(user, self.item_embedding.weight)  # [B n_items]
        return self.loss_fct(logits, interaction[self.POS_ITEM_ID])

    def predict(self, interaction):
        user = F.normalize(self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]), dim=-1)
        items = F.normalize(self.item_embedding(interaction[self.ITEM_ID]), dim=-1)  # [B H]
        return (user * items).sum(dim=-1) / self.temperature  # [B]

    def full_sort_predict(self, interaction):
        user = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])
        return self._cosine(user, self.item_embedding.weight)  # [B n_items]
