"""What a dataset's histories hold, as a sequential model sees them: length and repeats.

    python -m recbole_hier.benchmark.histories [--dataset ml-latest-small] [--key=value ...]

After the dataset's loading, filtering and leave-one-out split (RecBole's, as every run
of the benchmark; ``--key=value`` pairs change the config, e.g. ``--rm_dup_inter=first``),
this prints: users and interactions; interactions per user before the test target (mean,
median); the share of test targets, and of training targets, that equal the last item of
their history (what a model gets for copying it), and of test targets found anywhere in
their window; and, among consecutive interactions of a user, the share with the same
timestamp and, for numeric item tokens, the share of those tied pairs whose item token
rises (RecBole's sort by time is stable, so ties keep the loaded order: the file's, or
the one ``rm_dup_inter``'s re-sort left; a file sorted by item within a timestamp orders
each tie by token, an order no model should learn from), and the share of test targets
tied in time with the history's last item (whose order the data, not the user, decided),
and of validation targets likewise (a model that reads the last item well gains most where
they differ).
"""

import argparse

import numpy as np

from recbole_hier.benchmark.cli import parse_with_overrides
from recbole_hier.presets import preset_files


def _targets(split):
    """``(targets [N], last history items [N], windows [N L], lengths [N])`` of a built split."""
    feat = split.inter_feat
    lengths = feat[split.item_list_length_field].numpy()
    windows = feat[split.item_id_list_field].numpy()
    last = windows[np.arange(len(lengths)), lengths - 1]
    return feat[split.iid_field].numpy(), last, windows, lengths


def measure(dataset):
    """The figures of the module docstring for a RecBole sequential ``dataset`` (not yet built)."""
    feat = dataset.inter_feat  # a DataFrame until the split
    users = feat[dataset.uid_field].to_numpy()
    items = feat[dataset.iid_field].to_numpy()
    per_user = np.bincount(users)[np.unique(users)]
    out = {"users": int(len(per_user)), "interactions": int(len(users)),
           "history_mean": float(np.mean(per_user - 1)), "history_median": float(np.median(per_user - 1))}
    if dataset.time_field in feat:
        times = feat[dataset.time_field].to_numpy()
        order = np.lexsort((times, users))  # stable, as RecBole's sort: ties keep the loaded order
        same_user = users[order][1:] == users[order][:-1]
        tied = same_user & (np.diff(times[order]) == 0)
        out["tied_share"] = float(tied.sum() / max(same_user.sum(), 1))
        target = np.flatnonzero(np.r_[~same_user, True])  # each user's last interaction
        out["test_tied_share"] = float(np.mean(tied[target[target > 0] - 1]))
        # the validation target (each user's second-to-last interaction) against the one before it
        valid = target[target > 1] - 1
        valid = valid[same_user[valid - 1] & same_user[valid]]
        out["valid_tied_share"] = float(np.mean(tied[valid - 1])) if len(valid) else float("nan")
        tokens = dataset.field2id_token[dataset.iid_field][items[order]]
        try:
            numeric = tokens.astype(np.int64)
        except ValueError:
            numeric = None
        if numeric is not None and tied.any():
            out["tied_rising_share"] = float((np.diff(numeric)[tied] > 0).mean())
    train, _, test = dataset.build()
    target, last, windows, lengths = _targets(test)
    out["test_repeat_last"] = float((target == last).mean())
    in_window = (windows == target[:, None]) & (np.arange(windows.shape[1]) < lengths[:, None])
    out["test_in_window"] = float(in_window.any(axis=1).mean())
    train_target, train_last, _, _ = _targets(train)
    out["train_repeat_last"] = float((train_target == train_last).mean())
    return out


def load(dataset_name, overrides, config=None):
    """RecBole's dataset for ``dataset_name`` with its presets, loaded and filtered as every
    run loads it (as RecBole's SASRec, so without text); ``config`` adds keys."""
    from recbole.data import create_dataset

    from recbole_hier.config import Config

    config = Config("SASRec", dataset_name, preset_files(dataset_name), {"show_progress": False, **(config or {})},
                    cmd_args=list(overrides))
    return create_dataset(config)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    args, overrides = parse_with_overrides(parser, argv)
    out = measure(load(args.dataset, overrides))
    print(f"{args.dataset}: {out['users']:,} users, {out['interactions']:,} interactions; "
          f"history before the test target: mean {out['history_mean']:.1f}, median {out['history_median']:.0f}")
    print(f"test targets equal to the history's last item: {out['test_repeat_last']:.1%}; anywhere in the window: "
          f"{out['test_in_window']:.1%}; training targets equal to their last item: {out['train_repeat_last']:.1%}")
    if "tied_share" in out:
        rising = (f"; item token rising within them: {out['tied_rising_share']:.1%}"
                  if "tied_rising_share" in out else "")
        print(f"consecutive interactions of a user with the same timestamp: {out['tied_share']:.1%}{rising}; "
              f"test targets at the time of the history's last item: {out['test_tied_share']:.1%}; "
              f"validation targets: {out['valid_tied_share']:.1%}")
    return out


if __name__ == "__main__":
    main()
