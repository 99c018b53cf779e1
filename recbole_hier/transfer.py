"""Warm start from a checkpoint trained on another catalogue (``init_from``).

Everything that does not belong to one catalogue's items carries over: the interest
hierarchy (or the transformer), the text adaptor, the scorer and the trained language-model
layers. What does stays as initialised here: ID embeddings (one row per item of the other
catalogue) and frozen tables (rebuilt from this catalogue's text). The pre-training then
fine-tuning of Recformer-style transfer is two runs: one with ``--keep_checkpoints`` (or
``saved_model_file``) on catalogue A, then one on catalogue B with ``init_from`` its checkpoint.
"""

from logging import getLogger

from recbole_hier.checkpoint import CheckpointError, load_checkpoint


def _catalogue_bound(name, model):
    """ID embeddings and frozen tables: rows of one catalogue's items or texts."""
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    return "id_embedding" in name or name in frozen


def init_from(model, path):
    """Load ``path``'s catalogue-independent weights into ``model``; returns the names loaded.
    CheckpointError naming what does not fit (another model class, or another shape)."""
    checkpoint = load_checkpoint(path)
    theirs = checkpoint["config"]["model"]
    ours = type(model).__name__
    if theirs.lower() != ours.lower():
        raise CheckpointError(f"init_from {path!r} is a {theirs} checkpoint; this run trains {ours}")
    own = model.state_dict()
    wanted = {name: tensor for name, tensor in checkpoint["state_dict"].items()
              if name in own and not _catalogue_bound(name, model)}
    misfits = [f"{name} {list(tensor.shape)} (here {list(own[name].shape)})"
               for name, tensor in wanted.items() if tensor.shape != own[name].shape]
    if misfits:
        raise CheckpointError(f"init_from {path!r} does not fit this model: {'; '.join(misfits[:3])}; "
                              "train both with the same model keys (hidden_size, levels, plm_train_layers, ...)")
    missing = [name for name in own if name not in wanted and not _catalogue_bound(name, model)]
    model.load_state_dict({**own, **wanted})
    getLogger().info(f"init_from {path}: {len(wanted)} tensors loaded; kept as initialised: ID embeddings, "
                     f"frozen tables" + (f" and {missing[:5]}" if missing else ""))
    return sorted(wanted)
