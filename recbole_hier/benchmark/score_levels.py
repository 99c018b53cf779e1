"""How a HierRec checkpoint ranks with each ``score_levels`` setting, without retraining.

    python -m recbole_hier.benchmark.score_levels --model_file=CHECKPOINT

Prints validation and test NDCG@10 when items are ranked by the top level's user vector
(``top``: mu with the VAE) and by the mean of every trained head's (``mean``). The
checkpoint was chosen on validation under its own setting, which favours that setting's
validation row; the test rows compare fairly.
"""

import argparse

from recbole_hier.benchmark.rescoring import Rescorer


def evaluate_levels(model_file):
    """``{setting: {"valid": ndcg@10, "test": ndcg@10}}`` for ``top`` and ``mean``."""
    rescorer = Rescorer(model_file)
    if not hasattr(rescorer.model, "score_levels"):
        raise ValueError(f"{model_file}: score_levels is a HierRec setting, not {rescorer.config['model']}'s")
    results = {}
    for setting in ("top", "mean"):
        rescorer.model.score_levels = setting
        results[setting] = {split: float(rescorer.ndcg_per_user(split).mean()) for split in ("valid", "test")}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_file", required=True)
    args = parser.parse_args(argv)
    results = evaluate_levels(args.model_file)
    print(f"{args.model_file}: NDCG@10\n| score_levels | valid | test |\n|---|---|---|")
    for setting, row in results.items():
        print(f"| {setting} | {row['valid']:.4f} | {row['test']:.4f} |")
    return results


if __name__ == "__main__":
    main()
