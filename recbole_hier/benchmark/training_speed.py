"""Training speed, evaluation speed and peak memory: HierRec vs SASRec, in one run.

    python -m recbole_hier.benchmark.training_speed [--dataset ml-100k] [--epochs 1] [--threads 2]
        [--MAX_ITEM_LIST_LENGTH 50] [--train_batch_size 2048] [--device cpu|cuda] [--models A,B]
        [--max_batches N] [--profile N] [--key=value ...]

Both models get the same presets (protocol + dataset), history length, batch size
and thread count. Each model runs in its own fresh process (so memory figures do
not mix); data loading and the (cached) text tables are built before timing.
Printed per model: seconds per training epoch (mean over --epochs; with --max_batches N,
the first N batches of each epoch timed and scaled to the whole epoch), seconds of one
full-ranking evaluation of the validation set, and peak memory during training and
evaluation (CUDA: max allocated; CPU: peak resident set size above the level after
data loading). Then the first model's ratios to the second's. ``--profile N``: after
the timing, one more pass over the timed batches under ``torch.profiler``, and its N
costliest operators (self time; CUDA time on CUDA) per model. Extra ``--key=value`` pairs go to
both models (e.g. ``--enable_amp=True``).
"""

import argparse
import itertools
import json
import multiprocessing as mp
import threading
import time
from queue import Empty

from recbole_hier.benchmark.runner import speed_env
from recbole_hier.presets import preset_files


class PeakRSS:
    """Samples this process's resident set size in a thread; reports the peak."""

    def __init__(self, interval=0.01):
        import psutil

        self.process, self.interval = psutil.Process(), interval
        self.peak, self._stop = self.process.memory_info().rss, threading.Event()

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


class FirstBatches:
    """The first ``n`` batches of a RecBole data loader: a quick per-step timing on big data."""

    def __init__(self, loader, n):
        self.loader, self.n = loader, min(n, len(loader))

    def __iter__(self):
        return itertools.islice(iter(self.loader), self.n)

    def __len__(self):
        return self.n

    def __getattr__(self, name):  # the trainer reads e.g. ``shuffle`` and ``sampler``
        return getattr(self.loader, name)


def profile_table(trainer, loader, rows, cuda):
    """One training pass over ``loader`` under ``torch.profiler``: its ``rows`` costliest operators."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        trainer._train_epoch(loader, 0)
    key = "self_cuda_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=rows)


def measure(model_name, dataset, config_files, config_dict, epochs, threads, queue, max_batches=None,
            profile_rows=0):
    import torch

    torch.set_num_threads(threads)
    from recbole_hier import pipeline
    from recbole_hier.config import Config

    config = Config(model_name, dataset, config_files, config_dict)
    run = pipeline.build(config)
    train, valid, trainer = run.train_data, run.valid_data, run.trainer
    batches = len(train)
    timed = FirstBatches(train, max_batches) if max_batches else train
    cuda = config["device"].type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        train_seconds = []
        for epoch in range(epochs):
            start = time.perf_counter()
            trainer._train_epoch(timed, epoch)
            if cuda:
                torch.cuda.synchronize()
            train_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        trainer.evaluate(valid, load_best_model=False)
        if cuda:
            torch.cuda.synchronize()
        eval_seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else rss.peak - rss.start
    table = profile_table(trainer, timed, profile_rows, cuda) if profile_rows else None
    epoch_s = sum(train_seconds) / len(train_seconds) * batches / len(timed)  # a whole epoch's worth
    queue.put({"model": model_name, "train_epoch_s": epoch_s, "timed_batches": len(timed),
               "eval_s": eval_seconds, "peak_mem_mb": peak / 2**20,
               "memory_kind": "cuda max allocated" if cuda else "CPU peak RSS above data",
               "device": str(config["device"]), "train_batches": batches, "speed_env": speed_env(),
               "profile": table})


def _result(proc, queue, name):
    """What ``proc`` measured; an error (not a hang) when it died first."""
    while True:
        try:
            return queue.get(timeout=1)
        except Empty:
            if not proc.is_alive():
                try:  # it may have reported just before exiting
                    return queue.get(timeout=1)
                except Empty:
                    raise RuntimeError(f"measuring {name} failed: its process exited with code "
                                       f"{proc.exitcode} before reporting (its traceback is printed above)") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--MAX_ITEM_LIST_LENGTH", type=int, default=50)
    parser.add_argument("--train_batch_size", type=int, default=2048)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", default="HierRec,SASRec")
    parser.add_argument("--max_batches", type=int, default=None,
                        help="time only the first N batches of each epoch and scale to a whole epoch "
                             "(big data on CPU: minutes instead of hours)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print each model's N costliest operators from one profiled pass")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args, extra = parser.parse_known_args(argv)
    if args.max_batches is not None and args.max_batches < 1:
        parser.error(f"--max_batches must be at least 1, got {args.max_batches}")
    from recbole_hier.config import parse_value

    config_files = preset_files(args.dataset)
    config_dict = {"MAX_ITEM_LIST_LENGTH": args.MAX_ITEM_LIST_LENGTH, "train_batch_size": args.train_batch_size,
                   "use_gpu": args.device == "cuda", "show_progress": False, "state": "WARNING",
                   "worker": 0}
    for item in extra:
        key, _, value = item.lstrip("-").partition("=")
        config_dict[key] = parse_value(value)
    print(f"dataset {args.dataset}, MAX_ITEM_LIST_LENGTH {args.MAX_ITEM_LIST_LENGTH}, batch "
          f"{args.train_batch_size}, threads {args.threads}, device {args.device}, epochs timed {args.epochs}")
    print(f"speed-relevant environment: {speed_env() or 'none set'}")
    context = mp.get_context("spawn")
    results = {}
    for name in args.models.split(","):
        queue = context.Queue()
        proc = context.Process(target=measure, args=(name, args.dataset, config_files, config_dict,
                                                     args.epochs, args.threads, queue, args.max_batches,
                                                     args.profile))
        proc.start()
        results[name] = _result(proc, queue, name)
        proc.join()
        r = results[name]
        timed = "" if r["timed_batches"] == r["train_batches"] else f", scaled from {r['timed_batches']}"
        print(f"{name:>8}: train {r['train_epoch_s']:8.2f} s/epoch ({r['train_batches']} batches{timed})  "
              f"eval {r['eval_s']:7.2f} s  peak memory {r['peak_mem_mb']:8.1f} MB ({r['memory_kind']})")
        if r["profile"]:
            print(f"{name}: costliest operators of one profiled pass\n{r['profile']}")
    names = args.models.split(",")
    if len(names) >= 2:  # the first model against the second
        first, second = results[names[0]], results[names[1]]
        ratios = {"train_epoch": first["train_epoch_s"] / second["train_epoch_s"],
                  "eval": first["eval_s"] / second["eval_s"],
                  "peak_memory": first["peak_mem_mb"] / second["peak_mem_mb"]}
        print(f"{names[0]} / {names[1]}: " + "  ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
        results["ratios"] = ratios
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
