"""HierRec: hierarchical interest representations over language-model text.

Reference: "LLM-based hierarchical representation learning of user interests" (an
article in Chinese describing a semantic -> BiLSTM -> TCN interest hierarchy over
language-model text, trained with a multi-task loss and a VAE regulariser).

NOTE: departures from the article: the VAE's KL term is added to the loss (the article
subtracts it, the wrong sign for an ELBO); items are scored against a tied item table (text projection and/or
ID embedding; dot product or cosine, ``score.py``) with full-softmax cross-entropy,
as RecBole's strongest SASRec;
levels read out at position ``len-1`` of right-padded histories.
"""

import torch
from recbole.model.abstract_recommender import SequentialRecommender
from torch import nn

from recbole_hier.data.dataset import TextSequentialDataset
from recbole_hier.model.hierrec.aux import build_aux_targets
from recbole_hier.model.hierrec.keys import HIERREC_KEYS
from recbole_hier.model.items import ItemRepresentation, NewItemsMixin, init_outside_language_model
from recbole_hier.model.hierrec.levels import (
    AttentionLevel,
    MultiScaleLevel,
    Readout,
    SemanticLevel,
    SequentialLevel,
    gather_last,
)
from recbole_hier.model.hierrec.loss import MultiTaskLoss
from recbole_hier.model.softmax import build_softmax
from recbole_hier.model.score import ItemScorer, TextScoresMixin
from recbole_hier.model.hierrec.vae import VAEHead
from recbole_hier.text.behavior import BEHAVIOR_FIELD
from recbole_hier.trainer import HierRecTrainer

