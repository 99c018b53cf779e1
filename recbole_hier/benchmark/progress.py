"""Mid-run resumption: a benchmark run continues where it stopped, not from epoch 0.

A run on amazon-beauty takes hours on CPU, longer than what is left of a working
session. After every validation the trainer's whole state is written atomically to
``<runs_dir>/<key>.progress/last.pth``: model and optimizer, early-stopping counters,
best validation result and the weights it came from, per-epoch losses and timings,
and every random-number generator the training loop draws from (torch, CUDA, numpy,
``random`` and the training loader's own shuffling generator). Frozen weights (the item
text table, tens of MB on a large catalogue) are not stored: a resumed run rebuilds them
from its text cache and checks them against a fingerprint, which keeps progress small
enough to commit beside the results, so a run longer than a working session resumes on
another machine. A rerun of the same run loads it (``weights_only``: no pickled code
runs) and goes on from the next epoch, so on CPU the finished record equals that of an
uninterrupted run. A stop loses at most the epoch in progress. The folder is removed
once the run's record is written.
"""

import json
import os
import random
import resource
import shutil
import time

import numpy as np
import torch

from recbole_hier.benchmark.plan import stale_settings
from recbole_hier.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from recbole_hier.files import copy_file


# a frozen tensor's fingerprint: its rows times a fixed random [D 8] matrix; equal up to
# float rounding when the same model rebuilds the same table on other hardware
_FINGERPRINT_SEED, _FINGERPRINT_DIM = 20240601, 8


class Paused(Exception):
    """Raised at an epoch boundary when the run's time limit has passed (progress saved)."""


def _rng_state(train_data):
    np_state, py_state = np.random.get_state(), random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "loader": train_data.generator.get_state(),
    }


def _set_rng_state(state, train_data):
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    train_data.generator.set_state(state["loader"])


def _fingerprint(tensor):  # [N ... D] -> [N 8]
    rows = tensor.detach().double().cpu().reshape(tensor.size(0) if tensor.dim() else 1, -1)
    generator = torch.Generator().manual_seed(_FINGERPRINT_SEED)
    return rows @ torch.randn(rows.size(1), _FINGERPRINT_DIM, generator=generator, dtype=torch.double)


def frozen_names(model):
    """The model's weights that training never changes (rebuilt, not stored, on resume)."""
    return sorted(name for name, param in model.named_parameters() if not param.requires_grad)


def without_frozen(state_dict, names):
    return {k: v for k, v in state_dict.items() if k not in names}


def refill_frozen(state_dict, fingerprints, model, path):
    """Put the model's rebuilt frozen weights back into a stored ``state_dict``, refusing
    them unless they match the fingerprints stored with it."""
    fresh = model.state_dict()
    for name, stored in fingerprints.items():
        tensor = fresh.get(name)
        now = None if tensor is None else _fingerprint(tensor)
        if now is None or now.shape != stored.shape:
            raise CheckpointError(f"progress {path!r} was made with a frozen weight {name!r} this model "
                                  "does not have (was the code changed?); delete its folder to start again")
        if not torch.allclose(now, stored, rtol=1e-4, atol=1e-4 * float(stored.abs().max().clamp(min=1e-12))):
            raise CheckpointError(
                f"progress {path!r} was trained with a different {name!r} than this run builds "
                f"(largest fingerprint difference {float((now - stored).abs().max()):.3g}): the item text, "
                "its template or the language model changed; delete its folder to start again")
        state_dict[name] = tensor.detach().clone()
    return state_dict


