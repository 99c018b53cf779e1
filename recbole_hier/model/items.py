"""The item representation every text-aware model here reads: text + adaptor (+ ID).

``e_i = adapt(T[i]) (+ E_id[i])``: ``T`` is the dataset's frozen language-model table
(``[n_items D]``, row 0 = padding), or with ``plm_train_layers`` the output of the
language model's trained top layers (``text/trainable.py``), ``adapt`` a trainable projection to the model size
(``adaptors.py``) and ``E_id`` an optional ID embedding. HierRec's I1, SASRecText and
UniSRec share it, so a comparison between them isolates what sits on top of the same
item vectors. Items without a trained ID part are handled in ``unseen_items.py``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from recbole_hier.model.adaptors import text_adaptor
from recbole_hier.model.unseen_items import append_items
from recbole_hier.text.trainable import TrainableText


def train_counts(dataset):
    """Training interactions per internal item id ``[n_items]`` (the targets of the train split)."""
    return torch.bincount(dataset.inter_feat[dataset.iid_field].long(), minlength=dataset.item_num)


def init_outside_language_model(root, init):
    """``root.apply(init)`` but for the trained language-model layers, which keep their pretrained weights."""
    if isinstance(root, TrainableText):
        return
    for child in root.children():  # children first, as nn.Module.apply (the same order of random draws)
        init_outside_language_model(child, init)
    init(root)


class ItemRepresentation(nn.Module):
    """Every item's vector: ``adapt(T[i])`` and/or ``E_id[i]`` (``item_repr``: text, id, text+id).

    An item without a trained ID embedding (added after training with :meth:`add_items`, or
    masked out by ``id_mask``) is its text alone, ``adapt(T[i])``. ``id_dropout`` p trains
    for that: while training, each item's ID part is left out with probability p (per item,
    per table access, not rescaled), so text-only vectors are scored on the same scale.

    ``weight`` is the whole ``[n_items H]`` table (computed once per access); calling the
    module with ids gathers rows ``[... H]``, projecting whichever is smaller, the table
    or the rows (the adaptors act row by row, so both orders agree, up to the MoE's
    gate noise while training).
    """

    def __init__(self, n_items, hidden_size, item_repr, text_table=None, adaptor="linear", dropout=0.0,
                 n_experts=8, id_dropout=0.0, trainable_text=None):
        super().__init__()
        self.uses_text = item_repr in ("text", "text+id")
        self.uses_id = item_repr in ("id", "text+id")
        if self.uses_text and text_table is None:
            raise ValueError(f"item_repr: {item_repr} needs the dataset's item text table "
                             "(build the dataset with recbole_hier.registry.create_dataset)")
        # registration order (ID embedding, then adaptor) fixes the order of weight init draws
        self.id_embedding = nn.Embedding(n_items, hidden_size, padding_idx=0) if self.uses_id else None
        self.adaptor = (text_adaptor(adaptor, text_table.size(1), hidden_size, dropout, n_experts)
                        if self.uses_text else None)
        # the language model's top layers when they train (plm_train_layers, text/trainable.py)
        self.trainable_text = trainable_text if self.uses_text else None
        if self.trainable_text is not None:
            # every text's vector under the layers as they are: recomputed when stale (each switch
            # between training and evaluation); never saved (the layers are), not a buffer (DDP
            # would broadcast it every step)
            self.text = text_table.float()
        else:
            # frozen: a parameter (moves with .to(), saved in state_dict, not a DDP-broadcast
            # buffer) that no weight initialisation touches
            self.text = nn.Parameter(text_table.float(), requires_grad=False) if self.uses_text else None
        self._stale = self.trainable_text is not None
        self._step_text = None  # this training step's text rows [n_items D] (begin_step)
        self.id_dropout = id_dropout
        # 1 = the item's ID embedding is used; rebuilt with the model (not saved), None = all
        self.register_buffer("id_mask", None, persistent=False)

    def train(self, mode=True):
        self._stale = self.trainable_text is not None  # so may the language model's layers
        self._step_text = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):  # .to(device) moves the trained layers' text rows too
        super()._apply(fn, *args, **kwargs)
        if self.trainable_text is not None:
            self.text = fn(self.text)
        return self

    def text_rows(self):
        """Every item's language-model vector ``[n_items D]`` (no gradient): the frozen table, or
        the trained layers' output as of the last switch between training and evaluation."""
        if self._stale:
            self.text = self.trainable_text.table()
            self._stale = False
        return self.text

    def begin_step(self, softmax, target):
        """With trained language-model layers, run them for this training step over the items
        the ``softmax`` scores for ``target`` (``softmax.py``: every item, or the targets and the
        batch's draw), whose text vectors then carry gradients into the layers; the other items
        read :meth:`text_rows`. A no-op for a frozen language model."""
        if self.trainable_text is None or not self.training:
            return
        active = softmax.active_items(target)
        if active is None:
            self._step_text = self.trainable_text(torch.arange(len(self.text), device=self.text.device))
        else:
            active = torch.unique(active)
            self._step_text = self.text_rows().index_copy(0, active, self.trainable_text(active))

    def _text(self):
        """The text vectors ``[n_items D]`` this access reads (see :meth:`begin_step`)."""
        if self.trainable_text is None or not self.training:
            return self.text_rows()
        if self._step_text is None:
            raise RuntimeError("a trained language model needs items.begin_step(softmax, target) before each training "
                               "step reads item vectors (the model's calculate_loss calls it)")
        return self._step_text

    @classmethod
    def from_config(cls, config, dataset, dropout):
        """From the keys ``item_repr``, ``text_adaptor``, ``moe_experts``, ``hidden_size``,
        ``id_dropout`` and ``plm_train_layers``, over the dataset's
        ``item_text_table`` (and ``item_text_states``); ``dropout`` inside the adaptor."""
        both = config["item_repr"] == "text+id"
        states = getattr(dataset, "item_text_states", None)
        trainable = TrainableText(config, *states) if states is not None and config["item_repr"] != "id" else None
        items = cls(dataset.item_num, config["hidden_size"], config["item_repr"],
                    getattr(dataset, "item_text_table", None), config["text_adaptor"],
                    dropout, config["moe_experts"], config["id_dropout"] if both else 0.0, trainable)
        cold = getattr(dataset, "cold_item_ids", None)  # the cold-item protocol (data/cold_items.py)
        if cold is not None and len(cold) and items.uses_text and items.uses_id:
            items.id_mask = torch.ones(dataset.item_num)
            items.id_mask[cold] = 0.0  # never trained: scored by text alone
        return items

    def parts(self):
        """Every item's text part and ID part, ``[n_items H]`` each (None where the model has
        none), with one draw of ``id_dropout``."""
        return (self.text_vectors() if self.uses_text else None), (self._id_parts() if self.uses_id else None)

    def table(self):
        """Every item's vector ``[n_items H]``, computed once per access."""
        return self.combine(*self.parts())

    @staticmethod
    def combine(text, rows):
        """The item vectors ``[n_items H]`` from the text and ID parts of :meth:`parts`."""
        return rows if text is None else text if rows is None else text + rows

    def text_vectors(self):  # [n_items H]: every item's text part, adapt(T[i])
        return self.adaptor(self._text())

    def text_vectors_of(self, ids):  # [...] -> [... H]: the text part of ``ids``
        return self.adaptor(F.embedding(ids, self._text()))

    def language_model_parameters(self):
        """The trained language-model layers' parameters (their own learning rate); [] when frozen."""
        return list(self.trainable_text.parameters()) if self.trainable_text is not None else []

    @property
    def weight(self):  # [n_items H]
        return self.table()

    def _id_parts(self, ids=None):
        """The (masked) ID embedding of ``ids`` ``[... H]``, or of every item: 0 where the ID
        part is left out (``id_mask``, ``id_dropout``)."""
        rows = self.id_embedding.weight if ids is None else self.id_embedding(ids)
        keep = self.id_mask
        if self.training and self.id_dropout > 0:
            dropped = torch.rand(rows.size(0) if ids is None else self.id_embedding.num_embeddings,
                                 device=rows.device) < self.id_dropout
            keep = (~dropped).float() if keep is None else keep * (~dropped).float()
        if keep is None:
            return rows
        return (keep if ids is None else keep[ids]).unsqueeze(-1) * rows

    def add_items(self, text_rows, states=None):
        """Append items known by their text only (``[M D]`` frozen text vectors; with trained
        language-model layers, their token states below them, ``(states, lengths)``, instead):
        their ID part is masked out, so each is ``adapt(T[i])``. For scoring new items without
        retraining."""
        if self.trainable_text is not None:
            if states is None:
                raise ValueError("this model trained its language model's top layers: new items need their token "
                                 "states below them (recommend/new_items.py), not frozen vectors")
            first = len(self.text_rows())  # the trained items' rows, current
            self.trainable_text.append(*states)
            text_rows = self.trainable_text.table(torch.arange(first, len(self.trainable_text), device=self.text.device))
        return append_items(self, text_rows)

    def forward(self, ids):  # [...] -> [... H]
        if not self.uses_text or self.text.size(0) <= ids.numel():
            return F.embedding(ids, self.weight)
        rows = self.text_vectors_of(ids)
        return rows + self._id_parts(ids) if self.uses_id else rows


class NewItemsMixin:
    """For models whose item vectors come from ``self.item_representation`` (an
    :class:`ItemRepresentation` over text): score items added after training by their text."""

    def add_items(self, text_rows, states=None):
        """Append ``[M D]`` frozen text vectors (or, with trained language-model layers, the texts'
        ``states`` below them) as new items (ids ``n_items .. n_items+M-1``, returned as the first
        one); :meth:`ItemRepresentation.add_items` says how they are scored."""
        first = self.item_representation.add_items(text_rows, states)
        self.n_items = len(self.item_representation.text)
        return first
