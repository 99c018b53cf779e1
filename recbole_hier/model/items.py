"""The item representation every text-aware model here reads: frozen text + adaptor (+ ID).

``e_i = adapt(T[i]) (+ E_id[i])``: ``T`` is the dataset's frozen language-model table
(``[n_items D]``, row 0 = padding), ``adapt`` a trainable projection to the model size
and ``E_id`` an optional ID embedding. HierRec's I1, SASRecText and UniSRec share it,
so a comparison between them isolates what sits on top of the same item vectors.

Adaptors (``text_adaptor``):

* ``linear``: one linear map;
* ``mlp``: two layers with GELU;
* ``moe``: UniSRec's mixture of parametric-whitening experts (Hou et al., KDD 2022):
  each expert maps ``(dropout(x) - b_k) W_k``, a softmax gate over ``x`` (with learned
  Gaussian noise while training) mixes them.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class WhiteningExpert(nn.Module):
    """``(dropout(x) - b) W``: a learned centring, then a projection (UniSRec's PWLayer)."""

    def __init__(self, in_size, out_size, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.bias = nn.Parameter(torch.zeros(in_size))
        self.lin = nn.Linear(in_size, out_size, bias=False)

    def forward(self, x):  # [N D] -> [N H]
        return self.lin(self.dropout(x) - self.bias)


class MoEAdaptor(nn.Module):
    """UniSRec's mixture-of-experts adaptor: ``sum_k g_k(x) * expert_k(x)``."""

    def __init__(self, in_size, out_size, n_experts, dropout, noise_epsilon=1e-2):
        super().__init__()
        self.experts = nn.ModuleList(WhiteningExpert(in_size, out_size, dropout) for _ in range(n_experts))
        self.w_gate = nn.Parameter(torch.zeros(in_size, n_experts))
        self.w_noise = nn.Parameter(torch.zeros(in_size, n_experts))
        self.noise_epsilon = noise_epsilon

    def forward(self, x):  # [N D] -> [N H]
        logits = x @ self.w_gate  # [N K]
        if self.training:
            noise_std = F.softplus(x @ self.w_noise) + self.noise_epsilon
            logits = logits + torch.randn_like(logits) * noise_std
        gates = logits.softmax(dim=-1).unsqueeze(-1)  # [N K 1]
        experts = torch.stack([expert(x) for expert in self.experts], dim=-2)  # [N K H]
        return (gates * experts).sum(dim=-2)


def text_adaptor(kind, in_size, hidden_size, dropout, n_experts=8):
    """A trainable projection of frozen text vectors: ``linear``, ``mlp`` or ``moe``."""
    if kind == "linear":
        return nn.Linear(in_size, hidden_size)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_size, 2 * hidden_size), nn.GELU(), nn.Dropout(dropout),
                             nn.Linear(2 * hidden_size, hidden_size))
    if kind == "moe":
        return MoEAdaptor(in_size, hidden_size, n_experts, dropout)
    raise ValueError(f"unknown text_adaptor {kind!r}")


class FrequencyGate(nn.Module):
    """``g_i = sigmoid(a * log(1 + n_i) + b)``: how much of item i's ID embedding to use, from
    its number of training interactions ``n_i`` (a, b learned; g = 0.5 at 5 interactions at
    first). An ID embedding trained on few interactions (or only as a negative) is noise;
    the gate lets the text carry rarely seen and unseen items."""

    def __init__(self, train_counts):
        super().__init__()
        self.register_buffer("log_counts", torch.log1p(train_counts.float()))  # [n_items]
        self.slope = nn.Parameter(torch.tensor(1.0))
        self.offset = nn.Parameter(torch.tensor(-math.log1p(5.0)))

    def forward(self, ids=None):  # [...] -> [...], or every item's gate [n_items]
        log_counts = self.log_counts if ids is None else self.log_counts[ids]
        return torch.sigmoid(self.slope * log_counts + self.offset)


def train_counts(dataset):
    """Training interactions per internal item id ``[n_items]`` (the targets of the train split)."""
    return torch.bincount(dataset.inter_feat[dataset.iid_field].long(), minlength=dataset.item_num)


