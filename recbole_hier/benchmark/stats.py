"""Statistics for the leaderboard: seed summaries, paired tests and breakdowns."""

import math

import numpy as np
from scipy import stats

POPULARITY_BUCKETS = (("head", 0.2), ("torso", 0.5), ("tail", 1.0))  # cumulative item share
# short histories split finely (Amazon's median user has 6), long ones up to movie-rating lengths
HISTORY_BUCKETS = ((1, 5), (6, 10), (11, 20), (21, 50), (51, 100), (101, 10**9))
# Finer than head/torso/tail, in absolute counts, so datasets compare: where along the
# long tail a model gains or loses.
TARGET_COUNT_BUCKETS = ((0, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, 10**9))


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return float("nan"), float("nan")
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def paired_seed_test(reference, other):
    """Paired t-test over seeds: ``{seed: value}`` dicts; p-value or None (< 2 pairs)."""
    seeds = sorted(set(reference) & set(other))
    if len(seeds) < 2:
        return None
    a, b = [reference[s] for s in seeds], [other[s] for s in seeds]
    if np.allclose(a, b):
        return 1.0
    return float(stats.ttest_rel(a, b).pvalue)


def per_user_mean(runs, of=lambda ndcg: ndcg):
    """Seed-averaged NDCG@10 (or ``of(NDCG@10)``) per user token over ``runs`` of one model.
    With one target per user, ``ndcg > 0`` is that user's Recall@10."""
    total, count = {}, {}
    for run in runs:
        for user, value in zip(run["per_user"]["user"], run["per_user"]["ndcg@10"]):
            total[user] = total.get(user, 0.0) + of(value)
            count[user] = count.get(user, 0) + 1
    return {u: total[u] / count[u] for u in total}


def paired_user_test(reference, other):
    """Wilcoxon signed-rank test over the users both evaluated; p-value or None."""
    users = sorted(set(reference) & set(other))
    a = np.array([reference[u] for u in users])
    b = np.array([other[u] for u in users])
    if len(users) < 10 or np.allclose(a, b):
        return None if len(users) < 10 else 1.0
    return float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)


def popularity_bucket_of_items(train_item_counts):
    """item token -> head / torso / tail by training interactions (most popular 20% of
    items = head, next 30% = torso, the rest and unseen items = tail)."""
    ranked = sorted(train_item_counts, key=lambda item: -train_item_counts[item])
    buckets, start = {}, 0
    for name, share in POPULARITY_BUCKETS:
        end = math.ceil(share * len(ranked))
        for item in ranked[start:end]:
            buckets[item] = name
        start = end
    return buckets


def range_bucket(value, buckets):
    """Label of the inclusive ``(low, high)`` range holding ``value`` ("low+" for the
    open last one); ``None`` when no range holds it."""
    for low, high in buckets:
        if low <= value <= high:
            return f"{low}-{high}" if high < 10**9 else f"{low}+"
    return None


def history_bucket(length):
    return range_bucket(length, HISTORY_BUCKETS) or "0"


def breakdown(user_values, user_groups):
    """Mean of ``user_values`` per group of ``user_groups`` (both keyed by user)."""
    sums, counts = {}, {}
    for user, group in user_groups.items():
        if user in user_values:
            sums[group] = sums.get(group, 0.0) + user_values[user]
            counts[group] = counts.get(group, 0) + 1
    return {g: (sums[g] / counts[g], counts[g]) for g in sums}
