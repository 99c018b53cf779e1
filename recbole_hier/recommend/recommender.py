"""Rank the catalogue for known users and for new users' histories.

For a known user the history is everything the atomic files hold for them, in time order
(the next item after all we know, not the train split's view): its last
``MAX_ITEM_LIST_LENGTH`` interactions, with every ``<field>_list`` the model reads. A new
user is a list of item tokens (trained or added with ``--new_items``); where the model
reads behaviour text, each of their interactions has ``behavior_placeholder``'s. Users are scored in
batches against the whole catalogue (memory bounded by the batch, not by users x items);
with ``exclude_seen`` the items in a user's history are never recommended (all of them,
not only the last ``MAX_ITEM_LIST_LENGTH``). Ids are the dataset's tokens, never RecBole's
internal ids.
"""

import torch
from tqdm import tqdm

from recbole_hier.recommend.histories import Histories
from recbole_hier.recommend.new_items import embed_new_items
from recbole_hier.recommend.requests import RecommendError
from recbole_hier.text.behavior import BEHAVIOR_FIELD
from recbole_hier.text.tables import embed_texts
from recbole_hier.text.templates import field_values


class Recommender:
    """A trained model with its dataset, ready to rank items: :meth:`for_users`,
    :meth:`for_histories`; :meth:`add_items` first to rank new items too."""

    def __init__(self, config, model, dataset, batch_size=256, show_progress=False):
        self.config, self.model, self.dataset = config, model, dataset
        self.model.eval()
        self.histories = Histories(self.dataset, self.config)
        self.batch_size, self.show_progress = batch_size, show_progress
        self.iid = self.dataset.iid_field
        self.item_tokens = [str(t) for t in self.dataset.field2id_token[self.iid]]
        self.token2item = {t: i for i, t in enumerate(self.item_tokens) if i > 0}
        self.new_columns = {}  # field -> values of the added items
        self._added_behavior = None  # id of the behaviour placeholder, once added

    @classmethod
    def load(cls, model_file, batch_size=256, show_progress=False):
        """From a checkpoint saved by this package (its config, data and weights)."""
        from recbole_hier import load_data_and_model

        config, model, dataset, *_ = load_data_and_model(model_file)
        return cls(config, model, dataset, batch_size, show_progress)

    def set_scoring(self, setting):
        """Rank from now on with ``setting`` (a :class:`ScoringSetting`: how items with little or
        no training, added ones included, are scored; see ``model/scoring.py``)."""
        try:
            return setting.apply(self.model)
        except ValueError as error:
            raise RecommendError(f"--{error}") from None

    def add_items(self, path):
        """Add the items of a ``--new_items`` file; returns their tokens."""
        tokens, columns = embed_new_items(path, self.model, self.dataset, self.config)
        for field in set(self.new_columns) | set(columns):
            old = self.new_columns.get(field, [""] * (len(self.item_tokens) - self.dataset.item_num))
            self.new_columns[field] = old + columns.get(field, [""] * len(tokens))
        self.token2item.update({t: len(self.item_tokens) + k for k, t in enumerate(tokens)})
        self.item_tokens += tokens
        return tokens

    def item_field(self, field):
        """The string value of ``field`` for every item id (trained and added)."""
        if field not in self.dataset.field2type or self.dataset.item_feat is None \
                or field not in self.dataset.item_feat.columns:
            available = [] if self.dataset.item_feat is None else list(self.dataset.item_feat.columns)
            raise RecommendError(f"--item_fields: {field!r} is not an item field of {self.config['dataset']} "
                                 f"(loaded: {available})")
        added = self.new_columns.get(field, [""] * (len(self.item_tokens) - self.dataset.item_num))
        return field_values(self.dataset, field) + added

    def for_users(self, users=None, topk=10, exclude_seen=True, item_fields=()):
        """Rows ``(user, rank, item, score, *item_fields)`` for known user tokens (None: all)."""
        if users is None:
            user_ids = sorted(self.histories.span)
        else:
            token2id = self.dataset.field2token_id[self.dataset.uid_field]
            unknown = [u for u in users if u not in token2id or token2id[u] not in self.histories.span]
            if unknown:
                raise RecommendError(f"{len(unknown)} user(s) have no history in {self.config['dataset']} "
                                     f"(e.g. {', '.join(unknown[:5])}); recommend for known users only, "
                                     "or give new users' items with --history")
            user_ids = [token2id[u] for u in users]
        user_tokens = self.dataset.field2id_token[self.dataset.uid_field]

        def batches():
            for start in range(0, len(user_ids), self.batch_size):
                chunk = user_ids[start:start + self.batch_size]
                yield ([str(user_tokens[u]) for u in chunk], self.histories.batch(chunk, self.histories.fields),
                       self.histories.items(chunk))

        return self._rank(batches(), len(user_ids), topk, exclude_seen, item_fields)

    def for_histories(self, histories, topk=10, exclude_seen=True, item_fields=()):
        """Rows for people not in the training data: ``[(label, [item token, ...])]``."""
        behavior = self._placeholder_behavior() if getattr(self.model, "uses_behavior", False) else None
        unknown = sorted({t for _, items in histories for t in items if t not in self.token2item})
        if unknown:
            raise RecommendError(f"{len(unknown)} item(s) of the histories are not items of "
                                 f"{self.config['dataset']} (e.g. {', '.join(unknown[:5])}); add them with "
                                 "--new_items, or leave them out")
        sequences = [(label, torch.tensor([self.token2item[t] for t in items])) for label, items in histories]

        def batches():
            for start in range(0, len(sequences), self.batch_size):
                chunk = sequences[start:start + self.batch_size]
                rows = [items for _, items in chunk]
                lists = {self.iid: rows}
                if behavior is not None:
                    lists[BEHAVIOR_FIELD] = [torch.full_like(items, behavior) for items in rows]
                no_user = torch.zeros(len(chunk), dtype=torch.long)  # not a user of the dataset
                yield [label for label, _ in chunk], self.histories.interaction(no_user, lists), rows

        return self._rank(batches(), len(sequences), topk, exclude_seen, item_fields)

    def _placeholder_behavior(self):
        """The behaviour-text id of an interaction with no behaviour signal
        (``behavior_placeholder``), embedded and added to the model's table if no training
        interaction had that text: a history of items says what was bought or watched, not how."""
        text = self.config["behavior_placeholder"]
        known = self.dataset.field2token_id[BEHAVIOR_FIELD]
        if text in known:
            return known[text]
        if self._added_behavior is None:
            table = embed_texts(self.config, ["", text], f"{self.config['dataset']}-behavior-placeholder",
                                "behavior_placeholder")
            self._added_behavior = self.model.behaviors.add_items(table[1:])
        return self._added_behavior

    def _rank(self, batches, n_users, topk, exclude_seen, item_fields):
        if topk < 1:
            raise RecommendError(f"--topk must be at least 1, got {topk}")
        extra = [self.item_field(f) for f in item_fields]
        k = min(topk, len(self.item_tokens) - 1)
        rows = []
        device = self.config["device"]
        steps = tqdm(batches, total=-(-n_users // self.batch_size), desc="Recommending",
                     disable=not self.show_progress, ncols=100)
        with torch.no_grad():
            for labels, interaction, seen in steps:
                scores = self.model.full_sort_predict(interaction.to(device)).view(len(labels), -1).float()
                scores[:, 0] = -torch.inf  # [B n_items]; padding is no item
                if exclude_seen:  # the whole history, not only the last MAX_ITEM_LIST_LENGTH items
                    user_rows = torch.repeat_interleave(torch.arange(len(seen)), torch.tensor([len(s) for s in seen]))
                    scores[user_rows.to(device), torch.cat(seen).to(device)] = -torch.inf
                values, items = (t.cpu().tolist() for t in scores.topk(k, dim=1))  # [B k]
                for label, row_values, row_items in zip(labels, values, items):
                    for rank, (value, item) in enumerate(zip(row_values, row_items), start=1):
                        if value == -float("inf"):
                            break  # fewer unseen items than k
                        rows.append((label, rank, self.item_tokens[item], value, *(column[item] for column in extra)))
        return rows


def recommend(model_file, users=None, topk=10, exclude_seen=True, batch_size=256, show_progress=False,
              histories=None, new_items=None, item_fields=(), scoring=None):
    """``[(user, rank, item, score, *item_fields)]``: the top ``topk`` items of each known user
    (every user when ``users`` and ``histories`` are None) or of each new user's history
    (``[(label, [item token])]``), with the items of the ``new_items`` file ranked too;
    ``scoring`` (a :class:`ScoringSetting`) overrides the checkpoint's scoring setting."""
    if users is not None and histories is not None:
        raise RecommendError("recommend for known users or for histories, not both")
    recommender = Recommender.load(model_file, batch_size, show_progress)
    if scoring is not None and scoring.values:
        recommender.set_scoring(scoring)
    if new_items is not None:
        recommender.add_items(new_items)
    if histories is not None:
        return recommender.for_histories(histories, topk, exclude_seen, item_fields)
    return recommender.for_users(users, topk, exclude_seen, item_fields)
