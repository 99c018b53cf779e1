"""Items without a trained ID part: cold items of the cold-item protocol and items added
after training (``--new_items``). An :class:`~recbole_hier.model.items.ItemRepresentation`
scores them by their text alone, or (``id_fill: neighbours``) borrows the ID embeddings of
the trained items whose frozen text is nearest to theirs."""

import torch
import torch.nn.functional as F
from torch import nn


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


def filled_id_rows(items):
    """The masked items' ID rows ``[n_items H]`` borrowed from their text neighbours (0 at
    the items that have their own) under ``items.id_fill_k`` and ``items.id_fill_temperature``."""
    with torch.no_grad():
        has_id = items.id_mask.bool().clone()
        has_id[0] = False  # padding
        wanted = (~items.id_mask.bool()).nonzero().squeeze(1)
        weight = items.id_embedding.weight
        filled = torch.zeros_like(weight)
        filled[wanted] = nearest_id_rows(items.text_rows(), has_id, weight, wanted, items.id_fill_k,
                                         items.id_fill_temperature)
    return filled


def append_items(items, text_rows):
    """Append items known by their text only (``[M D]`` frozen text vectors) to ``items``:
    their ID part is masked out. Returns the internal id of the first new item."""
    if not items.uses_text:
        raise ValueError("item_repr: id has no text to represent new items by")
    if text_rows.dim() != 2 or text_rows.size(1) != items.text.size(1):
        raise ValueError(f"new item text vectors must be [M {items.text.size(1)}], got {list(text_rows.shape)}")
    old, new = items.text.size(0), text_rows.size(0)
    rows = torch.cat([items.text.data, text_rows.to(items.text)])
    # a frozen table stays a frozen parameter; trained layers' rows stay a buffer
    items.text = rows if items.trainable_text is not None else nn.Parameter(rows, requires_grad=False)
    if items.uses_id:
        device = items.text.device
        mask = items.id_mask if items.id_mask is not None else torch.ones(old, device=device)
        items.id_mask = torch.cat([mask, torch.zeros(new, device=device)])
        weight = items.id_embedding.weight.data
        items.id_embedding = nn.Embedding.from_pretrained(
            torch.cat([weight, weight.new_zeros(new, weight.size(1))]), freeze=True, padding_idx=0)
    return old
