"""Run a benchmark suite and write its leaderboard.

    python -m recbole_hier.benchmark --suite properties/benchmark/cpu.yaml [--results results]
        [--only DATASET[,DATASET]] [--models NAME[,NAME]] [--hours H] [--jobs N] [--report_only]

Runs are stored one file each under ``<results>/<suite name>/runs/``; a rerun skips
the finished ones, and a run stopped part-way continues from its last validation
(``<key>.progress/``), so an interrupted suite resumes. ``--hours H`` stops the suite
at the first validation after H hours, its progress saved (exit code 3: rerun the
same command to go on). The leaderboard
(``leaderboard.md/.csv/.json/.png``) is rewritten from all finished runs after every run.
"""

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from recbole_hier.benchmark import suite as suites
from recbole_hier.benchmark import tuning
from recbole_hier.benchmark.report import write_all
from recbole_hier.benchmark.runner import load_current, load_run, part_way_runs, run_one, threads_per_run


@contextlib.contextmanager
def _sigterm_as_exit():
    """While a suite runs, SIGTERM raises SystemExit, so the run in progress is stopped
    with the runner (see ``run_one``) instead of training on as an orphan."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    with _sigterm_as_exit():
        return _main(argv)


def _main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", required=True)
    parser.add_argument("--results", default="results")
    parser.add_argument("--only", default=None, help="comma-separated datasets to run")
    parser.add_argument("--models", default=None,
                        help="comma-separated suite model names to run (e.g. the ablations first); "
                             "the leaderboard still covers every finished run")
    parser.add_argument("--hours", type=float, default=None,
                        help="pause at the first validation after this many hours (progress saved; "
                             "rerun to resume); exit code 3 when it did")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at a time (each in its own process; e.g. several runs sharing one GPU; "
                             "the CPU cores are split between them unless OMP_NUM_THREADS is set). "
                             "Above 1, every selected model's grid runs of a dataset go first, then their "
                             "seeded runs; at 1, model by model in suite order")
    parser.add_argument("--report_only", action="store_true", help="rewrite the leaderboard, run nothing")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    suite = suites.load_suite(args.suite)
    out_dir = os.path.join(args.results, suite["name"])
    runs_dir = os.path.join(out_dir, "runs")
    datasets = _pick(suite["datasets"], args.only, "--only", "datasets")
    models = _pick(suite["models"], args.models, "--models", "models")
    total = sum(len(suites.tuning_runs(suite, d, n)) + len(suites.main_runs(suite, d, n))
                for d in datasets for n in models)
    failures, number, paused = [], 0, False
    deadline = time.time() + args.hours * 3600 if args.hours is not None else None
    lock = threading.Lock()  # --jobs threads share the counters and the leaderboard
    live = set()  # processes of the runs in progress
    threads = threads_per_run(args.jobs)  # the runs at once share the cores
    stopping = threading.Event()  # set when the runner is stopped: start no more runs

    def execute(spec, reuse=None):
        nonlocal number, paused
        with lock:
            number += 1
            if stopping.is_set():
                return
            if paused or (deadline is not None and time.time() >= deadline and load_run(runs_dir, spec.key) is None):
                paused = True
                return
        start = time.time()
        _, status = run_one(spec, runs_dir, reuse, deadline, live, threads)
        with lock:
            print(f"[{number}/{total}] {spec.key}: {status} ({time.time() - start:.0f} s)", flush=True)
            if status.startswith("paused"):
                paused = True
            elif status.startswith("failed"):
                failures.append(spec.key)
            elif status != "done before":
                _report(suite, runs_dir, out_dir)

    def seeded(dataset, name):
        """(spec, reuse) for ``name``'s seeded runs at its chosen grid point; [] if its tuning is unfinished."""
        nonlocal number
        specs = suites.main_runs(suite, dataset, name)
        if not specs:
            return []
        try:
            point = chosen_point(suite, runs_dir, dataset, name)
        except LookupError as error:
            number += len(specs)
            if not paused:  # a paused tuning is not a broken one
                print(f"skipped {dataset}/{name}: its tuning is not finished ({error})", flush=True)
                failures.extend(s.key for s in specs)
            return []
        pairs = []
        for spec in suites.main_runs(suite, dataset, name, point):
            reuse = None
            if point and spec.seed == suite["tuning"]["seed"] and suites.tuning_runs(suite, dataset, name):
                reuse = f"{dataset}__{tuning.run_name(name, point)}__{spec.seed}"
            pairs.append((spec, reuse))
        return pairs

    with ThreadPoolExecutor(args.jobs) as pool:
        def run_all(pairs):
            if args.jobs == 1:  # in the main thread, where SIGTERM stops the run directly
                for pair in pairs:
                    execute(*pair)
                return
            futures = [pool.submit(execute, *pair) for pair in pairs]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                # SIGTERM or a broken run: start nothing more, stop the runs in progress
                # (again until every thread is done: one may be starting its process now)
                stopping.set()
                for future in futures:
                    future.cancel()
                while not all(future.done() for future in futures):
                    for process in tuple(live):
                        process.terminate()
                    time.sleep(0.2)
                raise

        for dataset in datasets if not args.report_only else []:
            batches = [models] if args.jobs > 1 else [[name] for name in models]
            for batch in batches:
                run_all([(spec, None) for name in batch for spec in suites.tuning_runs(suite, dataset, name)])
                run_all([pair for name in batch for pair in seeded(dataset, name)])
    paths = _report(suite, runs_dir, out_dir)
    print("leaderboard: " + ", ".join(paths.values()) if paths else "no finished runs yet")
    unfinished = part_way_runs(runs_dir)
    if unfinished:
        print("part-way (a rerun continues them from their saved progress): " + ", ".join(unfinished), flush=True)
    if paused:
        print(f"stopped at the --hours limit ({args.hours} h); rerun the same command to resume", flush=True)
    if failures:
        print(f"{len(failures)} run(s) failed or were skipped: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 3 if paused else 0


def _pick(names, wanted, flag, what):
    """The suite's ``names`` (in suite order) named by a comma-separated ``wanted``; all when None."""
    if wanted is None:
        return list(names)
    wanted = set(wanted.split(","))
    unknown = sorted(wanted - set(names))
    if unknown:
        raise SystemExit(f"{flag}: {unknown} are not {what} of this suite; it has {list(names)}")
    return [n for n in names if n in wanted]


def chosen_point(suite, runs_dir, dataset, name):
    """The validation-chosen grid point for ``name`` on ``dataset`` ({} when untuned)."""
    source = suites.decided_by(suite, dataset, name)
    if source is None:
        return {}
    tuned_dataset, owner = source
    specs = suites.tuning_runs(suite, tuned_dataset, owner)
    if not specs:
        raise LookupError(f"{owner} has no grid runs on {tuned_dataset}")
    points = tuning.grid_points(suites.own_grid(suite, owner))
    records = {tuning.point_tag(p): load_run(runs_dir, s.key) for p, s in zip(points, specs)}
    point, _ = tuning.choose(records, points)
    return point


def _report(suite, runs_dir, out_dir):
    """Leaderboard from the stored runs that match the suite as it now stands."""
    runs, grid_runs = [], []
    for dataset in suite["datasets"]:
        for name in suite["models"]:
            grid_runs += [r for r in (load_current(runs_dir, s) for s in suites.tuning_runs(suite, dataset, name)) if r]
            try:
                point = chosen_point(suite, runs_dir, dataset, name)
            except LookupError:
                continue
            runs += [r for r in (load_current(runs_dir, s) for s in suites.main_runs(suite, dataset, name, point)) if r]
    return write_all(suite, runs, out_dir, grid_runs) if runs or grid_runs else {}


if __name__ == "__main__":
    sys.exit(main())
