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

    def rename_model(self, old, new):
        """Give the stored runs of suite model ``old`` (its seeded runs and its grid runs
        ``old@key=value``) the name ``new``: records, progress and kept checkpoints alike, and
        every record's ``reused_from``/``init_from_run`` that names them. A record keeps its
        former key as ``renamed_from``. For a changed default: the runs trained under the
        former one move to the model that now pins it, the lever's runs to the model it became.
        Refuses, before moving anything, where a run of ``new`` is stored or none of ``old`` is. Returns
        ``[(old key, new key)]``."""
        def renamed(key):  # None: not a run of ``old``
            parts = key.split("__")
            if len(parts) != 3 or not (parts[1] == old or parts[1].startswith(old + "@")):
                return None
            return "__".join([parts[0], new + parts[1][len(old):], parts[2]])

        names = sorted(os.listdir(self.runs_dir)) if os.path.isdir(self.runs_dir) else []
        suffixes = (".json", PROGRESS_SUFFIX, ".pth", ".error.txt")
        moves = []  # (old file, new file, old key, new key)
        for name in names:
            suffix = next((x for x in suffixes if name.endswith(x)), None)
            target = renamed(name[: -len(suffix)]) if suffix else None
            if target is not None:
                moves.append((name, target + suffix, name[: -len(suffix)], target))
        if not moves:
            raise ValueError(f"{self.runs_dir}: no stored runs of model {old!r} to rename")
        taken = [to for _, to, _, _ in moves if os.path.exists(os.path.join(self.runs_dir, to))]
        if taken:
            raise ValueError(f"{self.runs_dir}: cannot rename model {old!r} to {new!r}: runs of {new!r} are "
                             f"stored ({', '.join(taken)}); rename or remove them first")
        for name, to, key, target in moves:
            source = os.path.join(self.runs_dir, name)
            if name.endswith(".json"):
                self.write(target, {**self.load(key), "name": target.split("__")[1], "renamed_from": key})
                os.remove(source)
            else:
                os.replace(source, os.path.join(self.runs_dir, to))
        keys = {key: target for _, _, key, target in moves}
        for name in sorted(os.listdir(self.runs_dir)):
            if name.endswith(".json"):
                record = self.load(name[: -len(".json")])
                links = {f: keys[record[f]] for f in ("reused_from", "init_from_run") if record.get(f) in keys}
                if links:
                    self.write(name[: -len(".json")], {**record, **links})
        return sorted(keys.items())

    def part_way(self):
        """Keys of the runs with saved progress (stopped part-way)."""
        names = os.listdir(self.runs_dir) if os.path.isdir(self.runs_dir) else []
        return sorted(n[: -len(PROGRESS_SUFFIX)] for n in names if n.endswith(PROGRESS_SUFFIX))