def initial_bias(kind, dataset):
    """Starting score offsets ``[n_items]``: None (no offsets), ``zero``, or ``log_count``:
    ``log(1 + n_i)`` of the training interactions, whose softmax is the popularity
    distribution, so a model starts from the popularity ranking and learns from there."""
    if kind is None:
        return None
    if kind == "zero":
        return torch.zeros(dataset.item_num)
    return torch.log1p(train_counts(dataset).float())


def nearest_id_rows(text, has_id, id_rows, wanted, k, temperature, chunk=4096):
    """For each ``wanted`` item, a mix of the ID rows of the ``k`` items with a trained ID part
    (``has_id`` ``[N]``) nearest to it by cosine of frozen text, weighted by
    ``softmax(cosine / temperature)``: ``[M]`` ids -> ``[M H]``. A small temperature follows
    the nearest item (a near-duplicate's ID part whole); a large one averages the k."""
    unit = F.normalize(text, dim=-1)  # [N D]
    donors = has_id.nonzero().squeeze(1)  # [W]
    k = min(k, len(donors))
    rows = []
    for start in range(0, len(wanted), chunk):
        similar = (unit[wanted[start:start + chunk]] @ unit[donors].t()).topk(k, dim=1)  # [m k]
        weights = (similar.values / temperature).softmax(dim=1)  # [m k]
        rows.append((weights.unsqueeze(-1) * id_rows[donors[similar.indices]]).sum(dim=1))  # [m H]
    return torch.cat(rows) if rows else id_rows.new_zeros(0, id_rows.size(1))


