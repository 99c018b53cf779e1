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


SIGNIFICANCE = 0.05  # the level every verdict tests at


def paired_seed_test(reference, other):
    """Paired t-test over seeds: ``{seed: value}`` dicts; p-value or None (< 2 pairs)."""
    seeds = sorted(set(reference) & set(other))
    if len(seeds) < 2:
        return None
    a, b = [reference[s] for s in seeds], [other[s] for s in seeds]
    if np.allclose(a, b):
        return 1.0
    return float(stats.ttest_rel(a, b).pvalue)


def per_user_values(runs, part="per_user"):
    """Each user token's NDCG@10 in each of ``runs`` of one model: ``{user: [value, ...]}``;
    ``part="per_user_valid"``: on the validation targets."""
    values = {}
    for run in runs:
        for user, value in zip(run[part]["user"], run[part]["ndcg@10"]):
            values.setdefault(user, []).append(value)
    return values


def per_user_mean(runs, of=lambda ndcg: ndcg, part="per_user"):
    """Seed-averaged NDCG@10 (or ``of(NDCG@10)``) per user token over ``runs`` of one model.
    With one target per user, ``ndcg > 0`` is that user's Recall@10."""
    return {user: sum(of(v) for v in values) / len(values) for user, values in per_user_values(runs, part).items()}


def _valid_user_test(reference_runs, runs):
    """Wilcoxon p over validation users at the seeds where both sides kept their NDCG@10
    (runs stored before records kept it have none), and those seeds: ``(p, seeds)``,
    ``(None, [])`` where no seed has both. ``reference_runs`` and ``runs`` pair by position."""
    kept = [(a, b) for a, b in zip(reference_runs, runs)
            if "ndcg@10" in a.get("per_user_valid", {}) and "ndcg@10" in b.get("per_user_valid", {})]
    if not kept:
        return None, []
    return (paired_user_test(per_user_mean([a for a, _ in kept], part="per_user_valid"),
                             per_user_mean([b for _, b in kept], part="per_user_valid")),
            [b["seed"] for _, b in kept])


def paired_user_test(reference, other):
    """Wilcoxon signed-rank test over the users both evaluated; p-value or None."""
    users = sorted(set(reference) & set(other))
    a = np.array([reference[u] for u in users])
    b = np.array([other[u] for u in users])
    if len(users) < 10 or np.allclose(a, b):
        return None if len(users) < 10 else 1.0
    return float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)


def detectable_lead(reference_runs, other_runs, seeds=None, power=0.8, alpha=SIGNIFICANCE):
    """How large a lead of the reference over the other model the test over users can
    detect: ``{"users", "now", "at_seeds"}``, each lead an absolute NDCG@10 difference, or
    None (fewer than 10 common users).

    ``now``: the smallest mean lead that a two-sided paired test over the common test
    users finds at ``p < alpha`` with probability ``power``, given the spread of the
    users' seed-averaged differences (a normal approximation of the paired t-test: the
    verdict's Wilcoxon test may be more or less sensitive where many users' differences
    are zero, so the figure is a scale, not a threshold). ``at_seeds``: the same
    with ``seeds`` runs a side (None without ``seeds`` or while a side has one run). Each
    user's difference varies for two reasons: which target the user holds out (fixed) and
    each model's training randomness, whose per-user variance over a model's seeds
    shrinks with the number of seeds averaged; the fixed part is what is left of the
    observed variance once the seed parts at the seeds run are taken out.
    """
    ref, other = per_user_values(reference_runs), per_user_values(other_runs)
    users = sorted(set(ref) & set(other))
    if len(users) < 10:
        return None
    diffs = np.array([np.mean(ref[u]) - np.mean(other[u]) for u in users])
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    lead = lambda variance: float(z * math.sqrt(max(variance, 0.0) / len(users)))
    result = {"users": len(users), "now": lead(np.var(diffs, ddof=1)), "at_seeds": None}
    k_ref, k_other = len(reference_runs), len(other_runs)
    if seeds and min(k_ref, k_other) > 1:
        seed_var = [float(np.mean([np.var(side[u], ddof=1) for u in users])) for side in (ref, other)]
        fixed = np.var(diffs, ddof=1) - seed_var[0] / k_ref - seed_var[1] / k_other
        result["at_seeds"] = lead(max(fixed, 0.0) + (seed_var[0] + seed_var[1]) / seeds)
    return result


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


