"""A benchmark plan: what a suite file asks to run, in which order, and what it chose.

A suite YAML::

    name: cpu
    presets: [properties/protocol/sequential.yaml]   # relative to the repository root
    config: {epochs: 30, stopping_step: 3}      # shared by every run (the budget)
    seeds: [2020, 2021, 2022]
    reference: HierRec                          # compared with every other model
    tuning:                                     # optional; chosen on validation only
      grid: {learning_rate: [0.0005, 0.001, 0.002]}
      seed: 2020                                # grid runs use this seed
      datasets: [amazon-scientific]             # tuned here; the others take the first one's choice
    datasets:
      amazon-scientific: {}                     # + properties/dataset/<name>.yaml if present
      ml-100k: {config: {MAX_ITEM_LIST_LENGTH: 20}, verdict: {min_seeds: 3}}
      ml-100k-L200: {dataset: ml-100k, config: {MAX_ITEM_LIST_LENGTH: 200}}   # a second entry of one dataset
    models:
      SASRec: {}                                # tuned over the suite grid
      HierRec: {grid: {learning_rate: [...]}}   # its own grid, same number of points
      Pop: {seeds: [2020], tune: false}         # fewer seeds (say so in the file); nothing to tune
      HierRec-noVAE: {model: HierRec, config: {vae: false}, datasets: [amazon-scientific], tune: HierRec}
      HierRec-pre: {model: HierRec, tune: HierRec, datasets: [amazon-scientific],
                    init_from: {dataset: amazon-beauty, model: HierRec}}   # pre-trained there, same seed
    verdict: {min_seeds: 5}                     # seeds a win needs on each side (default 5)
    model_defaults: {HierRec: {readout: last}}  # a model class's defaults as this suite ran them

``tune: <model>`` reuses that model's choice (ablations keep their parent's settings).
``init_from: {dataset, model}`` starts each seeded run from the best checkpoint of that
model's run on that dataset at the same seed (``recbole_hier/transfer.py``: pre-training on
another catalogue). The source runs keep their best checkpoint (``RunStore.source_checkpoint``);
a run whose source is not finished waits until the end of the call, and one whose source
checkpoint is gone trains the source again.
Precedence inside a run: presets < dataset preset < ``model_defaults`` of its class < suite
``config`` < dataset ``config`` < model ``config`` < chosen grid point.

A stored run keeps what it took from the package's defaults and the presets
(``RunSpec.inherited``), so a changed default makes it stale. ``model_defaults`` keeps a
suite's runs current across such a change: it names the values they ran with, for every
row of that model class (``--stamp_inherited`` first gives runs stored before runs kept
what they inherited today's defaults, so that the change can tell them apart).

:class:`Plan` owns everything derived from the file: the run specs and their keys,
the run order, which stored grid run a seeded run reuses, the grid point chosen on
validation (honouring ``valid_metric_bigger``) and the runs still to do. The runner
executes it and the report reads it; neither derives any of this again.
"""

import difflib
import functools
import itertools
import json
import os
from dataclasses import dataclass, field

import yaml

from recbole_hier.benchmark import rescore
from recbole_hier.known_keys import PACKAGE_KEYS, check_known, known_keys
from recbole_hier.presets import dataset_preset, resolve_preset


class SuiteError(ValueError):
    pass


# every key a suite file may hold, per level: anything else is a typo or a misplaced run
# setting (e.g. a dataset entry's data_path outside its config), never silently ignored
SUITE_KEYS = {"name", "presets", "config", "seeds", "reference", "verdict", "tuning", "datasets", "models",
              "model_defaults"}
TUNING_KEYS = {"grid", "seed", "datasets"}
VERDICT_KEYS = {"min_seeds"}
DATASET_KEYS = {"dataset", "config", "verdict"}
MODEL_KEYS = {"model", "config", "datasets", "seeds", "tune", "grid", "rescore", "init_from"}
INIT_FROM_KEYS = {"dataset", "model"}


