"""The language model trained with the recommender: its top ``plm_train_layers`` layers.

The layers below stay frozen, so their output for each distinct text is computed once
(:func:`lower_hidden_states`, cached on disk and keyed by the model, the split point and
every text, like the frozen tables) and a step runs only the top ``k`` layers and the
pooling over the texts it needs (:class:`TrainableText`). Encoder models whose layers sit
in ``model.encoder.layer`` (BERT, MiniLM, RoBERTa, ...) are supported; ``all`` trains every
transformer layer, with the token embeddings kept frozen.
"""

import copy
import inspect
from logging import getLogger

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from recbole_hier.text.cache import TableCache, cache_key
from recbole_hier.text.encoder import TextEncoder, encoder_identity, resolve_plm_path


def _layers_of(model, path):
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None or getattr(model.config, "is_decoder", False):
        raise ValueError(f"plm_train_layers: {path} is a {model.config.model_type} model; training its layers "
                         "is supported for encoder models whose layers are model.encoder.layer (BERT, MiniLM, "
                         "RoBERTa, ...): use such a model, or plm_train_layers: 0 (frozen)")
    return layers


def trained_layer_count(value, n_layers, path):
    """``plm_train_layers`` as a number of top layers, checked against the model's ``n_layers``."""
    k = n_layers if value == "all" else int(value)
    if not 0 <= k <= n_layers:
        raise ValueError(f"plm_train_layers: {value} is more than the {n_layers} layers of {path} "
                         f"(use 0 to {n_layers}, or all)")
    return k


def _attention_mask(plm_config, hidden, mask):
    """The layers' attention mask for ``mask`` ``[M T]`` in the form this ``transformers`` expects:
    ``create_bidirectional_mask`` (which picks it by attention implementation) where it exists,
    its ``input_embeds`` spelling before 5.9; before it (4.x), BERT layers add an ``[M 1 1 T]``
    mask of 0 and the dtype's minimum to their scores."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:
        return (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    embeds = "inputs_embeds" if "inputs_embeds" in inspect.signature(create_bidirectional_mask).parameters \
        else "input_embeds"
    return create_bidirectional_mask(config=plm_config, attention_mask=mask.long(), **{embeds: hidden})


def _pool(hidden, mask, pooling):  # [M T D], [M T] -> [M D]
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "last":
        return hidden[torch.arange(hidden.size(0), device=hidden.device), mask.sum(dim=1) - 1]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)


class LowerLayers(TextEncoder):
    """The frozen bottom of the language model: each text's token states below the trained layers."""

    def __init__(self, config, k):
        path = resolve_plm_path(config["plm_name_or_path"])
        super().__init__(path, config["plm_pooling"], config["plm_max_length"], config["plm_batch_size"],
                         config["device"], "float32", show_progress=config["show_progress"],
                         prompt=config["plm_prompt"], trust_remote_code=config["plm_trust_remote_code"])
        self.n_layers = len(_layers_of(self.model, path))
        self.k = trained_layer_count(k, self.n_layers, path)

    @torch.inference_mode()
    def token_states(self, texts):
        """``(states [sum(lengths) D], lengths [N])``: the token states entering the top ``k``
        layers, the texts' real tokens one after another (no padding stored)."""
        states, lengths = [], []
        for start in range(0, len(texts), self.batch_size):
            enc = self.tokenizer([self.prompt + t for t in texts[start:start + self.batch_size]], padding=True,
                                 truncation=True, max_length=self.max_length, return_tensors="pt").to(self.device)
            hidden = self.model(**enc, output_hidden_states=True).hidden_states[self.n_layers - self.k]  # [b T D]
            mask = enc["attention_mask"].bool()
            states.append(hidden[mask].float().cpu())
            lengths.append(mask.sum(dim=1).cpu())
        return torch.cat(states), torch.cat(lengths)


def lower_hidden_states(config, texts, name, spec):
    """``(states [sum(lengths) D], lengths [N])`` of ``texts`` (entry 0, padding, gets one zero
    token) below the trained layers, cached like a text table."""
    path = resolve_plm_path(config["plm_name_or_path"])
    k = str(config["plm_train_layers"])
    identity = encoder_identity(path, config["plm_pooling"], config["plm_max_length"], "float32",
                                config["plm_prompt"]) + f"|train_layers={k}"
    key = cache_key(identity, spec, texts)
    lengths_cache = TableCache(config["text_cache_dir"], f"{name}-lengths-top{k}", key)
    states_cache = TableCache(config["text_cache_dir"], f"{name}-states-top{k}", key)
    lengths = lengths_cache.load(rows=len(texts))
    states = None if lengths is None else states_cache.load(rows=int(lengths.sum()))
    if states is not None:
        getLogger().info(f"{name}: token states below the top {k} layer(s) loaded from {states_cache.path}")
        return states, lengths.squeeze(1).long()
    getLogger().info(f"{name}: computing token states below the top {k} layer(s) for {len(texts) - 1} texts")
    states, lengths = LowerLayers(config, k).token_states(texts[1:])
    states = torch.cat([states.new_zeros(1, states.size(1)), states])
    lengths = torch.cat([torch.ones(1, dtype=lengths.dtype), lengths])
    states_cache.save(states)
    lengths_cache.save(lengths.float().unsqueeze(1))
    return states, lengths.long()


