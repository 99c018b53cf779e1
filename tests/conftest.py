"""Shared fixtures: a tiny atomic dataset and a tiny BERT, written to disk by the tests."""

import os
import random

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOCOL = os.path.join(REPO, "properties", "protocol", "sequential.yaml")

GENRES = ["action", "comedy", "drama", "horror", "romance", "scifi"]
WORDS = ["red", "blue", "green", "dark", "bright", "quiet", "loud", "happy", "sad", "fast"]
N_ITEMS, N_USERS = 30, 40


_IGNORED = {".git", ".venv", "__pycache__", ".pytest_cache"}


def _repository_files():
    found = set()
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in _IGNORED and not d.endswith(".egg-info")]
        found.update(os.path.relpath(os.path.join(folder, name), REPO) for name in files)
    return found


def pytest_sessionstart(session):
    session.config._repository_files = _repository_files()


def pytest_sessionfinish(session, exitstatus):
    """Tests write only to temporary folders: a file they leave in the repository fails the run."""
    before = getattr(session.config, "_repository_files", None)
    if before is None or getattr(session.config, "workerinput", None) is not None:
        return
    left = sorted(_repository_files() - before)
    if left:
        print(f"\ntests left {len(left)} new file(s) in the repository, e.g. {left[:5]}")
        session.exitstatus = 1


def pytest_configure(config):
    # RecBole 1.2.1 on pandas 2.x: one FutureWarning per field load (see compat.py).
    config.addinivalue_line(
        "filterwarnings", "ignore:.*inplace method.*:FutureWarning:recbole.data.dataset"
    )


def write_tiny_dataset(root, name="tiny", n_items=N_ITEMS, n_users=N_USERS, empty_text_items=(),
                       with_item_file=True):
    """Users walk the item ring forward (i -> i+1), so the next item is learnable."""
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(0)
    with open(os.path.join(folder, f"{name}.inter"), "w") as f:
        f.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for u in range(1, n_users + 1):
            start, length = rng.randrange(n_items), rng.randint(6, 12)
            for t in range(length):
                item = (start + t) % n_items + 1
                f.write(f"u{u}\ti{item}\t{rng.randint(1, 5)}\t{1000 * u + t}\n")
    if with_item_file:
        with open(os.path.join(folder, f"{name}.item"), "w") as f:
            f.write("item_id:token\ttitle:token_seq\tgenre:token_seq\n")
            for i in range(1, n_items + 1):
                if i in empty_text_items:
                    f.write(f"i{i}\t\t\n")
                    continue
                title = f"{WORDS[i % len(WORDS)]} {WORDS[(i * 3) % len(WORDS)]} story"
                f.write(f"i{i}\t{title}\t{GENRES[i % len(GENRES)]}\n")
    return folder


def tiny_vocab():
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted(set(GENRES + WORDS + ["story", "title", "genre", "unknown", "item", ":", ".", ","]))
    return special + words + [chr(c) for c in range(ord("a"), ord("z") + 1)]


@pytest.fixture(autouse=True)
def _run_in_tmp_dir(tmp_path, monkeypatch):
    """RecBole writes log/ and log_tensorboard/ into the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT with hidden size 32, saved to and loadable from a local folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = {token: i for i, token in enumerate(tiny_vocab())}
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True)
    config = BertConfig(vocab_size=len(tiny_vocab()), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=37, max_position_embeddings=64)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Folder holding tiny/ (data_path for dataset 'tiny')."""
    root = tmp_path_factory.mktemp("data")
    write_tiny_dataset(str(root))
    return str(root)


def tiny_config_dict(data_path, plm_path, work_dir, **overrides):
    """Settings for a seconds-long HierRec run on the tiny data."""
    config = {
        "data_path": data_path,
        "plm_name_or_path": plm_path,
        "text_cache_dir": os.path.join(str(work_dir), "text_cache"),
        "checkpoint_dir": os.path.join(str(work_dir), "saved"),
        "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"],
                     "item": ["item_id", "title", "genre"]},
        "MAX_ITEM_LIST_LENGTH": 8,
        "hidden_size": 16,
        "tcn_dilations": [1, 2],
        "epochs": 1,
        "train_batch_size": 64,
        "eval_batch_size": 64,
        "show_progress": False,
        "state": "WARNING",
        "seed": 7,
        "plm_batch_size": 16,
    }
    config.update(overrides)
    return config


@pytest.fixture
def make_config(tiny_data, tiny_bert, tmp_path):
    """Build a real recbole_hier Config on the tiny data (protocol preset + overrides)."""
    from recbole_hier.config import Config

    def make(model="HierRec", dataset="tiny", data_path=None, **overrides):
        config_dict = tiny_config_dict(data_path or tiny_data, tiny_bert, tmp_path, **overrides)
        return Config(model, dataset, [PROTOCOL], config_dict)

    return make


@pytest.fixture
def built(make_config):
    """(config, dataset, train_data, valid_data, test_data, model) for HierRec on tiny data."""
    from recbole_hier import pipeline

    def build(**overrides):
        run = pipeline.build(make_config(**overrides), with_trainer=False)
        return run.config, run.dataset, run.train_data, run.valid_data, run.test_data, run.model

    return build
