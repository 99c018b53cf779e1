"""Run a benchmark suite and write its leaderboard.

    python -m recbole_hier.benchmark --suite properties/benchmark/cpu.yaml [--results results]
        [--only DATASET[,DATASET]] [--report_only]

Runs are stored one file each under ``<results>/<suite name>/runs/``; a rerun skips
the finished ones, so an interrupted suite resumes. The leaderboard
(``leaderboard.md/.csv/.json/.png``) is rewritten from all finished runs after every run.
"""

import argparse
import json
import os
import sys
import time

from recbole_hier.benchmark.report import write_all
from recbole_hier.benchmark.runner import run_one
from recbole_hier.benchmark.suite import expand, load_suite


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True)
    parser.add_argument("--results", default="results")
    parser.add_argument("--only", default=None, help="comma-separated datasets to run")
    parser.add_argument("--report_only", action="store_true", help="rewrite the leaderboard, run nothing")
    args = parser.parse_args(argv)
    suite = load_suite(args.suite)
    out_dir = os.path.join(args.results, suite["name"])
    runs_dir = os.path.join(out_dir, "runs")
    specs = expand(suite)
    if args.only:
        specs = [s for s in specs if s.dataset in args.only.split(",")]
    failures = []
    for number, spec in enumerate(specs, 1):
        if args.report_only:
            break
        start = time.time()
        path, status = run_one(spec, runs_dir)
        print(f"[{number}/{len(specs)}] {spec.key}: {status} ({time.time() - start:.0f} s)", flush=True)
        if status.startswith("failed"):
            failures.append(spec.key)
        elif status == "ran":
            _report(suite, specs, runs_dir, out_dir)
    paths = _report(suite, specs, runs_dir, out_dir)
    print("leaderboard: " + ", ".join(paths.values()) if paths else "no finished runs yet")
    if failures:
        print(f"{len(failures)} run(s) failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def _report(suite, specs, runs_dir, out_dir):
    runs = []
    for spec in specs:
        path = os.path.join(runs_dir, spec.key + ".json")
        if os.path.exists(path):
            with open(path) as f:
                runs.append(json.load(f))
    return write_all(suite, runs, out_dir) if runs else {}


if __name__ == "__main__":
    sys.exit(main())
