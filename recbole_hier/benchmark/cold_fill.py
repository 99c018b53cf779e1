"""How a cold-protocol checkpoint ranks its cold items under each ``id_fill``, without retraining.

    python -m recbole_hier.benchmark.cold_fill --model_file=CHECKPOINT [--k 1,5,10] [--temperature 0.01,0.03,0.1]
        [--cold_temperature 0.07,0.1,0.13] [--score_levels mean]

For a text+id model trained under the cold-item protocol (``properties/protocol/
cold_items.yaml``), prints validation and test NDCG@10 over all targets, cold targets and
warm targets with ``id_fill: none`` (cold items scored by text alone), with
``id_fill: neighbours`` at each ``k`` and ``temperature``, and, for HierRec and SASRecText, with
``cold_score: calibrated`` at each ``--cold_temperature``. Both change scoring only, so one
trained model answers for every setting; choose on the validation rows.
"""

import numpy as np

from recbole_hier.benchmark.rescoring import Rescorer, checkpoint_parser
from recbole_hier.model.score import has_text_scores


def evaluate_fills(model_file, ks, temperatures, cold_temperatures=(), score_levels=None):
    """``[(fill, k, temperature, split, {all, cold, warm, n_cold})]`` for ``id_fill`` none and
    neighbours at each k and temperature, then (fill ``calibrated``) ``cold_score: calibrated``
    at each of ``cold_temperatures``; HierRec ranks with ``score_levels`` when given."""
    rescorer = Rescorer(model_file)
    model, dataset = rescorer.model, rescorer.dataset
    rescorer.set_score_levels(score_levels)
    items = getattr(model, "item_representation", None)
    cold = getattr(dataset, "cold_item_ids", None)
    if items is None or not (items.uses_text and items.uses_id) or cold is None or not len(cold):
        raise ValueError(f"{model_file}: id_fill needs a text+id model trained under the cold-item protocol "
                         "(cold_item_ratio > 0)")
    if cold_temperatures and not has_text_scores(model):
        raise ValueError(f"{model_file}: --cold_temperature needs a model with cold_score (HierRec, SASRecText), "
                         f"not {rescorer.config['model']}")
    cold = cold.numpy()
    rows = []
    settings = ([("none", None, None)] + [("neighbours", k, t) for k in ks for t in temperatures]
                + [("calibrated", None, t) for t in cold_temperatures])
    for fill, k, temperature in settings:
        items.id_fill = "neighbours" if fill == "neighbours" else "none"
        if fill == "neighbours":
            items.id_fill_k, items.id_fill_temperature = k, temperature
        items.train(False)  # forget rows filled under the previous setting
        if hasattr(model, "cold_score"):
            model.cold_score = "calibrated" if fill == "calibrated" else "vector"
            if fill == "calibrated":
                model.cold_score_temperature = temperature
        for split in ("valid", "test"):
            ndcg = rescorer.ndcg_per_user(split)
            is_cold = np.isin(rescorer.targets(split), cold)
            rows.append((fill, k, temperature, split, {"all": ndcg.mean(), "cold": ndcg[is_cold].mean(),
                                                       "warm": ndcg[~is_cold].mean(), "n_cold": int(is_cold.sum())}))
    return rows


def main(argv=None):
    parser = checkpoint_parser(__doc__)
    parser.add_argument("--k", default="1,5,10", help="comma-separated neighbour counts")
    parser.add_argument("--temperature", default="0.01,0.03,0.1", help="comma-separated softmax temperatures")
    parser.add_argument("--cold_temperature", default="",
                        help="comma-separated cold_score_temperature values for cold_score: calibrated (HierRec, SASRecText)")
    args = parser.parse_args(argv)
    ks = [int(k) for k in args.k.split(",")]
    temperatures = [float(t) for t in args.temperature.split(",")]
    cold_temperatures = [float(t) for t in args.cold_temperature.split(",") if t.strip()]
    if any(k < 1 for k in ks) or any(t <= 0 for t in temperatures + cold_temperatures):
        parser.error(f"--k values must be at least 1 and temperatures above 0, got {args.k}, {args.temperature}, "
                     f"{args.cold_temperature}")
    rows = evaluate_fills(args.model_file, ks, temperatures, cold_temperatures, args.score_levels)
    print(f"{args.model_file}: NDCG@10 (cold targets: {rows[0][4]['n_cold']} in validation)")
    print("| cold items by | k | temperature | split | all | cold | warm |\n|---|---|---|---|---|---|---|")
    for fill, k, t, split, m in rows:
        print(f"| {fill} | {k or ''} | {t or ''} | {split} | {m['all']:.4f} | {m['cold']:.4f} | {m['warm']:.4f} |")
    return rows


if __name__ == "__main__":
    main()
