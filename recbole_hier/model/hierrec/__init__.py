"""HierRec: the model (``model.py``), its keys, levels, multi-task loss, VAE and auxiliary targets."""

from recbole_hier.model.hierrec.model import HierRec

__all__ = ["HierRec"]
