"""Train and evaluate HierRec or any RecBole model, RecBole style.

    python run_recbole_hier.py                                  # HierRec on ml-100k
    python run_recbole_hier.py --model=SASRec --epochs=1        # a RecBole baseline
    python run_recbole_hier.py -m HierRec -d amazon-scientific --config_files="a.yaml b.yaml" --hidden_size=128

The protocol preset (properties/protocol/sequential.yaml) and the dataset preset
(properties/dataset/<dataset>.yaml, when there is one) are loaded first, so every
model gets the same split, filtering and metrics; --config_files, then --key=value
overrides, take precedence over them. --no_presets skips the presets.

    python run_recbole_hier.py --benchmark properties/benchmark/cpu.yaml [--report_only]

is the same as ``python -m recbole_hier.benchmark --suite ...`` (its other flags pass through).
"""

import argparse


def _add_scoring_arguments(parser):
    """--score_levels, --cold_score, ..., --text_mix_count: the scoring keys (model/scoring.py), typed and
    documented by their declarations; unset, the checkpoint's own value stands."""
    from recbole_hier.model.hierrec.keys import HIERREC_KEYS
    from recbole_hier.model.scoring import SCORING_KEYS

    for name in SCORING_KEYS:
        key = HIERREC_KEYS[name]
        parser.add_argument(f"--{name}", default=None, choices=key.choices,
                            type={"int": int, "float": float}.get(key.kind, str),
                            help=f"{key.doc} (with --recommend, unset: the checkpoint's)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", "-m", default="HierRec", help="model name (default HierRec)")
    parser.add_argument("--dataset", "-d", default="ml-100k", help="dataset name (default ml-100k)")
    parser.add_argument("--config_files", default=None, help="space-separated YAML files")
    parser.add_argument("--no_presets", action="store_true", help="do not load properties/ presets")
    parser.add_argument("--nproc", type=int, default=1, help="processes (GPUs) on this machine")
    parser.add_argument("--ip", default="localhost", help="address of the rank-0 machine")
    parser.add_argument("--port", default="5678", help="port of the rank-0 machine")
    parser.add_argument("--world_size", type=int, default=-1, help="processes over all machines")
    parser.add_argument("--group_offset", type=int, default=0, help="rank offset of this machine")
    parser.add_argument("--hyper", action="store_true", help="run a hyper-parameter search")
    parser.add_argument("--params_file", default=None, help="search space (RecBole format)")
    parser.add_argument("--algo", default="exhaustive", choices=["exhaustive", "random", "bayes"])
    parser.add_argument("--max_evals", type=int, default=100, help="trials for random/bayes")
    parser.add_argument("--early_stop", type=int, default=10, help="stop after this many trials without improvement")
    parser.add_argument("--hyper_output", default="hyper/result", help="table path prefix (.md, .csv)")
    parser.add_argument("--recommend", action="store_true", help="write top-k lists from --model_file")
    parser.add_argument("--model_file", default=None, help="checkpoint to recommend with")
    parser.add_argument("--users", default=None, help="comma-separated user tokens (default: every user)")
    parser.add_argument("--users_file", default=None, help="file with one user token a line")
    parser.add_argument("--history", default=None, help="a new user's items, oldest first (a,b,c)")
    parser.add_argument("--history_file", default=None, help="file of new users: label<TAB>item,item,... a line")
    parser.add_argument("--new_items", default=None, help=".item file of items to rank beside the trained ones")
    _add_scoring_arguments(parser)
    parser.add_argument("--item_fields", default="", help="item fields to add to each row (e.g. title)")
    parser.add_argument("--topk", type=int, default=10, help="items per user")
    parser.add_argument("--exclude_seen", default="true", help="drop items in the user's history (true/false)")
    parser.add_argument("--output", default="recommendations.csv", help=".csv or .jsonl")
    parser.add_argument("--benchmark", default=None, metavar="SUITE",
                        help="run a benchmark suite (python -m recbole_hier.benchmark --suite SUITE)")
    args, unknown = parser.parse_known_args(argv)
    if args.benchmark:
        return args, unknown  # the benchmark's own flags (--results, --only, --report_only)
    if args.hyper and not args.params_file:
        parser.error("--hyper needs --params_file")
    if args.recommend:
        if not args.model_file:
            parser.error("--recommend needs --model_file")
        if str(args.exclude_seen).lower() not in ("true", "false", "yes", "no", "1", "0"):
            parser.error(f"--exclude_seen must be true or false, got {args.exclude_seen!r}")
        if unknown:
            parser.error(f"--recommend takes no config overrides (the checkpoint holds its config): {unknown}")
    else:  # training: a scoring key is a config key like any other
        from recbole_hier.model.scoring import SCORING_KEYS

        unknown = [f"--{name}={getattr(args, name)}" for name in SCORING_KEYS
                   if getattr(args, name) is not None] + unknown
    for arg in unknown:
        if not arg.startswith("--") or "=" not in arg:
            parser.error(f"unrecognised argument {arg!r}: config overrides look like --key=value")
    return args, unknown


