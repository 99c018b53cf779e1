"""Top-k recommendations from a trained checkpoint, in the dataset's own tokens.

    python run_recbole_hier.py --recommend --model_file=saved/<file>.pth [--users=u1,u2 | --users_file=F]
        [--topk=10] [--exclude_seen=True] [--output=recs.csv | recs.jsonl]

For each user the history is everything the atomic files hold for them, in time order
(the next item after all we know, not the train split's view): its last
``MAX_ITEM_LIST_LENGTH`` interactions, with every ``<field>_list`` the model reads. Users
are scored in batches against the whole catalogue (memory bounded by the batch, not by
users x items); with ``exclude_seen`` the items in a user's history are never
recommended (all of them, not only the last ``MAX_ITEM_LIST_LENGTH``). Ids are the dataset's tokens, never RecBole's internal ids. The output
(``user, rank, item, score``) is written atomically.
"""

import csv
import io
import json
import os

import numpy as np
import torch
from recbole.data.interaction import Interaction
from tqdm import tqdm

from recbole_hier.files import write_text


class RecommendError(ValueError):
    """Bad input to a recommendation request: unknown users, malformed files."""


def read_users(users=None, users_file=None):
    """User tokens from ``--users=a,b`` or a file with one token a line (None: every user)."""
    if users is not None and users_file is not None:
        raise RecommendError("give --users or --users_file, not both")
    if users_file is not None:
        if not os.path.isfile(users_file):
            raise RecommendError(f"users file {users_file!r} does not exist")
        with open(users_file, encoding="utf-8") as f:
            tokens = [line.strip() for line in f if line.strip()]
        if not tokens:
            raise RecommendError(f"users file {users_file!r} names no user")
        return tokens
    if users is not None:
        tokens = [u.strip() for u in str(users).split(",") if u.strip()]
        if not tokens:
            raise RecommendError("--users names no user")
        return tokens
    return None


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
        if self.iid_field + suffix not in feat.columns:
            raise RecommendError("recommendations need a sequential model's dataset (item_id_list)")
        users = feat[self.uid_field].numpy()
        time = feat[dataset.time_field].numpy() if dataset.time_field in feat else np.arange(len(users))
        order = np.lexsort((time, users))  # by user, then time (stable: file order on ties)
        sorted_users = users[order]
        starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
        ends = np.r_[starts[1:], len(sorted_users)]
        self.fields = [f for f in feat.columns if f + suffix in feat.columns]
        self.columns = {}
        for field in self.fields:
            values = feat[field].numpy()[order]
            firsts = feat[field + suffix].numpy()[order][starts, 0]  # each user's first interaction
            self.columns[field] = torch.from_numpy(np.insert(values, starts, firsts))
        shift = np.arange(len(starts))
        self.span = {int(sorted_users[s]): (int(s + k), int(e + k + 1)) for s, e, k in zip(starts, ends, shift)}

    def seen(self, user_ids):
        """``(rows, items)``: index pairs of every item in each user's whole history."""
        spans = [self.span[uid] for uid in user_ids]
        items = torch.cat([self.columns[self.iid_field][s:e] for s, e in spans])
        rows = torch.repeat_interleave(torch.arange(len(spans)), torch.tensor([e - s for s, e in spans]))
        return rows, items

    def batch(self, user_ids, list_fields):
        """An Interaction of the users' last ``max_len`` interactions: ``<field>_list`` ``[B L]``
        for every field in ``list_fields`` and the history length ``[B]``."""
        lengths = []
        lists = {field: [] for field in list_fields}
        for uid in user_ids:
            start, end = self.span[uid]
            start = max(start, end - self.max_len)
            lengths.append(end - start)
            for field in list_fields:
                lists[field].append(self.columns[field][start:end])
        data = {self.uid_field: torch.tensor(user_ids)}
        for field, rows in lists.items():
            padded = torch.zeros((len(rows), self.max_len), dtype=rows[0].dtype)
            for i, row in enumerate(rows):
                padded[i, : len(row)] = row
            data[field + self.list_suffix] = padded
        return Interaction(data), torch.tensor(lengths)


def recommend(model_file, users=None, topk=10, exclude_seen=True, batch_size=256, show_progress=False):
    """``[(user token, rank, item token, score)]``: the top ``topk`` items of each user
    (every user with a history when ``users`` is None)."""
    from recbole_hier import load_data_and_model

    if topk < 1:
        raise RecommendError(f"--topk must be at least 1, got {topk}")
    config, model, dataset, *_ = load_data_and_model(model_file)
    histories = Histories(dataset, config)
    if users is None:
        user_ids = sorted(histories.span)
    else:
        token2id = dataset.field2token_id[dataset.uid_field]
        unknown = [u for u in users if u not in token2id or token2id[u] not in histories.span]
        if unknown:
            raise RecommendError(f"{len(unknown)} user(s) have no history in {config['dataset']} "
                                 f"(e.g. {', '.join(unknown[:5])}); recommend for known users only")
        user_ids = [token2id[u] for u in users]
    suffix = config["LIST_SUFFIX"]
    list_fields = histories.fields
    item_tokens = dataset.field2id_token[dataset.iid_field]
    user_tokens = dataset.field2id_token[dataset.uid_field]
    k = min(topk, dataset.item_num - 1)
    rows = []
    model.eval()
    batches = range(0, len(user_ids), batch_size)
    with torch.no_grad():
        for start in tqdm(batches, desc="Recommending", disable=not show_progress, ncols=100):
            chunk = user_ids[start:start + batch_size]
            interaction, lengths = histories.batch(chunk, list_fields)
            interaction.update(Interaction({config["ITEM_LIST_LENGTH_FIELD"]: lengths}))
            interaction = interaction.to(config["device"])
            scores = model.full_sort_predict(interaction).view(len(chunk), -1).float()  # [B n_items]
            scores[:, 0] = -torch.inf  # padding is no item
            if exclude_seen:  # the whole history, not only the last MAX_ITEM_LIST_LENGTH items
                rows_seen, items_seen = histories.seen(chunk)
                scores[rows_seen.to(scores.device), items_seen.to(scores.device)] = -torch.inf
            values, items = scores.topk(k, dim=1)  # [B k]
            for row, uid in enumerate(chunk):
                for rank in range(k):
                    if values[row, rank] == -torch.inf:
                        break  # fewer unseen items than k
                    rows.append((str(user_tokens[uid]), rank + 1, str(item_tokens[items[row, rank]]),
                                 float(values[row, rank])))
    return rows


def check_output(output):
    """Refuse an output path before any work: a known format, in an existing folder."""
    if not output.endswith((".csv", ".jsonl")):
        raise RecommendError(f"--output {output!r} must end in .csv or .jsonl")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise RecommendError(f"the folder of --output {output!r} does not exist: create {folder!r} first")


def write_recommendations(rows, output):
    """``rows`` to ``output`` (``.csv`` or ``.jsonl``), atomically."""
    check_output(output)
    names = ("user", "rank", "item", "score")
    if output.endswith(".csv"):
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(names)
        writer.writerows(rows)
        write_text(output, text.getvalue())
    else:
        write_text(output, "".join(json.dumps(dict(zip(names, row))) + "\n" for row in rows))
