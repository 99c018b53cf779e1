"""RecBole's multi-process (DDP) mode on CPU (gloo): --nproc=2 agrees with one process."""

import socket

import pytest
import torch

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


def _embed_on_rank(rank, port, plm_path, cache_dir, queue):
    import torch.distributed as dist

    from recbole_hier.text.tables import embed_texts

    dist.init_process_group("gloo", rank=rank, world_size=2, init_method=f"tcp://127.0.0.1:{port}")
    config = _embedding_config(plm_path, cache_dir, rank)
    for _ in range(2):  # a miss, embedded over both ranks, then a hit on both
        table = embed_texts(config, TEXTS, "ddp-test", "spec")
        queue.put((rank, table.tolist()))
    dist.destroy_process_group()


TEXTS = ["", "red story", "blue story", "dark drama", "quiet loud happy sad story", "fast"]


def _embedding_config(plm_path, cache_dir, rank=0, single=False):
    return {"plm_name_or_path": plm_path, "plm_pooling": "mean", "plm_max_length": 16,
            "plm_dtype": "float32", "plm_prompt": "", "plm_batch_size": 2, "device": torch.device("cpu"),
            "show_progress": False, "plm_trust_remote_code": False, "text_cache_dir": cache_dir,
            "single_spec": single, "local_rank": rank}


def test_text_tables_are_embedded_in_slices_across_ranks(tiny_bert, tmp_path):
    import torch.multiprocessing as mp

    from recbole_hier.text.tables import embed_texts

    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_embed_on_rank, args=(free_port(), tiny_bert, str(tmp_path / "cache"), queue), nprocs=2)
    tables = [torch.tensor(t) for _, t in sorted(queue.get() for _ in range(4))]
    alone = embed_texts(_embedding_config(tiny_bert, str(tmp_path / "alone"), single=True), TEXTS, "one", "spec")
    for table in tables:  # both ranks, miss and hit: the single-process table, row for row
        assert table.shape == (len(TEXTS), 32) and torch.allclose(table, alone, atol=1e-5)
    assert len([f for f in (tmp_path / "cache").iterdir() if f.suffix == ".safetensors"]) == 1


def test_nproc2_trains_the_language_model_s_top_layer(ring_data, tiny_bert, tmp_path, capsys):
    """DDP over a trained language-model layer: every rank encodes its batch's scored items, the
    layer's gradients are all-reduced with the rest, and the run learns as one process does."""
    config = tiny_config_dict(ring_data, tiny_bert, tmp_path, epochs=8, learning_rate=0.01, train_batch_size=128,
                              plm_train_layers=1, plm_learning_rate=0.001, softmax="sampled", num_negatives=16)
    overrides = [f"--{k}={v}" for k, v in config.items()]
    result = run_recbole_hier.main(
        ["--model=HierRec", "--dataset=ring", "--nproc=2", f"--port={free_port()}", *overrides]
    )
    assert "test_result: recall@10=" in capsys.readouterr().out
    assert result["test_result"]["hit@10"] > 0.5  # as the single-process run above learns