def main(argv=None):
    args, overrides = parse_args(argv)
    if args.benchmark:
        from recbole_hier.benchmark.__main__ import main as benchmark

        return benchmark(["--suite", args.benchmark] + overrides)
    if args.recommend:
        return _recommend(args)
    from recbole_hier import run
    from recbole_hier.presets import preset_files

    config_files = [] if args.no_presets else preset_files(args.dataset)
    config_files += args.config_files.split() if args.config_files else []
    if args.hyper:
        from recbole_hier.hyper import run_hyper

        rows, best = run_hyper(args.model, args.dataset, args.params_file, config_files,
                               cmd_args=overrides, algo=args.algo, max_evals=args.max_evals,
                               early_stop=args.early_stop, output=args.hyper_output)
        print(f"{len(rows)} trials; chosen by validation: {rows[best]['params']}")
        print(f"table: {args.hyper_output}.md and {args.hyper_output}.csv")
        return rows
    result = run(
        args.model, args.dataset, config_file_list=config_files, cmd_args=overrides,
        nproc=args.nproc, world_size=args.world_size, ip=args.ip, port=args.port,
        group_offset=args.group_offset,
    )
    if result is not None:
        print(f"model: {args.model}  dataset: {args.dataset}")
        for name in ("best_valid_result", "test_result"):
            metrics = result[name] or {}
            print(f"{name}: " + "  ".join(f"{k}={float(v):.4f}" for k, v in metrics.items()))
    return result


def _recommend(args):
    import time

    from recbole_hier.recommend import (
        RecommendError,
        check_output,
        read_histories,
        read_users,
        recommend,
        write_recommendations,
    )
    from recbole_hier.model.scoring import SCORING_KEYS, ScoringSetting

    check_output(args.output)
    users = read_users(args.users, args.users_file)
    histories = read_histories(args.history, args.history_file)
    if users is not None and histories is not None:
        raise RecommendError("give known users (--users, --users_file) or new ones (--history, --history_file), "
                             "not both")
    item_fields = [f.strip() for f in args.item_fields.split(",") if f.strip()]
    start = time.perf_counter()
    rows = recommend(args.model_file, users, args.topk, str(args.exclude_seen).lower() in ("true", "yes", "1"),
                     histories=histories, new_items=args.new_items, item_fields=item_fields,
                     scoring=ScoringSetting(**{name: getattr(args, name) for name in SCORING_KEYS}))
    seconds = time.perf_counter() - start
    write_recommendations(rows, args.output, item_fields)
    n_users = len({row[0] for row in rows})
    print(f"top-{args.topk} for {n_users} users written to {args.output} "
          f"({seconds:.1f} s including data loading)")
    return rows


if __name__ == "__main__":
    main()
