"""Benchmark runs: each in its own process, stored as JSON; finished runs are skipped.

Each run trains with RecBole's trainer (validation-only model selection, best-valid
checkpoint reloaded for test) and records best-valid and test metrics, epochs run,
each epoch's training loss, seconds per training epoch, seconds per evaluation, peak
memory and, per test user, NDCG@10 with the user's target item and history length (for
paired tests and breakdowns). A run stopped part-way resumes from its last
validation (see :mod:`recbole_hier.benchmark.progress`).
"""

import contextlib
import multiprocessing as mp
import os
import platform
import signal
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from recbole_hier.benchmark.progress import Paused, resumable
from recbole_hier.benchmark.rescore import score_settings
from recbole_hier.files import copy_file, write_text
from recbole_hier.model.scoring import ScoringSetting

# exit code of a run that stopped at its time limit with its progress saved
PAUSED_EXIT = 3


def _timed(trainer_class):
    """``trainer_class`` that records how long each epoch and evaluation takes."""

    class Timed(trainer_class):
        def _train_epoch(self, *args, **kwargs):
            start = time.perf_counter()
            out = super()._train_epoch(*args, **kwargs)
            self.epoch_seconds = getattr(self, "epoch_seconds", []) + [time.perf_counter() - start]
            return out

        def evaluate(self, *args, **kwargs):
            start = time.perf_counter()
            out = super().evaluate(*args, **kwargs)
            self.eval_seconds = getattr(self, "eval_seconds", []) + [time.perf_counter() - start]
            return out

    Timed.__name__ = trainer_class.__name__
    return Timed


def per_user_evaluator(config):
    from recbole.evaluator import Evaluator
    from recbole.evaluator.metrics import NDCG

    class PerUserEvaluator(Evaluator):
        """RecBole's evaluator that also keeps each user's NDCG@10."""

        def evaluate(self, dataobject):
            pos_index, pos_len = NDCG(self.config).used_info(dataobject)
            self.last_ndcg10 = NDCG.metric_info(None, pos_index, pos_len)[:, 9]
            return super().evaluate(dataobject)

    return PerUserEvaluator(config)


def _eval_users(test_data):
    """User ids in the order the full-sort evaluation visits them."""
    dataset = test_data._dataset
    if getattr(test_data, "is_sequential", False):
        return dataset.inter_feat[dataset.uid_field].numpy()
    return np.asarray(test_data.uid_list)


def _full_history_lengths(config, dataset, test_users):
    """Each test user's whole history before the target, not cut at MAX_ITEM_LIST_LENGTH
    (what a history-length breakdown of long histories needs); None unless leave-one-out.

    The full dataset holds one prefix row per interaction after a user's first, and
    leave-one-out tests each user's last one, whose history is all of that user's rows."""
    split = (config["eval_args"] or {}).get("split") or {}
    if "LS" not in split or (config["eval_args"] or {}).get("group_by") != "user":
        return None
    rows = np.bincount(dataset.inter_feat[dataset.uid_field].numpy(), minlength=dataset.user_num)
    return rows[test_users].tolist()