class ItemRepresentation(nn.Module):
    """Every item's vector: ``adapt(T[i])`` and/or ``E_id[i]`` (``item_repr``: text, id, text+id),
    the ID part optionally scaled by a :class:`FrequencyGate` (``id_gate: frequency``).

    An item without a trained ID embedding (added after training with :meth:`add_items`, or
    masked out by ``id_mask``) is its text alone, ``adapt(T[i])``. ``id_dropout`` p trains
    for that: while training, each item's ID part is left out with probability p (per item,
    per table access, not rescaled), so text-only vectors are scored on the same scale.
    ``id_fill: neighbours`` gives such an item, at evaluation, a mix of the ID embeddings of
    the ``id_fill_k`` trained items whose frozen text is nearest to its own, weighted by
    ``softmax(cosine / id_fill_temperature)`` (recomputed when the table is first read after
    a switch to evaluation).

    ``bias`` adds a learned score offset per item, part of its ID part: left out with it
    (such an item gets the mean offset of the items that have one) and borrowed with it
    under ``id_fill``. :meth:`table` returns it beside the vectors.

    ``weight`` is the whole ``[n_items H]`` table (computed once per access); calling the
    module with ids gathers rows ``[... H]``, projecting whichever is smaller, the table
    or the rows (the adaptors act row by row, so both orders agree, up to the MoE's
    gate noise while training).
    """

    def __init__(self, n_items, hidden_size, item_repr, text_table=None, adaptor="linear", dropout=0.0,
                 n_experts=8, counts=None, id_dropout=0.0, id_fill="none", id_fill_k=10,
                 id_fill_temperature=0.03, bias=None):
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
        # frozen: a parameter (moves with .to(), saved in state_dict, not a DDP-broadcast
        # buffer) that no weight initialisation touches
        self.text = nn.Parameter(text_table.float(), requires_grad=False) if self.uses_text else None
        self.gate = FrequencyGate(counts) if counts is not None else None
        if bias is not None and not self.uses_id:
            raise ValueError(f"item_bias is part of an item's ID part; item_repr: {item_repr} has none "
                             "(use text+id or id, or item_bias: False)")
        # a learned score offset per item, from its initial values ``bias`` [n_items] (no
        # weight initialisation touches it)
        self.bias = nn.Parameter(bias.float().clone()) if bias is not None else None
        self.id_dropout = id_dropout
        self.id_fill, self.id_fill_k, self.id_fill_temperature = id_fill, id_fill_k, id_fill_temperature
        self._filled = None  # borrowed ID rows [n_items H] and biases while evaluating (id_fill: neighbours)
        # 1 = the item's ID embedding is used; rebuilt with the model (not saved), None = all
        self.register_buffer("id_mask", None, persistent=False)

    def train(self, mode=True):
        self._filled = None  # the ID embeddings change while training: refit when evaluating
        return super().train(mode)

    def _filled_parts(self):
        """Masked items' ID rows ``[n_items H]`` and biases ``[n_items]`` (or None) borrowed from
        their text neighbours (0 elsewhere); one neighbour mix serves both."""
        if self._filled is None or len(self._filled[0]) != len(self.text):
            with torch.no_grad():
                has_id = self.id_mask.bool().clone()
                has_id[0] = False  # padding
                wanted = (~self.id_mask.bool()).nonzero().squeeze(1)
                parts = self.id_embedding.weight
                if self.bias is not None:
                    parts = torch.cat([parts, self.bias.unsqueeze(1)], dim=1)  # [N H+1]
                filled = torch.zeros_like(parts)
                filled[wanted] = nearest_id_rows(self.text, has_id, parts, wanted,
                                                 self.id_fill_k, self.id_fill_temperature)
                hidden = self.id_embedding.embedding_dim
                self._filled = (filled[:, :hidden], filled[:, hidden] if self.bias is not None else None)
        return self._filled

    def _unknown_bias(self):
        """The bias of an item whose ID part is left out: the mean over items that have one
        (CE is blind to a shift of every bias, so no constant would be on their scale)."""
        bias = self.bias.detach()[1:]  # not the padding row
        if self.id_mask is None:
            return bias.mean()
        keep = self.id_mask[1:]
        return (bias * keep).sum() / keep.sum().clamp(min=1)

    @classmethod
    def from_config(cls, config, dataset, dropout, bias=None):
        """From the keys ``item_repr``, ``text_adaptor``, ``moe_experts`` and ``hidden_size``,
        over the dataset's ``item_text_table``; ``dropout`` inside the adaptor; ``bias``: None,
        ``zero`` or ``log_count``, a score offset per item starting at 0 or at
        ``log(1 + training interactions)`` (HierRec's ``item_bias`` and ``item_bias_init``)."""
        gated = config["id_gate"] == "frequency" and config["item_repr"] == "text+id"
        items = cls(dataset.item_num, config["hidden_size"], config["item_repr"],
                    getattr(dataset, "item_text_table", None), config["text_adaptor"],
                    dropout, config["moe_experts"], train_counts(dataset) if gated else None,
                    config["id_dropout"] if config["item_repr"] == "text+id" else 0.0,
                    config["id_fill"] if config["item_repr"] == "text+id" else "none", config["id_fill_k"],
                    config["id_fill_temperature"], initial_bias(bias, dataset))
        cold = getattr(dataset, "cold_item_ids", None)  # the cold-item protocol (data/cold_items.py)
        if cold is not None and len(cold) and items.uses_text and items.uses_id:
            items.id_mask = torch.ones(dataset.item_num)
            items.id_mask[cold] = 0.0  # never trained: scored by text alone
        return items

    def parts(self):
        """Every item's text part ``[n_items H]``, ID part ``[n_items H]`` and score bias
        ``[n_items]`` (None where the model has none), with one draw of ``id_dropout``."""
        rows, bias = self._id_parts() if self.uses_id else (None, None)
        return (self.text_vectors() if self.uses_text else None), rows, bias

    def table(self):
        """Every item's vector ``[n_items H]`` and its score bias ``[n_items]`` (None without
        ``bias``), computed once per access."""
        text, rows, bias = self.parts()
        return self.combine(text, rows), bias

    @staticmethod
    def combine(text, rows):
        """The item vectors ``[n_items H]`` from the text and ID parts of :meth:`parts`."""
        return rows if text is None else text if rows is None else text + rows

    def text_vectors(self):  # [n_items H]: every item's text part, adapt(T[i])
        return self.adaptor(self.text)

    def text_vectors_of(self, ids):  # [...] -> [... H]: the text part of ``ids``
        return self.adaptor(F.embedding(ids, self.text))

    @property
    def weight(self):  # [n_items H]
        return self.table()[0]

    def _id_parts(self, ids=None):
        """The (gated, masked) ID embedding of ``ids`` ``[... H]``, or of every item, and its bias
        ``[...]`` (None without ``bias``). Where the ID part is left out (``id_mask``,
        ``id_dropout``) the row is 0 and the bias is :meth:`_unknown_bias`."""
        rows = self.id_embedding.weight if ids is None else self.id_embedding(ids)
        bias = None if self.bias is None else (self.bias if ids is None else self.bias[ids])
        scale = self.gate(ids) if self.gate is not None else None
        keep = self.id_mask
        if keep is not None and not self.training and self.id_fill == "neighbours":
            filled_rows, filled_bias = self._filled_parts()
            mask = keep if ids is None else keep[ids]
            pick = (lambda a: a) if ids is None else (lambda a: a[ids])
            rows = torch.where(mask.unsqueeze(-1).bool(), rows, pick(filled_rows))
            if bias is not None:
                bias = torch.where(mask.bool(), bias, pick(filled_bias))
            keep = None  # every item has an ID part now
        if self.training and self.id_dropout > 0:
            dropped = torch.rand(rows.size(0) if ids is None else self.id_embedding.num_embeddings,
                                 device=rows.device) < self.id_dropout
            keep = (~dropped).float() if keep is None else keep * (~dropped).float()
        if keep is not None:
            keep = keep if ids is None else keep[ids]
            if bias is not None:
                bias = torch.where(keep.bool(), bias, self._unknown_bias())
            scale = keep if scale is None else scale * keep
        return (rows if scale is None else scale.unsqueeze(-1) * rows), bias

    def add_items(self, text_rows):
        """Append items known by their text only (``[M D]`` frozen text vectors): their ID part
        is masked out, so each is ``adapt(T[i])``. For scoring new items without retraining."""
        if not self.uses_text:
            raise ValueError("item_repr: id has no text to represent new items by")
        if text_rows.dim() != 2 or text_rows.size(1) != self.text.size(1):
            raise ValueError(f"new item text vectors must be [M {self.text.size(1)}], got {list(text_rows.shape)}")
        old, new = self.text.size(0), text_rows.size(0)
        self._filled = None
        self.text = nn.Parameter(torch.cat([self.text.data, text_rows.to(self.text)]), requires_grad=False)
        if self.uses_id:
            device = self.text.device
            mask = self.id_mask if self.id_mask is not None else torch.ones(old, device=device)
            self.id_mask = torch.cat([mask, torch.zeros(new, device=device)])
            weight = self.id_embedding.weight.data
            self.id_embedding = nn.Embedding.from_pretrained(
                torch.cat([weight, weight.new_zeros(new, weight.size(1))]), freeze=True, padding_idx=0)
            if self.bias is not None:  # masked: the new items score with the unknown-item bias
                self.bias = nn.Parameter(torch.cat([self.bias.data, self.bias.new_zeros(new)]),
                                         requires_grad=False)
            if self.gate is not None:
                counts = self.gate.log_counts
                self.gate.log_counts = torch.cat([counts, counts.new_zeros(new)])
        return old  # the internal id of the first new item

    def forward(self, ids):  # [...] -> [... H]
        if not self.uses_text or self.text.size(0) <= ids.numel():
            return F.embedding(ids, self.weight)
        rows = self.text_vectors_of(ids)
        return rows + self._id_parts(ids)[0] if self.uses_id else rows


class NewItemsMixin:
    """For models whose item vectors come from ``self.item_representation`` (an
    :class:`ItemRepresentation` over text): score items added after training by their text."""

    def add_items(self, text_rows):
        """Append ``[M D]`` frozen text vectors as new items (ids ``n_items .. n_items+M-1``,
        returned as the first one); :meth:`ItemRepresentation.add_items` says how they are scored."""
        first = self.item_representation.add_items(text_rows)
        self.n_items = first + text_rows.size(0)
        return first
