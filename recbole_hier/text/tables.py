"""Text tables: frozen language-model vectors aligned to RecBole's internal ids.

Row ``i`` of the item table embeds the text of internal item id ``i``; row 0
(``[PAD]``) is zeros. Tables are computed once and cached (see ``cache.py``): a
cache hit neither loads the language model nor runs it.

Items whose text is empty follow ``missing_text_policy``:
``placeholder`` (default) embeds ``missing_text_placeholder`` for them, so they get
the same, recognisable "unknown item" vector instead of a silent zero row, and the
count (with examples) is logged; ``error`` stops with the list of such items.
"""

import os
from logging import getLogger

import torch
import torch.distributed as dist

from recbole_hier.text.cache import TableCache, cache_key
from recbole_hier.text.encoder import TextEncoder, encoder_identity, resolve_plm_path
from recbole_hier.text.templates import ItemTextSpec

def apply_missing_text_policy(texts, tokens, policy, placeholder, what):
    """Replace empty entries of ``texts[1:]`` (``policy``: ``placeholder`` or ``error``);
    ``tokens`` names them in messages."""
    empty = [i for i in range(1, len(texts)) if not texts[i].strip()]
    if not empty:
        return texts
    examples = ", ".join(str(tokens[i]) for i in empty[:5])
    if policy == "error":
        raise ValueError(
            f"{len(empty)} {what} have no text (e.g. {examples}); fill their text fields, "
            "or set missing_text_policy: placeholder"
        )
    if not str(placeholder).strip():
        raise ValueError("missing_text_placeholder must be a non-empty string")
    getLogger().warning(
        f"{len(empty)} of {len(texts) - 1} {what} have no text (e.g. {examples}); they are "
        f"embedded as the placeholder {placeholder!r} (missing_text_policy: placeholder)"
    )
    return [t if (i == 0 or t.strip()) else placeholder for i, t in enumerate(texts)]


def _distributed(config):
    """Whether this is one rank of RecBole's multi-process mode."""
    return config["single_spec"] is False and dist.is_initialized() and dist.get_world_size() > 1


def embed_texts(config, texts, name, spec):
    """``[len(texts) D]`` table for ``texts`` (entry 0 = padding, zero row), cached.

    ``name`` names the cache file; ``spec`` describes how the texts were made. In RecBole's
    multi-process mode, on a cache miss every rank embeds a slice of the texts (rank r the
    texts r, r + W, ...), the slices are gathered to every rank, and local rank 0 of each
    machine writes the one cache.
    """
    path = resolve_plm_path(config["plm_name_or_path"])
    pooling, max_length = config["plm_pooling"], config["plm_max_length"]
    dtype, prompt = config["plm_dtype"], config["plm_prompt"]
    identity = encoder_identity(path, pooling, max_length, dtype, prompt)
    cache = TableCache(config["text_cache_dir"], name, cache_key(identity, spec, texts))
    if not _distributed(config):
        return _load_or_embed(config, cache, texts, name, path, pooling, max_length, dtype, prompt)
    table = cache.load(rows=len(texts))
    hit = torch.tensor([0 if table is None else 1], device=_gather_device(config))
    dist.all_reduce(hit, op=dist.ReduceOp.MIN)  # one rank's miss makes every rank embed
    if hit.item():
        getLogger().info(f"{name}: loaded from cache {cache.path} (no language-model forward pass)")
        return table
    table = _embed_shared(config, texts[1:], path, pooling, max_length, dtype, prompt)
    table = torch.cat([torch.zeros(1, table.size(1)), table], dim=0)
    if config["local_rank"] == 0:
        cache.save(table)
        getLogger().info(f"{name}: {len(texts) - 1} texts embedded over {dist.get_world_size()} ranks; "
                         f"saved to cache {cache.path}")
    dist.barrier()  # the cache is complete before any rank goes on
    return table


def _gather_device(config):
    return config["device"] if dist.get_backend() == "nccl" else torch.device("cpu")


def _embed_shared(config, texts, path, pooling, max_length, dtype, prompt):
    """``[len(texts) D]``: this rank embeds every W-th text, then all slices are gathered."""
    rank, world = dist.get_rank(), dist.get_world_size()
    mine = texts[rank::world]
    encoder = TextEncoder(
        path, pooling, max_length, config["plm_batch_size"], config["device"], dtype,
        show_progress=config["show_progress"], prompt=prompt,
        trust_remote_code=config["plm_trust_remote_code"],
    )
    vectors = encoder.encode(mine)  # [len(mine) D]
    chunk = -(-len(texts) // world)  # rows per rank, the last ones padded
    device = _gather_device(config)
    padded = torch.zeros(chunk, vectors.size(1), device=device)
    padded[: len(mine)] = vectors.to(device)
    slices = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(slices, padded)
    table = torch.stack(slices, dim=1).reshape(chunk * world, -1)  # row r + j*W = slice r, row j
    return table[: len(texts)].cpu()


def _load_or_embed(config, cache, texts, name, path, pooling, max_length, dtype, prompt):
    logger = getLogger()
    table = cache.load(rows=len(texts))
    if table is not None:
        logger.info(f"{name}: loaded from cache {cache.path} (no language-model forward pass)")
        return table
    logger.info(f"{name}: cache miss, embedding {len(texts) - 1} texts with {path}")
    encoder = TextEncoder(
        path, pooling, max_length, config["plm_batch_size"], config["device"], dtype,
        show_progress=config["show_progress"], prompt=prompt,
        trust_remote_code=config["plm_trust_remote_code"],
    )
    vectors = encoder.encode(texts[1:])
    table = torch.cat([torch.zeros(1, vectors.size(1)), vectors], dim=0)
    cache.save(table)
    logger.info(f"{name}: saved to cache {cache.path}")
    return table


def item_texts(dataset):
    """``(texts, name, spec)``: each internal item id's text (entry 0 = padding), the tables'
    cache name and the rendering spec's description."""
    config = dataset.config
    item_file = os.path.join(config["data_path"], f"{config['dataset']}.item")
    spec = ItemTextSpec(config["item_text_fields"], config["item_text_template"])
    texts = spec.render(dataset, item_file)
    texts = apply_missing_text_policy(
        texts, dataset.field2id_token[dataset.iid_field], config["missing_text_policy"],
        config["missing_text_placeholder"], "items",
    )
    name = f"{config['dataset']}-item-text"
    getLogger().info(f"{name}: rendered with {spec.describe()}; e.g. {texts[1]!r}")
    return texts, name, spec.describe()


def build_item_text_table(dataset):
    """The ``[item_num D]`` item text table of a RecBole dataset."""
    return embed_texts(dataset.config, *item_texts(dataset))


def build_item_text_states(dataset):
    """``(states, lengths)`` of every item's text below the trained language-model layers
    (``plm_train_layers``; ``text/trainable.py``)."""
    from recbole_hier.text.trainable import lower_hidden_states

    return lower_hidden_states(dataset.config, *item_texts(dataset))


def build_behavior_text_table(dataset):
    """The ``[n_texts D]`` table of the ``behavior_text`` field's distinct texts."""
    from recbole_hier.text.behavior import BEHAVIOR_FIELD

    config = dataset.config
    texts = [""] + [str(t) for t in dataset.field2id_token[BEHAVIOR_FIELD][1:]]
    name = f"{config['dataset']}-behavior-text"
    getLogger().info(
        f"{name}: {len(texts) - 1} distinct behaviour texts over {dataset.inter_num} "
        f"interactions; e.g. {texts[1]!r}"
    )
    return embed_texts(config, texts, name, dataset.behavior_spec.describe())
