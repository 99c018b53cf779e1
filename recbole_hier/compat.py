"""The one place that makes RecBole 1.2.1 run on today's numpy / torch.

RecBole 1.2.1 (2023) predates numpy 2 and torch >= 2.6. Each incompatibility is
fixed here, scoped as narrowly as possible, and applied once by :func:`apply`
(called when ``recbole_hier`` is imported, before RecBole is used):

* numpy 2 removed the aliases ``np.float``, ``np.bool``, ``np.float_`` ... .
  ``Config.compatibility_settings`` assigns ``np.float = np.float_`` and crashes;
  :class:`recbole_hier.config.Config` skips it. RecBole's metrics
  (``np.float``, ``np.bool``) and ``HyperTuning`` (``np.str``) still need the old
  names, so those modules get a numpy view that has them; numpy itself is untouched.
* Importing ``recbole.model.sequential_recommender`` runs
  ``torch.autograd.set_detect_anomaly(True)`` (``sine.py``), which slows every
  backward pass of every model in the process. We import the package once here
  and restore the anomaly mode the process had before.
* pandas 3 breaks RecBole's ``token_seq`` parsing (``fillna(inplace=True)`` on a
  chained selection): ``setup.py`` pins ``pandas<3``. pandas 2.x still warns about
  it on every load; that one FutureWarning from ``recbole.data.dataset`` is muted.
* ``recbole.quick_start`` imports ``ray`` at the top; we never import it (our own
  ``quick_start`` replaces it), so ray stays optional.
* torch >= 2.6 loads checkpoints with ``weights_only=True`` and RecBole pickles its
  whole ``Config`` into them: see ``recbole_hier.checkpoint`` (the trainer's job).
* An unknown model name surfaces as "No module named lightgbm" because RecBole's
  lookup imports ``exlib_recommender``: see ``recbole_hier.utils.get_model``.
"""

import importlib
import types
import warnings

import numpy as np
import torch

# The aliases numpy < 1.24 had, with the builtins they stood for.
_NUMPY_LEGACY_ALIASES = {
    "bool": bool,
    "int": int,
    "float": float,
    "complex": complex,
    "object": object,
    "str": str,
    "long": int,
    "unicode": str,
}

# RecBole modules that use the removed aliases at call time.
_MODULES_NEEDING_ALIASES = ("recbole.evaluator.metrics", "recbole.trainer.hyper_tuning")


class _LegacyNumpy(types.ModuleType):
    """numpy, plus the aliases numpy 2 removed; given only to RecBole modules."""

    def __init__(self):
        super().__init__("numpy")

    def __getattr__(self, name):
        if name in _NUMPY_LEGACY_ALIASES:
            return _NUMPY_LEGACY_ALIASES[name]
        return getattr(np, name)


LEGACY_NUMPY = _LegacyNumpy()


def _give_legacy_numpy(module_name):
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # an optional part of RecBole that is not installed
        return
    module.np = LEGACY_NUMPY


def import_sequential_models_without_anomaly_mode():
    """Import RecBole's sequential models, keeping the caller's anomaly mode."""
    enabled = torch.is_anomaly_enabled()
    check_nan = torch.is_anomaly_check_nan_enabled()
    module = importlib.import_module("recbole.model.sequential_recommender")
    torch.autograd.set_detect_anomaly(enabled, check_nan=check_nan)
    return module


def apply():
    """Apply every fix; idempotent (imports are cached, assignments repeatable)."""
    warnings.filterwarnings(
        "ignore", message=".*inplace method.*", category=FutureWarning,
        module=r"recbole\.data\.dataset",
    )
    import_sequential_models_without_anomaly_mode()
    for name in _MODULES_NEEDING_ALIASES:
        _give_legacy_numpy(name)
