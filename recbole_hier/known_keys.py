"""Which configuration keys exist, and the types of RecBole's own core keys.

A key set in a config file, ``config_dict`` or on the command line must be one of
RecBole's (its ``overall.yaml``, dataset and quick-start defaults, any RecBole model's
YAML), one of a plugin model's, or one the run itself sets (distributed settings); any
other key is a typo or a stale setting, and is an error that names the closest known
keys. RecBole's own core keys are typed here (RecBole takes ``--epochs=-1`` or
``--learning_rate=abc`` and fails late, or not at all).
"""

import difflib
import glob
import os
from functools import lru_cache

import recbole
import yaml

from recbole_hier.keys import Key, KeySet

_RECBOLE_PROPERTIES = os.path.join(os.path.dirname(os.path.realpath(recbole.__file__)), "properties")
# set by the CLI, the distributed launcher or RecBole itself, declared in no YAML
RUNTIME_KEYS = {"model", "dataset", "config_files", "local_rank", "world_size", "ip", "port", "nproc",
                "offset", "device", "single_spec", "valid_neg_sample_args", "test_neg_sample_args"}

RECBOLE_KEYS = KeySet("RecBole", [
    Key("epochs", "int", 300, "Training epochs (cap).", low=1),
    Key("train_batch_size", "int", 2048, "Training batch size.", low=1),
    Key("eval_batch_size", "int", 4096, "Evaluation batch size.", low=1),
    Key("learning_rate", "float", 0.001, "Learning rate.", low=0, low_open=True),
    Key("weight_decay", "float", 0.0, "Weight decay.", low=0),
    Key("stopping_step", "int", 10, "Epochs without improvement before early stopping.", low=1),
    Key("eval_step", "int", 1, "Epochs between validations.", low=1),
    Key("seed", "int", 2020, "Random seed."),
    Key("MAX_ITEM_LIST_LENGTH", "int", 50, "History length.", low=1, nullable=True),
    *[Key(name, "bool", False, "RecBole switch.") for name in (
        "reproducibility", "show_progress", "use_gpu", "enable_amp", "enable_scaler", "valid_metric_bigger",
        "repeatable", "shuffle", "save_dataset", "save_dataloaders", "log_wandb")],
])


# keys of this package that every model (RecBole's too) reads; defaults set by Config
PACKAGE_KEYS = KeySet("recbole_hier", [
    Key("dropped_rows", "str", "log", "Interactions whose item or user has no row in the .item / .user "
        "file: counted and logged, or an error.", choices=("log", "error")),
    Key("history_storage", "str", "recbole", "Sequential training histories: RecBole's [N, L] copy per prefix, or "
        "an index into one flat array per field, gathered per batch (data/indexed_histories.py; same samples, "
        "memory linear in the data).", choices=("recbole", "index")),
    Key("cold_item_ratio", "float", 0.0, "Fraction of items held out of training entirely (the cold-item "
        "protocol, data/cold_items.py); 0 = none.", low=0.0, high=1.0, high_open=True),
    Key("cold_item_seed", "int", 0, "Seed of the draw of cold items (the same items for every model and seed)."),
    Key("weight_average_epochs", "float", 0.0, "Validate, keep and score an exponential moving average of the "
        "trained weights whose time constant is this many epochs (weight_average.py); 0 = the weights as trained.",
        low=0.0),
])


@lru_cache(maxsize=1)
def recbole_keys():
    """Every key RecBole's own YAML files declare."""
    names = set()
    for path in glob.glob(os.path.join(_RECBOLE_PROPERTIES, "**", "*.yaml"), recursive=True):
        with open(path, encoding="utf-8") as f:
            loaded = yaml.safe_load(f) or {}
        if isinstance(loaded, dict):
            names.update(str(k) for k in loaded)
    return frozenset(names)


def known_keys():
    from recbole_hier.registry import plugin_models

    plugin = {key.name for model in plugin_models().values()
              for key in getattr(getattr(model, "config_keys", None), "keys", [])}
    return recbole_keys() | plugin | RUNTIME_KEYS | set(PACKAGE_KEYS.by_name)


# keys taken out of the package because they measured nothing (results/levers.md says what)
RETIRED_KEYS = {"id_gate", "item_bias", "item_bias_init", "align_loss_weight", "align_temperature",
                "behavior_fusion", "id_fill", "id_fill_k", "id_fill_temperature"}


def check_known(names, where="configuration"):
    """Raise ValueError for the first key in ``names`` that no part of the run knows."""
    known = known_keys()
    for name in names:
        if name in RETIRED_KEYS:
            raise ValueError(f"key {name!r} in the {where} was retired: it measured nothing "
                             "(results/levers.md, 'Retired switches'); remove it")
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.7)
            hint = f"; did you mean {', '.join(close)}?" if close else "; no RecBole or recbole_hier model reads it"
            raise ValueError(f"unknown key {name!r} in the {where}{hint} (remove it or fix its spelling)")
