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


def _waits_for_another_rank(config):
    """In RecBole's multi-process mode, local rank 0 of each machine embeds; the
    other ranks wait at a barrier and then read its cache."""
    if config["single_spec"] is not False or not dist.is_initialized():
        return None
    return config["local_rank"] != 0


def embed_texts(config, texts, name, spec):
    """``[len(texts) D]`` table for ``texts`` (entry 0 = padding, zero row), cached.

    ``name`` names the cache file; ``spec`` describes how the texts were made.
    """
    path = resolve_plm_path(config["plm_name_or_path"])
    pooling, max_length = config["plm_pooling"], config["plm_max_length"]
    dtype, prompt = config["plm_dtype"], config["plm_prompt"]
    identity = encoder_identity(path, pooling, max_length, dtype, prompt)
    cache = TableCache(config["text_cache_dir"], name, cache_key(identity, spec, texts))
    waits = _waits_for_another_rank(config)
    if waits:
        dist.barrier()  # released once local rank 0 has written the cache
        table = cache.load(rows=len(texts))
        if table is None:
            raise RuntimeError(
                f"rank {dist.get_rank()}: {cache.path} was not written by local rank 0; "
                "text_cache_dir must be a folder all ranks of a machine share"
            )
        getLogger().info(f"{name}: read from cache {cache.path} written by local rank 0")
        return table
    table = _load_or_embed(config, cache, texts, name, path, pooling, max_length, dtype, prompt)
    if waits is False:
        dist.barrier()  # let the waiting ranks read the cache
    return table


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


def build_item_text_table(dataset):
    """The ``[item_num D]`` item text table of a RecBole dataset."""
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
    return embed_texts(config, texts, name, spec.describe())


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
