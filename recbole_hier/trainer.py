"""Trainers: RecBole's, with pickle-free checkpoints, a working CPU/DDP path and weight
averaging (``weight_average.py``), plus HierRec's KL annealing hook."""

import os
import uuid

import torch.distributed as dist
from recbole.trainer import Trainer
from recbole.utils import set_color
from torch.nn.parallel import DistributedDataParallel

from recbole_hier.checkpoint import (CheckpointError, check_data, config_state, load_checkpoint, load_weights,
                                     save_checkpoint)
from recbole_hier.weight_average import WeightAverageMixin


class SafeCheckpointMixin:
    """Replaces RecBole's pickled checkpoints with :mod:`recbole_hier.checkpoint`.

    Mixed into any RecBole trainer class (see :func:`with_safe_checkpoints`) so
    baselines and HierRec save, resume and ``load_best_model`` the same way.
    """

    def checkpoint_state(self, epoch):
        """What a checkpoint holds (one schema: best-model files and benchmark progress)."""
        return {
            "config": config_state(self.config),
            "epoch": int(epoch),
            "cur_step": int(self.cur_step),
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
            # set by recbole_hier.pipeline: the data a checkpoint may be loaded into
            "data": getattr(self, "data_identity", None),
        }

    def restore_state(self, checkpoint, path="checkpoint", require_data=True):
        """Continue from :meth:`checkpoint_state`'s contents: weights, optimizer, counters.
        ``require_data=False``: a checkpoint that records no data identity is accepted
        (benchmark progress, which is matched to its run by the run's config instead)."""
        if getattr(self, "data_identity", None) is not None and (require_data or checkpoint.get("data")):
            check_data(checkpoint, self.data_identity, path)
        if "optimizer" not in checkpoint:
            raise CheckpointError(f"{path!r} holds weights for scoring only (the best epoch of a resumed "
                                  "benchmark run), no optimizer state: training cannot resume from it")
        load_weights(self.model, checkpoint, path)
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]

    def _save_checkpoint(self, epoch, verbose=True, **kwargs):
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return  # rank 0 writes; the others hold identical weights
        saved_model_file = kwargs.pop("saved_model_file", self.saved_model_file)
        save_checkpoint(self.checkpoint_state(epoch), saved_model_file)
        if verbose:
            self.logger.info(set_color("Saving current", "blue") + f": {saved_model_file}")

    def resume_checkpoint(self, resume_file):
        resume_file = str(resume_file)
        checkpoint = load_checkpoint(resume_file, map_location=self.device)
        if checkpoint["config"]["model"].lower() != self.config["model"].lower():
            raise ValueError(
                f"checkpoint {resume_file!r} is for model {checkpoint['config']['model']!r}, "
                f"not {self.config['model']!r}"
            )
        self.saved_model_file = resume_file
        self.restore_state(checkpoint, resume_file)
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if eval_data and load_best_model:
            checkpoint_file = model_file or self.saved_model_file
            load_weights(self.model, load_checkpoint(checkpoint_file, map_location=self.device))
            self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)


class DistributedFixesMixin:
    """Makes RecBole 1.2.1's multi-process (DDP) mode work, on CPUs too.

    * RecBole wraps the model with ``DistributedDataParallel(device_ids=[rank])``,
      which CPU modules reject: on CPU we wrap without ``device_ids`` (gloo).
    * Checkpoint names get the process id and a random suffix, so no two runs share one;
      rank 0's name is broadcast, so every rank reloads the file rank 0 wrote.
    * Only rank 0 writes the checkpoint: the others wait for it before reloading.
    """

    def __init__(self, config, model):
        distributed = not config["single_spec"]
        on_cpu = distributed and config["device"].type == "cpu"
        if on_cpu:
            config["single_spec"] = True  # keep RecBole from passing device_ids
        try:
            super().__init__(config, model)
        finally:
            if on_cpu:
                config["single_spec"] = False
        if on_cpu:
            self.distributed_model = DistributedDataParallel(self.model)
        # RecBole names the file <model>-<time to the second>.pth: two runs started in the
        # same second would share (and overwrite) one best checkpoint
        base, ext = os.path.splitext(self.saved_model_file)
        self.saved_model_file = f"{base}-{os.getpid()}-{uuid.uuid4().hex[:6]}{ext}"
        if distributed:
            names = [self.saved_model_file]
            dist.broadcast_object_list(names, src=0)
            self.saved_model_file = names[0]

    def evaluate(self, eval_data, load_best_model=True, model_file=None, show_progress=False):
        if load_best_model and not self.config["single_spec"]:
            dist.barrier()  # rank 0 has finished writing the best checkpoint
        return super().evaluate(eval_data, load_best_model, model_file, show_progress)


