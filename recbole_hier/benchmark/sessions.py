"""How many sessions a history window holds: the evidence for segmenting histories by time gaps.

    python -m recbole_hier.benchmark.sessions [--dataset ml-latest-small] [--gaps 1800,86400]
        [--units_per_second 1] [--key=value ...]

A lever for long histories is to split a history where consecutive interactions are more
than a gap apart, so the BiLSTM runs within sessions and the TCN across them. It can only
change what the model reads where a window holds several sessions. So, for each user's
test-time window (the last ``MAX_ITEM_LIST_LENGTH`` interactions before the test target,
after the dataset's filtering), this prints, per gap: sessions per window (mean and
median), the share of windows that are one session, and the mean session length. Also the
quantiles of the gaps between a user's consecutive interactions. Timestamps are read in the
dataset's unit: ``--units_per_second 1000`` for millisecond timestamps (lastfm).
"""

import argparse

import numpy as np

from recbole_hier.benchmark.cli import parse_with_overrides
from recbole_hier.benchmark.histories import load


def _windows(users, times, window):
    """Each user's last ``window`` interactions before the last one, sorted by user then time:
    ``(users, times)``. Inputs are one entry per interaction, in any order; ties keep it."""
    order = np.lexsort((times, users))
    users, times = users[order], times[order]
    last = np.r_[users[1:] != users[:-1], True]  # each user's test target
    ends = np.flatnonzero(last)  # index of each user's target
    starts = np.r_[0, ends[:-1] + 1]
    first_kept = np.maximum(starts, ends - window)
    keep = ~last & (np.arange(len(users)) >= np.repeat(first_kept, ends - starts + 1))
    return users[keep], times[keep]


def _split(users, times, gap):
    """Sessions of sorted windows: ``(sessions per user [U], session lengths [S])``."""
    new_user = np.r_[True, users[1:] != users[:-1]]
    boundary = new_user | np.r_[False, np.diff(times) > gap]
    lengths = np.bincount(np.cumsum(boundary) - 1)
    sessions = np.bincount(np.cumsum(new_user) - 1, weights=boundary).astype(int)
    return sessions, lengths


def window_sessions(users, times, window, gap):
    """Per user (sorted by user token id), the number of sessions and their lengths in the last
    ``window`` interactions before the last one: ``(sessions [U], lengths [S])``. ``users`` and
    ``times`` are one entry per interaction, in any order; ties keep their given order."""
    return _split(*_windows(users, times, window), gap)


def measure(users, times, window, gaps):
    """The figures the module docstring lists, as a dict (``gaps`` in the timestamps' unit)."""
    order = np.lexsort((times, users))
    u, t = users[order], times[order]
    steps = np.diff(t)[u[1:] == u[:-1]]
    windows = _windows(users, times, window)  # once; each gap only splits them
    rows = []
    for gap in gaps:
        sessions, lengths = _split(*windows, gap)
        rows.append({"gap": gap, "mean": float(sessions.mean()), "median": float(np.median(sessions)),
                     "one_session": float((sessions == 1).mean()), "mean_length": float(lengths.mean())})
    quantiles = (0.5, 0.75, 0.9, 0.95, 0.99)
    return {"users": int(len(np.unique(users))), "window": window,
            "gap_quantiles": dict(zip(quantiles, np.quantile(steps, quantiles).tolist())), "rows": rows}


def _interactions(dataset_name, overrides):
    # timestamps as in the file (RecBole's normalize_all would scale them into [0, 1])
    dataset = load(dataset_name, overrides, {"normalize_all": False})
    if dataset.time_field is None or dataset.time_field not in dataset.inter_feat:
        raise ValueError(f"{dataset_name}: no timestamp field is loaded (TIME_FIELD "
                         f"{dataset.config['TIME_FIELD']!r}); add it to load_col.inter")
    feat = dataset.inter_feat
    return (feat[dataset.uid_field].to_numpy(), feat[dataset.time_field].to_numpy().astype(np.float64),
            dataset.config["MAX_ITEM_LIST_LENGTH"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--gaps", default="1800,21600,86400,604800", help="comma-separated gaps in seconds")
    parser.add_argument("--units_per_second", type=float, default=1.0,
                        help="timestamp units per second (1000 for milliseconds)")
    args, overrides = parse_with_overrides(parser, argv)
    try:
        seconds = [float(g) for g in args.gaps.split(",")]
    except ValueError:
        parser.error(f"--gaps {args.gaps!r}: expected comma-separated seconds, e.g. 1800,86400")
    if args.units_per_second <= 0 or any(g < 0 for g in seconds):
        parser.error("--units_per_second must be positive and --gaps non-negative")
    users, times, window = _interactions(args.dataset, overrides)
    out = measure(users, times / args.units_per_second, window, seconds)
    print(f"{args.dataset}: {out['users']} users, test-time windows of at most {window} interactions")
    print("gap between a user's consecutive interactions, quantiles (s): "
          + ", ".join(f"{q:.0%} {v:,.0f}" for q, v in out["gap_quantiles"].items()))
    print("| gap (s) | sessions per window, mean | median | windows of one session | mean session length |")
    print("|---|---|---|---|---|")
    for row in out["rows"]:
        print(f"| {row['gap']:,.0f} | {row['mean']:.2f} | {row['median']:.0f} | {row['one_session']:.1%} "
              f"| {row['mean_length']:.1f} |")
    return out


if __name__ == "__main__":
    main()
