"""Each fix in compat.py, with a check that the problem is real without it."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.conftest import REPO


def run_python(code):
    # in the test's temporary folder, importing this checkout
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": REPO})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_stock_recbole_config_fails_on_numpy2_ours_does_not(make_config):
    from recbole.config import Config as RecBoleConfig

    if hasattr(np, "float_"):
        pytest.skip("numpy < 2: the alias still exists")
    with pytest.raises(AttributeError, match="float_"):
        RecBoleConfig("SASRec", "tiny", config_dict={"data_path": "unused"})
    assert make_config()["model"] == "HierRec"


def test_recbole_metrics_run_on_numpy2_without_touching_numpy():
    import recbole_hier  # noqa: F401  (applies the fixes)
    from recbole.evaluator.metrics import NDCG, MAP

    pos_index = np.array([[True, False, True], [False, False, True]])
    pos_len = np.array([2, 1])
    ndcg = NDCG.metric_info(NDCG.__new__(NDCG), pos_index, pos_len)  # uses np.float
    map_ = MAP.metric_info(MAP.__new__(MAP), pos_index, pos_len)
    assert ndcg.shape == (2, 3) and map_.shape == (2, 3) and ndcg[0, 0] == 1.0
    assert not hasattr(np, "float")  # numpy itself is not patched


def test_importing_sequential_models_keeps_anomaly_mode_off():
    # Without the fix: importing RecBole's sequential models switches it on.
    assert run_python(
        "import torch, recbole.model.sequential_recommender; print(torch.is_anomaly_enabled())"
    ) == "True"
    assert run_python(
        "import torch, recbole_hier; from recbole_hier.registry import get_model; "
        "get_model('SASRec'); get_model('NARM'); print(torch.is_anomaly_enabled())"
    ) == "False"
    assert not torch.is_anomaly_enabled()


def test_ray_is_never_imported(make_config):
    assert run_python(
        "import sys, recbole_hier, recbole_hier.quick_start, recbole_hier.registry as u; "
        "u.get_model('SASRec'); print('ray' in sys.modules)"
    ) == "False"


def test_unknown_model_lists_the_models_instead_of_lightgbm():
    from recbole.utils import get_model as recbole_get_model

    from recbole_hier.registry import get_model

    with pytest.raises(ImportError, match="lightgbm"):  # RecBole's misleading error
        recbole_get_model("SASRecc")
    with pytest.raises(ValueError) as err:
        get_model("SASRecc")
    message = str(err.value)
    assert "Unknown model 'SASRecc'" in message and "Did you mean SASRec" in message
    assert "HierRec" in message and "BERT4Rec" in message and "GRU4Rec" in message
    assert get_model("SASRec").__name__ == "SASRec"
    assert get_model("HierRec").__name__ == "HierRec"


def test_a_normal_run_prints_no_library_future_warning(tiny_data, tiny_bert, tmp_path):
    import yaml

    from tests.conftest import tiny_config_dict

    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config_dict(tiny_data, tiny_bert, tmp_path)))
    out = subprocess.run([sys.executable, os.path.join(REPO, "run_recbole_hier.py"), "--dataset=tiny",
                          f"--config_files={config_file}", "--epochs=1"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": REPO})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test_result: " in out.stdout
    assert "FutureWarning" not in out.stderr, out.stderr[-2000:]
