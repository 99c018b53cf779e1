"""Items added after training, ranked beside the trained ones by their text.

A ``--new_items`` file has the dataset's ``.item`` columns (at least the item id and every
field the model's item text is made of). Each new item's text is rendered with the
model's own template and embedded with the model's own language model (cached like any
text table; through its trained top layers when it trained them, ``plm_train_layers``); the
model then scores it as ``adapt(T[i])``, its text alone, since no ID
embedding was ever trained for it (``ItemRepresentation.add_items``). A model that
scores items only by trained ID embeddings cannot do this and refuses.
"""

import os
from collections import Counter

from recbole.utils import FeatureType

from recbole_hier.data.atomic_files import AtomicFileError, read_atomic_file
from recbole_hier.recommend.requests import RecommendError
from recbole_hier.text.tables import apply_missing_text_policy, embed_texts
from recbole_hier.text.templates import ItemTextSpec
from recbole_hier.text.trainable import lower_hidden_states


def check_can_score_new_items(model, config):
    """Refuse models that have no text to score an unseen item by."""
    representation = getattr(model, "item_representation", None)
    if not hasattr(model, "add_items") or representation is None or not representation.uses_text:
        raise RecommendError(
            f"{config['model']} (item_repr: {config['item_repr'] or 'ID embeddings'}) scores items by "
            "ID embeddings trained on their interactions, so it cannot score items it never saw; "
            "--new_items needs a model that reads item text (HierRec, SASRecText or UniSRec with item_repr "
            "text or text+id)")


def _value(raw, kind, seq_separator):
    """A value of the new file as the dataset's text rendering writes it (``field_values``)."""
    if kind == FeatureType.TOKEN_SEQ:
        return " ".join(t for t in raw.split(seq_separator) if t)
    if kind == FeatureType.FLOAT:
        return format(float(raw), "g") if raw.strip() else ""
    if kind == FeatureType.FLOAT_SEQ:
        return " ".join(format(float(v), "g") for v in raw.split(seq_separator) if v.strip())
    return raw


def read_new_items(path, dataset, config):
    """``(tokens, columns)``: the new items' ids and ``{field: [value string]}`` of every
    column of ``path`` that the dataset also has, checked against the trained dataset."""
    try:
        header, rows = read_atomic_file(path, config["field_separator"], config["seq_separator"])
    except AtomicFileError as err:
        raise RecommendError(f"--new_items: {err}") from None
    names = [name for name, _ in header]
    iid = dataset.iid_field
    item_file = os.path.join(config["data_path"], f"{config['dataset']}.item")
    spec = ItemTextSpec(config["item_text_fields"], config["item_text_template"])
    wanted = [iid] + spec.text_fields(dataset, item_file)
    missing = [f for f in wanted if f not in names]
    if missing:
        raise RecommendError(f"--new_items {path} lacks column(s) {missing}: the model's item text is made of "
                             f"{wanted[1:]} ({spec.describe()}), and every new item needs its id ({iid})")
    tokens = [row[names.index(iid)] for row in rows]
    known = dataset.field2token_id[iid]
    taken = sorted({t for t in tokens if t in known})
    if taken:
        raise RecommendError(f"--new_items {path}: {len(taken)} id(s) are already items of {config['dataset']} "
                             f"(e.g. {', '.join(taken[:3])}); give new items new ids")
    repeated = sorted(t for t, n in Counter(tokens).items() if n > 1)
    if repeated:
        raise RecommendError(f"--new_items {path}: id(s) {repeated[:3]} appear more than once")
    columns = {}
    for i, name in enumerate(names):
        if name == iid or name not in dataset.field2type:
            continue
        kind = dataset.field2type[name]
        columns[name] = [_value(row[i], kind, config["seq_separator"]) for row in rows]
    return tokens, columns, spec, wanted[1:]


def embed_new_items(path, model, dataset, config):
    """Add the items of ``path`` to ``model``; returns ``(tokens, columns)`` of the new items."""
    check_can_score_new_items(model, config)
    tokens, columns, spec, text_fields = read_new_items(path, dataset, config)
    texts = [""] + spec.render_rows({f: columns[f] for f in text_fields}, range(len(tokens)))
    texts = apply_missing_text_policy(texts, [""] + tokens, config["missing_text_policy"],
                                      config["missing_text_placeholder"], f"new items of {path}")
    name = f"{config['dataset']}-new-items"
    if model.item_representation.trainable_text is not None:  # embedded by the trained layers
        states, lengths = lower_hidden_states(config, texts, name, spec.describe())
        model.add_items(None, states=(states[int(lengths[0]):], lengths[1:]))
    else:
        model.add_items(embed_texts(config, texts, name, spec.describe())[1:])  # [M D]
    return tokens, columns
