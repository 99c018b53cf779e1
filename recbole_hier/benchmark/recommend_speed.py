"""Recommendation speed: top-k for every user against one full-ranking validation pass.

    python -m recbole_hier.benchmark.recommend_speed [--dataset amazon-beauty] [--model HierRec]
        [--topk 10] [--batch_size 1024] [--threads 2] [--key=value ...]

Builds the model through the package's pipeline (presets, data, text tables; the weights
are freshly initialised, which does not change the cost), then times, after data loading:
one full-ranking evaluation of the validation set (RecBole's ``Trainer.evaluate``) and the
top-k lists of every user with their whole history (:class:`Recommender`, including
rebuilding the histories and excluding seen items). Prints both, users/s and the ratio.
"""

import argparse
import time

import torch

from recbole_hier.benchmark.cli import parse_with_overrides
from recbole_hier.presets import preset_files


def measure(dataset, model, topk, batch_size, cmd_args=()):
    from recbole_hier import pipeline
    from recbole_hier.config import Config
    from recbole_hier.recommend import Recommender

    config = Config(model, dataset, preset_files(dataset), {"show_progress": False}, cmd_args=list(cmd_args))
    run = pipeline.build(config)
    start = time.perf_counter()
    run.trainer.evaluate(run.valid_data, load_best_model=False, show_progress=False)
    valid_seconds = time.perf_counter() - start
    start = time.perf_counter()
    recommender = Recommender(config, run.model, run.dataset, batch_size=batch_size)
    rows = recommender.for_users(topk=topk)
    seconds = time.perf_counter() - start
    users = len({row[0] for row in rows})
    return {"users": users, "items": run.dataset.item_num - 1, "valid_users": len(run.valid_data._dataset),
            "valid_seconds": valid_seconds, "recommend_seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--model", default="HierRec")
    parser.add_argument("--topk", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=1024, help="users scored at a time")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args, overrides = parse_with_overrides(parser, argv)
    out = measure(args.dataset, args.model, args.topk, args.batch_size, overrides)
    print(f"{args.model} on {args.dataset}: {out['users']} users, {out['items']} items, "
          f"{torch.get_num_threads()} threads")
    print(f"one full-ranking validation pass ({out['valid_users']} users): {out['valid_seconds']:.1f} s")
    print(f"top-{args.topk} for every user, whole histories, seen items excluded: {out['recommend_seconds']:.1f} s "
          f"({out['users'] / out['recommend_seconds']:.0f} users/s), "
          f"{out['recommend_seconds'] / out['valid_seconds']:.2f}x the validation pass")
    return out


if __name__ == "__main__":
    main()
