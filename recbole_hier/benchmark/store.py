"""Stored runs: one JSON record per finished run, and the progress of runs part-way.

``<runs_dir>/<key>.json`` is a finished run's record; ``<runs_dir>/<key>.progress/``
holds a run stopped part-way (see :mod:`recbole_hier.benchmark.progress`).
With ``checkpoints_dir``, a finished run's best-validation checkpoint is kept as
``<checkpoints_dir>/<key>.pth`` (for rescoring, recommending or resuming analysis);
without it, it is deleted with the progress. A run another run starts from (a suite's
``init_from``) keeps its best checkpoint as ``<runs_dir>/<key>.pth`` (git-ignored).
"""

import json
import os

from recbole_hier.benchmark.plan import differing_keys, stale_settings
from recbole_hier.checkpoint import load_checkpoint, save_checkpoint
from recbole_hier.files import write_json

PROGRESS_SUFFIX = ".progress"


class RunStore:
    def __init__(self, runs_dir, checkpoints_dir=None):
        self.runs_dir, self.checkpoints_dir = runs_dir, checkpoints_dir

    def path(self, key):
        return os.path.join(self.runs_dir, key + ".json")

    def error_path(self, key):
        return os.path.join(self.runs_dir, key + ".error.txt")

    def progress_dir(self, key):
        return os.path.join(self.runs_dir, key + PROGRESS_SUFFIX)

    def checkpoint_path(self, key):
        """Where a finished run's best checkpoint is kept; None: it is not kept."""
        return os.path.join(self.checkpoints_dir, key + ".pth") if self.checkpoints_dir else None

    def source_checkpoint(self, key):
        """Where the best checkpoint of run ``key`` is kept for the runs that start from it."""
        return os.path.join(self.runs_dir, key + ".pth")

    def load(self, key):
        path = self.path(key)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def write(self, key, record):
        write_json(self.path(key), record)

    def stale_keys(self, spec, record):
        """Keys whose stored value differs from what ``spec`` asks for (a stale result); ``rescore``
        when the record was scored under another rescore grid than the spec's."""
        stale = stale_settings(spec.config, spec.inherited, record.get("config", {}), record.get("inherited"))
        if record.get("init_from_run") != spec.init_source:
            stale.append("init_from")
        scored = [row["setting"] for row in record.get("rescored", ())]
        if spec.rescore and scored and scored != [{}] + list(spec.rescore):
            stale.append("rescore")
        return stale

    @staticmethod
    def unscored(spec, record):
        """Whether ``record`` lacks the rescore rows ``spec`` asks for: its figures stand, but the
        scoring grid needs the best checkpoint, so the run trains again (same config and seed)."""
        return bool(spec.rescore) and not record.get("rescored")

    def needs_training(self, spec, record, key=None):
        """Whether stored ``record`` (of run ``key``, ``spec``'s own by default) still needs its
        run trained: for the rescore grid (:meth:`unscored`), or because other runs start from its
        best checkpoint and it was not kept."""
        lost = spec.keep_for_transfer and not os.path.exists(self.source_checkpoint(key or spec.key))
        return self.unscored(spec, record) or lost

    def current(self, spec):
        """The stored run of ``spec`` if it was made with exactly ``spec``'s configuration."""
        record = self.load(spec.key)
        return record if record is not None and not self.stale_keys(spec, record) else None

    def finished(self, spec):
        """Whether ``spec`` needs no more running: stored with its configuration and scored."""
        record = self.current(spec)
        return record is not None and not self.needs_training(spec, record)

    def stamp_inherited(self, plan):
        """Give the runs of ``plan`` stored before runs kept what they inherited, and current by
        their suite keys, the defaults and presets as they are now (``inherited``); returns the
        files stamped. Run it before changing a default or preset, so that the change makes the
        runs it touches stale instead of passing them as current. A run already stale by its
        suite keys is left as it is: it ran under settings other than today's."""
        stamped = []
        for spec in plan.specs(self):
            record = self.load(spec.key)
            if record is not None and "inherited" not in record and not self.stale_keys(spec, record):
                # stamped, not recorded by the run: the defaults it trained under are assumed, as they were before
                self.write(spec.key, {**record, "inherited": spec.inherited, "inherited_stamped": True})
                stamped.append(spec.key + ".json")
            path = os.path.join(self.progress_dir(spec.key), "last.pth")
            progress = load_checkpoint(path) if os.path.exists(path) else None
            if (progress is not None and "inherited" not in progress
                    and not differing_keys(spec.config, json.loads(progress["run_config"]))):
                progress.pop("format")
                save_checkpoint({**progress, "inherited": json.dumps(spec.inherited, sort_keys=True),
                                 "inherited_stamped": True}, path)
                stamped.append(spec.key + PROGRESS_SUFFIX)
        return stamped

    def part_way(self):
        """Keys of the runs with saved progress (stopped part-way)."""
        names = os.listdir(self.runs_dir) if os.path.isdir(self.runs_dir) else []
        return sorted(n[: -len(PROGRESS_SUFFIX)] for n in names if n.endswith(PROGRESS_SUFFIX))