def _execute(spec, store, deadline=None):
    import torch

    from recbole_hier import pipeline
    from recbole_hier.config import Config

    settings = dict(spec.config)
    if spec.init_source:  # pre-trained on another catalogue: that run's best checkpoint starts this one
        settings["init_from"] = store.source_checkpoint(spec.init_source)
    config = Config(spec.model, spec.recbole_dataset, spec.config_files, settings)
    process_info = {"device": _device_name(config["device"]), "speed_env": speed_env(), "code": code_version()}
    progress = store.progress_dir(spec.key)
    run = pipeline.build(config, wrap_trainer=lambda trainer_class: resumable(
        _timed(trainer_class), progress, spec.config, deadline, process_info, spec.inherited))
    trainer, train, test, dataset = run.trainer, run.train_data, run.test_data, run.dataset
    for point in spec.rescore or ():  # refused before training, not after it
        ScoringSetting(**point).checked(run.model)
    trainer.evaluator = per_user_evaluator(config)
    if config["device"].type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.resume_progress(train)
    # verbose: RecBole's per-epoch loss and validation lines, so a long run shows progress
    best_score, best_valid = trainer.fit(train, run.valid_data, saved=True, show_progress=False, verbose=True)
    test_result = trainer.evaluate(test, load_best_model=True)
    users = _eval_users(test)
    tokens = dataset.field2id_token
    uid, iid = dataset.uid_field, dataset.iid_field
    record = {
        "dataset": spec.dataset, "name": spec.run_name, "model": spec.model, "seed": spec.seed,
        "config": spec.config, "inherited": spec.inherited, "init_from_run": spec.init_source,
        "valid_metric": config["valid_metric"],
        "valid_metric_bigger": bool(config["valid_metric_bigger"]),
        "best_valid": {k: float(v) for k, v in (best_valid or {}).items()},
        "test": {k: float(v) for k, v in test_result.items()},
        "epochs_run": len(trainer.epoch_seconds),
        "train_loss": [float(trainer.train_loss_dict[e]) for e in sorted(trainer.train_loss_dict)],
        "train_epoch_seconds": float(np.mean(trainer.epoch_seconds)),
        # each epoch's seconds, so a run resumed on other devices splits by its segments
        "train_epoch_seconds_each": [float(s) for s in trainer.epoch_seconds],
        "eval_seconds": float(np.mean(trainer.eval_seconds)),
        # [epoch, validation score] at each validation (where the run's curve rose and flattened)
        "valid_scores": trainer.valid_scores,
        "peak_memory_mb": trainer.peak_memory_mb(),
        "memory_kind": "cuda max allocated" if config["device"].type == "cuda" else "process peak RSS",
        # seconds and memory only compare between runs on the same kind of device
        **process_info,
        # epochs at which the run continued from saved progress ([]: one uninterrupted process)
        "resumed_at_epochs": list(trainer.resumed_at),
        # device and speed environment of each process, from the epoch it started at
        # (device and speed_env above are the last process's)
        "segments": trainer.segments,
        "per_user": {"user": [str(tokens[uid][u]) for u in users],
                     "ndcg@10": [float(v) for v in trainer.evaluator.last_ndcg10]},
    }
    if getattr(test, "is_sequential", False):
        feat = test._dataset.inter_feat
        record["per_user"]["target"] = [str(tokens[iid][i]) for i in feat[iid].numpy()]
        record["per_user"]["history_length"] = feat[config["ITEM_LIST_LENGTH_FIELD"]].tolist()
        full = _full_history_lengths(config, dataset, feat[uid].numpy())
        if full is not None:
            record["per_user"]["history_length_full"] = full
        counts = np.bincount(train._dataset.inter_feat[iid].numpy(), minlength=dataset.item_num)
        record["train_item_counts"] = {str(tokens[iid][i]): int(c) for i, c in enumerate(counts) if c}
    # each validation user's NDCG@10 at the best checkpoint (loaded for the test above), so a
    # lever is tested over validation users as over test users (levers.py)
    trainer.evaluate(run.valid_data, load_best_model=False)
    record["per_user_valid"] = {"user": [str(tokens[uid][u]) for u in _eval_users(run.valid_data)],
                                "ndcg@10": [float(v) for v in trainer.evaluator.last_ndcg10]}
    if getattr(run.valid_data, "is_sequential", False) or spec.rescore:
        valid_feat = run.valid_data._dataset.inter_feat
        record["per_user_valid"]["target"] = [str(tokens[iid][i]) for i in valid_feat[iid].numpy()]
    if spec.rescore:  # scoring settings on the best checkpoint, chosen later on validation (plan)
        record["rescored"] = score_settings(trainer, run.model, run.valid_data, test, spec.rescore)
    cold = getattr(dataset, "cold_item_ids", ())
    if len(cold):  # the cold-item protocol: which items training never saw
        record["cold_items"] = [str(tokens[iid][i]) for i in cold.tolist()]
    if any(len(record[part]["user"]) != len(record[part]["ndcg@10"]) for part in ("per_user", "per_user_valid")):
        raise RuntimeError("per-user NDCG does not line up with the evaluated users")
    kept = store.checkpoint_path(spec.key)
    if kept:  # before the record: a stored record means its checkpoint is kept too
        trainer.keep_best(kept)
    if spec.keep_for_transfer:
        trainer.keep_best(store.source_checkpoint(spec.key))
    store.write(spec.key, record)
    trainer.discard_progress()


def _device_name(device):
    """``cuda (<GPU>)`` or ``cpu (<model>, <SIMD level>, <threads> threads)``: CPU hosts
    differ too (seen here: one epoch 2-3x slower on an AVX2-only host than on an AVX-512 one)."""
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown SIMD")()
    return f"cpu ({_cpu_model()}, {capability}, {torch.get_num_threads()} threads)"


# environment variables that change speed and memory but not results (threads, allocator)
SPEED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "THP_MEM_ALLOC_ENABLE", "LD_PRELOAD")


