"""Run a model end to end the RecBole way, through :mod:`recbole_hier.pipeline`.

Mirrors ``recbole.quick_start`` (never imported: it imports ``ray`` at the top) with
:class:`recbole_hier.config.Config`, the plugin-first look-ups and pickle-free
checkpoints, so HierRec and any RecBole baseline take the same path.
"""

import sys
from collections.abc import MutableMapping
from logging import getLogger

import torch.distributed as dist
from recbole.data.transform import construct_transform
from recbole.utils import get_environment, get_flops, set_color

from recbole_hier import pipeline
from recbole_hier.checkpoint import check_data, data_identity, external_config, load_checkpoint, load_weights
from recbole_hier.config import Config


def run_recbole_hier(model=None, dataset=None, config_file_list=None, config_dict=None,
                     cmd_args=None, saved=True, queue=None):
    """Train and test one model; returns RecBole's result dict.

    Args: as ``recbole.quick_start.run_recbole``, plus ``cmd_args`` (``--key=value``
    overrides, highest precedence).
    """
    config = Config(model, dataset, config_file_list, config_dict, cmd_args)
    run = pipeline.build(config)
    logger = getLogger()
    logger.info(sys.argv)
    flops = get_flops(run.model, run.dataset, config["device"], logger, construct_transform(config))
    logger.info(set_color("FLOPs", "blue") + f": {flops}")

    trainer = run.trainer
    best_valid_score, best_valid_result = trainer.fit(
        run.train_data, run.valid_data, saved=saved, show_progress=config["show_progress"]
    )
    test_result = trainer.evaluate(
        run.test_data, load_best_model=saved, show_progress=config["show_progress"]
    )
    logger.info("The running environment of this training is as follows:\n"
                + get_environment(config).draw())
    logger.info(set_color("best valid ", "yellow") + f": {best_valid_result}")
    logger.info(set_color("test result", "yellow") + f": {test_result}")

    result = {
        "model": config["model"],
        "dataset": config["dataset"],
        "valid_metric": config["valid_metric"],
        "best_valid_score": best_valid_score,
        "valid_score_bigger": config["valid_metric_bigger"],
        "best_valid_result": best_valid_result,
        "test_result": test_result,
        "saved_model_file": trainer.saved_model_file if saved else None,
    }
    if not config["single_spec"]:
        dist.destroy_process_group()
    if config["local_rank"] == 0 and queue is not None:
        queue.put(result)
    return result


def _run_rank(rank, model, dataset, config_file_list, kwargs):
    """One spawned process of a distributed run (top level: picklable for spawn)."""
    if not isinstance(kwargs, MutableMapping):
        raise ValueError(f"expected a dict of keyword arguments, got {type(kwargs)}")
    kwargs["config_dict"] = {**kwargs.get("config_dict", {}), "local_rank": rank}
    run_recbole_hier(model, dataset, config_file_list, **kwargs)


def run(model, dataset, config_file_list=None, config_dict=None, cmd_args=None, saved=True,
        nproc=1, world_size=-1, ip="localhost", port="5678", group_offset=0):
    """Single process, or RecBole's multi-process (DDP) mode with ``nproc`` ranks here."""
    if nproc == 1 and world_size <= 0:
        return run_recbole_hier(model, dataset, config_file_list, config_dict, cmd_args, saved)
    import torch.multiprocessing as mp

    world_size = nproc if world_size == -1 else world_size
    queue = mp.get_context("spawn").SimpleQueue()
    config_dict = {**(config_dict or {}), "world_size": world_size, "ip": ip, "port": port,
                   "nproc": nproc, "offset": group_offset}
    kwargs = {"config_dict": config_dict, "cmd_args": cmd_args, "saved": saved, "queue": queue}
    mp.spawn(_run_rank, args=(model, dataset, config_file_list, kwargs), nprocs=nproc, join=True)
    return None if queue.empty() else queue.get()


def load_data_and_model(model_file, device=None):
    """Rebuild config, data and the trained model from a recbole_hier checkpoint.

    Returns ``(config, model, dataset, train_data, valid_data, test_data)`` like
    RecBole's function of the same name; the checkpoint is loaded weights-only.
    """
    checkpoint = load_checkpoint(model_file, map_location="cpu")
    config_dict = external_config(checkpoint)
    if device is not None:
        config_dict["use_gpu"] = str(device) != "cpu"
    config_dict["init_from"] = None  # the checkpoint's own weights replace any warm start
    config = Config(checkpoint["config"]["model"], checkpoint["config"]["dataset"],
                    config_dict=config_dict)
    run = pipeline.build(config, with_trainer=False)
    check_data(checkpoint, data_identity(run.dataset), model_file)
    load_weights(run.model, checkpoint, model_file)
    run.model.eval()
    return config, run.model, run.dataset, run.train_data, run.valid_data, run.test_data
