"""How a cold-protocol checkpoint ranks its cold items under each ``id_fill``, without retraining.

    python -m recbole_hier.benchmark.cold_fill --model_file=CHECKPOINT [--k 1,5,10] [--temperature 0.01,0.03,0.1]

For a text+id model trained under the cold-item protocol (``properties/protocol/
cold_items.yaml``), prints validation and test NDCG@10 over all targets, cold targets and
warm targets with ``id_fill: none`` (cold items scored by text alone) and with
``id_fill: neighbours`` at each ``k`` and ``temperature``. ``id_fill`` changes scoring only, so one trained
model answers for every setting; choose on the validation rows.
"""

import argparse

import numpy as np


def evaluate_fills(model_file, ks, temperatures):
    """``[(fill, k, temperature, split, {all, cold, warm, n_cold})]`` for ``id_fill`` none and
    neighbours at each k and temperature."""
    import torch

    from recbole_hier.benchmark.runner import _per_user_evaluator
    from recbole_hier.quick_start import load_data_and_model
    from recbole_hier.registry import get_trainer

    config, model, dataset, _, valid_data, test_data = load_data_and_model(model_file)
    items = getattr(model, "item_representation", None)
    cold = getattr(dataset, "cold_item_ids", None)
    if items is None or not (items.uses_text and items.uses_id) or cold is None or not len(cold):
        raise ValueError(f"{model_file}: id_fill needs a text+id model trained under the cold-item protocol "
                         "(cold_item_ratio > 0)")
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.evaluator = _per_user_evaluator(config)
    cold = set(cold.tolist())
    rows = []
    settings = [("none", None, None)] + [("neighbours", k, t) for k in ks for t in temperatures]
    for fill, k, temperature in settings:
        items.id_fill, items.id_fill_k, items.id_fill_temperature = fill, k or 1, temperature or 1.0
        for split, data in (("valid", valid_data), ("test", test_data)):
            with torch.no_grad():
                trainer.evaluate(data, load_best_model=False, show_progress=False)
            ndcg = np.asarray(trainer.evaluator.last_ndcg10, dtype=float)
            is_cold = np.isin(data._dataset.inter_feat[dataset.iid_field].numpy(), list(cold))
            rows.append((fill, k, temperature, split, {"all": ndcg.mean(), "cold": ndcg[is_cold].mean(),
                                          "warm": ndcg[~is_cold].mean(), "n_cold": int(is_cold.sum())}))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_file", required=True)
    parser.add_argument("--k", default="1,5,10", help="comma-separated neighbour counts")
    parser.add_argument("--temperature", default="0.01,0.03,0.1", help="comma-separated softmax temperatures")
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.k.split(",")]
    temperatures = [float(t) for t in args.temperature.split(",")]
    if any(k < 1 for k in ks) or any(t <= 0 for t in temperatures):
        parser.error(f"--k values must be at least 1 and --temperature values above 0, got {args.k}, {args.temperature}")
    rows = evaluate_fills(args.model_file, ks, temperatures)
    print(f"{args.model_file}: NDCG@10 (cold targets: {rows[0][4]['n_cold']} in validation)")
    print("| id_fill | k | temperature | split | all | cold | warm |\n|---|---|---|---|---|---|---|")
    for fill, k, t, split, m in rows:
        print(f"| {fill} | {k or ''} | {t or ''} | {split} | {m['all']:.4f} | {m['cold']:.4f} | {m['warm']:.4f} |")
    return rows


if __name__ == "__main__":
    main()
