"""config -> dataset -> dataloaders -> model -> trainer: the one pipeline of every entry point.

Training (:func:`recbole_hier.quick_start.run_recbole_hier`), ``load_data_and_model``,
the benchmark runner and the speed script all build through :func:`build`, so a model
or option added here reaches all of them, and every run seeds, filters and splits alike.
"""

from dataclasses import dataclass
from logging import getLogger

from recbole.data import data_preparation
from recbole.utils import init_logger, init_seed

from recbole_hier.registry import create_dataset, get_model, get_trainer


@dataclass
class Pipeline:
    config: object
    dataset: object
    train_data: object
    valid_data: object
    test_data: object
    model: object
    trainer: object = None


def build(config, with_trainer=True, wrap_trainer=None):
    """Build everything a run needs from a :class:`recbole_hier.config.Config`.

    Args:
        with_trainer: also build the trainer (``load_data_and_model`` needs none).
        wrap_trainer: ``trainer_class -> trainer_class``, for callers that add hooks
            (the benchmark's timing and resumable progress).
    """
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    logger = getLogger()
    logger.info(config)
    dataset = create_dataset(config)
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    # as RecBole's quick start: each rank of a distributed run initialises from its own seed
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    logger.info(model)
    built = Pipeline(config, dataset, train_data, valid_data, test_data, model)
    if with_trainer:
        trainer_class = get_trainer(config["MODEL_TYPE"], config["model"])
        built.trainer = (wrap_trainer(trainer_class) if wrap_trainer else trainer_class)(config, model)
    return built
