"""Item text rendering, the language-model encoder and the on-disk cache."""

import logging
import os

import pytest
import torch

from recbole_hier.text.cache import TableCache
from recbole_hier.registry import create_dataset
from tests.conftest import write_tiny_dataset


@pytest.fixture
def caplog_info(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def cache_files(config):
    folder = config["text_cache_dir"]
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_table_aligns_with_internal_ids(make_config):
    config = make_config(state="INFO")
    dataset = create_dataset(config)
    table = dataset.item_text_table
    assert table.shape == (dataset.item_num, 32) and table.dtype == torch.float32
    assert torch.count_nonzero(table[0]) == 0  # [PAD]
    assert (table[1:].abs().sum(dim=1) > 0).all()
    # Row i embeds the text of internal id i: re-embed two items by hand and compare.
    from recbole_hier.text.encoder import TextEncoder
    from recbole_hier.text.templates import ItemTextSpec

    texts = ItemTextSpec().render(dataset, "tiny.item")
    ids = [dataset.token2id("item_id", t) for t in ("i7", "i12")]
    direct = TextEncoder(config["plm_name_or_path"]).encode([texts[i] for i in ids])
    assert torch.allclose(table[ids], direct, atol=1e-5)


def test_second_build_is_a_cache_hit_without_forward_pass(make_config, caplog_info):
    config = make_config(state="INFO")
    first = create_dataset(config).item_text_table
    assert "cache miss" in caplog_info.text and "texts/s" in caplog_info.text
    files = cache_files(config)
    assert len(files) == 1 and files[0].endswith(".safetensors")
    mtime = os.path.getmtime(os.path.join(config["text_cache_dir"], files[0]))
    caplog_info.clear()
    second = create_dataset(make_config(state="INFO")).item_text_table
    assert torch.equal(first, second)
    assert "no language-model forward pass" in caplog_info.text
    assert "embedded" not in caplog_info.text and "cache miss" not in caplog_info.text
    assert os.path.getmtime(os.path.join(config["text_cache_dir"], files[0])) == mtime


def test_changed_texts_or_settings_miss_the_cache(make_config, caplog_info):
    create_dataset(make_config())
    create_dataset(make_config(item_text_fields=["title"]))
    create_dataset(make_config(plm_pooling="cls"))
    assert len(cache_files(make_config())) == 3
    create_dataset(make_config(item_text_template="{title} ({genre})"))
    assert len(cache_files(make_config())) == 4


def test_stale_cache_is_rebuilt(make_config, caplog_info):
    config = make_config()
    table = create_dataset(config).item_text_table
    path = os.path.join(config["text_cache_dir"], cache_files(config)[0])
    # Same file name, wrong content: a table with another key and shape.
    TableCache(config["text_cache_dir"], "x", "0" * 64).save(torch.ones(3, 5))
    os.replace(os.path.join(config["text_cache_dir"], cache_files(config)[-1]), path)
    caplog_info.clear()
    rebuilt = create_dataset(make_config()).item_text_table
    assert "stale" in caplog_info.text and "cache miss" in caplog_info.text
    assert torch.allclose(rebuilt, table, atol=1e-6)


def test_corrupt_cache_is_rebuilt(make_config, caplog_info):
    config = make_config()
    table = create_dataset(config).item_text_table
    path = os.path.join(config["text_cache_dir"], cache_files(config)[0])
    with open(path, "r+b") as f:
        f.write(b"\xff" * 64)
    caplog_info.clear()
    rebuilt = create_dataset(make_config()).item_text_table
    assert "corrupt" in caplog_info.text
    assert torch.allclose(rebuilt, table, atol=1e-6)
    assert not [f for f in cache_files(config) if f.startswith(".tmp-")]  # atomic writes


def test_cache_checks_rows(tmp_path):
    cache = TableCache(str(tmp_path), "t", "a" * 64)
    cache.save(torch.randn(4, 3))
    assert cache.load(rows=4).shape == (4, 3)
    assert cache.load(rows=5) is None
    assert TableCache(str(tmp_path), "t", "a" * 16 + "b" * 48).load(rows=4) is None


def test_default_rendering_names_fields(make_config):
    from recbole_hier.text.templates import ItemTextSpec

    dataset = create_dataset(make_config())
    texts = ItemTextSpec().render(dataset, "tiny.item")
    i3 = dataset.token2id("item_id", "i3")
    assert texts[0] == ""
    assert texts[i3] == "title: dark fast story. genre: horror"
    template = ItemTextSpec(template="{title} / {genre}").render(dataset, "tiny.item")
    assert template[i3] == "dark fast story / horror"


def test_missing_text_policy(tiny_bert, tmp_path, make_config, caplog_info):
    write_tiny_dataset(str(tmp_path / "data"), name="holes", empty_text_items=(2, 5))
    config = make_config(dataset="holes", data_path=str(tmp_path / "data"))
    dataset = create_dataset(config)
    assert "2 of 30 items have no text" in caplog_info.text and "placeholder" in caplog_info.text
    i2, i5 = dataset.token2id("item_id", "i2"), dataset.token2id("item_id", "i5")
    table = dataset.item_text_table
    assert torch.equal(table[i2], table[i5]) and table[i2].abs().sum() > 0  # never a zero row
    with pytest.raises(ValueError, match=r"2 items have no text \(e.g. i2, i5\)"):
        create_dataset(make_config(dataset="holes", data_path=str(tmp_path / "data"),
                                   missing_text_policy="error"))


@pytest.mark.parametrize("pooling", ["mean", "cls", "last"])
def test_encoder_poolings_ignore_padding(tiny_bert, pooling):
    from recbole_hier.text.encoder import TextEncoder

    encoder = TextEncoder(tiny_bert, pooling=pooling, batch_size=4)
    texts = ["red story", "dark quiet sad fast loud story comedy", "blue"]
    together = encoder.encode(texts)
    alone = torch.cat([encoder.encode([t]) for t in texts])
    assert together.shape == (3, 32)
    assert torch.allclose(together, alone, atol=1e-5)  # padding and batch order do not matter


def test_model_fingerprint_tracks_what_decides_embeddings(tiny_bert, tmp_path):
    import shutil

    from recbole_hier.text.encoder import model_fingerprint

    copy = tmp_path / "model"
    shutil.copytree(tiny_bert, copy)
    before = model_fingerprint(str(copy))
    (copy / "README.md").write_text("notes")  # documentation does not change vectors
    (copy / ".gitattributes").write_text("*")
    assert model_fingerprint(str(copy)) == before
    config = (copy / "config.json").read_text()
    (copy / "config.json").write_text(config.replace('"hidden_act": "gelu"', '"hidden_act": "relu"'))
    assert model_fingerprint(str(copy)) != before