class LanguageModelGroupMixin:
    """The trained language-model layers (``plm_train_layers``) get their own learning rate and
    weight decay (``plm_learning_rate``, ``plm_weight_decay``) in the optimizer, warmed up
    linearly over ``plm_warmup_steps`` optimisation steps. The step comes from the epoch index,
    so a resumed run continues the schedule where it stopped."""

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        warmup = self.config["plm_warmup_steps"] or 0
        groups = self.optimizer.param_groups
        if warmup <= 0 or len(groups) < 2:
            return super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)
        loss_func = loss_func or self.model.calculate_loss
        step = epoch_idx * len(train_data)

        def warmed_up(interaction):  # called once per step, before its optimizer step
            nonlocal step
            step += 1
            groups[1]["lr"] = self.config["plm_learning_rate"] * min(1.0, step / warmup)
            return loss_func(interaction)

        return super()._train_epoch(train_data, epoch_idx, warmed_up, show_progress)

    def _build_optimizer(self, **kwargs):
        items = getattr(self.model, "item_representation", None)
        layers = items.language_model_parameters() if items is not None else []
        if layers and "params" not in kwargs:
            mine = {id(p) for p in layers}
            kwargs["params"] = [
                {"params": [p for p in self.model.parameters() if id(p) not in mine]},
                {"params": layers, "lr": self.config["plm_learning_rate"],
                 "weight_decay": self.config["plm_weight_decay"]},
            ]
        return super()._build_optimizer(**kwargs)


def with_safe_checkpoints(trainer_class):
    """``trainer_class`` with the checkpoint and distributed fixes (and weight averaging, the
    language model's optimizer group) in front of it."""
    if issubclass(trainer_class, SafeCheckpointMixin):
        return trainer_class
    return type(trainer_class.__name__, (WeightAverageMixin, SafeCheckpointMixin, DistributedFixesMixin,
                                         LanguageModelGroupMixin, trainer_class), {})


class HierRecTrainer(WeightAverageMixin, SafeCheckpointMixin, DistributedFixesMixin, LanguageModelGroupMixin,
                     Trainer):
    """RecBole's trainer plus the KL-annealing hook of HierRec's VAE head.

    Before every optimisation step the model's KL weight is set to
    ``kl_beta_max * min(1, step / kl_anneal_steps)`` (``kl_anneal_steps: 0`` = no
    annealing). The step is derived from the epoch index, so resuming from a
    checkpoint continues the schedule where it stopped.
    """

    def _generate_train_loss_output(self, epoch_idx, s_time, e_time, losses):
        """RecBole's epoch line, with each loss part under its name (ce_semantic, vae_kl,
        aux_<level>_<field>, ...) instead of train_loss1..N."""
        line = super()._generate_train_loss_output(epoch_idx, s_time, e_time, losses)
        names = getattr(self.model, "loss_names", None)
        if isinstance(losses, tuple) and names is not None and len(names) == len(losses):
            for index in range(len(names), 0, -1):  # train_loss10 before train_loss1
                line = line.replace(f"train_loss{index}", names[index - 1])
        return line

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        model = self.model
        loss_func = loss_func or model.calculate_loss
        first_step = epoch_idx * len(train_data)
        step_in_epoch = 0

        def annealed_loss(interaction):
            nonlocal step_in_epoch
            model.set_kl_beta_for_step(first_step + step_in_epoch)
            step_in_epoch += 1
            return loss_func(interaction)

        return super()._train_epoch(train_data, epoch_idx, annealed_loss, show_progress)