class HierRec(NewItemsMixin, TextScoresMixin, SequentialRecommender):
    r"""Text-aware sequential recommender: I1 (semantic) -> I2 (BiLSTM) -> I3 (TCN) -> VAE.

    ``forward`` returns one user vector ``[B H]`` per level (I1 first, top last).
    """

    dataset_class = TextSequentialDataset  # builds the frozen text tables the model reads
    trainer_class = HierRecTrainer  # anneals the VAE's KL weight
    config_keys = HIERREC_KEYS  # types, defaults, allowed values; Config validates them

    def __init__(self, config, dataset):
        super().__init__(config, dataset)

        # load parameters info (typed and range-checked by Config: see keys.py)
        self.hidden_size = config["hidden_size"]
        self.item_repr = config["item_repr"]
        self.level_kinds = list(config["levels"])
        dropout = config["dropout_prob"]
        self.use_vae = config["vae"]
        self.kl_beta_max = config["kl_beta_max"]
        self.kl_anneal_steps = config["kl_anneal_steps"]
        self.kl_beta = 0.0 if self.kl_anneal_steps > 0 else self.kl_beta_max
        self.initializer_range = config["initializer_range"]

        # define layers and loss
        self.items = ItemRepresentation.from_config(config, dataset, dropout)  # adapt(T[i]) (+ E_id[i])
        behavior_table = getattr(dataset, "behavior_text_table", None)
        self.uses_behavior = behavior_table is not None
        self.BEHAVIOR_SEQ = BEHAVIOR_FIELD + config["LIST_SUFFIX"]
        self.behaviors = (
            ItemRepresentation(behavior_table.size(0), self.hidden_size, "text", behavior_table,
                               config["text_adaptor"], dropout, config["moe_experts"])
            if self.uses_behavior else None
        )
        self.semantic = SemanticLevel(self.hidden_size, self.max_seq_length, config["use_position"], dropout,
                                      with_behavior=self.uses_behavior)
        self.levels = nn.ModuleList(self._build_level(kind, config, dropout) for kind in self.level_kinds)
        readout = config["readout"]
        self.readouts = nn.ModuleList(Readout(self.hidden_size, readout) for _ in self.level_kinds)
        self.vae = VAEHead(self.hidden_size) if self.use_vae else None
        level_names = ["semantic"] + self.level_kinds
        self.scorer = ItemScorer(config["score"], config["score_temperature"])
        self.init_text_scores(config, dataset)  # cold_score, text_mix_count
        self.score_levels = config["score_levels"]
        self.softmax = build_softmax(config, dataset)  # full, or sampled with the logQ correction
        self.loss_fct = MultiTaskLoss(
            level_names, config["level_loss_weights"], config["vae_loss_weight"], self.scorer, self.softmax
        )
        self.aux_targets = build_aux_targets(
            config["level_aux_targets"], level_names, dataset, self.hidden_size
        )
        self.aux_level_index = [level_names.index(aux.level) for aux in self.aux_targets]
        # the calibrated cold scorer, cos(u, adapt(T[i])) / T, as a training objective of its own
        self.text_loss_weight = config["text_loss_weight"]
        self.text_scorer = ItemScorer("cosine", config["text_loss_temperature"])

        # parameters initialization (the frozen text tables and the language model's layers are not touched)
        init_outside_language_model(self, self._init_weights)

    @staticmethod
    def _build_level(kind, config, dropout):
        hidden = config["hidden_size"]
        if kind == "lstm":
            return SequentialLevel(hidden, config["lstm_num_layers"], dropout)
        if kind == "attn":
            return AttentionLevel(hidden, config["attn_layers"], 2, dropout)
        return MultiScaleLevel(hidden, config["tcn_kernel_size"], config["tcn_dilations"], dropout)

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding, nn.Conv1d)):
            module.weight.data.normal_(mean=0.0, std=self.initializer_range)
        if isinstance(module, (nn.Linear, nn.Conv1d)) and module.bias is not None:
            module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    @property
    def loss_names(self):
        """Names of the parts ``calculate_loss`` returns, in order (for the training log)."""
        return (self.loss_fct.part_names + [aux.name for aux in self.aux_targets]
                + (["text_ce"] if self.text_loss_weight > 0 else []))

    def exclude_from_training(self, item_ids):
        """Leave ``item_ids`` out of every training softmax (``data/cold_items.py``)."""
        self.softmax.exclude(item_ids)

    def set_kl_beta_for_step(self, step):
        """KL weight for optimisation step ``step`` (linear warm-up to ``kl_beta_max``)."""
        if self.kl_anneal_steps == 0:
            self.kl_beta = self.kl_beta_max
        else:
            self.kl_beta = self.kl_beta_max * min(1.0, step / self.kl_anneal_steps)

    @property
    def item_representation(self):  # what NewItemsMixin extends
        return self.items

    def item_table(self):
        """Every item's vector ``[n_items H]``: projected once per step, then gathered."""
        return self.items.table()

    def forward(self, item_seq, item_seq_len, behavior_seq=None, item_table=None):
        """User vectors per level, ``[B H]`` each, I1 first and the top level last."""
        item_table = self.item_table() if item_table is None else item_table
        # Steps after the longest history in the batch are padding everywhere: drop
        # them (exact, since padding never reaches a real step) to save their work.
        longest = int(item_seq_len.max())
        item_seq = item_seq[:, :longest]  # [B L']
        behavior_seq = behavior_seq[:, :longest] if behavior_seq is not None else None
        behavior = None
        if self.uses_behavior:
            behavior = self.behaviors(behavior_seq)  # [B L H]
        semantic = self.semantic(item_table, item_seq, behavior)  # [B L H]
        users = [gather_last(semantic, item_seq_len)]  # [B H]
        out = semantic
        for level, readout in zip(self.levels, self.readouts):
            out = level(out, item_seq_len)  # [B L H]
            users.append(readout(out, item_seq_len, semantic))  # [B H]
        return users

    def _users(self, interaction, item_table):
        behavior_seq = interaction[self.BEHAVIOR_SEQ] if self.uses_behavior else None
        return self.forward(
            interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN], behavior_seq, item_table
        )

    def calculate_loss(self, interaction):
        target = interaction[self.POS_ITEM_ID]
        self.items.begin_step(self.softmax, target)  # a trained language model encodes the scored items
        text, rows = self.items.parts()  # [N H] (or None) each
        item_table = self.items.combine(text, rows)  # [N H]
        users = self._users(interaction, item_table)
        vae_out = self.vae(users[-1]) if self.use_vae else None
        parts = self.loss_fct(users, item_table, target, vae_out, self.kl_beta)
        aux = tuple(
            head(users[k], interaction, target) for head, k in zip(self.aux_targets, self.aux_level_index)
        )
        if self.text_loss_weight > 0:  # the scoring vector ranks items by their text alone
            user = self._scoring_vector(users)  # [B H]
            text_ce = self.softmax(self.text_scorer, [user], text, target)[0]
            aux = aux + (self.text_loss_weight * text_ce,)
        return parts + aux

    def _scoring_vector(self, users):
        """The user vector that ranks items, from the levels' ``[B H]`` vectors."""
        top = self.vae.mu(users[-1]) if self.use_vae else users[-1]  # evaluate with mu  [B H]
        if self.score_levels == "top":
            return top
        # every head the loss trains is a scorer of its own: rank by their mean
        heads = users + [top] if self.use_vae else users
        return torch.stack(heads).mean(dim=0)  # [B H]

    def _score_user(self, interaction, item_table):
        return self._scoring_vector(self._users(interaction, item_table))

    def predict(self, interaction):
        if self.calibrating():
            return self.predict_by_full_ranking(interaction)  # [B]
        item_table = self.item_table()
        user = self._score_user(interaction, item_table)  # [B H]
        return self.scorer.pairs(user, item_table[interaction[self.ITEM_ID]])  # [B]

    def full_sort_predict(self, interaction):
        text, rows = self.items.parts()  # the text part once, for the table and the cold scores
        item_table = self.items.combine(text, rows)  # [n_items H]
        user = self._score_user(interaction, item_table)  # [B H]
        scores = self.scorer.all_items(user, item_table)  # [B n_items]
        return self.text_scored(scores, user, text)
