"""HierRec's configuration keys: names, types, defaults, allowed values. The one declaration.

``recbole_hier/properties/model/HierRec.yaml`` and ``docs/keys.md`` are rendered
from it; after editing a key here, rewrite both with ``python -m recbole_hier.keydocs``
(a test fails while either file disagrees with this declaration).
"""

from recbole_hier.keys import Key, KeySet
from recbole_hier.model.text_keys import (
    BEHAVIOR_KEYS,
    ITEM_KEYS,
    PLM_TRAIN_CHECKS,
    PLM_TRAIN_KEYS,
    SOFTMAX_KEYS,
    TEXT_SCORE_CHECKS,
    TEXT_SCORE_KEYS,
    TEXT_TABLE_KEYS,
)

LEVEL_KINDS = ("lstm", "tcn", "attn")


def _one_weight_per_level(config, owner):
    levels = ["semantic"] + list(config["levels"])
    weights = config["level_loss_weights"]
    if len(weights) != len(levels):
        raise ValueError(f"{owner}: level_loss_weights needs one weight per level {levels}, got {list(weights)}")
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights):
        raise ValueError(f"{owner}: level_loss_weights must be numbers >= 0, got {list(weights)}")


def _level_sizes(config, owner):
    if "attn" in config["levels"] and config["hidden_size"] % 2:
        raise ValueError(f"{owner}: hidden_size must be even for the attn level (2 heads), got "
                         f"{config['hidden_size']}")
    if "lstm" in config["levels"] and config["hidden_size"] % 2:
        raise ValueError(f"{owner}: hidden_size must be even for the BiLSTM level (it splits it in two "
                         f"directions), got {config['hidden_size']}")
    dilations = config["tcn_dilations"]
    if "tcn" in config["levels"] and (
            not dilations or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dilations)):
        raise ValueError(f"{owner}: tcn_dilations must be a non-empty list of positive integers, got {dilations!r}")


def _text_loss_needs_text(config, owner):
    if config["text_loss_weight"] > 0 and config["item_repr"] == "id":
        raise ValueError(f"{owner}: text_loss_weight ranks items by their text part, and item_repr: id has none "
                         "(use text or text+id, or text_loss_weight: 0)")


def _no_negative_sampling(config, owner):
    sampling = config["train_neg_sample_args"]
    if sampling is not None and sampling.get("distribution", "none") != "none":
        raise ValueError(f"{owner}: trains with full-softmax CE; set train_neg_sample_args: ~ (got {sampling!r})")


HEADER = """\
# HierRec defaults (loaded after RecBole's internal files; dataset YAML, config
# files, config_dict and the command line override them, in that order).
# Rendered from recbole_hier/model/hierrec/keys.py: edit the declaration there."""

HIERREC_KEYS = KeySet("HierRec", [
    *TEXT_TABLE_KEYS,
    *PLM_TRAIN_KEYS,
    *BEHAVIOR_KEYS,
    *ITEM_KEYS,
    *TEXT_SCORE_KEYS,
    Key("hidden_size", "int", 64, "Size of every level's vectors (even with the BiLSTM level: it splits "
        "it in two directions).", low=1, section="I1: semantic level"),
    Key("use_position", "bool", True, "Whether I1 adds a learned position embedding."),
    Key("dropout_prob", "float", 0.3, "Dropout in every level.", low=0, high=1, high_open=True),
    Key("initializer_range", "float", 0.02, "Std of the normal initialisation of trainable weights.",
        low=0, low_open=True),
    Key("levels", "list", ["lstm", "tcn"], "Levels stacked on I1, bottom to top; [] = I1 only.",
        choices=LEVEL_KINDS, section="I2 / I3: the hierarchy above I1"),
    Key("lstm_num_layers", "int", 1, "BiLSTM layers in the lstm level.", low=1),
    Key("tcn_kernel_size", "int", 3, "Kernel size of the causal convolutions.", low=2),
    Key("tcn_dilations", "list", [1, 2, 4], "One residual causal-conv block per dilation (positive integers)."),
    Key("attn_layers", "int", 2, "Transformer layers of the attn level (causal self-attention, 2 heads, "
        "as SASRec).", low=1),
    Key("readout", "str", "last", "How a level becomes a user vector.", choices=("last", "residual", "attention")),
    Key("score", "str", "dot", "How a user vector scores items (cosine: item vector length cannot carry "
        "popularity).", choices=("dot", "cosine"), section="scoring, multi-task loss and VAE"),
    Key("score_temperature", "float", 0.1, "Cosine scores are divided by it; unused with dot.",
        low=0, low_open=True),
    Key("score_levels", "str", "top", "Which user vector ranks items when evaluating: the top level's (mu "
        "with the VAE), or the mean of every trained head's (I1, each level, and mu).", choices=("top", "mean")),
    Key("level_loss_weights", "list", [0.5, 0.5, 1.0], "Next-item CE weight per level: [I1, *levels], "
        "each >= 0; 0 switches a level's loss off."),
    Key("level_aux_targets", "dict", None, "Auxiliary targets per level, e.g. {semantic: [{field: class, "
        "weight: 0.2}], lstm: [{field: rating, weight: 0.1}]}: next item's category (item token/token_seq "
        "field) or next behaviour (inter token/float field).", nullable=True),
    Key("text_loss_weight", "float", 0.0, "Weight of a next-item CE in which the scoring user vector (see "
        "score_levels) ranks every item by its text part alone, cos(u, adapt(T[i])) / text_loss_temperature: "
        "the text-only scorer that cold_score: calibrated applies to unseen items, trained; 0 = off. Needs "
        "item_repr: text or text+id.", low=0),
    Key("text_loss_temperature", "float", 0.1, "Temperature of the text_loss_weight CE: a trained quantity, "
        "apart from cold_score_temperature, which only ranks (and may be rescored).", low=0, low_open=True),
    Key("vae", "bool", True, "VAE head on the top level (train with z, score with mu)."),
    Key("vae_loss_weight", "float", 1.0, "Weight of the VAE term CE(z) + beta * KL.", low=0),
    Key("kl_beta_max", "float", 0.01, "Final KL weight beta.", low=0),
    Key("kl_anneal_steps", "int", 1000, "Optimisation steps of the linear warm-up of beta (0 = constant "
        "kl_beta_max).", low=0),
    *SOFTMAX_KEYS,
    Key("loss_type", "str", "CE", "Next-item cross-entropy (the only supported loss; full or sampled: see "
        "softmax).", choices=("CE",),
        section="RecBole keys HierRec fixes"),
    Key("train_neg_sample_args", "dict", None, "Must be ~ with CE.", nullable=True),
], checks=(_one_weight_per_level, _level_sizes, *TEXT_SCORE_CHECKS, *PLM_TRAIN_CHECKS, _text_loss_needs_text, _no_negative_sampling),
   header=HEADER)
