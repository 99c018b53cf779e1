"""config -> dataset -> dataloaders -> model -> trainer: the one pipeline of every entry point.

Training (:func:`recbole_hier.quick_start.run_recbole_hier`), ``load_data_and_model``,
the benchmark runner and the speed script all build through :func:`build`, so a model
or option added here reaches all of them, and every run seeds, filters and splits alike.
"""

import os
import shutil
import time
from dataclasses import dataclass
from logging import getLogger

from recbole.data import data_preparation
from recbole.utils import init_logger, init_seed

from recbole_hier.checkpoint import data_identity
from recbole_hier.data.cold_items import exclude_from_training
from recbole_hier.files import write_text
from recbole_hier.registry import create_dataset, get_model, get_trainer
from recbole_hier.transfer import init_from


@dataclass
class Pipeline:
    config: object
    dataset: object
    train_data: object
    valid_data: object
    test_data: object
    model: object
    trainer: object = None


def build(config, with_trainer=True, wrap_trainer=None, on_stage=None):
    """Build everything a run needs from a :class:`recbole_hier.config.Config`.

    Args:
        with_trainer: also build the trainer (``load_data_and_model`` needs none).
        wrap_trainer: ``trainer_class -> trainer_class``, for callers that add hooks
            (the benchmark's timing and resumable progress).
        on_stage: ``(stage name, seconds) -> None``, called as each stage ends
            (``create_dataset``, ``data_preparation``, ``model``, ``trainer``): the scale benchmark.
    """
    clock = _StageClock(on_stage)
    init_seed(config["seed"], config["reproducibility"])
    # RecBole's init_logger makes ./log/<model>/ by check-then-create, which races between DDP
    # ranks starting together on a fresh checkout (FileExistsError): make it first, race-free.
    os.makedirs(os.path.join("log", config["model"]), exist_ok=True)
    init_logger(config)
    logger = getLogger()
    logger.info(config)
    dataset = create_dataset(config)
    clock.done("create_dataset")
    logger.info(dataset)
    train_data, valid_data, test_data = data_preparation(config, dataset)
    clock.done("data_preparation")
    # as RecBole's quick start: each rank of a distributed run initialises from its own seed
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    exclude_from_training(model, getattr(dataset, "cold_item_ids", ()), dataset.item_num)
    if config["init_from"]:  # pre-trained on another catalogue (a resumed run's progress overrides it)
        init_from(model, config["init_from"])
    clock.done("model")
    logger.info(model)
    built = Pipeline(config, dataset, train_data, valid_data, test_data, model)
    if with_trainer:
        check_output_folder(config["checkpoint_dir"], model)  # RecBole's trainer creates it
        trainer_class = get_trainer(config["MODEL_TYPE"], config["model"])
        built.trainer = (wrap_trainer(trainer_class) if wrap_trainer else trainer_class)(config, model)
        built.trainer.data_identity = data_identity(dataset)
        folder = os.path.dirname(os.path.abspath(built.trainer.saved_model_file))
        if folder != os.path.abspath(config["checkpoint_dir"]):  # a wrapper moved it (benchmark progress)
            check_output_folder(folder, model)
        clock.done("trainer")
    return built


class _StageClock:
    def __init__(self, on_stage):
        self.on_stage, self.start = on_stage, time.perf_counter()

    def done(self, stage):
        if self.on_stage is not None:
            now = time.perf_counter()
            self.on_stage(stage, now - self.start)
            self.start = now


def check_output_folder(folder, model, spare_bytes=2**20):
    """Fail before training, naming ``folder``, when it cannot hold a checkpoint of ``model``
    (weights + the optimizer's two moments): unwritable, or the disk too full."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        write_text(probe, "ok")
        os.unlink(probe)
    except OSError as err:
        raise OSError(f"cannot write checkpoints to {folder!r} ({err.strerror or err}); set checkpoint_dir "
                      "to a writable folder") from None
    needed = 3 * sum(p.numel() * p.element_size() for p in model.parameters()) + spare_bytes
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OSError(f"{folder!r} has {free / 2**20:.1f} MB free, a checkpoint of this model needs about "
                      f"{needed / 2**20:.1f} MB; free space or set checkpoint_dir elsewhere")
