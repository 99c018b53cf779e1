"""Text-embedding throughput: length-sorted batches vs file order, in one run.

    python -m recbole_hier.benchmark.embedding_throughput [--data_path ../shared/datasets]
        [--limit N] [--threads T] [--device cpu|cuda] [--dtype float32|float16|bfloat16]

Embeds the amazon-beauty item texts (title + brand + categories, rendered as HierRec
renders them by default) with the default MiniLM, once in file order and once
sorted by length, and prints both times, texts/s, tokens/s and their ratio. Both
passes must give the same vectors (checked). ``--limit N`` takes the first N texts;
``--dtype`` is the language model's weights (``plm_dtype``; half precision is for GPUs).
"""

import argparse
import logging
import os
import time

import pandas as pd
import torch

from recbole_hier.text.encoder import TextEncoder, resolve_plm_path
from recbole_hier.text.templates import render_named_fields


def load_texts(item_file, fields):
    frame = pd.read_csv(item_file, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return [render_named_fields({f: row[f] for f in fields}) for _, row in frame.iterrows()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--fields", default="title,brand,categories")
    parser.add_argument("--plm_name_or_path", default=None)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--limit", type=int, default=None, help="embed only the first N texts")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)

    item_file = os.path.join(args.data_path, args.dataset, f"{args.dataset}.item")
    texts = load_texts(item_file, args.fields.split(","))[:args.limit]
    encoder = TextEncoder(resolve_plm_path(args.plm_name_or_path), "mean", args.max_length,
                          args.batch_size, args.device, dtype=args.dtype)
    print(f"{len(texts)} texts from {item_file}; model {encoder.path}; device {args.device} ({args.dtype}); "
          f"batch {args.batch_size}; max_length {args.max_length}; threads {torch.get_num_threads()}")
    encoder.encode(texts[:256])  # warm-up: first-call overheads out of both timings
    results = {}
    for name, sort in (("file order", False), ("length-sorted", True)):
        start = time.perf_counter()
        results[name] = encoder.encode(texts, sort_by_length=sort)
        stats = dict(encoder.last_stats, seconds=time.perf_counter() - start)
        results[name + " stats"] = stats
        print(f"{name:>13}: {stats['seconds']:7.1f} s  {stats['texts'] / stats['seconds']:8.1f} texts/s  "
              f"{stats['tokens'] / stats['seconds']:9.0f} tokens/s (non-padding)")
    tolerance = 1e-4 if args.dtype == "float32" else 2e-2  # half precision rounds by batch shape
    same = torch.allclose(results["file order"].float(), results["length-sorted"].float(), atol=tolerance)
    ratio = results["file order stats"]["seconds"] / results["length-sorted stats"]["seconds"]
    print(f"speed-up of length sorting: {ratio:.2f}x; same vectors: {same}")
    return ratio


if __name__ == "__main__":
    main()
