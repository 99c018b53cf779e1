"""Sequential training data without a stored history per prefix: ``history_storage: index``.

RecBole's ``SequentialDataset.data_augmentation`` turns every interaction after a user's
first into a row holding its whole history, ``<field>_list [N L]`` for every inter field,
so memory grows with interactions x ``MAX_ITEM_LIST_LENGTH`` (and the copy is a Python loop
over the rows). Here the rows keep only their own values, the history length and where
their history starts in one flat, time-ordered array per field (``IndexedHistories``); a
batch's ``<field>_list`` is gathered when the batch is read. The samples are RecBole's,
field by field (``tests/test_indexed_histories.py``), for HierRec and every RecBole
sequential model; splits, sorting and evaluation are RecBole's.
"""

import numpy as np
import torch
from recbole.data.interaction import Interaction
from recbole.utils import FeatureType

START = "_history_start"  # a row's first history step in the flat arrays (hidden column)


class IndexedHistories(Interaction):
    """Rows of a sequential dataset whose ``<field>_list`` columns are gathered on access.

    ``flat``: ``{field: [M ...]}``, every interaction in (user, time) order;
    ``list_fields``: ``{list field: field}``. Indexing rows (splits, sorting, shuffling)
    keeps it indexed; :meth:`materialize` (what a data loader's batch gets) gathers the lists.
    """

    def __init__(self, columns, flat, list_fields, max_len, length_field):
        super().__init__(columns)
        self.flat, self.list_fields = flat, list_fields
        self.max_len, self.length_field = max_len, length_field

    def __iter__(self):
        return iter(self.columns)

    @property
    def columns(self):
        return [k for k in self.interaction if k != START] + list(self.list_fields)

    def __contains__(self, item):
        return item in self.list_fields or (item != START and item in self.interaction)

    def __getitem__(self, index):
        if isinstance(index, str):
            if index in self.list_fields:  # a whole list column: materialised (costly; batches avoid it)
                return self._lists(self.interaction[START], self.interaction[self.length_field], [index])[index]
            return self.interaction[index]
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        elif isinstance(index, (list, tuple)):  # RecBole's splits pass lists: one tensor, not per-element indexing
            index = torch.as_tensor(index, dtype=torch.long)
        return IndexedHistories({k: v[index] for k, v in self.interaction.items()}, self.flat,
                                self.list_fields, self.max_len, self.length_field)

    def _lists(self, starts, lengths, names):
        steps = torch.arange(self.max_len)
        positions = starts.unsqueeze(1) + steps  # [B L]
        real = steps < lengths.unsqueeze(1)  # [B L]
        lists = {}
        for name in names:
            values = self.flat[self.list_fields[name]]
            gathered = values[torch.where(real, positions, torch.zeros_like(positions))]  # [B L ...]
            lists[name] = gathered * real.view(real.shape + (1,) * (gathered.dim() - 2)).to(gathered.dtype)
        return lists

    def materialize(self):
        """A plain ``Interaction`` of these rows with every ``<field>_list`` gathered."""
        columns = {k: v for k, v in self.interaction.items() if k != START}
        columns.update(self._lists(self.interaction[START], self.interaction[self.length_field],
                                   list(self.list_fields)))
        return Interaction(columns)

    def to(self, device, selected_field=None):
        return self.materialize().to(device, selected_field)

    def drop(self, column):
        if column in self.list_fields:
            del self.list_fields[column]
        else:
            super().drop(column)


class IndexedHistoriesMixin:
    """A ``SequentialDataset`` whose augmentation builds :class:`IndexedHistories`."""

    def data_augmentation(self):
        self.logger.debug("data_augmentation (indexed histories)")
        self._aug_presets()
        self._check_field("uid_field", "time_field")
        numerical = [f for f in self.inter_feat if f in (self.config["numerical_features"] or [])
                     and self.field2type[f] in (FeatureType.FLOAT, FeatureType.FLOAT_SEQ)]
        if numerical:
            raise ValueError(f"history_storage: index does not support numerical_features {numerical}; "
                             "set history_storage: recbole")
        max_len = self.config["MAX_ITEM_LIST_LENGTH"]
        self.sort(by=[self.uid_field, self.time_field], ascending=True)
        users = self.inter_feat[self.uid_field].numpy()
        n = len(users)
        first = np.r_[True, users[1:] != users[:-1]]  # each user's first interaction has no history
        user_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        target = np.flatnonzero(~first)
        start = np.maximum(user_start[target], target - max_len)  # RecBole's window: the last L steps
        flat = {f: self.inter_feat[f] for f in self.inter_feat if f != self.uid_field}
        list_fields = {getattr(self, f"{f}_list_field"): f for f in flat}
        index = torch.from_numpy(target)
        columns = {k: v[index] for k, v in self.inter_feat.interaction.items()}
        columns[self.item_list_length_field] = torch.from_numpy(target - start)
        columns[START] = torch.from_numpy(start)
        self.inter_feat = IndexedHistories(columns, flat, list_fields, max_len, self.item_list_length_field)

    def _grouped_index(self, group_by_list):
        """RecBole's grouping of row indices by user (groups in order of first appearance, rows
        in file order within a group), with numpy instead of a Python loop over the rows."""
        keys = np.asarray(group_by_list)
        order = np.argsort(keys, kind="stable")
        starts = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1]])
        groups = np.split(order, starts[1:])
        return [groups[g] for g in np.argsort(order[starts], kind="stable")]

    def __getitem__(self, index, join=True):
        rows = self.inter_feat[index]
        if isinstance(rows, IndexedHistories):
            rows = rows.materialize()
        return self.join(rows) if join else rows


def with_indexed_histories(dataset_class):
    """``dataset_class`` with :class:`IndexedHistoriesMixin`'s augmentation."""
    return type(dataset_class.__name__, (IndexedHistoriesMixin, dataset_class), {})
