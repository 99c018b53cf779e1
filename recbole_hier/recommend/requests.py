"""What a recommendation request names (users, histories of new users) and where its answer goes.

Every reader fails with a :class:`RecommendError` that names the flag or the file and line,
before any model is loaded; the answer is written atomically, so a failed request leaves
no partial file.
"""

import csv
import io
import json
import os

from recbole_hier.files import write_text


class RecommendError(ValueError):
    """Bad input to a recommendation request: unknown users or items, malformed files."""


def _tokens(text):
    return [t.strip() for t in str(text).split(",") if t.strip()]


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
        tokens = _tokens(users)
        if not tokens:
            raise RecommendError("--users names no user")
        return tokens
    return None


def read_histories(history=None, history_file=None):
    """``[(label, [item token, ...])]`` for people not in the training data: ``--history=a,b,c``
    (labelled ``new``) or a file with one ``label<TAB>item,item,...`` line each, oldest item first."""
    if history is not None and history_file is not None:
        raise RecommendError("give --history or --history_file, not both")
    if history is not None:
        items = _tokens(history)
        if not items:
            raise RecommendError("--history names no item")
        return [("new", items)]
    if history_file is None:
        return None
    if not os.path.isfile(history_file):
        raise RecommendError(f"history file {history_file!r} does not exist")
    histories, labels = [], set()
    with open(history_file, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            label, tab, items = line.rstrip("\r\n").partition("\t")
            if not tab or not label.strip() or not _tokens(items):
                raise RecommendError(f"{history_file}, line {number}: expected 'label<TAB>item,item,...', "
                                     f"got {line.strip()[:60]!r}")
            if label in labels:
                raise RecommendError(f"{history_file}, line {number}: label {label!r} is used twice")
            labels.add(label)
            histories.append((label, _tokens(items)))
    if not histories:
        raise RecommendError(f"history file {history_file!r} holds no history")
    return histories


def check_output(output):
    """Refuse an output path before any work: a known format, in an existing folder."""
    if not output.endswith((".csv", ".jsonl")):
        raise RecommendError(f"--output {output!r} must end in .csv or .jsonl")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise RecommendError(f"the folder of --output {output!r} does not exist: create {folder!r} first")


def write_recommendations(rows, output, item_fields=()):
    """``rows`` (``user, rank, item, score, *item_fields``) to ``output`` (``.csv`` or
    ``.jsonl``), atomically."""
    check_output(output)
    names = ("user", "rank", "item", "score", *item_fields)
    if output.endswith(".csv"):
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(names)
        writer.writerows(rows)
        write_text(output, text.getvalue())
    else:
        write_text(output, "".join(json.dumps(dict(zip(names, row)), ensure_ascii=False) + "\n" for row in rows))
