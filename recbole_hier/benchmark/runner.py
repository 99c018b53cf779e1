"""One benchmark run in its own process, stored as JSON; finished runs are skipped.

Each run trains with RecBole's trainer (validation-only model selection, best-valid
checkpoint reloaded for test) and records best-valid and test metrics, epochs run,
each epoch's training loss, seconds per training epoch, seconds per evaluation, peak
memory and, per test user, NDCG@10 with the user's target item and history length (for
paired tests and breakdowns). A run stopped part-way resumes from its last
validation (see :mod:`recbole_hier.benchmark.progress`).
"""

import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
import traceback

import numpy as np

from recbole_hier.benchmark.progress import Paused, resumable
from recbole_hier.benchmark.suite import differing_keys

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


def _per_user_evaluator(config):
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


def _execute(spec, out_path, progress_dir, deadline=None):
    import torch

    import recbole_hier  # noqa: F401  (compatibility fixes)
    from recbole.data import data_preparation
    from recbole.utils import init_logger, init_seed

    from recbole_hier.config import Config
    from recbole_hier.utils import create_dataset, get_model, get_trainer

    config = Config(spec.model, spec.dataset, spec.config_files, spec.config)
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    init_seed(config["seed"], config["reproducibility"])
    model = get_model(spec.model)(config, train._dataset).to(config["device"])
    process_info = {"device": _device_name(config["device"]), "speed_env": speed_env()}
    trainer_class = resumable(_timed(get_trainer(config["MODEL_TYPE"], spec.model)), progress_dir, spec.config,
                              deadline, process_info)
    trainer = trainer_class(config, model)
    trainer.evaluator = _per_user_evaluator(config)
    if config["device"].type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer.resume_progress(train)
    # verbose: RecBole's per-epoch loss and validation lines, so a long run shows progress
    best_score, best_valid = trainer.fit(train, valid, saved=True, show_progress=False, verbose=True)
    test_result = trainer.evaluate(test, load_best_model=True)
    users = _eval_users(test)
    tokens = dataset.field2id_token
    uid, iid = dataset.uid_field, dataset.iid_field
    record = {
        "dataset": spec.dataset, "name": spec.name, "model": spec.model, "seed": spec.seed,
        "config": spec.config, "valid_metric": config["valid_metric"],
        "best_valid": {k: float(v) for k, v in (best_valid or {}).items()},
        "test": {k: float(v) for k, v in test_result.items()},
        "epochs_run": len(trainer.epoch_seconds),
        "train_loss": [float(trainer.train_loss_dict[e]) for e in sorted(trainer.train_loss_dict)],
        "train_epoch_seconds": float(np.mean(trainer.epoch_seconds)),
        # each epoch's seconds, so a run resumed on other devices splits by its segments
        "train_epoch_seconds_each": [float(s) for s in trainer.epoch_seconds],
        "eval_seconds": float(np.mean(trainer.eval_seconds)),
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
        counts = np.bincount(train._dataset.inter_feat[iid].numpy(), minlength=dataset.item_num)
        record["train_item_counts"] = {str(tokens[iid][i]): int(c) for i, c in enumerate(counts) if c}
    if len(record["per_user"]["user"]) != len(record["per_user"]["ndcg@10"]):
        raise RuntimeError("per-user NDCG does not line up with the evaluated users")
    _write_json(record, out_path)
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


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _write_json(record, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
    os.replace(tmp, path)


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


def _child(spec, out_path, error_path, progress_dir, deadline, threads=None):
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        _execute(spec, out_path, progress_dir, deadline)
    except Paused:
        raise SystemExit(PAUSED_EXIT)
    except BaseException:
        with open(error_path, "w") as f:
            f.write(traceback.format_exc())
        raise


def load_run(runs_dir, key):
    path = os.path.join(runs_dir, key + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_current(runs_dir, spec):
    """The stored run of ``spec`` if it was made with exactly ``spec``'s configuration."""
    record = load_run(runs_dir, spec.key)
    return record if record is not None and not _config_mismatch(spec, record) else None


def _config_mismatch(spec, record):
    """Keys whose stored value differs from what ``spec`` asks for (a stale result)."""
    return differing_keys(spec.config, record.get("config", {}))


PROGRESS_SUFFIX = ".progress"


def progress_dir(runs_dir, key):
    return os.path.join(runs_dir, key + PROGRESS_SUFFIX)


def part_way_runs(runs_dir):
    """Keys of the runs with saved progress (stopped part-way)."""
    names = os.listdir(runs_dir) if os.path.isdir(runs_dir) else []
    return sorted(n[: -len(PROGRESS_SUFFIX)] for n in names if n.endswith(PROGRESS_SUFFIX))


def run_one(spec, runs_dir, reuse=None, deadline=None, live=None, threads=None):
    """Run ``spec`` unless its result exists; returns (path, status).

    A run stopped part-way (killed, or paused at ``deadline``, a ``time.time()``)
    continues from its saved progress; a paused run returns status ``"paused ..."``.

    ``reuse``: key of a stored run with exactly this configuration (a grid run at the
    chosen point and the same seed); its record is copied instead of training again.
    A stored result made with a different configuration is never silently kept or
    overwritten: the run fails and says which keys differ.

    ``live``: a set the caller owns; the run's process is in it while it runs, so a
    caller running several at once (threads) can stop them all.

    ``threads``: CPU threads for the run (see :func:`threads_per_run`); None keeps torch's default.
    """
    out_path = os.path.join(runs_dir, spec.key + ".json")
    error_path = os.path.join(runs_dir, spec.key + ".error.txt")
    for key in ([spec.key] + ([reuse] if reuse else [])):
        record = load_run(runs_dir, key)
        if record is None:
            continue
        stale = _config_mismatch(spec, record)
        if stale:
            where = os.path.join(runs_dir, key + ".json")
            return where, (f"failed (stored result {where} was made with a different config for {stale}: "
                           f"move it away to rerun, or restore the suite file)")
        if key == spec.key:
            return out_path, "done before"
        _write_json({**record, "name": spec.name, "reused_from": key}, out_path)
        return out_path, f"reused {key}"
    os.makedirs(runs_dir, exist_ok=True)
    progress = progress_dir(runs_dir, spec.key)
    resumed = os.path.exists(os.path.join(progress, "last.pth"))
    process = mp.get_context("spawn").Process(
        target=_child, args=(spec, out_path, error_path, progress, deadline, threads))
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
