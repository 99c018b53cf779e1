"""HierRec: hierarchical interest representations over language-model text.

Reference: the article in ``shared/seed`` ("LLM-based hierarchical representation
learning of user interests"), as corrected by ``DESIGN.md``.

NOTE: departures from the article: the VAE's KL term is added (the article
subtracts it); items are scored against a tied item table (text projection and/or
ID embedding; dot product or cosine, ``score.py``) with full-softmax cross-entropy,
as RecBole's strongest SASRec;
levels read out at position ``len-1`` of right-padded histories.
"""

from recbole.model.abstract_recommender import SequentialRecommender
from torch import nn

from recbole_hier.model.aux import build_aux_targets
from recbole_hier.model.levels import (
    MultiScaleLevel,
    Readout,
    SemanticLevel,
    SequentialLevel,
    TextAdaptor,
    gather_last,
    project_rows,
)
from recbole_hier.model.loss import MultiTaskLoss
from recbole_hier.model.score import ItemScorer
from recbole_hier.model.vae import VAEHead
from recbole_hier.text.behavior import BEHAVIOR_FIELD

ITEM_REPRS = ("text", "id", "text+id")
LEVEL_KINDS = ("lstm", "tcn")


def _choice(config, key, allowed):
    value = config[key]
    if value not in allowed:
        raise ValueError(f"HierRec: {key} must be one of {allowed}, got {value!r}")
    return value


