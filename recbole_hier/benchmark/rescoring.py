"""A stored checkpoint scored again under settings that change scoring only, not training
(what ``cold_fill.py`` and ``score_levels.py`` compare): one load, then per-user NDCG@10 of
validation or test under whatever the model is set to now."""

import argparse

import numpy as np


def checkpoint_parser(doc):
    """The command line of a rescoring script: ``--model_file`` and HierRec's ``--score_levels``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_file", required=True)
    parser.add_argument("--score_levels", default=None, choices=["top", "mean"],
                        help="HierRec: rank with the top level or the mean of every head (default: the model's)")
    return parser


class Rescorer:
    def __init__(self, model_file):
        from recbole_hier.benchmark.runner import _per_user_evaluator
        from recbole_hier.quick_start import load_data_and_model
        from recbole_hier.registry import get_trainer

        self.model_file = model_file
        self.config, self.model, self.dataset, _, valid_data, test_data = load_data_and_model(model_file)
        self.splits = {"valid": valid_data, "test": test_data}
        self.trainer = get_trainer(self.config["MODEL_TYPE"], self.config["model"])(self.config, self.model)
        self.trainer.evaluator = _per_user_evaluator(self.config)

    def set_score_levels(self, setting):
        """Rank with HierRec's ``score_levels`` ``setting`` (None: the checkpoint's own)."""
        if setting is None:
            return
        if not hasattr(self.model, "score_levels"):
            raise ValueError(f"{self.model_file}: --score_levels is a HierRec setting, not {self.config['model']}'s")
        self.model.score_levels = setting

    def ndcg_per_user(self, split):
        """``[U]`` NDCG@10 of each ``split`` ("valid"/"test") user under the model's settings now."""
        import torch

        with torch.no_grad():
            self.trainer.evaluate(self.splits[split], load_best_model=False, show_progress=False)
        return np.asarray(self.trainer.evaluator.last_ndcg10, dtype=float)

    def targets(self, split):
        """``[U]`` internal id of each ``split`` user's target item, in the order of :meth:`ndcg_per_user`."""
        return self.splits[split]._dataset.inter_feat[self.dataset.iid_field].numpy()
