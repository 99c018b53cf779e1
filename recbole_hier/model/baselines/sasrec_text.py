"""SASRecText: RecBole's SASRec over the item representation HierRec's I1 reads.

Reference: Wang-Cheng Kang and Julian McAuley. "Self-Attentive Sequential
Recommendation." ICDM 2018 (the encoder, RecBole's ``SASRec``).

A text-aware baseline for HierRec: the same frozen language-model table, the same
trainable adaptor and the same ID embedding (``items.py``), under a transformer instead
of the BiLSTM/TCN hierarchy, so a comparison isolates what the hierarchy adds.

NOTE: not a published model: SASRec with its ID embedding replaced by
``ItemRepresentation``; everything else (encoder, position embedding, CE or BPR loss,
dot-product scoring against the item table) is RecBole's SASRec, unchanged. Items
without (much) training can be scored by their text as HierRec's are (``cold_score``,
``text_mix_count``: ``score.py``), so a comparison of those scores is like for like.
"""

from recbole.model.sequential_recommender.sasrec import SASRec

from recbole_hier.data.dataset import TextSequentialDataset
from recbole_hier.model.fast_ops import use_fast_cpu_ops
from recbole_hier.model.items import ItemRepresentation, NewItemsMixin, init_outside_language_model
from recbole_hier.model.score import ItemScorer, TextScoresMixin
from recbole_hier.model.softmax import build_softmax
from recbole_hier.model.baselines.keys import SASRECTEXT_KEYS


class SASRecText(NewItemsMixin, TextScoresMixin, SASRec):
    dataset_class = TextSequentialDataset  # builds the frozen item text table
    config_keys = SASRECTEXT_KEYS

    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        use_fast_cpu_ops(self)  # SASRec's encoder, same functions, faster CPU kernels
        # SASRec's forward, losses and scoring read self.item_embedding(ids) and
        # self.item_embedding.weight ([n_items H]): ItemRepresentation offers both
        self.item_embedding = ItemRepresentation.from_config(config, dataset, self.adaptor_dropout(config))
        # SASRec's initialisation; the text and the language model's layers keep theirs
        init_outside_language_model(self.item_embedding, self._init_weights)
        self.init_text_scores(config, dataset)  # cold_score, text_mix_count
        self.scorer = self.training_scorer(config)  # how calculate_loss scores items, full or sampled
        self.softmax = build_softmax(config, dataset)

    @property
    def item_representation(self):  # what NewItemsMixin extends
        return self.item_embedding

    @staticmethod
    def adaptor_dropout(config):
        return config["hidden_dropout_prob"]

    @staticmethod
    def training_scorer(config):
        return ItemScorer("dot", 1.0)  # SASRec's dot product

    def exclude_from_training(self, item_ids):
        """Never sample ``item_ids`` (the full softmax's logits are masked by ``data/cold_items.py``)."""
        self.softmax.exclude(item_ids)

    def calculate_loss(self, interaction):
        # a trained language model encodes the items this step scores
        self.item_embedding.begin_step(self.softmax, interaction[self.POS_ITEM_ID])
        if self.softmax.kind == "full":
            return self.full_softmax_loss(interaction)
        user = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])  # [B H]
        return self.softmax(self.scorer, [user], self.item_embedding.weight, interaction[self.POS_ITEM_ID])[0]

    def full_softmax_loss(self, interaction):
        return SASRec.calculate_loss(self, interaction)

    def predict(self, interaction):
        return self.predict_by_full_ranking(interaction) if self.calibrating() else super().predict(interaction)

    def full_sort_predict(self, interaction):
        if not self.calibrating():
            return super().full_sort_predict(interaction)
        text, rows = self.item_embedding.parts()  # the text part once, for the table and the text scores
        user = self.forward(interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN])  # [B H]
        scores = user @ self.item_embedding.combine(text, rows).t()  # [B n_items]: SASRec's dot product
        return self.text_scored(scores, user, text)
