"""Run a benchmark suite and write its leaderboard.

    python -m recbole_hier.benchmark --suite properties/benchmark/cpu.yaml [--results results]
        [--only DATASET[,DATASET]] [--models NAME[,NAME]] [--seeds SEED[,SEED]] [--hours H] [--jobs N]
        [--report_only] [--keep_checkpoints DIR]
    python -m recbole_hier.benchmark --levers results/levers.md [--suite SUITE]
    python -m recbole_hier.benchmark --suite SUITE --stamp_inherited   # before changing a default
    python -m recbole_hier.benchmark --suite SUITE --rename_model OLD=NEW [--rename_model ...]

Runs are stored one file each under ``<results>/<suite name>/runs/``; a rerun skips
the finished ones, and a run stopped part-way continues from its last validation
(``<key>.progress/last.pth``, small enough to commit: a fresh checkout resumes too),
so an interrupted suite resumes. ``--hours H`` stops the suite at the first validation
after H hours, its progress saved (exit code 3: rerun the same command to go on). The
leaderboard (``leaderboard.md/.csv/.json/.png``) is rewritten from all finished runs after
every run. A finished run's progress, its
best checkpoint included, is deleted unless ``--keep_checkpoints DIR`` keeps that
checkpoint as ``DIR/<key>.pth`` (``--recommend`` and ``rescore.score_checkpoint`` read it).
A suite model's ``rescore`` grid is scored on its best checkpoint before that is deleted,
and the setting its rule chooses on validation is printed (``benchmark/rescore.py``).
``--levers FILE`` writes the table of every lever tried on a suite's reference model
(all suites unless ``--suite`` names one) and runs nothing. ``--stamp_inherited`` gives
the suite's runs stored before runs kept the defaults and presets they inherited today's
(``RunStore.stamp_inherited``; run it before changing a default) and runs nothing.
``--rename_model OLD=NEW`` (in the order given) moves the suite's stored runs of model OLD
to the name NEW (``RunStore.rename_model``): when a lever becomes a default, the runs
trained under the former default keep their figures under the model that now pins it.
"""

import argparse
import os
import sys
import time

from recbole_hier.benchmark.levers import write_levers
from recbole_hier.benchmark.plan import Plan, SuiteError
from recbole_hier.benchmark.report import write_all
from recbole_hier.benchmark.runner import PlanExecution
from recbole_hier.benchmark.store import RunStore


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default=None, help="suite file (required unless --levers)")
    parser.add_argument("--results", default="results")
    parser.add_argument("--only", default=None, help="comma-separated datasets to run")
    parser.add_argument("--models", default=None,
                        help="comma-separated suite model names to run (e.g. the ablations first); "
                             "the leaderboard still covers every finished run")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated suite seeds to run (e.g. one seed of a slow dataset first); "
                             "grid runs always run, and the leaderboard still covers every finished run")
    parser.add_argument("--hours", type=float, default=None,
                        help="pause at the first validation after this many hours (progress saved; "
                             "rerun to resume); exit code 3 when it did")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time (each in its own process; e.g. several runs sharing one GPU; "
                             "the CPU cores are split between them unless OMP_NUM_THREADS is set). "
                             "Above 1, every selected model's grid runs of a dataset go first, then their "
                             "seeded runs; at 1, model by model in suite order")
    parser.add_argument("--report_only", action="store_true", help="rewrite the leaderboard, run nothing")
    parser.add_argument("--keep_checkpoints", default=None, metavar="DIR",
                        help="keep each finished run's best-validation checkpoint as DIR/<key>.pth "
                             "(default: deleted with its progress)")
    parser.add_argument("--levers", default=None, metavar="FILE",
                        help="write the lever table (every variant of a suite's reference model against it) "
                             "to FILE and run nothing; all suites unless --suite")
    parser.add_argument("--stamp_inherited", action="store_true",
                        help="give the suite's runs stored before runs kept the defaults and presets they "
                             "inherited today's (run it before changing a default) and run nothing")
    parser.add_argument("--rename_model", action="append", default=[], metavar="OLD=NEW",
                        help="move the suite's stored runs of model OLD to the name NEW (repeatable, in order) "
                             "and run nothing")
    args = parser.parse_args(argv)
    for pair in args.rename_model:
        if pair.count("=") != 1 or not all(pair.split("=")) or "__" in pair or "@" in pair:
            parser.error(f"--rename_model takes OLD=NEW, two suite model names, got {pair!r}")
    if args.suite is None and args.levers is None:
        parser.error("--suite is required (or --levers FILE)")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.levers is not None:
        write_levers([args.suite] if args.suite else [], args.results, args.levers)
        return 0
    plan = Plan.load(args.suite)
    try:
        datasets = plan.select(plan.datasets, args.only, "--only", "datasets")
        models = plan.select(plan.models, args.models, "--models", "models")
        seeds = plan.select_seeds(args.seeds)
    except SuiteError as error:
        raise SystemExit(str(error)) from None
    out_dir = os.path.join(args.results, plan.name)
    store = RunStore(os.path.join(out_dir, "runs"), args.keep_checkpoints)
    if args.stamp_inherited:
        stamped = store.stamp_inherited(plan)
        print(f"stamped {len(stamped)} run(s) with today's defaults and presets" + (": " + ", ".join(stamped)
                                                                                  if stamped else ""))
        return 0
    if args.rename_model:
        for pair in args.rename_model:
            old, new = pair.split("=")
            try:
                moved = store.rename_model(old, new)
            except ValueError as error:
                raise SystemExit(str(error)) from None
            print(f"{old} -> {new}: {len(moved)} run(s)" + "".join(f"\n  {a} -> {b}" for a, b in moved))
        return 0
    deadline = time.time() + args.hours * 3600 if args.hours is not None else None
    execution = PlanExecution(plan, store, args.jobs, deadline, on_stored=lambda: write_all(plan, store, out_dir))
    if not args.report_only:
        execution.run(datasets, models, seeds)
    paths = write_all(plan, store, out_dir)
    print("leaderboard: " + ", ".join(paths.values()) if paths else "no finished runs yet")
    todo = plan.todo(store, datasets, models, seeds)
    if todo:
        more = f", ... ({len(todo) - 5} more)" if len(todo) > 5 else ""
        print(f"{len(todo)} run(s) still to do: {', '.join(todo[:5])}{more}", flush=True)
    unfinished = store.part_way()
    if unfinished:
        print("part-way (a rerun continues them from their saved progress): " + ", ".join(unfinished), flush=True)
    if execution.paused:
        print(f"stopped at the --hours limit ({args.hours} h); rerun the same command to resume", flush=True)
    if execution.failures:
        print(f"{len(execution.failures)} run(s) failed or were skipped: {', '.join(execution.failures)}",
              file=sys.stderr)
        return 1
    return 3 if execution.paused else 0


if __name__ == "__main__":
    sys.exit(main())