def check_keys(path, where, section, allowed):
    """Raise :class:`SuiteError` for a key of ``section`` outside ``allowed``, naming the
    closest allowed key (or, for a run setting, where it belongs)."""
    if section is None:
        return
    if not isinstance(section, dict):
        raise SuiteError(f"suite {path!r}: {where} must be a mapping, got {section!r}")
    for key in section:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        near = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.8)  # seed for seeds
        if "config" in allowed and key in known_keys() and not near:
            hint = f"it is a run setting: put it under 'config:' ({{config: {{{key}: ...}}}})"
        else:
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {sorted(allowed)}"
        raise SuiteError(f"suite {path!r}: {where} has an unknown key {key!r}; {hint}")


def check_settings(path, where, settings):
    """Raise :class:`SuiteError` for a run setting that no RecBole or plugin model reads."""
    try:
        check_known(list(settings or {}), where=f"{where} of suite {path!r}")
    except ValueError as error:
        raise SuiteError(str(error)) from None


def grid_points(grid):
    """Every combination of a ``{key: [values]}`` grid, keys in sorted order."""
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def grid_edges(grid, point):
    """The numeric keys of ``grid`` (three values or more) whose value at ``point`` is the
    lowest or highest the grid tries: ``[(key, "lowest" | "highest")]``. A choice there says
    the optimum may lie outside the grid (with two values every choice is an edge, so
    those keys are not flagged)."""
    edges = []
    for key in sorted(grid):
        values = grid[key]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if not numeric or len(set(values)) < 3 or key not in point:
            continue
        if point[key] == min(values):
            edges.append((key, "lowest"))
        elif point[key] == max(values):
            edges.append((key, "highest"))
    return edges


def point_tag(point):
    return ",".join(f"{k}={point[k]}" for k in sorted(point))


GRID_SEPARATOR = "@"  # <model>@<point tag>: how a grid run is named in keys and records


@dataclass
class RunSpec:
    dataset: str
    name: str  # the model's name in the suite (e.g. HierRec-noVAE)
    model: str  # the model class to run (e.g. HierRec)
    seed: int
    config_files: list
    config: dict = field(default_factory=dict)
    point: dict = None  # the grid point of a grid run; None for a seeded run
    source: str = None  # the RecBole dataset an entry reads (``dataset:``); None: the entry's name
    rescore: list = None  # scoring settings to score the best checkpoint with (benchmark/rescore.py)
    init_source: str = None  # key of the run whose best checkpoint starts this one (``init_from``)
    keep_for_transfer: bool = False  # another run starts from this one's best checkpoint: keep it

    @property
    def recbole_dataset(self):
        return self.source or self.dataset

    @property
    def run_name(self):
        """The name stored in the run's record: the model, plus the point of a grid run."""
        return self.name if self.point is None else f"{self.name}{GRID_SEPARATOR}{point_tag(self.point)}"

    @property
    def key(self):
        return f"{self.dataset}__{self.run_name}__{self.seed}"

    @property
    def inherited(self):
        """The settings the run takes from defaults and presets (:func:`inherited_settings`): kept
        with its record and progress, so a changed default or preset makes them stale."""
        return inherited_settings(self.model, self.config_files)


def differing_keys(wanted, stored):
    """Keys whose value in run config ``stored`` differs from ``wanted`` (compared as JSON). A key
    set on one side only differs, even to ``None``: ``key: ~`` overrides a preset's value,
    which the side without the key used."""
    wanted = json.loads(json.dumps(wanted))
    missing = object()
    return sorted(k for k in set(wanted) | set(stored) if wanted.get(k, missing) != stored.get(k, missing))


@functools.lru_cache(maxsize=None)
def _preset_settings(path, mtime_ns, size):  # the file as it is now (its mtime and size key the cache)
    with open(path, encoding="utf-8") as f:
        return json.dumps(yaml.safe_load(f) or {}, sort_keys=True, default=str)


# where files are, not what a run computes: moving them leaves the stored runs current
LOCATION_KEYS = {"data_path", "checkpoint_dir", "text_cache_dir"}


def inherited_settings(model, config_files):
    """What a run of ``model`` takes from outside its suite entry: the package's and the
    model's declared key defaults under the preset files' settings (but
    :data:`LOCATION_KEYS`), as JSON values."""
    from recbole_hier.registry import plugin_models

    keys = getattr(plugin_models().get(model), "config_keys", None)
    settings = {key.name: key.default for key in PACKAGE_KEYS.keys + (keys.keys if keys else [])}
    for path in config_files:
        stat = os.stat(path)
        settings.update(json.loads(_preset_settings(path, stat.st_mtime_ns, stat.st_size)))
    return json.loads(json.dumps({k: v for k, v in settings.items() if k not in LOCATION_KEYS}, default=str))


