"""Alignment of each item's two views, its text vector and its ID embedding (InfoNCE).

``L_align = w * (CE(t . e^T / tau, diag) + CE(e . t^T / tau, diag)) / 2`` over the distinct
target items of a batch, with ``t_i = normalize(adapt(T[i]))`` and ``e_i = normalize(E_id[i])``.
An ID embedding is trained by a handful of interactions for most items; the term pulls it
toward its own item's text vector and away from the other items', so a rarely seen item's
ID part takes the shape of its text rather than noise.
"""

import torch
import torch.nn.functional as F


def text_id_alignment(text_vectors, id_vectors, temperature):
    """Symmetric InfoNCE of row ``i`` of ``[M H]`` text vectors against row ``i`` of ``[M H]``
    ID vectors, each other row a negative: a scalar, 0 for fewer than two rows."""
    if len(text_vectors) < 2:
        return text_vectors.new_zeros(())
    logits = F.normalize(text_vectors, dim=-1) @ F.normalize(id_vectors, dim=-1).t() / temperature  # [M M]
    labels = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
