"""How each stage's cost grows with the data: HierRec and SASRec on synthetic catalogues.

    python -m recbole_hier.benchmark.scale [--sizes 1e4,1e5,1e6,1e7] [--models HierRec,SASRec]
        [--MAX_ITEM_LIST_LENGTH 50] [--train_batches 50] [--eval_batches 5] [--threads 2]
        [--timeout 1800] [--work /tmp/scale] [--out results/scale] [--key=value ...]

For each size it writes a synthetic atomic dataset (``synthetic.py``: Zipf item popularity,
short item texts, log-normal history lengths) and measures, for each model in a fresh
process (so memory does not mix), through the package's pipeline:

* ``create_dataset``: reading the atomic files, filtering, remapping and RecBole's
  sequential augmentation (for HierRec without its text table, measured apart);
* ``data_preparation``: the splits and data loaders;
* ``text cold`` / ``text cached``: the item text table with an empty cache and from it
  (HierRec; the language model is a 2-layer BERT of hidden size 32 written on the fly,
  ``--plm`` names another; the default model's texts/s: ``embedding_throughput``);
* ``train epoch``: the first ``--train_batches`` batches, scaled to the whole epoch;
* ``eval``: the first ``--eval_batches`` validation batches scored against every item and
  cut to the top-k (RecBole's full-sort evaluation step), scaled to all;
* ``peak RSS``: the process's peak resident memory (GB).

A run that exceeds ``--timeout`` or dies (out of memory) is reported with the last stage
it finished. It prints a table and each stage's fitted growth exponent (slope of log time on
log interactions), and writes ``scale.md``, ``scale.json`` and ``scale.png`` (log-log) to
``--out``.
"""

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from queue import Empty

import numpy as np

from recbole_hier.benchmark.runner import speed_env
from recbole_hier.benchmark.training_speed import FirstBatches
from recbole_hier.files import write_json, write_text

STAGES = ["create_dataset", "data_preparation", "text cold", "text cached", "train epoch", "eval"]
PROTOCOL = os.path.join(os.path.dirname(__file__), "..", "..", "properties", "protocol", "sequential.yaml")


def tiny_language_model(folder):
    """A 2-layer BERT (hidden 32) with a word-level vocabulary of the synthetic texts."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from recbole_hier.benchmark.synthetic import CATEGORIES, WORDS

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "title", "category", ":", "."] + WORDS + CATEGORIES
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def measure(model, data_path, name, config_dict, train_batches, eval_batches, threads, queue, data_only=False):
    """Child process: put ``(stage, seconds)`` as each stage ends, then ``("done", peak GB)``."""
    import torch

    torch.set_num_threads(threads)
    from recbole_hier import pipeline
    from recbole_hier.benchmark.training_speed import PeakRSS
    from recbole_hier.config import Config
    from recbole_hier.text.tables import build_item_text_table

    from recbole_hier.text.encoder import TextEncoder

    # load the language-model libraries once, so the cold text table times embedding, not imports
    TextEncoder(config_dict["plm_name_or_path"], "mean", 16, 1, torch.device("cpu"), "float32").encode(["w1"])
    with PeakRSS() as rss:
        fresh_cache = tempfile.mkdtemp(dir=config_dict["text_cache_dir"])  # "text cold" is a cache miss
        config = Config(model, name, [PROTOCOL], {"data_path": data_path, **config_dict,
                                                  "text_cache_dir": fresh_cache})
        stages = {}
        run = pipeline.build(config, on_stage=lambda stage, seconds: stages.__setitem__(stage, seconds))
        if getattr(run.dataset, "item_text_table", None) is not None:  # built cold inside create_dataset
            stages["text cold"] = run.dataset.text_table_seconds
            stages["create_dataset"] -= stages["text cold"]
            start = time.perf_counter()
            build_item_text_table(run.dataset)
            stages["text cached"] = time.perf_counter() - start
        for stage in ("create_dataset", "data_preparation", "text cold", "text cached"):
            if stage in stages:
                queue.put((stage, stages[stage]))
        if data_only:
            queue.put(("done", rss.peak / 2**30))
            return
        train = FirstBatches(run.train_data, train_batches)
        start = time.perf_counter()
        run.trainer._train_epoch(train, 0)
        queue.put(("train epoch", (time.perf_counter() - start) * len(run.train_data) / len(train)))
        valid = FirstBatches(run.valid_data, eval_batches)
        run.model.eval()
        run.trainer.tot_item_num = run.valid_data._dataset.item_num  # as Trainer.evaluate sets it
        start = time.perf_counter()
        with torch.no_grad():  # what RecBole's full-sort evaluation does per batch: score all items, top-k
            for batch in valid:
                _, scores, _, _ = run.trainer._full_sort_batch_eval(batch)
                torch.topk(scores, max(config["topk"]), dim=-1)
        queue.put(("eval", (time.perf_counter() - start) * len(run.valid_data) / len(valid)))
    queue.put(("done", rss.peak / 2**30))


def run_one(model, data_path, name, config_dict, args):
    """``{stage: seconds, "peak RSS": GB}``, or with ``"failed"`` naming the stage it stopped in."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    proc = context.Process(target=measure, args=(model, data_path, name, config_dict, args.train_batches,
                                                 args.eval_batches, args.threads, queue, args.data_only))
    proc.start()
    deadline = time.monotonic() + args.timeout
    result = {}
    while True:
        try:
            stage, value = queue.get(timeout=1)
        except Empty:
            if time.monotonic() > deadline:
                proc.kill()
                result["failed"] = f"time limit ({args.timeout} s)"
                break
            if not proc.is_alive():
                code = proc.exitcode
                result["failed"] = "killed (out of memory?)" if code in (-9, 137) else f"exit code {code}"
                break
            continue
        if stage == "done":
            result["peak RSS"] = value
            break
        result[stage] = value
    proc.join()
    if "failed" in result:
        reached = [s for s in STAGES if s in result]
        result["failed"] += f", after {reached[-1]}" if reached else ", in create_dataset"
    return result


