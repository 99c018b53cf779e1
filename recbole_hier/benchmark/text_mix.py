"""How a HierRec or SASRecText checkpoint ranks when rarely trained items are scored by their text too
(``text_mix_count``), without retraining.

    python -m recbole_hier.benchmark.text_mix --model_file=CHECKPOINT [--counts 0,1,3,5,10]
        [--cold_temperature 0.1] [--score_levels mean]

For each ``text_mix_count`` k and ``cold_score_temperature`` T (with ``cold_score: calibrated``),
prints validation and test NDCG@10 over all targets and over targets by their training
interactions (0-4, 5-9, 10+), and, under the cold-item protocol, over cold and warm targets.
k = 0 is the model's own ranking (items without a trained ID part, if any, by text alone).
It changes scoring only, so one trained model answers for every setting; choose on the
validation rows.
"""

import numpy as np

from recbole_hier.benchmark import stats
from recbole_hier.benchmark.rescoring import Rescorer, checkpoint_parser
from recbole_hier.model.score import has_text_scores

# the leaderboards' rare-target ranges (stats.TARGET_COUNT_BUCKETS), the rest merged
BANDS = ((0, 4), (5, 9), (10, 10**9))
BAND_NAMES = [stats.range_bucket(low, BANDS) for low, _ in BANDS]  # "0-4", "5-9", "10+"


def evaluate_mixes(model_file, counts, temperatures, score_levels=None):
    """``[(k, temperature, split, {all, 0-4, 5-9, 10+[, cold, warm]})]`` for every k and temperature."""
    rescorer = Rescorer(model_file)
    model = rescorer.model
    if not has_text_scores(model):
        raise ValueError(f"{model_file}: text_mix_count is a setting of HierRec and SASRecText, "
                         f"not {rescorer.config['model']}'s")
    items = model.item_representation
    if not (items.uses_text and items.uses_id) or items.id_fill != "none":
        raise ValueError(f"{model_file}: text_mix_count needs item_repr: text+id and id_fill: none")
    rescorer.set_score_levels(score_levels)
    interactions = model.train_item_counts.cpu().numpy()
    cold = getattr(rescorer.dataset, "cold_item_ids", None)
    cold = cold.numpy() if cold is not None and len(cold) else None
    model.cold_score = "calibrated"
    rows = []
    for temperature in temperatures:
        for k in counts:
            model.cold_score_temperature, model.text_mix_count = temperature, k
            for split in ("valid", "test"):
                ndcg, targets = rescorer.ndcg_per_user(split), rescorer.targets(split)
                bands = np.array([stats.range_bucket(c, BANDS) for c in interactions[targets]])
                is_cold = np.isin(targets, cold) if cold is not None else np.zeros(len(targets), dtype=bool)
                row = {"all": ndcg.mean()}
                for name in BAND_NAMES:  # cold targets have 0 training interactions: left out here
                    band = (bands == name) & ~is_cold
                    row[name] = ndcg[band].mean() if band.any() else float("nan")
                if cold is not None:
                    row["cold"], row["warm"] = ndcg[is_cold].mean(), ndcg[~is_cold].mean()
                rows.append((k, temperature, split, row))
    return rows


def main(argv=None):
    parser = checkpoint_parser(__doc__)
    parser.add_argument("--counts", default="0,1,3,5,10", help="comma-separated text_mix_count values")
    parser.add_argument("--cold_temperature", default="0.1", help="comma-separated cold_score_temperature values")
    args = parser.parse_args(argv)
    counts = [float(k) for k in args.counts.split(",")]
    temperatures = [float(t) for t in args.cold_temperature.split(",")]
    if any(k < 0 for k in counts) or any(t <= 0 for t in temperatures):
        parser.error(f"--counts must be at least 0 and --cold_temperature above 0, got {args.counts}, "
                     f"{args.cold_temperature}")
    rows = evaluate_mixes(args.model_file, counts, temperatures, args.score_levels)
    columns = list(rows[0][3])
    print(f"{args.model_file}: NDCG@10 (targets by training interactions; cold targets apart)")
    print("| text_mix_count | temperature | split | " + " | ".join(columns) + " |")
    print("|---|---|---|" + "---|" * len(columns))
    for k, t, split, row in rows:
        print(f"| {k:g} | {t:g} | {split} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |")
    return rows


if __name__ == "__main__":
    main()
