"""Every lever tried on the reference model, across suites, from the stored runs: the report's
lever mode.

    python -m recbole_hier.benchmark --levers results/levers.md [--suite SUITE] [--results results]

A lever is a suite row that runs the reference model (HierRec) with other settings. For each
one and each dataset it prints, at the seeds both ran: validation and test NDCG@10 of the
lever and of the reference, the Wilcoxon p over validation users (what a lever is decided
on, with the validation means; blank for runs stored before records kept each validation
user's NDCG@10), whether the lever wins on validation by the rule that decides it
(:func:`wins_on_validation`), the relative change on validation and on test, the Wilcoxon p
over test users, and test NDCG@10 on targets with 0-4 and 5-9 training interactions and, under the cold-item protocol,
on cold targets. Suites default to every ``properties/benchmark/*.yaml``. Written to the ``--levers`` file, the
table replaces the file's table and keeps its notes from the heading ``RETIRED`` on (the
switches taken out of the package, whose rows left the suites with them).
"""

import glob
import os

from recbole_hier.benchmark import stats
from recbole_hier.benchmark.plan import Plan, validation_score
from recbole_hier.benchmark.store import RunStore
from recbole_hier.files import write_text

RETIRED = "## Retired switches"
HEADER = ("| suite | dataset | lever | seeds | valid | valid ref | valid change | p valid users | wins on valid "
          "| test | test ref "
          "| change | p users | test 0-4 | ref 0-4 | test 5-9 | ref 5-9 | test cold | ref cold |")


def _groups(record):
    """User -> ``cold`` for held-out targets, else the target's training interactions bucket."""
    return {**stats.target_groups(record, "train interactions"),
            **{u: g for u, g in stats.target_groups(record, "cold").items() if g == "cold"}}


def lever_rows(plan, store):
    """One dict per (dataset, lever) with at least one seed in common with the reference."""
    seeded, _ = plan.stored(store)
    runs = [r for _, r in seeded]
    rows = []
    for dataset in plan.datasets:
        here = [r for r in runs if r["dataset"] == dataset]
        for found in stats.variants_against_reference(here, plan.reference, plan.variants(plan.reference),
                                                      validation_score):
            groups = _groups(found["reference runs"][0])
            parts = [stats.breakdown(stats.per_user_mean(found[side]), groups) for side in ("runs", "reference runs")]
            row = {"suite": plan.name, "dataset": dataset, "lever": found["name"],
                   "config": plan.models[found["name"]].get("config") or {},
                   **{k: found[k] for k in ("seeds", "valid", "valid ref", "p valid users", "valid user seeds",
                                              "test", "test ref", "p users")}}
            for group in ("0-4", "5-9", "cold"):
                row[f"test {group}"], row[f"ref {group}"] = (p[group][0] if group in p else None for p in parts)
            rows.append(row)
    return rows


def _cell(value):
    return "" if value is None else f"{value:.4f}"


def _change(value, reference):
    """The relative change of ``value`` over ``reference``, blank where either is unknown."""
    return "" if value is None or not reference else f"{(value - reference) / reference:+.1%}"


def _valid_users_cell(row):
    """p over validation users, naming its seeds where they are fewer than the row's (runs
    stored before records kept validation users have none)."""
    p = stats.format_p(row["p valid users"])
    seeds = row["valid user seeds"]
    return p if not seeds or seeds == row["seeds"] else f"{p} ({','.join(map(str, seeds))})"


def wins_on_validation(row):
    """The rule a lever is kept by: ``yes`` where its validation mean is above the reference's
    and the test over validation users is below :data:`stats.SIGNIFICANCE`, ``untested`` where
    the mean is above but no seed kept validation users, else ``no``. Test figures never enter."""
    if row["valid"] is None or row["valid ref"] is None or row["valid"] <= row["valid ref"]:
        return "no"
    if row["p valid users"] is None:
        return "untested"
    return "yes" if row["p valid users"] < stats.SIGNIFICANCE else "no"


def markdown(rows):
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for r in rows:
        settings = ", ".join(f"{k}: {v}" for k, v in r["config"].items())
        cells = [r["suite"], r["dataset"], f"{r['lever']} ({settings})" if settings else r["lever"],
                 ",".join(map(str, r["seeds"])), _cell(r["valid"]), _cell(r["valid ref"]),
                 _change(r["valid"], r["valid ref"]), _valid_users_cell(r), wins_on_validation(r),
                 _cell(r["test"]), _cell(r["test ref"]), _change(r["test"], r["test ref"]),
                 stats.format_p(r["p users"])]
        cells += [_cell(r[f"{side} {g}"]) for g in ("0-4", "5-9", "cold") for side in ("test", "ref")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_levers(suites, results, out=None):
    """The lever table of ``suites`` (default: every ``properties/benchmark/*.yaml``), printed and,
    with ``out``, written there (keeping its notes from :data:`RETIRED` on); returns its rows."""
    rows = []
    for path in suites or sorted(glob.glob(os.path.join("properties", "benchmark", "*.yaml"))):
        plan = Plan.load(path)
        if plan.reference:
            rows += lever_rows(plan, RunStore(os.path.join(results, plan.name, "runs")))
    table = markdown(rows)
    print(table, end="")
    if out:
        kept = ""
        if os.path.isfile(out):
            with open(out, encoding="utf-8") as f:
                old = f.read()
            kept = "\n" + old[old.index(RETIRED):] if RETIRED in old else ""
        write_text(out, table + kept)
    return rows