def growth_exponents(rows, model):
    """Slope of log(seconds) on log(interactions) per stage, over the sizes where it finished."""
    out = {}
    for stage in STAGES + ["peak RSS"]:
        points = [(r["interactions"], r[model][stage]) for r in rows if r[model].get(stage, 0) > 0]
        if len(points) >= 2:
            x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
            out[stage] = float(np.polyfit(x, y, 1)[0])
    return out


def table(rows, models, header):
    lines = [header, "", "| interactions | users | items | model | " + " | ".join(
        f"{s} (s)" for s in STAGES) + " | peak RSS (GB) | note |", "|" + "---|" * (len(STAGES) + 6)]
    for row in rows:
        for model in models:
            r = row[model]
            cells = [f"{r[s]:.2f}" if s in r else "" for s in STAGES + ["peak RSS"]]
            lines.append(f"| {row['interactions']:,} | {row['users']:,} | {row['items']:,} | {model} | "
                         + " | ".join(cells) + f" | {r.get('failed', '')} |")
    lines += ["", "Growth exponents (slope of log cost on log interactions; 1 = linear):", "",
              "| model | " + " | ".join(STAGES + ["peak RSS"]) + " |", "|" + "---|" * (len(STAGES) + 2)]
    for model in models:
        exps = growth_exponents(rows, model)
        lines.append(f"| {model} | " + " | ".join(f"{exps[s]:.2f}" if s in exps else "" for s in
                                                  STAGES + ["peak RSS"]) + " |")
    return "\n".join(lines) + "\n"


def plot(rows, models, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install '.[bench]'): no plot")
        return
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        for stage in STAGES:
            points = [(r["interactions"], r[model][stage]) for r in rows if r[model].get(stage, 0) > 0]
            if points:
                ax.plot(*zip(*points), marker="o", label=stage)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(model)
        ax.set_xlabel("interactions")
        ax.set_ylabel("seconds")
        ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e4,1e5,1e6,1e7", help="interactions, comma-separated")
    parser.add_argument("--models", default="HierRec,SASRec")
    parser.add_argument("--MAX_ITEM_LIST_LENGTH", type=int, default=50)
    parser.add_argument("--train_batches", type=int, default=50)
    parser.add_argument("--eval_batches", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per model and size")
    parser.add_argument("--plm", default=None, help="language model folder (default: a tiny BERT)")
    parser.add_argument("--work", default=None, help="folder for the synthetic data (default: a temporary one)")
    parser.add_argument("--out", default=None, help="write scale.md/.json/.png here")
    parser.add_argument("--data_only", action="store_true", help="measure the data stages only (no training)")
    args, extra = parser.parse_known_args(argv)
    from recbole_hier.benchmark.synthetic import write_dataset
    from recbole_hier.config import parse_value

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    models = args.models.split(",")
    work = args.work or tempfile.mkdtemp(prefix="scale-")
    plm = args.plm or tiny_language_model(os.path.join(work, "tiny-bert"))
    config_dict = {"MAX_ITEM_LIST_LENGTH": args.MAX_ITEM_LIST_LENGTH, "show_progress": False, "state": "WARNING",
                   "load_col": {"inter": ["user_id", "item_id", "timestamp"], "item": ["item_id", "title", "category"]},
                   "plm_name_or_path": plm, "text_cache_dir": os.path.join(work, "text_cache"),
                   "checkpoint_dir": os.path.join(work, "saved"), "epochs": 1, "worker": 0}
    for item in extra:
        key, _, value = item.lstrip("-").partition("=")
        config_dict[key] = parse_value(value)
    timed = ("data stages only" if args.data_only else f"train epoch from its first {args.train_batches} "
             f"batches, eval from its first {args.eval_batches} batches")
    header = (f"Scale benchmark: MAX_ITEM_LIST_LENGTH {args.MAX_ITEM_LIST_LENGTH}, {args.threads} threads, "
              f"{timed}; speed environment: {speed_env() or 'none set'}; extra keys: {extra or 'none'}.")
    print(header)
    rows = []
    for size in sizes:
        name = f"synthetic-{size}"
        data = os.path.join(work, "data")
        start = time.perf_counter()
        users, items, interactions = write_dataset(data, name, size)
        print(f"{name}: {interactions:,} interactions, {users:,} users, {items:,} items "
              f"(written in {time.perf_counter() - start:.1f} s)")
        os.makedirs(config_dict["text_cache_dir"], exist_ok=True)
        # eval batches of at most ~2^26 scores, so a big catalogue fits in memory
        sized = {**config_dict, "eval_batch_size": config_dict.get("eval_batch_size", max(16, min(4096, 2**26 // items)))}
        row = {"interactions": interactions, "users": users, "items": items}
        for model in models:
            row[model] = run_one(model, data, name, sized, args)
            print(f"  {model}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                             for k, v in row[model].items()))
        rows.append(row)
        if args.out:  # after every size, so a long run keeps what it has
            os.makedirs(args.out, exist_ok=True)
            write_text(os.path.join(args.out, "scale.md"), table(rows, models, header))
            write_json(os.path.join(args.out, "scale.json"), {"header": header, "rows": rows})
            plot(rows, models, os.path.join(args.out, "scale.png"))
    print(table(rows, models, header))
    return rows


if __name__ == "__main__":
    main()