def speed_env():
    """The speed-relevant environment of this run, so its seconds are read with it."""
    return {k: v for k, v in sorted(os.environ.items()) if k in SPEED_ENV or k.startswith("MALLOC_")}


def code_version():
    """What code a run's process ran: the package's git commit and whether its files
    differed from it (``dirty``; results and notes do not count), and the versions of the
    libraries that shape the figures. Outside a git checkout, the package's version."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # recbole_hier/
    info = {name: installed(name) for name in ("recbole", "torch", "transformers")}
    try:
        git = ["git", "-C", os.path.dirname(package)]
        top, commit = subprocess.run(git + ["rev-parse", "--show-toplevel", "HEAD"], capture_output=True,
                                     text=True, check=True).stdout.split()
        # an installed copy inside some other repository (a virtual environment in it) is not that code
        if os.path.realpath(top) == os.path.realpath(os.path.dirname(package)):
            changed = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no", "--", package],
                                     capture_output=True, text=True, check=True).stdout
            return {"commit": commit, "dirty": bool(changed.strip()), **info}
    except (OSError, ValueError, subprocess.CalledProcessError):
        pass
    return {"recbole_hier": installed("recbole_hier"), **info}


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def threads_per_run(jobs, environ=None, cores=None):
    """CPU threads for each of ``jobs`` runs at once, or None to keep torch's default.

    Every run otherwise takes one thread per core, so N runs would oversubscribe the
    cores N times. An explicit ``OMP_NUM_THREADS`` is the user's choice and is kept.
    """
    environ = os.environ if environ is None else environ
    if jobs <= 1 or environ.get("OMP_NUM_THREADS"):
        return None
    if cores is None:  # the cores this process may use (sched_getaffinity is Linux-only)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // jobs)


def _child(spec, store, deadline, threads=None):
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        _execute(spec, store, deadline)
    except Paused:
        raise SystemExit(PAUSED_EXIT)
    except BaseException:
        write_text(store.error_path(spec.key), traceback.format_exc())
        raise


def run_one(spec, store, reuse=None, deadline=None, live=None, threads=None):
    """Run ``spec`` unless its result exists in ``store``; returns (path, status).

    A run stopped part-way (killed, or paused at ``deadline``, a ``time.time()``)
    continues from its saved progress; a paused run returns status ``"paused ..."``.

    ``reuse``: key of a stored run with exactly this configuration (a grid run at the
    chosen point and the same seed); its record is copied instead of training again.
    A stored result made with a different configuration (its suite keys, or a default or
    preset it inherited: ``RunSpec.inherited``) is never silently kept or overwritten: the
    run fails and says which keys differ.

    ``live``: a set the caller owns; the run's process is in it while it runs, so a
    caller running several at once (threads) can stop them all.

    ``threads``: CPU threads for the run (see :func:`threads_per_run`); None keeps torch's default.
    """
    out_path, error_path = store.path(spec.key), store.error_path(spec.key)
    for key in ([spec.key] + ([reuse] if reuse else [])):
        record = store.load(key)
        if record is None:
            continue
        stale = store.stale_keys(spec, record)
        if stale:
            where = store.path(key)
            return where, (f"failed (stored result {where} was made with a different config for {stale}: "
                           f"move it away to rerun, or restore the suite file, default or preset it ran with)")
        if store.needs_training(spec, record, key):
            break  # trains again: the rescore grid or a run that starts from it needs its best checkpoint
        if key == spec.key:
            return out_path, "done before"
        if spec.keep_for_transfer:
            copy_file(store.source_checkpoint(key), store.source_checkpoint(spec.key))
        store.write(spec.key, {**record, "name": spec.run_name, "reused_from": key})
        return out_path, f"reused {key}"
    progress = store.progress_dir(spec.key)
    resumed = os.path.exists(os.path.join(progress, "last.pth"))
    process = mp.get_context("spawn").Process(target=_child, args=(spec, store, deadline, threads))
    process.start()
    if live is not None:
        live.add(process)
    try:
        process.join()
    finally:
        # the run belongs to this runner: stopping the runner stops it, never orphans it
        if process.is_alive():
            process.terminate()
            process.join()
        if live is not None:
            live.discard(process)
    if process.exitcode == 0 and os.path.exists(out_path):
        if os.path.exists(error_path):
            os.unlink(error_path)
        return out_path, "ran (resumed)" if resumed else "ran"
    if process.exitcode == PAUSED_EXIT:
        return progress, f"paused at the time limit (progress saved in {progress}; rerun to resume)"
    return error_path, f"failed (exit code {process.exitcode}; see {error_path})"


@contextlib.contextmanager
def _sigterm_as_exit():
    """While a plan runs, SIGTERM raises SystemExit, so the run in progress is stopped
    with the runner (see :func:`run_one`) instead of training on as an orphan."""
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


class PlanExecution:
    """Runs a plan's runs, ``jobs`` at a time, each in its own process.

    With one job, model by model in suite order; with more, every selected model's
    grid runs of a dataset go first, then their seeded runs at the chosen points.
    ``deadline`` (a ``time.time()``) pauses the runs at their next validation and
    starts no new one; ``on_stored`` is called (under a lock) after each run stored.
    """

    def __init__(self, plan, store, jobs=1, deadline=None, on_stored=None):
        self.plan, self.store, self.jobs, self.deadline = plan, store, jobs, deadline
        self.on_stored = on_stored or (lambda: None)
        self.failures, self.number, self.total, self.paused = [], 0, 0, False
        self._lock = threading.Lock()  # the job threads share the counters and the report
        self._live = set()  # processes of the runs in progress
        self._stopping = threading.Event()  # set when the runner is stopped: start no more runs
        self._threads = threads_per_run(jobs)  # the runs at once share the cores
        self._waiting = []  # (spec, reuse) of runs whose init_from source is not finished yet

    def run(self, datasets=None, models=None, seeds=None):
        """Run the selected cells; ``seeds`` narrows the seeded runs (grid runs always run:
        the seeded ones need their choice)."""
        self.total = self.plan.count(datasets, models, seeds)
        with _sigterm_as_exit(), ThreadPoolExecutor(self.jobs) as pool:
            for batch in self.plan.batches(datasets, models, together=self.jobs > 1):
                self._run_all(pool, [(spec, None) for d, n in batch for spec in self.plan.grid_runs(d, n)])
                self._run_all(pool, [pair for d, n in batch for pair in self._seeded(d, n, seeds)])
            waiting, self._waiting = self._waiting, []
            self._run_all(pool, waiting)  # their sources may have run since
            for spec, _ in self._waiting:
                self.number += 1
                if not self.paused:
                    print(f"skipped {spec.key}: the run it starts from, {spec.init_source}, is not finished "
                          "or kept no checkpoint (select its model too)", flush=True)
                    self.failures.append(spec.key)

    def _seeded(self, dataset, name, seeds=None):
        """(spec, reuse) for ``name``'s seeded runs; [] while its tuning is unfinished."""
        try:
            return self.plan.seeded_with_reuse(dataset, name, self.store, seeds)
        except LookupError as error:
            specs = self.plan.seeded_runs(dataset, name, seeds=seeds)
            self.number += len(specs)
            if not self.paused:  # a paused tuning is not a broken one
                print(f"skipped {dataset}/{name}: its tuning is not finished ({error})", flush=True)
                self.failures.extend(s.key for s in specs)
            return []

    def _run_all(self, pool, pairs):
        if self.jobs == 1:  # in the main thread, where SIGTERM stops the run directly
            for pair in pairs:
                self._execute(*pair)
            return
        futures = [pool.submit(self._execute, *pair) for pair in pairs]
        try:
            for future in futures:
                future.result()
        except BaseException:
            # SIGTERM or a broken run: start nothing more, stop the runs in progress
            # (again until every thread is done: one may be starting its process now)
            self._stopping.set()
            for future in futures:
                future.cancel()
            while not all(future.done() for future in futures):
                for process in tuple(self._live):
                    process.terminate()
                time.sleep(0.2)
            raise

    def _execute(self, spec, reuse=None):
        with self._lock:
            if (spec.init_source and not os.path.exists(self.store.source_checkpoint(spec.init_source))
                    and not self.store.finished(spec)):
                self._waiting.append((spec, reuse))
                return
            self.number += 1
            if self._stopping.is_set():
                return
            past_deadline = self.deadline is not None and time.time() >= self.deadline
            if self.paused or (past_deadline and self.store.load(spec.key) is None):
                self.paused = True
                return
        start = time.time()
        _, status = run_one(spec, self.store, reuse, self.deadline, self._live, self._threads)
        with self._lock:
            print(f"[{self.number}/{self.total}] {spec.key}: {status} ({time.time() - start:.0f} s)", flush=True)
            if status.startswith("paused"):
                self.paused = True
            elif status.startswith("failed"):
                self.failures.append(spec.key)
            elif status != "done before":
                self.on_stored()
