"""Suite files: which datasets, models, seeds, shared budget and tuning grid a benchmark runs.

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
      ml-100k: {config: {MAX_ITEM_LIST_LENGTH: 20}}
    models:
      SASRec: {}                                # tuned over the suite grid
      HierRec: {grid: {learning_rate: [...]}}   # its own grid, same number of points
      Pop: {seeds: [2020], tune: false}         # fewer seeds (say so in the file); nothing to tune
      HierRec-noVAE: {model: HierRec, config: {vae: false}, datasets: [amazon-scientific], tune: HierRec}

``tune: <model>`` reuses that model's choice (ablations keep their parent's settings).
Precedence inside a run: presets < dataset preset < suite ``config`` < dataset
``config`` < model ``config`` < chosen grid point.
"""

import json
import os
from dataclasses import dataclass, field

import yaml

from recbole_hier.benchmark import tuning

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class RunSpec:
    dataset: str
    name: str  # the model's name in the suite (e.g. HierRec-noVAE)
    model: str  # the model class to run (e.g. HierRec)
    seed: int
    config_files: list
    config: dict = field(default_factory=dict)

    @property
    def key(self):
        return f"{self.dataset}__{self.name}__{self.seed}"


def differing_keys(wanted, stored):
    """Keys whose value in run config ``stored`` differs from ``wanted`` (compared as JSON)."""
    wanted = json.loads(json.dumps(wanted))
    return sorted(k for k in set(wanted) | set(stored) if wanted.get(k) != stored.get(k))


class SuiteError(ValueError):
    pass


def _resolve(path, suite_dir):
    for base in (REPO, suite_dir, os.getcwd()):
        candidate = os.path.join(base, path)
        if os.path.isfile(candidate):
            return candidate
    raise SuiteError(f"preset file {path!r} not found (looked in the repository, the suite's folder and the working directory)")


def load_suite(path):
    if not os.path.isfile(path):
        raise SuiteError(f"suite file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        suite = yaml.safe_load(f) or {}
    for key in ("name", "datasets", "models", "seeds"):
        if not suite.get(key):
            raise SuiteError(f"suite {path!r} must set {key!r}")
    suite["models"] = {name: mspec or {} for name, mspec in suite["models"].items()}
    suite["datasets"] = {name: dspec or {} for name, dspec in suite["datasets"].items()}
    if suite.get("reference") and suite["reference"] not in suite["models"]:
        raise SuiteError(f"suite {path!r}: reference {suite['reference']!r} is not one of its models")
    for name in suite["models"]:
        if tuning.is_tuning_name(name):
            raise SuiteError(f"suite {path!r}: model name {name!r} must not contain {tuning.SEPARATOR!r}")
    _check_tuning(suite, path)
    suite["path"] = path
    return suite


def _check_tuning(suite, path):
    spec = suite.get("tuning")
    models = suite["models"]
    if not spec:
        for name, mspec in models.items():
            if "grid" in mspec or isinstance(mspec.get("tune"), str):
                raise SuiteError(f"suite {path!r}: model {name!r} asks for tuning but the suite has no 'tuning' section")
        return
    for key in ("grid", "seed"):
        if key not in spec:
            raise SuiteError(f"suite {path!r}: 'tuning' must set {key!r}")
    spec.setdefault("datasets", list(suite["datasets"]))
    unknown = [d for d in spec["datasets"] if d not in suite["datasets"]]
    if unknown or not spec["datasets"]:
        raise SuiteError(f"suite {path!r}: tuning datasets {unknown or '[]'} must be among the suite's datasets")
    size = None
    for name, mspec in models.items():
        tune = mspec.get("tune", True)
        if isinstance(tune, str):
            if tune not in models or own_grid(suite, tune) is None:
                raise SuiteError(f"suite {path!r}: model {name!r} has tune: {tune!r}, which is not a tuned model of the suite")
            continue
        grid = own_grid(suite, name)
        if grid is None:
            continue
        if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
            raise SuiteError(f"suite {path!r}: the grid of {name!r} must map each key to a non-empty list, got {grid!r}")
        fixed = sorted(set(grid) & set(mspec.get("config", {})))
        if fixed:
            raise SuiteError(f"suite {path!r}: model {name!r} both fixes and tunes {fixed}; remove them from its config")
        points = len(tuning.grid_points(grid))
        if size is not None and points != size:
            # the same tuning budget for every model is part of a fair comparison
            raise SuiteError(f"suite {path!r}: every tuned model needs the same number of grid points; "
                             f"{name!r} has {points}, an earlier model {size}")
        size = points


def own_grid(suite, name):
    """The grid ``name`` is tuned over, or None (untuned, or borrowing another model's choice)."""
    mspec = suite["models"][name]
    tune = mspec.get("tune", True)
    if not suite.get("tuning") or tune is False or isinstance(tune, str):
        return None
    return mspec.get("grid", suite["tuning"]["grid"])


def decided_by(suite, dataset, name):
    """(dataset, model) whose grid runs choose ``name``'s settings on ``dataset``; None if untuned."""
    tune = suite["models"][name].get("tune", True)
    owner = tune if isinstance(tune, str) else name
    if own_grid(suite, owner) is None:
        return None
    tuned = suite["tuning"]["datasets"]
    return (dataset if dataset in tuned else tuned[0]), owner


def runs_on(suite, dataset, name):
    mspec = suite["models"][name]
    return not mspec.get("datasets") or dataset in mspec["datasets"]


def _files(suite, dataset):
    suite_dir = os.path.dirname(os.path.abspath(suite["path"]))
    files = [_resolve(p, suite_dir) for p in suite.get("presets", [])]
    dataset_preset = os.path.join(REPO, "properties", "dataset", f"{dataset}.yaml")
    if os.path.isfile(dataset_preset):
        files.append(dataset_preset)
    return files


def _spec(suite, dataset, name, seed, point, run_name=None):
    mspec = suite["models"][name]
    config = {**(suite.get("config") or {}), **(suite["datasets"][dataset].get("config") or {}),
              **(mspec.get("config") or {}), **point, "seed": seed}
    return RunSpec(dataset, run_name or name, mspec.get("model", name), seed, _files(suite, dataset), config)


def tuning_runs(suite, dataset, name):
    """The grid runs of ``name`` on ``dataset`` (none unless it is tuned there)."""
    grid = own_grid(suite, name)
    if grid is None or dataset not in suite["tuning"]["datasets"] or not runs_on(suite, dataset, name):
        return []
    seed = suite["tuning"]["seed"]
    return [_spec(suite, dataset, name, seed, p, tuning.run_name(name, p)) for p in tuning.grid_points(grid)]


def main_runs(suite, dataset, name, point=None):
    """The seeded runs of ``name`` on ``dataset`` with the chosen grid ``point``."""
    if not runs_on(suite, dataset, name):
        return []
    seeds = suite["models"][name].get("seeds", suite["seeds"])
    return [_spec(suite, dataset, name, seed, point or {}) for seed in suite["seeds"] if seed in seeds]


def expand(suite, choices=None):
    """Every run of the suite: datasets outermost, then models, each model's grid runs before
    its seeds. ``choices`` maps (dataset, model) to the chosen grid point; without it the
    seeded runs of tuned models carry no grid values (use for counting only)."""
    runs = []
    for dataset in suite["datasets"]:
        for name in suite["models"]:
            runs += tuning_runs(suite, dataset, name)
            runs += main_runs(suite, dataset, name, (choices or {}).get((dataset, name)))
    return runs
