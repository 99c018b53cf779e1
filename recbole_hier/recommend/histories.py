"""Users' histories as a sequential model reads them: ``<field>_list [B L]`` and lengths ``[B]``."""

import numpy as np
import torch
from recbole.data.interaction import Interaction


class Histories:
    """Every user's full interaction history, in time order, rebuilt from a sequential
    dataset: RecBole keeps one row per interaction after a user's first (its target, with
    the ``<field>_list`` of what came before), so the history is the first row's first list
    entry followed by every row's own values."""

    def __init__(self, dataset, config):
        feat = dataset.inter_feat
        suffix = config["LIST_SUFFIX"]
        self.uid_field, self.iid_field = dataset.uid_field, dataset.iid_field
        self.max_len = config["MAX_ITEM_LIST_LENGTH"]
        self.list_suffix = suffix
        self.length_field = config["ITEM_LIST_LENGTH_FIELD"]
        if self.iid_field + suffix not in feat.columns:
            raise ValueError("recommendations need a sequential model's dataset (item_id_list)")
        users = feat[self.uid_field].numpy()
        time = feat[dataset.time_field].numpy() if dataset.time_field in feat else np.arange(len(users))
        order = np.lexsort((time, users))  # by user, then time (stable: file order on ties)
        sorted_users = users[order]
        starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
        ends = np.r_[starts[1:], len(sorted_users)]
        self.fields = [f for f in feat.columns if f + suffix in feat.columns]
        self.columns = {}
        first_rows = feat[torch.from_numpy(order[starts])]  # each user's first target row (lists of those only)
        for field in self.fields:
            values = feat[field].numpy()[order]
            firsts = first_rows[field + suffix][:, 0].numpy()  # each user's first interaction
            self.columns[field] = torch.from_numpy(np.insert(values, starts, firsts))
        shift = np.arange(len(starts))
        self.span = {int(sorted_users[s]): (int(s + k), int(e + k + 1)) for s, e, k in zip(starts, ends, shift)}

    def items(self, user_ids):
        """Each user's whole item history, ``[tensor]`` (oldest first)."""
        column = self.columns[self.iid_field]
        return [column[slice(*self.span[uid])] for uid in user_ids]

    def batch(self, user_ids, list_fields):
        """An Interaction of the users' last ``max_len`` interactions (every field of ``list_fields``)."""
        lists = {field: [self.columns[field][slice(*self.span[uid])] for uid in user_ids] for field in list_fields}
        return self.interaction(torch.tensor(user_ids), lists)

    def interaction(self, user_ids, lists):
        """``<field>_list`` ``[B L]`` (right-padded, the last ``max_len`` values of each row of
        ``lists[field]``), the history length ``[B]`` and the user id ``[B]``."""
        data = {self.uid_field: user_ids}
        lengths = None
        for field, rows in lists.items():
            rows = [row[-self.max_len:] for row in rows]
            lengths = torch.tensor([len(row) for row in rows])
            padded = torch.zeros((len(rows), self.max_len), dtype=rows[0].dtype)
            mask = torch.arange(self.max_len).unsqueeze(0) < lengths.unsqueeze(1)  # [B L]
            padded[mask] = torch.cat(rows)
            data[field + self.list_suffix] = padded
        data[self.length_field] = lengths
        return Interaction(data)
