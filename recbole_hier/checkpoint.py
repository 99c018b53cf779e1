"""Checkpoints that hold tensors and plain data only, written atomically.

RecBole 1.2.1 pickles its whole ``Config`` into every checkpoint, which torch >= 2.6
refuses to load under its default ``weights_only=True`` (so ``load_best_model``
fails after training). We store the configuration as JSON text instead and load
with ``weights_only=True`` always: a file that carries any other pickled object is
refused before any of its code can run.
"""

import enum
import hashlib
import json
import os
import pickle

import torch

from recbole_hier.files import atomic_path

FORMAT = "recbole_hier-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot (or must not) be loaded."""


def _plain(value):
    """A JSON-able stand-in for config values YAML never produces."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def config_state(config):
    """The parts of a RecBole ``Config`` needed to rebuild it, as JSON text."""
    return {
        "model": config["model"],
        "dataset": config["dataset"],
        # What the user set (files + dict + command line), enough to rebuild Config.
        "external_config": json.dumps(config.external_config_dict, default=_plain),
        # The resolved configuration, for reading only.
        "final_config": json.dumps(config.final_config_dict, default=_plain),
    }


def external_config(checkpoint):
    """The user's configuration stored in ``checkpoint`` (a dict)."""
    return json.loads(checkpoint["config"]["external_config"])


def save_checkpoint(state, path):
    """Write ``state`` to ``path`` atomically (a reader never sees half a file)."""
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path, map_location="cpu"):
    """Load a checkpoint written by :func:`save_checkpoint`, never running pickled code."""
    path = str(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"refusing to load {path!r}: it contains pickled Python objects, which could "
            "run arbitrary code (a checkpoint of stock RecBole, or a tampered file). "
            "Only checkpoints written by recbole_hier (tensors + plain data) are loaded; "
            f"retrain, or re-save from a trusted environment. Detail: {err}"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"checkpoint {path!r} is not a readable torch file: {err}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(
            f"{path!r} is not a recbole_hier checkpoint (expected format {FORMAT!r})"
        )
    return checkpoint


def load_weights(model, checkpoint, path="checkpoint"):
    """Put a checkpoint's trained weights (and RecBole's ``other_parameter``) into ``model``."""
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        stored = json.loads(checkpoint["config"]["final_config"]) if "config" in checkpoint else {}
        hint = {k: stored.get(k) for k in ("model", "hidden_size", "n_layers", "levels") if k in stored}
        raise CheckpointError(f"{path!r} does not fit this model (it was trained with {hint}); load it with "
                              f"the configuration it was trained with. Detail: {err}") from None
    model.load_other_parameter(checkpoint.get("other_parameter"))


def data_identity(dataset):
    """What a checkpoint must match to be loaded: the dataset, its user and item counts and a
    fingerprint of the item id mapping (internal id -> token)."""
    tokens = "\n".join(str(t) for t in dataset.field2id_token[dataset.iid_field])
    return {"dataset": str(dataset.dataset_name), "n_users": int(dataset.user_num),
            "n_items": int(dataset.item_num), "item_ids": hashlib.sha256(tokens.encode()).hexdigest()[:16]}


def check_data(checkpoint, identity, path):
    """Refuse ``checkpoint`` unless it was trained on data with ``identity``; say what differs."""
    stored = checkpoint.get("data")
    if stored is None:
        raise CheckpointError(f"{path!r} does not record the data it was trained on (written by an older "
                              "recbole_hier); retrain to get a checkpoint that can be checked")
    differ = [f"{k}: checkpoint {stored.get(k)!r}, here {v!r}" for k, v in identity.items() if stored.get(k) != v]
    if differ:
        raise CheckpointError(f"{path!r} was trained on other data ({'; '.join(differ)}); load it with the "
                              "dataset and filtering it was trained with")
