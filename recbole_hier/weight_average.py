"""Weight averaging: validate, keep and score an exponential moving average of the weights.

With ``weight_average_epochs: h`` (> 0) every optimisation step moves an average of each
trained weight towards its new value, ``avg = decay * avg + (1 - decay) * weight``, with
``decay = 1 - 1 / (h * steps per epoch)``: the average's time constant is h epochs whatever
the catalogue's size. During the first steps the decay is at most ``(1 + n) / (10 + n)`` after
n steps, so the average leaves the random initialisation behind at once. Training runs on the
raw weights; validation, the kept best checkpoint, the test and everything loaded from a
checkpoint afterwards (``--recommend``, ``init_from``) use the average.

Why: on the long-history catalogues validation NDCG@10 moves by about 0.004 from one epoch
to the next (``python -m recbole_hier.benchmark.curves --suite long``, column ``step sd``), so
the kept checkpoint is often a spike and early stopping counts its patience from it; an
average of the recent weights moves less.

A checkpoint then holds the average as ``state_dict`` (what every loader scores with), the raw
weights as ``training_weights`` (what a resumed run trains on) and the number of averaged
steps. A trainer option, not a model's: a comparison can give it to every model alike.
"""

import torch


def _trained(model):
    return [(name, param) for name, param in model.named_parameters() if param.requires_grad]


class WeightAverageMixin:
    """Keeps the moving average for a RecBole trainer (``weight_average_epochs``; 0 = off)."""

    def __init__(self, config, model):
        super().__init__(config, model)
        self.average_epochs = float(config["weight_average_epochs"] or 0.0)
        self.average = None  # {name: tensor}, trained parameters only
        self.average_updates = 0
        self.steps_per_epoch = None  # set by each training epoch
        if self.average_epochs > 0:
            trained = _trained(self.model)
            self.average = {name: param.detach().clone() for name, param in trained}
            # paired once per run: a step's update is one fused call over these lists
            self._averaged = [self.average[name] for name, _ in trained]
            self._params = [param for _, param in trained]
            self.optimizer.register_step_post_hook(lambda *_: self._update_average())

    def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
        self.steps_per_epoch = len(train_data)
        return super()._train_epoch(train_data, epoch_idx, loss_func, show_progress)

    @torch.no_grad()
    def _update_average(self):
        decay = 1.0 - 1.0 / max(1.0, self.average_epochs * self.steps_per_epoch)
        decay = min(decay, (1 + self.average_updates) / (10 + self.average_updates))
        torch._foreach_lerp_(self._averaged, self._params, 1.0 - decay)
        self.average_updates += 1

    @torch.no_grad()
    def _swap_average(self):
        """Exchange the model's trained weights and the average (its own inverse)."""
        for name, param in _trained(self.model):
            held = param.detach().clone()
            param.copy_(self.average[name])
            self.average[name].copy_(held)

    def _valid_epoch(self, valid_data, show_progress=False):
        if self.average is None:
            return super()._valid_epoch(valid_data, show_progress)
        self._swap_average()
        try:
            return super()._valid_epoch(valid_data, show_progress)
        finally:
            self._swap_average()

    def checkpoint_state(self, epoch):
        state = super().checkpoint_state(epoch)
        if self.average is not None:
            trained = dict(_trained(self.model))
            state["training_weights"] = {name: param.detach().clone() for name, param in trained.items()}
            state["state_dict"] = {name: self.average[name].clone() if name in trained else tensor
                                   for name, tensor in state["state_dict"].items()}
            state["weight_average_updates"] = int(self.average_updates)
        return state

    @torch.no_grad()
    def restore_state(self, checkpoint, path="checkpoint", require_data=True):
        """After the base restore (which loads ``state_dict``: the average, if the checkpoint
        has one): the average from it, and the raw weights training goes on from."""
        super().restore_state(checkpoint, path, require_data)
        raw = checkpoint.get("training_weights")
        trained = _trained(self.model)
        if self.average is not None:
            # a checkpoint saved without averaging starts the average at its weights
            for name, param in trained:
                self.average[name].copy_(param)
            self.average_updates = int(checkpoint.get("weight_average_updates", 0))
        if raw is not None:
            missing = sorted(name for name, _ in trained if name not in raw)
            if missing:
                raise KeyError(f"{path!r} holds no raw training weights for {missing[:3]}")
            for name, param in trained:
                param.copy_(raw[name])
