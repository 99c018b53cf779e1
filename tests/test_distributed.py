"""RecBole's multi-process (DDP) mode on CPU (gloo): --nproc=2 agrees with one process."""

import socket

import pytest

import run_recbole_hier
from recbole_hier import run
from tests.conftest import PROTOCOL, tiny_config_dict, write_tiny_dataset

# Two ranks see the same data in another order (DistributedSampler) with another
# dropout stream, so metrics agree only up to training noise; on this easy data
# both runs learn the pattern, and we allow this much absolute difference:
TOLERANCE = 0.1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@pytest.fixture(scope="module")
def ring_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp-data")
    write_tiny_dataset(str(root), name="ring", n_users=160)
    return str(root)


def test_nproc2_cli_matches_single_process(ring_data, tiny_bert, tmp_path, capsys):
    config = tiny_config_dict(ring_data, tiny_bert, tmp_path, epochs=8, learning_rate=0.01,
                              train_batch_size=128)
    single = run("HierRec", "ring", [PROTOCOL], dict(config))["test_result"]
    overrides = [f"--{k}={v}" for k, v in config.items()]
    result = run_recbole_hier.main(
        ["--model=HierRec", "--dataset=ring", "--nproc=2", f"--port={free_port()}", *overrides]
    )
    assert "test_result: recall@10=" in capsys.readouterr().out
    ddp = result["test_result"]
    assert single["hit@10"] > 0.5  # both learned something: the comparison means something
    for metric in ("hit@10", "ndcg@10", "mrr@10"):
        assert abs(ddp[metric] - single[metric]) <= TOLERANCE, (metric, ddp, single)
