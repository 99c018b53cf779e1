"""The cold-item protocol: a seeded fraction of the items held out of training entirely.

With ``cold_item_ratio`` r > 0, ``round(r * n)`` of the ``n`` items are drawn with
``cold_item_seed`` (not the run's seed, so every model and seed of a comparison holds out
the same items) after RecBole has filtered and remapped the data. Training then never
sees them: the training samples whose target is a cold item are removed, cold items are
removed from the remaining training histories (a sample whose history was all cold items
goes too), and the training loss leaves them out of the softmax
(:func:`exclude_from_training`), so no parameter learns from their interactions, nor
from their absence. Their ID embeddings keep their initial values; a text-aware model
scores them by text alone (``ItemRepresentation`` masks their ID part), as it would an
item added after training. Validation and test are RecBole's, unchanged: their targets
include cold items, and the leaderboard reports cold and warm targets apart.
"""

import numpy as np
import torch
from recbole.data.interaction import Interaction
from torch import nn


def cold_item_ids(config, item_num):
    """Internal ids of the held-out items, sorted ``[C]`` (empty when the ratio is 0)."""
    ratio = config["cold_item_ratio"] or 0.0
    n = item_num - 1  # id 0 is padding
    count = int(round(ratio * n))
    if ratio > 0 and not 0 < count < n:
        raise ValueError(f"cold_item_ratio {ratio} holds out {count} of {n} items; choose a ratio that leaves "
                         "some items cold and some warm")
    rng = np.random.default_rng(config["cold_item_seed"])
    return torch.from_numpy(np.sort(rng.choice(n, size=count, replace=False) + 1)).long()


def _steps_in_order(values, order):  # [N L ...] reordered along L by [N L]
    return values.gather(1, order.view(order.shape + (1,) * (values.dim() - 2)).expand_as(values))


def without_cold_items(dataset, cold, list_suffix, length_field):
    """A copy of a sequential training split without cold targets and with cold items
    taken out of every history (the ``<field>_list`` of each field kept in step)."""
    feat = dataset.inter_feat
    iid = dataset.iid_field
    is_cold = torch.zeros(dataset.item_num, dtype=torch.bool)
    is_cold[cold] = True
    items, lengths = feat[iid + list_suffix], feat[length_field]  # [N L], [N]
    positions = torch.arange(items.size(1)).unsqueeze(0)  # [1 L]
    keep = (positions < lengths.unsqueeze(1)) & ~is_cold[items]  # [N L]
    order = torch.argsort((~keep).int(), dim=1, stable=True)  # kept steps first, in their order
    new_lengths = keep.sum(dim=1)
    real = positions < new_lengths.unsqueeze(1)  # [N L]
    columns = dict(feat.interaction)
    for field in [f for f in columns if f.endswith(list_suffix)]:
        values = _steps_in_order(columns[field], order)
        columns[field] = values * real.view(real.shape + (1,) * (values.dim() - 2)).to(values.dtype)
    columns[length_field] = new_lengths.to(lengths.dtype)
    rows = ~is_cold[feat[iid]] & (new_lengths > 0)
    return dataset.copy(Interaction(columns)[rows])


class ColdItemsMixin:
    """A sequential dataset whose training split holds no cold item (see the module)."""

    def build(self):
        datasets = super().build()
        cold = cold_item_ids(self.config, self.item_num)
        for split in datasets:
            split.cold_item_ids = cold
        self.cold_item_ids = cold
        if len(cold):
            train = without_cold_items(datasets[0], cold, self.config["LIST_SUFFIX"],
                                       self.config["ITEM_LIST_LENGTH_FIELD"])
            train.cold_item_ids = cold
            self.logger.info(f"cold items: {len(cold)} of {self.item_num - 1} held out of training "
                             f"(cold_item_seed {self.config['cold_item_seed']}); {len(datasets[0]) - len(train)} "
                             f"of {len(datasets[0])} training samples removed")
            datasets[0] = train
        return datasets


def with_cold_items(dataset_class):
    """``dataset_class`` with :class:`ColdItemsMixin`'s split."""
    return type(dataset_class.__name__, (ColdItemsMixin, dataset_class), {})


def exclude_from_training(model, cold, n_items):
    """Leave the cold items out of every training softmax over the items: a model's own
    ``exclude_from_training`` hook where it has one, and every ``nn.CrossEntropyLoss`` whose
    logits span the items (RecBole's CE models)."""
    if not len(cold):
        return
    if hasattr(model, "exclude_from_training"):
        model.exclude_from_training(cold)

    def mask(module, inputs):
        logits, *rest = inputs
        if logits.size(-1) != n_items:
            return None
        logits = logits.clone()
        logits[..., cold.to(logits.device)] = -torch.inf
        return (logits, *rest)

    for module in model.modules():
        if isinstance(module, nn.CrossEntropyLoss):
            module.register_forward_pre_hook(mask)
