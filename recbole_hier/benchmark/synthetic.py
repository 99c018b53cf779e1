"""Synthetic atomic datasets for the scale benchmark: Zipf item popularity, short item
texts, log-normal history lengths.

``write_dataset(folder, name, interactions, seed)`` writes ``<name>.inter``
(``user_id, item_id, timestamp``) and ``<name>.item`` (``item_id, title, category``). Users
have ``max(5, lognormal)`` interactions (median 12, as in the Amazon review datasets here);
there are ``20 * sqrt(interactions)`` items (catalogues grow slower than their interactions:
63k items at 1e7, as ml-20m has 27k for 2e7), drawn with probability ``~ 1/(rank + 10)``;
each title is three words of a 500-word vocabulary, so texts differ but are cheap to embed.
"""

import os

import numpy as np

from recbole_hier.files import atomic_path

WORDS = [f"w{i}" for i in range(500)]
CATEGORIES = [f"c{i}" for i in range(50)]


def _history_lengths(interactions, rng):
    lengths = []
    total = 0
    while total < interactions:
        chunk = np.maximum(5, rng.lognormal(mean=np.log(12), sigma=0.8, size=10_000).astype(np.int64))
        lengths.append(chunk)
        total += int(chunk.sum())
    lengths = np.concatenate(lengths)
    cut = np.searchsorted(np.cumsum(lengths), interactions)
    lengths = lengths[: cut + 1]
    lengths[-1] -= int(lengths.sum()) - interactions
    return lengths[lengths >= 5] if lengths[-1] < 5 else lengths


def write_dataset(folder, name, interactions, seed=0):
    """Write the dataset under ``folder/name/``; returns ``(users, items, interactions)``."""
    rng = np.random.default_rng(seed)
    lengths = _history_lengths(interactions, rng)
    n_items = max(100, int(20 * np.sqrt(interactions)))
    weights = 1.0 / (np.arange(n_items) + 10.0)
    users = np.repeat(np.arange(1, len(lengths) + 1), lengths)
    items = rng.choice(n_items, size=len(users), p=weights / weights.sum()) + 1
    times = np.concatenate([np.sort(rng.integers(0, 10**9, size=n)) for n in lengths])
    path = os.path.join(folder, name)
    os.makedirs(path, exist_ok=True)
    with atomic_path(os.path.join(path, f"{name}.inter")) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("user_id:token\titem_id:token\ttimestamp:float\n")
            for start in range(0, len(users), 1_000_000):
                block = np.stack([users[start:start + 1_000_000], items[start:start + 1_000_000],
                                  times[start:start + 1_000_000]], axis=1)
                f.write("".join(f"u{u}\ti{i}\t{t}\n" for u, i, t in block.tolist()))
    words = rng.integers(0, len(WORDS), size=(n_items, 3))
    categories = rng.integers(0, len(CATEGORIES), size=n_items)
    with atomic_path(os.path.join(path, f"{name}.item")) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("item_id:token\ttitle:token_seq\tcategory:token\n")
            f.write("".join(f"i{i + 1}\t{WORDS[a]} {WORDS[b]} {WORDS[c]}\t{CATEGORIES[k]}\n"
                            for i, ((a, b, c), k) in enumerate(zip(words.tolist(), categories.tolist()))))
    return len(lengths), n_items, len(users)
