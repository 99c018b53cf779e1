"""The keys of the text-aware baselines, SASRecText and UniSRec (their YAMLs are rendered
from here by ``python -m recbole_hier.keydocs``). SASRec's own keys (``n_layers``,
``hidden_size``, ...) come from RecBole's ``SASRec.yaml``, which both inherit."""

import dataclasses

from recbole_hier.keys import Key, KeySet
from recbole_hier.model.text_keys import (
    ITEM_KEYS,
    PLM_TRAIN_CHECKS,
    PLM_TRAIN_KEYS,
    SOFTMAX_CHECKS,
    SOFTMAX_KEYS,
    TEXT_SCORE_CHECKS,
    TEXT_SCORE_KEYS,
    TEXT_TABLE_KEYS,
)


def _reads_no_behaviour_text(config, owner):
    set_keys = [k for k in ("behavior_text_template", "behavior_side_file") if config[k]]
    if set_keys:
        raise ValueError(f"{owner} reads no behaviour text, but {set_keys} are set: leave them unset "
                         f"(or pass --behavior_text_template=~ --behavior_side_file=~), so every model "
                         f"reads the same inputs")


def _full_softmax(config, owner):
    if config["loss_type"] != "CE":
        raise ValueError(f"{owner}: loss_type must be CE (full-softmax over the item table), got {config['loss_type']!r}")


def _header(name):
    return (f"# {name} defaults, over RecBole's SASRec.yaml (loaded after RecBole's internal files;\n"
            "# dataset YAML, config files, config_dict and the command line override them).\n"
            "# Rendered from recbole_hier/model/baselines/keys.py: edit the declaration there.")


def _default(keys, **defaults):
    return [dataclasses.replace(k, default=defaults[k.name]) if k.name in defaults else k for k in keys]


# behaviour keys are read (to refuse them) but not declared: RecBole returns ~ for them
SASRECTEXT_KEYS = KeySet("SASRecText", [*TEXT_TABLE_KEYS, *PLM_TRAIN_KEYS, *ITEM_KEYS, *TEXT_SCORE_KEYS,
                                        *SOFTMAX_KEYS],
                         checks=(_reads_no_behaviour_text, *TEXT_SCORE_CHECKS, *SOFTMAX_CHECKS, *PLM_TRAIN_CHECKS),
                         header=_header("SASRecText"))

UNISREC_KEYS = KeySet("UniSRec", [
    *TEXT_TABLE_KEYS,
    *_default(ITEM_KEYS, text_adaptor="moe"),
    Key("adaptor_dropout_prob", "float", 0.2, "Dropout on the text vectors inside the adaptor.",
        low=0, high=1, high_open=True, section="UniSRec"),
    Key("temperature", "float", 0.07, "Scores are cosines divided by it.", low=0, low_open=True),
    *SOFTMAX_KEYS,
], checks=(_reads_no_behaviour_text, _full_softmax), header=_header("UniSRec"))
