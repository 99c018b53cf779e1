"""Auxiliary targets for the coarse levels: "from overall interest to the exact item".

Configured per level with ``level_aux_targets`` (level names: ``semantic`` for
I1, then the entries of ``levels``)::

    level_aux_targets:
      semantic: [{field: class, weight: 0.2}]      # next item's genres (multi-label)
      lstm: [{field: rating, weight: 0.1}]         # next behaviour (rating class)

A ``token`` / ``token_seq`` field of the ``.item`` file is the *next item's*
category set (multi-label BCE over the field's tokens). A field of the ``.inter``
file is the *next interaction's* value: a token field is a class, a float field is
bucketed (each distinct value its own class when there are at most
``max_exact_classes``, else ``buckets`` quantile buckets over all interactions).
Labels come from the target interaction only (``item_id`` and the target row's
fields), never from the history.
"""

import torch
import torch.nn.functional as F
from recbole.utils import FeatureSource, FeatureType
from torch import nn

MAX_EXACT_CLASSES = 10
DEFAULT_BUCKETS = 5


def _item_label_matrix(dataset, field):
    values = dataset.item_feat[field]
    if not torch.is_tensor(values):
        raise ValueError(f"item field {field!r} is not available as a tensor")
    return values.long().view(dataset.item_num, -1)  # [n_items S], 0 = no label


class AuxTarget(nn.Module):
    """One auxiliary head on one level's user vector."""

    def __init__(self, level, spec, dataset, hidden_size):
        super().__init__()
        if not isinstance(spec, dict) or "field" not in spec:
            raise ValueError(f"level_aux_targets[{level!r}] entries must be dicts with 'field' and 'weight', got {spec!r}")
        self.level, self.field = level, spec["field"]
        self.weight = float(spec.get("weight", 1.0))
        if self.weight < 0:
            raise ValueError(f"level_aux_targets[{level!r}] weight must be >= 0")
        field, ftype = self.field, dataset.field2type.get(self.field)
        source = dataset.field2source.get(field)
        if ftype is None:
            raise ValueError(
                f"level_aux_targets[{level!r}]: field {field!r} is not in the loaded .item or .inter "
                "data (check load_col)"
            )
        if source == FeatureSource.ITEM and ftype in (FeatureType.TOKEN, FeatureType.TOKEN_SEQ):
            self.kind = "item_multilabel"
            self.register_buffer("item_labels", _item_label_matrix(dataset, field), persistent=False)
            n_classes = len(dataset.field2id_token[field])
        elif source == FeatureSource.INTERACTION and ftype == FeatureType.TOKEN:
            self.kind = "inter_class"
            n_classes = len(dataset.field2id_token[field])
        elif source == FeatureSource.INTERACTION and ftype == FeatureType.FLOAT:
            self.kind = "inter_bucket"
            values = dataset.inter_feat[field].float()
            distinct = torch.unique(values)
            if len(distinct) <= MAX_EXACT_CLASSES:
                edges = (distinct[1:] + distinct[:-1]) / 2  # each value its own class
            else:
                n = int(spec.get("buckets", DEFAULT_BUCKETS))
                edges = torch.quantile(values, torch.linspace(0, 1, n + 1)[1:-1])
            self.register_buffer("edges", edges.contiguous(), persistent=False)
            n_classes = len(edges) + 1
        else:
            raise ValueError(
                f"level_aux_targets[{level!r}]: field {field!r} ({ftype}, from {source}) is not "
                "supported: use a token/token_seq item field or a token/float inter field"
            )
        self.head = nn.Linear(hidden_size, n_classes)
        self.name = f"aux_{level}_{field}"

    def labels(self, interaction, target_items):
        """Labels of the target interaction: multi-hot ``[B C]`` or class ids ``[B]``."""
        if self.kind == "item_multilabel":
            rows = self.item_labels[target_items]  # [B S]
            multi_hot = torch.zeros(rows.size(0), self.head.out_features, device=rows.device)
            multi_hot.scatter_(1, rows, 1.0)
            multi_hot[:, 0] = 0.0  # [PAD] is not a label
            return multi_hot
        value = interaction[self.field]
        if self.kind == "inter_class":
            return value.long().view(-1)
        return torch.bucketize(value.float().view(-1), self.edges)

    def forward(self, user, interaction, target_items):  # user [B H] -> weighted loss
        if self.weight == 0:
            return user.new_zeros(())
        logits = self.head(user)  # [B C]
        labels = self.labels(interaction, target_items)
        if self.kind == "item_multilabel":
            has_label = labels.sum(dim=1) > 0
            if not has_label.any():
                return user.new_zeros(())
            loss = F.binary_cross_entropy_with_logits(logits[has_label], labels[has_label])
        else:
            loss = F.cross_entropy(logits, labels)
        return self.weight * loss


def build_aux_targets(config_value, level_names, dataset, hidden_size):
    """``nn.ModuleList`` of :class:`AuxTarget` from the ``level_aux_targets`` key (a dict or ~)."""
    config_value = config_value or {}
    targets = []
    for level, specs in config_value.items():
        if level not in level_names:
            raise ValueError(f"level_aux_targets: unknown level {level!r}; levels are {level_names}")
        for spec in specs or []:
            targets.append(AuxTarget(level, spec, dataset, hidden_size))
    return nn.ModuleList(targets)
