"""One epoch of HierRec and of SASRec through the CLI path, best-model reload included."""

import os

import pytest
import torch

import run_recbole_hier
from recbole_hier import load_data_and_model
from recbole_hier.checkpoint import load_checkpoint
from tests.conftest import tiny_config_dict


def write_yaml(path, config):
    import yaml

    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return str(path)


@pytest.mark.parametrize("model", ["HierRec", "SASRec"])
def test_cli_one_epoch_with_load_best_model(model, tiny_data, tiny_bert, tmp_path, capsys):
    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path)
    config_file = write_yaml(tmp_path / "tiny.yaml", config)
    result = run_recbole_hier.main(
        [f"--model={model}", "--dataset=tiny", f"--config_files={config_file}",
         "--epochs=1", "--n_layers=1"]
    )
    out = capsys.readouterr().out
    assert "test_result: recall@10=" in out and "ndcg@10=" in out
    test = result["test_result"]
    assert set(test) >= {"recall@10", "ndcg@10", "mrr@10", "hit@10", "recall@20", "ndcg@20"}
    assert 0.0 <= test["ndcg@10"] <= 1.0
    # The best-valid checkpoint loads weights-only and reproduces the test metrics.
    checkpoint = load_checkpoint(result["saved_model_file"])
    torch.load(result["saved_model_file"], weights_only=True)
    assert checkpoint["config"]["model"] == model
    loaded = load_data_and_model(result["saved_model_file"])
    config_obj, model_obj, dataset, train, valid, test_data = loaded
    from recbole_hier.registry import get_trainer

    trainer = get_trainer(config_obj["MODEL_TYPE"], config_obj["model"])(config_obj, model_obj)
    again = trainer.evaluate(test_data, load_best_model=False)
    assert again["ndcg@10"] == pytest.approx(test["ndcg@10"], abs=1e-4)
    from recbole.utils.case_study import full_sort_topk

    users = test_data.dataset.inter_feat["user_id"][:3].numpy()
    _, topk = full_sort_topk(users, model_obj, test_data, k=5, device=config_obj["device"])
    assert topk.shape == (3, 5)
    tokens = dataset.id2token(dataset.iid_field, topk.cpu())  # as the README shows
    assert tokens.shape == (3, 5) and all(str(t).startswith("i") for t in tokens.ravel())


def test_hierrec_learns_the_tiny_pattern(tiny_data, tiny_bert, tmp_path):
    """The tiny users walk i -> i+1: a few epochs must beat chance (1/30) by far."""
    from recbole_hier import run_recbole_hier

    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path, epochs=15, learning_rate=0.01,
                              train_batch_size=32)
    result = run_recbole_hier("HierRec", "tiny", [run_recbole_hier_protocol()], config)
    assert result["test_result"]["hit@10"] > 0.6


def run_recbole_hier_protocol():
    return os.path.join(os.path.dirname(run_recbole_hier.__file__), "properties", "protocol",
                        "sequential.yaml")


def test_hierrec_trains_under_mixed_precision(tiny_data, tiny_bert, tmp_path):
    """enable_amp (RecBole's key) autocasts the training step; on CPU that is bfloat16."""
    from recbole_hier import run_recbole_hier

    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path, enable_amp=True, epochs=2)
    result = run_recbole_hier("HierRec", "tiny", [run_recbole_hier_protocol()], config)
    assert 0.0 <= result["test_result"]["ndcg@10"] <= 1.0