class TrainableText(nn.Module):
    """Text vectors from the trained top layers: ``pool(top_k(S[i]))`` for text ``i``.

    ``states``/``lengths`` (:func:`lower_hidden_states`) are rebuilt with the model, not
    saved; the layers are (they train). :meth:`forward` encodes the texts ``ids`` ``[M]`` ->
    ``[M D]``, with gradients into the layers while training.
    """

    def __init__(self, config, states, lengths):
        super().__init__()
        from transformers import AutoModel

        path = resolve_plm_path(config["plm_name_or_path"])
        model = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32,
                                          trust_remote_code=bool(config["plm_trust_remote_code"]))
        layers = _layers_of(model, path)
        self.k = trained_layer_count(config["plm_train_layers"], len(layers), path)
        self.layers = nn.ModuleList(copy.deepcopy(layers[len(layers) - self.k:]))
        self.plm_config = model.config
        self.pooling = config["plm_pooling"]
        self.gradient_checkpointing = bool(config["plm_gradient_checkpointing"])
        # rebuilt with the model, never saved, and not buffers: DDP would broadcast them every step
        self.states = states.float()  # [sum(lengths) D]
        self.lengths = lengths.long()  # [N]
        self.offsets = self._offsets(self.lengths)  # [N]

    def _apply(self, fn, *args, **kwargs):  # .to(device) and the like move the token states too
        super()._apply(fn, *args, **kwargs)
        self.states, self.lengths, self.offsets = fn(self.states), fn(self.lengths), fn(self.offsets)
        return self

    @staticmethod
    def _offsets(lengths):
        return torch.cumsum(lengths, 0) - lengths

    def __len__(self):
        return len(self.lengths)

    def append(self, states, lengths):
        """Add texts (``[sum(lengths) D]``, ``[M]``) after the existing ones (items added later)."""
        self.states = torch.cat([self.states, states.to(self.states)])
        self.lengths = torch.cat([self.lengths, lengths.to(self.lengths)])
        self.offsets = self._offsets(self.lengths)

    def forward(self, ids, chunk=256):  # [M] -> [M D]
        """The texts ``ids`` through the trained layers and the pooling, in chunks of similar
        length (each padded to its own longest: attention's cost is quadratic in it)."""
        if len(ids) <= chunk:
            return self._encode(ids)
        order = torch.argsort(self.lengths[ids])
        pooled = torch.cat([self._encode(ids[order[i:i + chunk]]) for i in range(0, len(ids), chunk)])
        return pooled[torch.argsort(order)]

    def _encode(self, ids):  # [M] -> [M D]
        lengths = self.lengths[ids]  # [M]
        longest = int(lengths.max()) if len(ids) else 1
        steps = torch.arange(longest, device=ids.device)  # [T]
        mask = steps.unsqueeze(0) < lengths.unsqueeze(1)  # [M T]
        rows = (self.offsets[ids].unsqueeze(1) + steps.unsqueeze(0)).clamp(max=len(self.states) - 1)  # [M T]
        hidden = self.states[rows] * mask.unsqueeze(-1)  # [M T D]
        attention = _attention_mask(self.plm_config, hidden, mask)
        for layer in self.layers:
            if self.gradient_checkpointing and self.training:
                hidden = checkpoint(self._run, layer, hidden, attention, use_reentrant=False)
            else:
                hidden = self._run(layer, hidden, attention)
        return _pool(hidden, mask, self.pooling)

    @staticmethod
    def _run(layer, hidden, attention):
        out = layer(hidden, attention_mask=attention)
        return out[0] if isinstance(out, tuple) else out

    @torch.no_grad()
    def table(self, ids=None, chunk=256):
        """The vectors ``[M D]`` of texts ``ids`` (None: every text, padding's row 0 zeros) with
        the layers as they are now (no dropout)."""
        was = self.training
        self.train(False)
        try:
            every = ids is None
            ids = torch.arange(len(self), device=self.states.device) if every else ids
            rows = self(ids, chunk)
        finally:
            self.train(was)
        if every:
            rows[0] = 0.0  # padding
        return rows
