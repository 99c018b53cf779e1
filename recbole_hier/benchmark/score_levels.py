"""How a HierRec checkpoint ranks with each ``score_levels`` setting, without retraining.

    python -m recbole_hier.benchmark.score_levels --model_file=CHECKPOINT

Prints validation and test NDCG@10 when items are ranked by the top level's user vector
(``top``: mu with the VAE) and by the mean of every trained head's (``mean``). The
checkpoint was chosen on validation under its own setting, which favours that setting's
validation row; the test rows compare fairly.
"""

import argparse

import numpy as np


def evaluate_levels(model_file):
    """``{setting: {"valid": ndcg@10, "test": ndcg@10}}`` for ``top`` and ``mean``."""
    import torch

    from recbole_hier.benchmark.runner import _per_user_evaluator
    from recbole_hier.quick_start import load_data_and_model
    from recbole_hier.registry import get_trainer

    config, model, _, _, valid_data, test_data = load_data_and_model(model_file)
    if not hasattr(model, "score_levels"):
        raise ValueError(f"{model_file}: score_levels is a HierRec setting, not {config['model']}'s")
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.evaluator = _per_user_evaluator(config)
    results = {}
    for setting in ("top", "mean"):
        model.score_levels = setting
        results[setting] = {}
        for split, data in (("valid", valid_data), ("test", test_data)):
            with torch.no_grad():
                trainer.evaluate(data, load_best_model=False, show_progress=False)
            results[setting][split] = float(np.mean(trainer.evaluator.last_ndcg10))
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
