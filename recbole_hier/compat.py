"""The one place that makes RecBole 1.2.1 run on today's numpy / torch.

RecBole 1.2.1 (2023) predates numpy 2 and torch >= 2.6. Each incompatibility is
fixed here, scoped as narrowly as possible, and applied once by :func:`apply`
(called when ``recbole_hier`` is imported, before RecBole is used):

* numpy 2 removed the aliases ``np.float``, ``np.bool``, ``np.float_`` ... .
  ``Config.compatibility_settings`` assigns ``np.float = np.float_`` and crashes;
  :class:`recbole_hier.config.Config` skips it. RecBole's metrics
  (``np.float``, ``np.bool``) and ``HyperTuning`` (``np.str``) still need the old
  names, so those modules get a numpy view that has them; numpy itself is untouched.
  ``HyperTuning``'s view also hands its exhaustive search the random ``Generator``
  today's hyperopt expects instead of a ``RandomState``.
* Importing ``recbole.model.sequential_recommender`` runs
  ``torch.autograd.set_detect_anomaly(True)`` (``sine.py``), which slows every
  backward pass of every model in the process. We import the package once here
  and restore the anomaly mode the process had before.
* pandas 3 breaks RecBole's ``token_seq`` parsing (``fillna(inplace=True)`` on a
  chained selection): ``setup.py`` pins ``pandas<3``. pandas 2.x still warns about
  it on every load, and about ``Series.agg(len)``; torch about RecBole's
  ``torch.cuda.amp.GradScaler``: those FutureWarnings are muted where RecBole raises them.
* ``recbole.quick_start`` imports ``ray`` at the top; we never import it (our own
  ``quick_start`` replaces it), so ray stays optional.
* torch >= 2.6 loads checkpoints with ``weights_only=True`` and RecBole pickles its
  whole ``Config`` into them: see ``recbole_hier.checkpoint`` (the trainer's job).
* An unknown model name surfaces as "No module named lightgbm" because RecBole's
  lookup imports ``exlib_recommender``: see ``recbole_hier.registry.get_model``.
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



class _LegacyNumpy(types.ModuleType):
    """numpy, plus the aliases numpy 2 removed; given only to RecBole modules."""

    def __init__(self):
        super().__init__("numpy")

    def __getattr__(self, name):
        if name in _NUMPY_LEGACY_ALIASES:
            return _NUMPY_LEGACY_ALIASES[name]
        return getattr(np, name)


class _HyperoptNumpy(_LegacyNumpy):
    """For ``HyperTuning``: its exhaustive search seeds ``np.random.RandomState``,
    but hyperopt >= 0.2.7 samples with ``rng.integers`` (a ``Generator``)."""

    random = types.SimpleNamespace(RandomState=np.random.default_rng)


LEGACY_NUMPY = _LegacyNumpy()


# RecBole modules that use removed numpy names at call time, and what they get.
_NUMPY_FOR_MODULES = {
    "recbole.evaluator.metrics": LEGACY_NUMPY,
    "recbole.trainer.hyper_tuning": _HyperoptNumpy(),
}


# FutureWarnings RecBole 1.2.1's own code raises on every run with pandas 2 / torch 2.x,
# muted where they arise (message and module), nowhere else.
_FUTURE_WARNINGS = (
    (".*inplace method.*", r"recbole\.data\.dataset"),
    (r"using <built-in function len> in Series\.agg", r"recbole\.data\.dataset"),
    (r"`torch\.cuda\.amp\.GradScaler\(args\.\.\.\)` is deprecated", r"recbole\.trainer\.trainer"),
)


def _give_numpy(module_name, numpy_view):
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # an optional part of RecBole that is not installed
        return
    module.np = numpy_view


def import_sequential_models_without_anomaly_mode():
    """Import RecBole's sequential models, keeping the caller's anomaly mode."""
    enabled = torch.is_anomaly_enabled()
    check_nan = torch.is_anomaly_check_nan_enabled()
    module = importlib.import_module("recbole.model.sequential_recommender")
    torch.autograd.set_detect_anomaly(enabled, check_nan=check_nan)
    return module


def apply():
    """Apply every fix; idempotent (imports are cached, assignments repeatable)."""
    for message, module in _FUTURE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=FutureWarning, module=module)
    import_sequential_models_without_anomaly_mode()
    for name, numpy_view in _NUMPY_FOR_MODULES.items():
        _give_numpy(name, numpy_view)