class HierRec(SequentialRecommender):
    r"""Text-aware sequential recommender: I1 (semantic) -> I2 (BiLSTM) -> I3 (TCN) -> VAE.

    ``forward`` returns one user vector ``[B H]`` per level (I1 first, top last).
    """

    def __init__(self, config, dataset):
        super().__init__(config, dataset)

        # load parameters info
        self.hidden_size = int(config["hidden_size"])
        self.item_repr = _choice(config, "item_repr", ITEM_REPRS)
        self.level_kinds = list(config["levels"] or [])
        for kind in self.level_kinds:
            if kind not in LEVEL_KINDS:
                raise ValueError(f"HierRec: levels entries must be in {LEVEL_KINDS}, got {kind!r}")
        dropout = float(config["dropout_prob"])
        if config["loss_type"] != "CE":
            raise ValueError(f"HierRec supports loss_type: CE only, got {config['loss_type']!r}")
        if self.hidden_size <= 0 or not 0.0 <= dropout < 1.0:
            raise ValueError("HierRec: hidden_size must be > 0 and dropout_prob in [0, 1)")
        self.use_vae = bool(config["vae"])
        self.kl_beta_max = float(config["kl_beta_max"])
        self.kl_anneal_steps = int(config["kl_anneal_steps"])
        if self.kl_beta_max < 0 or self.kl_anneal_steps < 0:
            raise ValueError("HierRec: kl_beta_max and kl_anneal_steps must be >= 0")
        self.kl_beta = 0.0 if self.kl_anneal_steps > 0 else self.kl_beta_max
        self.initializer_range = float(config["initializer_range"])

        # define layers and loss
        text_table = getattr(dataset, "item_text_table", None)
        if self.item_repr != "id" and text_table is None:
            raise ValueError(
                f"HierRec with item_repr: {self.item_repr} needs the dataset's item text "
                "table (build the dataset with recbole_hier.utils.create_dataset)"
            )
        self.uses_text = self.item_repr in ("text", "text+id")
        self.uses_id = self.item_repr in ("id", "text+id")
        self.item_id_embedding = (
            nn.Embedding(self.n_items, self.hidden_size, padding_idx=0) if self.uses_id else None
        )
        self.text_adaptor = (
            TextAdaptor(text_table.size(1), self.hidden_size, config["text_adaptor"], dropout)
            if self.uses_text else None
        )
        behavior_table = getattr(dataset, "behavior_text_table", None)
        self.uses_behavior = behavior_table is not None
        self.BEHAVIOR_SEQ = BEHAVIOR_FIELD + config["LIST_SUFFIX"]
        self.behavior_adaptor = (
            TextAdaptor(behavior_table.size(1), self.hidden_size, config["text_adaptor"], dropout)
            if self.uses_behavior else None
        )
        self.semantic = SemanticLevel(
            self.hidden_size, self.max_seq_length, bool(config["use_position"]), dropout,
            fusion=config["behavior_fusion"] if self.uses_behavior else None,
        )
        self.levels = nn.ModuleList(self._build_level(kind, config, dropout) for kind in self.level_kinds)
        readout = config["readout"]
        self.readouts = nn.ModuleList(Readout(self.hidden_size, readout) for _ in self.level_kinds)
        self.vae = VAEHead(self.hidden_size) if self.use_vae else None
        level_names = ["semantic"] + self.level_kinds
        self.scorer = ItemScorer(config["score"], config["score_temperature"])
        self.loss_fct = MultiTaskLoss(
            level_names, config["level_loss_weights"], config["vae_loss_weight"], self.scorer
        )
        self.aux_targets = build_aux_targets(
            config["level_aux_targets"], level_names, dataset, self.hidden_size
        )
        self.aux_level_index = [level_names.index(aux.level) for aux in self.aux_targets]

        # parameters initialization
        self.apply(self._init_weights)
        # Frozen LM table: a parameter (moves with .to(), saved in state_dict, not a
        # DDP-broadcast buffer), created after apply() so it is not re-initialised.
        self.item_text = (
            nn.Embedding.from_pretrained(text_table.float(), freeze=True, padding_idx=0)
            if self.uses_text else None
        )
        self.behavior_text = (
            nn.Embedding.from_pretrained(behavior_table.float(), freeze=True, padding_idx=0)
            if self.uses_behavior else None
        )

    @staticmethod
    def _build_level(kind, config, dropout):
        hidden = int(config["hidden_size"])
        if kind == "lstm":
            return SequentialLevel(hidden, int(config["lstm_num_layers"]), dropout)
        return MultiScaleLevel(hidden, int(config["tcn_kernel_size"]), list(config["tcn_dilations"]), dropout)

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding, nn.Conv1d)):
            module.weight.data.normal_(mean=0.0, std=self.initializer_range)
        if isinstance(module, (nn.Linear, nn.Conv1d)) and module.bias is not None:
            module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def set_kl_beta_for_step(self, step):
        """KL weight for optimisation step ``step`` (linear warm-up to ``kl_beta_max``)."""
        if self.kl_anneal_steps == 0:
            self.kl_beta = self.kl_beta_max
        else:
            self.kl_beta = self.kl_beta_max * min(1.0, step / self.kl_anneal_steps)

    def item_table(self):
        """Every item's vector ``[n_items H]``: projected once per step, then gathered."""
        table = 0
        if self.uses_text:
            table = self.text_adaptor(self.item_text.weight)
        if self.uses_id:
            table = table + self.item_id_embedding.weight
        return table

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
            behavior = project_rows(self.behavior_text.weight, behavior_seq, self.behavior_adaptor)  # [B L H]
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
        item_table = self.item_table()  # [N H]
        users = self._users(interaction, item_table)
        vae_out = self.vae(users[-1]) if self.use_vae else None
        parts = self.loss_fct(users, item_table, target, vae_out, self.kl_beta)
        aux = tuple(
            head(users[k], interaction, target) for head, k in zip(self.aux_targets, self.aux_level_index)
        )
        return parts + aux

    def _score_user(self, interaction, item_table):
        users = self._users(interaction, item_table)
        top = users[-1]
        return self.vae.mu(top) if self.use_vae else top  # evaluate with mu  [B H]

    def predict(self, interaction):
        item_table = self.item_table()
        user = self._score_user(interaction, item_table)  # [B H]
        items = item_table[interaction[self.ITEM_ID]]  # [B H]
        return self.scorer.pairs(user, items)  # [B]

    def full_sort_predict(self, interaction):
        item_table = self.item_table()
        user = self._score_user(interaction, item_table)  # [B H]
        return self.scorer.all_items(user, item_table)  # [B n_items]
