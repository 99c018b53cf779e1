"""Any transformers model: tiny BERT, GPT-2, Qwen2 and Llama, built and loaded from disk."""

import json

import pytest
import torch

from recbole_hier.text.encoder import TextEncoder, resolve_plm_path
from tests.conftest import tiny_vocab

DECODERS = ["gpt2", "qwen2", "llama"]


def save_tiny_decoder(kind, folder):
    """A 2-layer decoder with hidden size 32 and a word-level tokenizer without pad token."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import AutoModel, GPT2Config, LlamaConfig, PreTrainedTokenizerFast, Qwen2Config

    words = ["<unk>", "<s>", "</s>"] + tiny_vocab()[5:] + ["rated", "of", "5", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>",
                                        bos_token="<s>", eos_token="</s>")
    assert tokenizer.pad_token is None
    ids = dict(bos_token_id=1, eos_token_id=2)
    common = dict(vocab_size=len(vocab), num_hidden_layers=2, num_attention_heads=2, **ids)
    if kind == "gpt2":
        config = GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=2, n_positions=64, **ids)
    elif kind == "qwen2":
        config = Qwen2Config(hidden_size=32, intermediate_size=37, num_key_value_heads=1,
                             max_position_embeddings=64, **common)
    else:
        config = LlamaConfig(hidden_size=32, intermediate_size=37, num_key_value_heads=1,
                             max_position_embeddings=64, **common)
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # Ask for our word-level tokenizer class (transformers 5 still maps qwen2 to
    # Qwen2Tokenizer, which brings its own pad token '<|endoftext|>', as real Qwen2 does).
    config_file = folder / "tokenizer_config.json"
    settings = json.loads(config_file.read_text())
    settings["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(settings))
    return str(folder)


@pytest.fixture(scope="module", params=DECODERS)
def tiny_decoder(request, tmp_path_factory):
    return request.param, save_tiny_decoder(request.param, tmp_path_factory.mktemp(request.param))


TEXTS = ["red story", "dark quiet sad fast loud story comedy drama", "blue", "rated 5 of 5"]


def test_decoder_last_token_pooling(tiny_decoder):
    kind, path = tiny_decoder
    encoder = TextEncoder(path, pooling="last", batch_size=3)
    tokenizer = encoder.tokenizer
    assert tokenizer.padding_side == "right"
    # A tokenizer without a pad token gets its EOS token as pad token.
    assert tokenizer.pad_token == ("<|endoftext|>" if kind == "qwen2" else "</s>")
    assert tokenizer.pad_token_id < encoder.model.config.vocab_size
    together = encoder.encode(TEXTS)
    alone = torch.cat([encoder.encode([t]) for t in TEXTS])
    assert together.shape == (4, 32) and torch.isfinite(together).all()
    assert torch.allclose(together, alone, atol=1e-4)  # padding never reaches the last token
    prompted = TextEncoder(path, pooling="last", prompt="item : ").encode(TEXTS)
    assert not torch.allclose(prompted, together)


def test_max_length_is_capped_at_the_model_positions(tiny_decoder, caplog):
    import logging

    caplog.set_level(logging.INFO)
    _, path = tiny_decoder
    encoder = TextEncoder(path, pooling="last", max_length=500)
    assert encoder.max_length == 64 and "exceeds the 64 positions" in caplog.text
    assert encoder.encode(["red " * 200]).shape == (1, 32)


def test_encoder_models(tiny_bert):
    for pooling in ("mean", "cls"):
        assert TextEncoder(tiny_bert, pooling=pooling).encode(TEXTS).shape == (4, 32)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision(tiny_decoder, dtype):
    _, path = tiny_decoder
    out = TextEncoder(path, pooling="last", dtype=dtype).encode(TEXTS)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    reference = TextEncoder(path, pooling="last").encode(TEXTS)
    assert torch.allclose(out, reference, atol=0.1, rtol=0.1)


def test_hierrec_trains_on_a_decoder_table(tiny_decoder, make_config):
    from recbole.data import data_preparation

    from recbole_hier.registry import create_dataset, get_model

    _, path = tiny_decoder
    config = make_config(plm_name_or_path=path, plm_pooling="last", behavior_text_template="rated {rating} of 5")
    dataset = create_dataset(config)
    train, *_ = data_preparation(config, dataset)
    model = get_model("HierRec")(config, train._dataset)
    sum(model.calculate_loss(next(iter(train)))).backward()
    assert model.items.text.shape[1] == 32 and model.behaviors.text.shape[0] == 6


def test_truncation_is_counted(tiny_bert, caplog):
    import logging

    caplog.set_level(logging.INFO)
    TextEncoder(tiny_bert, max_length=4).encode(["red blue green dark bright", "red"])
    assert "1 of 2 texts are longer than plm_max_length=4" in caplog.text


@pytest.mark.parametrize("name, message", [
    ("sentence-transformers/all-MiniLM-L6-v2", "hub id"),
    ("./no/such/folder", "does not exist"),
])
def test_model_not_available_offline(name, message):
    with pytest.raises(FileNotFoundError, match=message) as err:
        resolve_plm_path(name)
    assert "save_pretrained" in str(err.value)


def test_bad_encoder_settings(make_config):
    with pytest.raises(ValueError, match="plm_pooling must be one of"):
        make_config(plm_pooling="max")
    with pytest.raises(ValueError, match="plm_dtype must be one of"):
        make_config(plm_dtype="int8")
