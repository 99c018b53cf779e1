"""Plugin-first look-ups: this package's models first, then RecBole's (RecBole-GNN's pattern).

RecBole's own ``get_model`` / ``get_trainer`` / ``create_dataset`` only search
``recbole.*``; these search this package first and fall back to RecBole, so a
plugin run and a baseline run take exactly the same path.

A plugin model is registered in :func:`plugin_models` and declares what it needs on
its class, where it is defined: ``dataset_class`` (built by :func:`create_dataset`)
and ``trainer_class`` (returned by :func:`get_trainer`); RecBole's defaults apply
where it declares neither. No look-up here checks a model by name.
"""

import difflib
import importlib
import os

from recbole.data.dataset import SequentialDataset
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import ModelType

from recbole_hier import compat
from recbole_hier.data.atomic_files import check_atomic_files
from recbole_hier.data.cold_items import with_cold_items
from recbole_hier.data.indexed_histories import with_indexed_histories

# Packages of RecBole models that import with RecBole's own dependencies.
_RECBOLE_MODEL_PACKAGES = (
    "general_recommender",
    "context_aware_recommender",
    "sequential_recommender",
    "knowledge_aware_recommender",
)
# RecBole's exlib models need optional libraries (lightgbm, xgboost); importing
# their package is what turned any unknown name into "No module named lightgbm".
_RECBOLE_EXLIB_MODELS = {"LightGBM": "lightgbm", "XGBoost": "xgboost"}


def plugin_models():
    """Models this package adds: name -> class."""
    from recbole_hier.model.hierrec.model import HierRec
    from recbole_hier.model.baselines.sasrec_text import SASRecText
    from recbole_hier.model.baselines.unisrec import UniSRec

    return {model.__name__: model for model in (HierRec, SASRecText, UniSRec)}


def recbole_models():
    """RecBole's models that import here: name -> class."""
    compat.import_sequential_models_without_anomaly_mode()
    models = {}
    for package in _RECBOLE_MODEL_PACKAGES:
        module = importlib.import_module(f"recbole.model.{package}")
        for name, obj in vars(module).items():
            if (
                isinstance(obj, type)
                and issubclass(obj, AbstractRecommender)
                and obj.__module__.startswith(f"recbole.model.{package}.")
            ):
                models[name] = obj
    return models


# RecBole models that turn configuration text into code: refused, so that no config file,
# flag or checkpoint can run code (KD_DAGFM calls eval(config['teacher'])).
REFUSED_MODELS = {"KD_DAGFM": "it builds its teacher network with eval(config['teacher'])"}


def available_models():
    """Sorted names of every model ``get_model`` can return."""
    return sorted(set({**recbole_models(), **plugin_models(), **_RECBOLE_EXLIB_MODELS}) - set(REFUSED_MODELS))


def get_model(model_name):
    """Return the model class called ``model_name`` (plugin first, then RecBole)."""
    if not isinstance(model_name, str):
        raise TypeError(f"model name must be a str, got {type(model_name).__name__}")
    if model_name in REFUSED_MODELS:
        raise ValueError(f"model {model_name!r} is refused: {REFUSED_MODELS[model_name]}, so a "
                         "configuration could run code")
    plugins = plugin_models()
    if model_name in plugins:
        return plugins[model_name]
    if model_name in _RECBOLE_EXLIB_MODELS:
        module = importlib.import_module(
            f"recbole.model.exlib_recommender.{model_name.lower()}"
        )  # ImportError names the missing library (lightgbm / xgboost)
        return getattr(module, model_name)
    models = recbole_models()
    if model_name in models:
        return models[model_name]
    names = available_models()
    close = difflib.get_close_matches(model_name, names, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"Unknown model {model_name!r}.{hint} Available models: {', '.join(names)}."
    )


def get_trainer(model_type, model_name):
    """Return the trainer class for a model, with safe (pickle-free) checkpoints.

    A plugin model's ``trainer_class``, else RecBole's trainer for it
    (``<Model>Trainer``, ``KGTrainer``, ... or ``Trainer``), with the same checkpoint
    code mixed in, so baselines and plugin models save and load alike.
    """
    from recbole.utils import get_trainer as recbole_get_trainer

    from recbole_hier.trainer import with_safe_checkpoints

    declared = getattr(plugin_models().get(model_name), "trainer_class", None)
    return with_safe_checkpoints(declared or recbole_get_trainer(model_type, model_name))


def create_dataset(config):
    """Build the dataset for ``config['model']``: plugin datasets first, then RecBole's.

    Unlike RecBole's ``create_dataset`` this never unpickles a saved dataset
    (``save_dataset`` / ``dataset_save_path``): a pickle can run arbitrary code.
    """
    for key in ("save_dataset", "save_dataloaders"):
        if config[key]:
            raise ValueError(
                f"config key {key!r} is set: recbole_hier does not save or load pickled "
                "datasets/dataloaders (loading a pickle can run arbitrary code). "
                f"Set {key}: False; datasets are rebuilt from the atomic files."
            )
    for key in ("dataset_save_path", "dataloaders_save_path"):
        if config[key]:
            raise ValueError(
                f"config key {key!r} is set: recbole_hier does not load pickled "
                f"datasets/dataloaders. Remove {key} from your configuration."
            )
    # RecBole's data_preparation unpickles this file whenever it exists, whatever the keys say
    planted = os.path.join(config["checkpoint_dir"], f"{config['dataset']}-for-{config['model']}-dataloader.pth")
    if os.path.exists(planted):
        raise ValueError(
            f"{planted!r} exists: RecBole's data preparation would unpickle it (a pickle can run "
            "arbitrary code). recbole_hier never loads saved dataloaders; delete the file (or move "
            "checkpoint_dir) and rerun."
        )
    if not os.path.isdir(config["data_path"]):
        # RecBole would try to download it, which fails offline with a network error.
        raise FileNotFoundError(
            f"dataset folder {config['data_path']!r} does not exist: set data_path to the "
            f"folder that holds {config['dataset']}/ with {config['dataset']}.inter"
        )
    check_atomic_files(config)  # before RecBole reads them: errors that name file, line and field
    dataset_class = _dataset_class(config)
    if config["history_storage"] == "index":
        if not issubclass(dataset_class, SequentialDataset):
            raise ValueError(f"history_storage: index is for sequential models; {config['model']} is not one")
        dataset_class = with_indexed_histories(dataset_class)
    if config["cold_item_ratio"]:
        if config["MODEL_TYPE"] != ModelType.SEQUENTIAL:
            raise ValueError(f"cold_item_ratio is a protocol of sequential models; {config['model']} is not one")
        dataset_class = with_cold_items(dataset_class)
    return dataset_class(config)


def _dataset_class(config):
    declared = getattr(plugin_models().get(config["model"]), "dataset_class", None)
    if declared is not None:
        return declared
    dataset_module = importlib.import_module("recbole.data.dataset")
    special = getattr(dataset_module, config["model"] + "Dataset", None)
    if special is not None:
        return special
    type2class = {
        ModelType.SEQUENTIAL: "SequentialDataset",
        ModelType.KNOWLEDGE: "KnowledgeBasedDataset",
    }
    return getattr(dataset_module, type2class.get(config["MODEL_TYPE"], "Dataset"))
