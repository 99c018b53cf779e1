"""On-disk cache of text tables (safetensors: tensors + string metadata, no pickle).

A table is stored under a key that hashes everything that determines it (the
language model's files, pooling, max length, dtype, the rendering spec and every
text), with a hash of its tensor bytes. Files are written to a temporary name and
renamed, so a crash never leaves half a table; on load the bytes' hash, the key,
shape and dtype are checked, and a stale or corrupt file is reported by name and
rebuilt.
"""

import hashlib
import json
import os
from logging import getLogger

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from recbole_hier.files import atomic_path


def cache_key(identity, spec, texts):
    """Hex digest over the encoder identity, the rendering spec and the texts."""
    digest = hashlib.sha256()
    digest.update(identity.encode())
    digest.update(b"\0" + spec.encode())
    digest.update(b"\0" + json.dumps(texts, ensure_ascii=False).encode())
    return digest.hexdigest()


def _digest(table):
    """sha256 of a table's bytes, checked on every load (read in place: no second copy of the table)."""
    return hashlib.sha256(memoryview(table.contiguous().numpy()).cast("B")).hexdigest()


class TableCache:
    """One cached table: ``<cache_dir>/<name>-<key[:16]>.safetensors``."""

    def __init__(self, cache_dir, name, key):
        self.key = key
        self.path = os.path.join(cache_dir, f"{name}-{key[:16]}.safetensors")
        self.logger = getLogger()

    def load(self, rows):
        """The cached ``[rows D]`` float32 table, or ``None`` (missing/stale/corrupt)."""
        if not os.path.exists(self.path):
            return None
        try:
            with safe_open(self.path, framework="pt") as f:
                metadata = f.metadata() or {}
                table = f.get_tensor("table") if "table" in f.keys() else None
        except (SafetensorError, OSError, ValueError) as err:
            self.logger.warning(f"text cache {self.path} is corrupt ({err}); rebuilding it")
            return None
        problem = None
        if table is not None and metadata.get("sha256") != _digest(table):
            self.logger.warning(f"text cache {self.path} is corrupt: its tensor bytes do not match the hash "
                                "stored with them; rebuilding it")
            return None
        if metadata.get("key") != self.key:
            problem = "its key does not match the current model/texts"
        elif table is None or table.dtype != torch.float32 or table.dim() != 2:
            problem = "it does not hold a 2-D float32 'table'"
        elif table.size(0) != rows:
            problem = f"it has {table.size(0)} rows, expected {rows}"
        if problem:
            self.logger.warning(f"text cache {self.path} is stale: {problem}; rebuilding it")
            return None
        return table

    def save(self, table):
        """Write ``table`` atomically."""
        with atomic_path(self.path) as tmp:
            table = table.contiguous().float()
            save_file({"table": table}, tmp, metadata={"key": self.key, "sha256": _digest(table)})