def breakdown_tests(reference_values, user_values, user_groups):
    """Wilcoxon p over each group's users (:func:`paired_user_test`) of ``user_values``
    against ``reference_values`` (both ``{user: value}``), keyed like :func:`breakdown`."""
    members = {}
    for user, group in user_groups.items():
        members.setdefault(group, []).append(user)
    return {g: paired_user_test({u: reference_values[u] for u in users if u in reference_values},
                                {u: user_values[u] for u in users if u in user_values})
            for g, users in members.items()}


def format_p(value):
    """A p-value for a table: ``n/a`` when untested; a Wilcoxon p-value below the float
    range underflows to 0, which is said rather than printed as "0"."""
    if value is None:
        return "n/a"
    return "< 1e-300" if value == 0 else f"{value:.3g}"


# the ways a test user is grouped by its target or its history (every table uses these)
GROUPINGS = ("popularity", "train interactions", "history length", "cold")


def target_groups(record, by):
    """``{user: group}`` of one run ``record`` (with per-user targets), ``by`` one of
    :data:`GROUPINGS`: the target's head/torso/tail share of training interactions, its
    number of training interactions (:data:`TARGET_COUNT_BUCKETS`), the user's history
    length (the whole history where the record has it, else the model's window), or
    whether the target was held out of training (``cold``/``warm``; {} without the
    cold-item protocol)."""
    users = record["per_user"]
    if by == "history length":
        lengths = users.get("history_length_full", users["history_length"])
        return {u: history_bucket(n) for u, n in zip(users["user"], lengths)}
    if by == "cold":
        cold = set(record.get("cold_items") or ())
        return {u: "cold" if t in cold else "warm" for u, t in zip(users["user"], users["target"])} if cold else {}
    counts = record["train_item_counts"]
    if by == "popularity":
        buckets = popularity_bucket_of_items(counts)
        return {u: buckets.get(t, "tail") for u, t in zip(users["user"], users["target"])}
    if by == "train interactions":
        return {u: range_bucket(counts.get(t, 0), TARGET_COUNT_BUCKETS) for u, t in zip(users["user"], users["target"])}
    raise ValueError(f"target_groups: by must be one of {GROUPINGS}, got {by!r}")


def group_order(by):
    """The groups of :func:`target_groups` ``by``, in table order."""
    if by == "history length":
        return [history_bucket(low) for low, _ in HISTORY_BUCKETS]
    if by == "popularity":
        return [name for name, _ in POPULARITY_BUCKETS]
    if by == "train interactions":
        return [range_bucket(low, TARGET_COUNT_BUCKETS) for low, _ in TARGET_COUNT_BUCKETS]
    return ["cold", "warm"]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def variants_against_reference(runs, reference, variants, valid_score):
    """For each name in ``variants`` with seeds in common with ``reference`` (runs of one
    dataset): the seeds, mean validation (``valid_score(record)``) and test NDCG@10 of both,
    the change on test and the Wilcoxon p over test users (``p users``), at the seeds both
    ran, and over validation users (``p valid users``, at the seeds ``valid user seeds`` where
    both kept them; None at none); with the runs of each side (``runs``, ``reference runs``)
    for breakdowns."""
    ref = {r["seed"]: r for r in runs if r["name"] == reference}
    rows = []
    for name in variants:
        mine = {r["seed"]: r for r in runs if r["name"] == name and r["seed"] in ref}
        if not mine:
            continue
        seeds = sorted(mine)
        lever, base = [mine[s] for s in seeds], [ref[s] for s in seeds]
        p_valid, valid_seeds = _valid_user_test(base, lever)
        test, test_ref = _mean([r["test"]["ndcg@10"] for r in lever]), _mean([r["test"]["ndcg@10"] for r in base])
        rows.append({"name": name, "seeds": seeds, "runs": lever, "reference runs": base,
                     "valid": _mean([valid_score(r) for r in lever]),
                     "valid ref": _mean([valid_score(r) for r in base]),
                     "test": test, "test ref": test_ref, "change": (test - test_ref) / test_ref,
                     "p users": paired_user_test(per_user_mean(base), per_user_mean(lever)),
                     "p valid users": p_valid, "valid user seeds": valid_seeds})
    return rows
