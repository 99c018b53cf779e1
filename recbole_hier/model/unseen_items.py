"""Items without a trained ID part: cold items of the cold-item protocol and items added
after training (``--new_items``). An :class:`~recbole_hier.model.items.ItemRepresentation`
scores them by their text alone (see ``cold_score`` in ``score.py`` for how that text score
is put on the trained items' scale)."""

import torch
from torch import nn


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