def stale_settings(config, inherited, stored_config, stored_inherited):
    """Keys a stored run (``stored_config``: its suite keys; ``stored_inherited``: what it took
    from defaults and presets, None for a run stored before that was kept) ran with a value
    other than the one a run of ``config`` over ``inherited`` would use now. A key the
    defaults gained or lost since counts only where a suite sets it: a new key's default is
    the behaviour from before it."""
    if stored_inherited is None:
        return differing_keys(config, stored_config)
    config = json.loads(json.dumps(config))
    missing = object()
    names = set(config) | set(stored_config) | (set(inherited) & set(stored_inherited))
    return sorted(name for name in names
                  if config.get(name, inherited.get(name, missing))
                  != stored_config.get(name, stored_inherited.get(name, missing)))


class Plan:
    """The runs of one suite file (see the module docstring for the format)."""

    def __init__(self, suite, path):
        self.path = path
        self.name = suite["name"]
        self.reference = suite.get("reference")
        self.seeds = list(suite["seeds"])
        self.config = suite.get("config") or {}
        self.tuning = suite.get("tuning") or None
        self.verdict = suite.get("verdict") or {}
        self.datasets = {name: dspec or {} for name, dspec in suite["datasets"].items()}
        self.models = {name: mspec or {} for name, mspec in suite["models"].items()}
        self.model_defaults = suite.get("model_defaults") or {}
        suite_dir = os.path.dirname(os.path.abspath(path))
        presets = []
        for preset in suite.get("presets", []):
            try:
                presets.append(resolve_preset(preset, suite_dir))
            except FileNotFoundError as error:
                raise SuiteError(f"suite {path!r}: {error}") from None
        self._presets = presets
        self._check_keys(suite)
        self._validate()

    @classmethod
    def load(cls, path):
        if not os.path.isfile(path):
            raise SuiteError(f"suite file {path!r} does not exist")
        with open(path, encoding="utf-8") as f:
            suite = yaml.safe_load(f) or {}
        for key in ("name", "datasets", "models", "seeds"):
            if not suite.get(key):
                raise SuiteError(f"suite {path!r} must set {key!r}")
        return cls(suite, path)

    # --- validation -------------------------------------------------------------

    def _check_keys(self, suite):
        path = self.path
        check_keys(path, "the suite", suite, SUITE_KEYS)
        check_keys(path, "'tuning'", suite.get("tuning"), TUNING_KEYS)
        check_keys(path, "'verdict'", suite.get("verdict"), VERDICT_KEYS)
        check_settings(path, "'config'", self.config)
        check_keys(path, "'model_defaults'", self.model_defaults, {self.model_class(n) for n in self.models})
        for model, settings in self.model_defaults.items():
            if not isinstance(settings, dict):
                raise SuiteError(f"suite {path!r}: 'model_defaults' of {model!r} must map keys to values, "
                                 f"got {settings!r}")
            check_settings(path, f"'model_defaults' of {model!r}", settings)
        check_settings(path, "the tuning grid", (self.tuning or {}).get("grid"))
        for name, dspec in self.datasets.items():
            check_keys(path, f"dataset {name!r}", dspec, DATASET_KEYS)
            check_keys(path, f"dataset {name!r}'s 'verdict'", dspec.get("verdict"), VERDICT_KEYS)
            check_settings(path, f"dataset {name!r}'s config", dspec.get("config"))
        for name, mspec in self.models.items():
            check_keys(path, f"model {name!r}", mspec, MODEL_KEYS)
            check_settings(path, f"model {name!r}'s config", mspec.get("config"))
            check_settings(path, f"model {name!r}'s grid", mspec.get("grid"))
            check_keys(path, f"model {name!r}'s 'init_from'", mspec.get("init_from"), INIT_FROM_KEYS)
            if mspec.get("rescore") is not None:
                try:
                    rescore.check(f"suite {path!r}: model {name!r}", mspec["rescore"])
                except ValueError as error:
                    raise SuiteError(str(error)) from None

    def _validate(self):
        path, models = self.path, self.models
        if self.reference and self.reference not in models:
            raise SuiteError(f"suite {path!r}: reference {self.reference!r} is not one of its models")
        self._check_init_from()
        for name in models:
            if GRID_SEPARATOR in name:
                raise SuiteError(f"suite {path!r}: model name {name!r} must not contain {GRID_SEPARATOR!r}")
        if not self.tuning:
            for name, mspec in models.items():
                if "grid" in mspec or isinstance(mspec.get("tune"), str):
                    raise SuiteError(f"suite {path!r}: model {name!r} asks for tuning but the suite has no 'tuning' section")
            return
        for key in ("grid", "seed"):
            if key not in self.tuning:
                raise SuiteError(f"suite {path!r}: 'tuning' must set {key!r}")
        self.tuning.setdefault("datasets", list(self.datasets))
        unknown = [d for d in self.tuning["datasets"] if d not in self.datasets]
        if unknown or not self.tuning["datasets"]:
            raise SuiteError(f"suite {path!r}: tuning datasets {unknown or '[]'} must be among the suite's datasets")
        size = None
        for name, mspec in models.items():
            tune = mspec.get("tune", True)
            if isinstance(tune, str):
                if tune not in models or self.own_grid(tune) is None:
                    raise SuiteError(f"suite {path!r}: model {name!r} has tune: {tune!r}, which is not a tuned model of the suite")
                continue
            grid = self.own_grid(name)
            if grid is None:
                continue
            if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
                raise SuiteError(f"suite {path!r}: the grid of {name!r} must map each key to a non-empty list, got {grid!r}")
            fixed = sorted(set(grid) & set(mspec.get("config", {})))
            if fixed:
                raise SuiteError(f"suite {path!r}: model {name!r} both fixes and tunes {fixed}; remove them from its config")
            points = len(grid_points(grid))
            if size is not None and points != size:
                # the same tuning budget for every model is part of a fair comparison
                raise SuiteError(f"suite {path!r}: every tuned model needs the same number of grid points; "
                                 f"{name!r} has {points}, an earlier model {size}")
            size = points

    def _check_init_from(self):
        """Each ``init_from`` names a model of the same class that runs on a dataset of the suite
        at every seed of the model it starts, and does not start from another checkpoint itself."""
        self._transfer_sources = set()
        for name, mspec in self.models.items():
            source = mspec.get("init_from")
            if source is None:
                continue
            where = f"suite {self.path!r}: model {name!r}'s init_from"
            dataset, model = source.get("dataset"), source.get("model")
            if dataset not in self.datasets or model not in self.models or model == name:
                raise SuiteError(f"{where} must name one of the suite's datasets {list(self.datasets)} and "
                                 f"another of its models {[m for m in self.models if m != name]}, got {source!r}")
            if self.model_class(model) != self.model_class(name):
                raise SuiteError(f"{where}: {model!r} runs {self.model_class(model)}, not {self.model_class(name)}; "
                                 "a checkpoint starts only a run of its own model")
            if self.models[model].get("init_from") is not None:
                raise SuiteError(f"{where}: {model!r} starts from another checkpoint itself; name the model it starts from")
            if not self.runs_on(dataset, model):
                raise SuiteError(f"{where}: {model!r} does not run on {dataset!r}")
            seeds = set(mspec.get("seeds", self.seeds))
            missing = sorted(seeds - set(self.models[model].get("seeds", self.seeds)))
            if missing:
                raise SuiteError(f"{where}: {model!r} has no run at seeds {missing} to start from")
            self._transfer_sources |= {(dataset, model, seed) for seed in seeds}

    # --- what runs --------------------------------------------------------------

    def select(self, names, wanted, flag, what):
        """The ``names`` (in suite order) in a comma-separated ``wanted``; all when None."""
        if wanted is None:
            return list(names)
        wanted = set(wanted.split(","))
        unknown = sorted(wanted - set(names))
        if unknown:
            raise SuiteError(f"{flag}: {unknown} are not {what} of this suite; it has {list(names)}")
        return [n for n in names if n in wanted]

    def cells(self, datasets=None, models=None):
        """``(dataset, model name)`` for every model that runs on a dataset, in suite order."""
        return [(d, n) for d in (datasets or self.datasets) for n in (models or self.models) if self.runs_on(d, n)]

    def runs_on(self, dataset, name):
        mspec = self.models[name]
        return not mspec.get("datasets") or dataset in mspec["datasets"]

    def model_class(self, name):
        return self.models[name].get("model", name)

    def variants(self, name):
        """The other models of the suite that run ``name``'s model class (its ablations and levers);
        none for a suite without a reference (``name`` None)."""
        if name not in self.models:
            return []
        return [n for n in self.models if n != name and self.model_class(n) == self.model_class(name)]

    def own_grid(self, name):
        """The grid ``name`` is tuned over, or None (untuned, or borrowing another model's choice)."""
        tune = self.models[name].get("tune", True)
        if not self.tuning or tune is False or isinstance(tune, str):
            return None
        return self.models[name].get("grid", self.tuning["grid"])

    def decided_by(self, dataset, name):
        """(dataset, model) whose grid runs choose ``name``'s settings on ``dataset``; None if untuned."""
        tune = self.models[name].get("tune", True)
        owner = tune if isinstance(tune, str) else name
        if self.own_grid(owner) is None:
            return None
        tuned = self.tuning["datasets"]
        return (dataset if dataset in tuned else tuned[0]), owner

    def min_seeds(self, dataset):
        """Seeds the verdict needs on each side (``verdict: {min_seeds: N}``, suite-wide or
        per dataset; 5 by default)."""
        dataset_rule = self.datasets[dataset].get("verdict") or {}
        return int(dataset_rule.get("min_seeds", self.verdict.get("min_seeds", 5)))

    def source(self, dataset):
        """The RecBole dataset a suite entry reads: its ``dataset:``, or its own name."""
        return self.datasets[dataset].get("dataset") or dataset

    def config_files(self, dataset):
        preset = dataset_preset(self.source(dataset))
        return self._presets + ([preset] if preset else [])

    def _spec(self, dataset, name, seed, point, grid_point=None):
        mspec = self.models[name]
        config = {**self.model_defaults.get(self.model_class(name), {}), **self.config,
                  **(self.datasets[dataset].get("config") or {}),
                  **(mspec.get("config") or {}), **point, "seed": seed}
        source = self.source(dataset)
        points = rescore.settings(mspec["rescore"]["grid"]) if mspec.get("rescore") else None
        init = mspec.get("init_from")
        init_source = None if init is None else f"{init['dataset']}__{init['model']}__{seed}"
        # a grid run keeps its checkpoint too: the seeded run at the tuning seed reuses it
        return RunSpec(dataset, name, self.model_class(name), seed, self.config_files(dataset), config, grid_point,
                       source if source != dataset else None, points, init_source,
                       (dataset, name, seed) in self._transfer_sources)

    def grid_runs(self, dataset, name):
        """The grid runs of ``name`` on ``dataset`` (none unless it is tuned there)."""
        grid = self.own_grid(name)
        if grid is None or dataset not in self.tuning["datasets"] or not self.runs_on(dataset, name):
            return []
        seed = self.tuning["seed"]
        return [self._spec(dataset, name, seed, p, grid_point=p) for p in grid_points(grid)]

    def select_seeds(self, wanted):
        """The suite's seeds in a comma-separated ``wanted`` (``--seeds``); all when None."""
        if wanted is None:
            return list(self.seeds)
        try:
            chosen = {int(seed) for seed in wanted.split(",")}
        except ValueError:
            raise SuiteError(f"--seeds: {wanted!r} is not a comma-separated list of integers") from None
        unknown = sorted(chosen - set(self.seeds))
        if unknown:
            raise SuiteError(f"--seeds: {unknown} are not seeds of this suite; it has {self.seeds}")
        return [seed for seed in self.seeds if seed in chosen]

    def seeded_runs(self, dataset, name, point=None, seeds=None):
        """The seeded runs of ``name`` on ``dataset`` with the grid ``point`` (None: untuned),
        at the suite's seeds (or those of ``seeds`` among them)."""
        if not self.runs_on(dataset, name):
            return []
        own = self.models[name].get("seeds", self.seeds)
        return [self._spec(dataset, name, seed, point or {}) for seed in self.seeds
                if seed in own and (seeds is None or seed in seeds)]

    def count(self, datasets=None, models=None, seeds=None):
        return sum(len(self.grid_runs(d, n)) + len(self.seeded_runs(d, n, seeds=seeds))
                   for d, n in self.cells(datasets, models))

    def batches(self, datasets=None, models=None, together=False):
        """Run order: per dataset, model by model, or (``together``) all models at once;
        within a batch every grid run comes before the seeded runs that depend on it."""
        for dataset in datasets or self.datasets:
            names = [n for n in (models or self.models) if self.runs_on(dataset, n)]
            yield from ([[(dataset, n) for n in names]] if together else [[(dataset, n)] for n in names])

    # --- what was chosen --------------------------------------------------------

    def chosen_point(self, dataset, name, store):
        """The grid point chosen on validation for ``name`` on ``dataset`` ({} when untuned).

        The best validation score wins (the smallest where ``valid_metric_bigger`` is
        false), the first in grid order on ties; test metrics are never read. Raises
        LookupError naming the grid points not finished yet.
        """
        source = self.decided_by(dataset, name)
        if source is None:
            return {}
        specs = self.grid_runs(*source)
        if not specs:
            raise LookupError(f"{source[1]} has no grid runs on {source[0]}")
        records = [store.current(spec) for spec in specs]
        missing = [point_tag(s.point) for s, r in zip(specs, records) if r is None]
        if missing:
            raise LookupError("grid point(s) not finished: " + "; ".join(missing))
        best, best_score = None, None
        for spec, record in zip(specs, records):
            score = validation_score(record)
            sign = 1 if record["valid_metric_bigger"] else -1
            if score is not None and (best_score is None or sign * (score - best_score) > 0):
                best, best_score = spec.point, score
        if best is None:
            raise LookupError("no grid run recorded a validation score")
        return best

    def seeded_with_reuse(self, dataset, name, store, seeds=None):
        """``(spec, reuse key)`` for each seeded run at the chosen point: the seeded run at
        the tuning seed reuses the grid run of the same configuration."""
        point = self.chosen_point(dataset, name, store)
        grid = {s.seed: s.key for s in self.grid_runs(dataset, name) if s.point == point}
        return [(spec, grid.get(spec.seed)) for spec in self.seeded_runs(dataset, name, point, seeds)]

    def todo(self, store, datasets=None, models=None, seeds=None):
        """Keys of the selected runs not stored yet (with the suite's current config); the
        seeded runs of a model whose tuning is unfinished count as to do."""
        keys = []
        for dataset, name in self.cells(datasets, models):
            keys += [s.key for s in self.grid_runs(dataset, name) if not store.finished(s)]
            try:
                point = self.chosen_point(dataset, name, store)
            except LookupError:
                point = None
            keys += [s.key for s in self.seeded_runs(dataset, name, point, seeds)
                     if point is None or not store.finished(s)]
        return keys

    def specs(self, store):
        """Every run of the plan: the grid runs, and the seeded runs at the chosen point (at the
        model's own settings while its tuning is unfinished)."""
        specs = []
        for dataset, name in self.cells():
            specs += self.grid_runs(dataset, name)
            try:
                point = self.chosen_point(dataset, name, store)
            except LookupError:
                point = None
            specs += self.seeded_runs(dataset, name, point)
        return specs

    def stored(self, store):
        """The finished runs matching the plan as it stands: ``(seeded, grid)``, each a list
        of ``(spec, record)``; the seeded runs of a model whose tuning is unfinished are left out."""
        seeded, grid = [], []
        for dataset, name in self.cells():
            grid += [(s, r) for s in self.grid_runs(dataset, name) for r in [store.current(s)] if r]
            try:
                point = self.chosen_point(dataset, name, store)
            except LookupError:
                continue
            seeded += [(s, r) for s in self.seeded_runs(dataset, name, point) for r in [store.current(s)] if r]
        return seeded, grid


def validation_score(record):
    return record["best_valid"].get(record["valid_metric"].lower())
