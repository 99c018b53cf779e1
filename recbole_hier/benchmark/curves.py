"""How far a run's kept checkpoint stands above its own validation curve.

    python -m recbole_hier.benchmark.curves --suite long [--results results] [--only DATASET[,...]]
        [--models NAME[,...]] [--window 5] [--cap 40] [--patience 5]

Early stopping keeps the checkpoint of the highest validation score, so a curve that moves a
lot from one validation to the next is kept at one of its peaks: a figure of selection noise,
not of the model. From the validation curves that run records keep (``valid_scores``:
``[epoch, score]`` at each validation), this prints per finished run with more than two
validations: the best validation and its epoch; the median of the validations within
``--window`` of it (the curve's level there, which one lucky validation does not move); the
spike (best minus that median); the standard deviation of the change from one validation to
the next over the curve's last two thirds; the best validation within the first ``--cap``
epochs (what a shorter epoch cap would have kept) and the one early stopping would have kept
with a patience of ``--patience`` validations (n/a where the curve starts at a resume); the
longest wait, the most validations the curve went without a new best before one came (RecBole's
rule: a score equal to the best counts as one), where a wait close to the run's patience says
that a longer patience could have kept a later checkpoint; and the kept checkpoint's test
NDCG@10. Then the mean of each column per model. Runs whose records predate the curves are
named and left out.
"""

import argparse
import os

import numpy as np
from recbole.utils import early_stopping

from recbole_hier.benchmark.store import RunStore

COLUMNS = ("best", "best epoch", "level", "spike", "step sd", "best by cap", "best by patience", "longest wait",
           "test")


def curve_figures(valid_scores, window=5, cap=40, patience=5):
    """The figures of the module docstring for one curve ``[[epoch, score], ...]`` (epochs
    0-based), as a dict; ``window`` counts validations each side of the best one."""
    epochs = np.array([e for e, _ in valid_scores])
    scores = np.array([s for _, s in valid_scores], dtype=float)
    best = len(scores) - 1 - int(scores[::-1].argmax())  # the last of equal maxima, as RecBole keeps it
    around = scores[max(0, best - window): best + window + 1]
    late = scores[len(scores) // 3:]
    early = scores[epochs < cap]
    return {
        "best": float(scores[best]),
        "best epoch": int(epochs[best]),
        "level": float(np.median(around)),
        "spike": float(scores[best] - np.median(around)),
        "step sd": float(np.diff(late).std()) if len(late) > 2 else float("nan"),
        # a curve that starts at a resume does not know the epochs before it
        "best by cap": float(early.max()) if len(early) and epochs[0] == 0 else float("nan"),
        "best by patience": _early_stopped(scores, patience) if epochs[0] == 0 else float("nan"),
        "longest wait": _longest_wait(scores),
    }


def _longest_wait(scores):
    """The most validations between one new best and the next, by RecBole's own rule (as
    :func:`_early_stopped`); 0 where no later validation made a new best."""
    best, since, longest = scores[0], 0, 0
    for score in scores[1:]:
        missed = since
        best, since, _, new_best = early_stopping(score, best, since, max_step=len(scores))
        if new_best:
            longest = max(longest, missed + 1)
    return longest


def _early_stopped(scores, patience):
    """The best score early stopping would keep had it stopped after ``patience`` validations
    without a new best (RecBole's own rule, which counts a score equal to the best as one)."""
    best, since = scores[0], 0
    for score in scores[1:]:
        best, since, stop, _ = early_stopping(score, best, since, max_step=patience)
        if stop:
            break
    return float(best)


def load_runs(runs_dir, datasets=None, models=None):
    """Finished run records of a suite's ``runs_dir``, optionally of some datasets and models,
    sorted by dataset, model and seed (tuning runs, named ``model@key=value``, left out)."""
    store = RunStore(runs_dir)
    keys = sorted(name[: -len(".json")] for name in os.listdir(runs_dir) if name.endswith(".json"))
    runs = [store.load(key) for key in keys if "@" not in key]
    return sorted((r for r in runs if (not datasets or r["dataset"] in datasets)
                   and (not models or r["name"] in models)),
                  key=lambda r: (r["dataset"], r["name"], r["seed"]))


def table(runs, window=5, cap=40, patience=5):
    """``(lines, runs without a curve)``: a markdown table of each run with a curve, then
    the per-model means."""
    head = "| dataset | model | seed | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (3 + len(COLUMNS))]
    by_model, missing = {}, []
    for run in runs:
        key = f"{run['dataset']}__{run['name']}__{run['seed']}"
        curve = run.get("valid_scores")
        if not curve or max(s for _, s in curve) < run["best_valid"][run["valid_metric"].lower()] - 1e-4:
            missing.append(key)  # no curve, or one that starts at a resume after the kept best
            continue
        if len(curve) < 3:
            continue  # a model without training (Pop) validates once: nothing to select from
        row = {**curve_figures(curve, window, cap, patience), "test": run["test"]["ndcg@10"]}
        by_model.setdefault((run["dataset"], run["name"]), []).append(row)
        lines.append(f"| {run['dataset']} | {run['name']} | {run['seed']} | "
                     + " | ".join(_cell(row[c], c) for c in COLUMNS) + " |")
    for (dataset, name), rows in sorted(by_model.items()):
        means = {c: _mean([r[c] for r in rows]) for c in COLUMNS}
        lines.append(f"| {dataset} | **{name}** | mean of {len(rows)} | "
                     + " | ".join(_cell(means[c], c) for c in COLUMNS) + " |")
    return lines, missing


def _mean(values):
    known = [v for v in values if not np.isnan(v)]
    return float(np.mean(known)) if known else float("nan")


def _cell(value, column):
    if np.isnan(value):
        return "n/a"
    return f"{value:.1f}" if column in ("best epoch", "longest wait") else f"{value:.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True, help="suite name (the folder under --results)")
    parser.add_argument("--results", default="results")
    parser.add_argument("--only", default=None, help="comma-separated datasets")
    parser.add_argument("--models", default=None, help="comma-separated suite model names")
    parser.add_argument("--window", type=int, default=5, help="validations each side of the best one")
    parser.add_argument("--cap", type=int, default=40, help="epoch cap for the 'best by cap' column")
    parser.add_argument("--patience", type=int, default=5, help="patience for the 'best by patience' column")
    args = parser.parse_args(argv)
    runs_dir = os.path.join(args.results, args.suite, "runs")
    if not os.path.isdir(runs_dir):
        parser.error(f"no runs folder {runs_dir!r}: --suite names a folder under --results (e.g. long)")
    split = (lambda text: set(text.split(",")) if text else None)
    runs = load_runs(runs_dir, split(args.only), split(args.models))
    lines, missing = table(runs, args.window, args.cap, args.patience)
    print("\n".join(lines))
    if missing:
        print(f"\nno curve holding the kept checkpoint (stored before records kept curves, or resumed from "
              f"such progress after the best): {', '.join(missing)}")


if __name__ == "__main__":
    main()