def resumable(trainer_class, progress_dir, run_config, deadline=None, process_info=None, inherited=None):
    """``trainer_class`` that saves its progress after every validation in
    ``progress_dir`` and can resume from it.

    ``run_config``: the run's own configuration (the suite's keys), stored and
    compared on resume so progress is never continued under different settings;
    ``inherited``: what it takes from defaults and presets (``RunSpec.inherited``), likewise.
    ``deadline``: ``time.time()`` after which the run pauses (raises :class:`Paused`)
    at the next validation, its progress saved.
    ``process_info``: what this process ran on (device, threads, allocator); kept per
    process in ``segments``, since a resumed run's epochs can come from several hosts
    or thread counts and one mean of their seconds would hide that.
    """

    class Resumable(trainer_class):
        def __init__(self, config, model):
            super().__init__(config, model)
            self.progress_dir = progress_dir
            # the best-valid checkpoint lives with the progress, not under saved/<time>.pth
            self.saved_model_file = os.path.join(progress_dir, "best.pth")
            self.epoch_seconds, self.eval_seconds, self.resumed_at = [], [], []
            self.valid_scores = []  # [epoch, validation score] at each validation: the run's curve
            self.segments = [{"from_epoch": 0, **(process_info or {})}]
            self.earlier_peak_memory_mb = 0.0  # peak of the processes before a resume
            self.early_stopped = False

        @property
        def last_path(self):
            return os.path.join(self.progress_dir, "last.pth")

        def fit(self, train_data, valid_data=None, **kwargs):
            self._train_data = train_data
            if self.early_stopped or self.start_epoch >= self.epochs:
                # finished before the stop: RecBole's fit would overwrite the best checkpoint
                self.eval_collector.data_collect(train_data)
                return self.best_valid_score, self.best_valid_result
            user_callback = kwargs.pop("callback_fn", None)

            def callback(epoch_idx, valid_score):
                self.valid_scores.append([int(epoch_idx), float(valid_score)])
                self.early_stopped = self.cur_step > self.stopping_step
                self._save_progress(epoch_idx)
                if user_callback:
                    user_callback(epoch_idx, valid_score)
                done = self.early_stopped or epoch_idx + 1 >= self.epochs
                if deadline is not None and not done and time.time() >= deadline:
                    raise Paused(f"paused after epoch {epoch_idx + 1}; progress in {self.progress_dir}")

            return super().fit(train_data, valid_data, callback_fn=callback, **kwargs)

        def _save_progress(self, epoch_idx):
            best = load_checkpoint(self.saved_model_file) if os.path.exists(self.saved_model_file) else {}
            frozen = frozen_names(self.model)
            if best:
                # the best weights score the test and make the kept checkpoint; training goes
                # on from the current state, so the best one's optimizer state (and raw weights
                # under weight averaging) are not kept
                best = {**best, "state_dict": without_frozen(best["state_dict"], frozen)}
                best.pop("optimizer", None)
                best.pop("training_weights", None)
            state = self.checkpoint_state(epoch_idx)
            save_checkpoint({
                **state,
                "state_dict": without_frozen(state["state_dict"], frozen),
                "frozen": {name: _fingerprint(state["state_dict"][name]) for name in frozen},
                "run_config": json.dumps(run_config, sort_keys=True),
                "inherited": json.dumps(inherited or {}, sort_keys=True),
                "best_valid_result": {k: float(v) for k, v in (self.best_valid_result or {}).items()},
                "early_stopped": bool(self.early_stopped),
                "train_loss": [[int(e), float(v)] for e, v in sorted(self.train_loss_dict.items())],
                "epoch_seconds": list(self.epoch_seconds),
                "eval_seconds": list(self.eval_seconds),
                "valid_scores": list(self.valid_scores),
                "resumed_at": list(self.resumed_at),
                "segments": json.dumps(self.segments),
                "peak_memory_mb": self.peak_memory_mb(),
                "best": best,
                "rng": _rng_state(self._train_data),
            }, self.last_path)

        def resume_progress(self, train_data):
            """Continue from ``last.pth`` if there is one; returns the epoch resumed at (or None)."""
            if not os.path.exists(self.last_path):
                return None
            # on CPU: RNG states must stay CPU tensors; weights and optimizer state are
            # moved to the model's device when they are loaded into it
            progress = load_checkpoint(self.last_path, map_location="cpu")
            stored = progress.get("inherited")  # absent in progress saved before it was kept
            stale = stale_settings(run_config, inherited or {}, json.loads(progress["run_config"]),
                                   json.loads(stored) if stored is not None else None)
            if stale:
                raise CheckpointError(
                    f"progress {self.last_path!r} was made with a different config for {stale}: "
                    f"delete {self.progress_dir!r} to start this run again")
            for state in (progress, progress["best"]) if progress["best"] else (progress,):
                refill_frozen(state["state_dict"], progress.get("frozen", {}), self.model, self.last_path)
            try:
                self.restore_state(progress, self.last_path, require_data=False)
            except (RuntimeError, ValueError, KeyError) as err:
                raise CheckpointError(
                    f"progress {self.last_path!r} does not fit this model (was the code changed?): {err}; "
                    f"delete {self.progress_dir!r} to start this run again") from None
            if progress["best"]:
                save_checkpoint({k: v for k, v in progress["best"].items() if k != "format"}, self.saved_model_file)
            self.best_valid_result = progress["best_valid_result"]
            self.early_stopped = progress["early_stopped"]
            self.train_loss_dict = {e: v for e, v in progress["train_loss"]}
            self.epoch_seconds = list(progress["epoch_seconds"])
            self.eval_seconds = list(progress["eval_seconds"])
            # progress saved before curves were kept has none: the curve then starts at this
            # resume (its epochs say so)
            self.valid_scores = [[int(e), float(v)] for e, v in progress.get("valid_scores", [])]
            self.resumed_at = list(progress["resumed_at"]) + [self.start_epoch]
            self.segments = json.loads(progress["segments"]) + [{"from_epoch": self.start_epoch, **(process_info or {})}]
            self.earlier_peak_memory_mb = progress["peak_memory_mb"]
            _set_rng_state(progress["rng"], train_data)
            self.logger.info(f"resumed from {self.last_path} at epoch {self.start_epoch}")
            return self.start_epoch

        def peak_memory_mb(self):
            """Peak memory over the whole run, every resumed process included."""
            return max(self.earlier_peak_memory_mb, peak_memory_mb(self.device))

        def keep_best(self, path):
            """Copy the best-validation checkpoint to ``path`` (atomically) before the
            progress folder goes."""
            copy_file(self.saved_model_file, path)

        def discard_progress(self):
            shutil.rmtree(self.progress_dir, ignore_errors=True)

    Resumable.__name__ = trainer_class.__name__
    return Resumable


def peak_memory_mb(device):
    """Peak memory of this process so far: CUDA max allocated on a GPU, else peak RSS."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def progress_summary(progress_dir):
    """Where a part-way run stands, from its ``last.pth``: epochs done, the best validation
    score so far and how many validations ago, the mean training seconds per epoch; None
    without saved progress."""
    path = os.path.join(progress_dir, "last.pth")
    if not os.path.isfile(path):
        return None
    state = load_checkpoint(path)
    seconds = state.get("epoch_seconds") or []
    return {"epochs": len(seconds), "best_valid": float(state["best_valid_score"]),
            "since_best": int(state["cur_step"]),
            "epoch_seconds": float(np.mean(seconds)) if len(seconds) else None}
