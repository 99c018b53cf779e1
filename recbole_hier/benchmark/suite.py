"""Suite files: which datasets, models, seeds and shared budget a benchmark runs.

A suite YAML::

    name: cpu
    expected_time: about 3 h on 2 CPU cores     # stated, not enforced
    presets: [properties/protocol/sequential.yaml]   # relative to the repository root
    config: {epochs: 30, stopping_step: 3}      # shared by every run (the budget)
    seeds: [2020, 2021, 2022]
    reference: HierRec                          # compared with every other model
    datasets:
      amazon-scientific: {}                     # + properties/dataset/<name>.yaml if present
      ml-100k: {config: {MAX_ITEM_LIST_LENGTH: 20}}
    models:
      SASRec: {}
      Pop: {seeds: [2020]}                      # fewer seeds (say so in the file)
      HierRec: {config: {learning_rate: 0.002}}
      HierRec-noVAE: {model: HierRec, config: {vae: false}, datasets: [amazon-scientific]}

Precedence inside a run: presets < dataset preset < suite ``config`` < dataset
``config`` < model ``config``.
"""

import os
from dataclasses import dataclass, field

import yaml

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
    if suite.get("reference") and suite["reference"] not in suite["models"]:
        raise SuiteError(f"suite {path!r}: reference {suite['reference']!r} is not one of its models")
    suite["path"] = path
    return suite


def expand(suite):
    """Every run of the suite, datasets outermost, then seeds, then models."""
    suite_dir = os.path.dirname(os.path.abspath(suite["path"]))
    presets = [_resolve(p, suite_dir) for p in suite.get("presets", [])]
    runs = []
    for dataset, dspec in suite["datasets"].items():
        dspec = dspec or {}
        files = list(presets)
        dataset_preset = os.path.join(REPO, "properties", "dataset", f"{dataset}.yaml")
        if os.path.isfile(dataset_preset):
            files.append(dataset_preset)
        for seed in suite["seeds"]:
            for name, mspec in suite["models"].items():
                mspec = mspec or {}
                if mspec.get("datasets") and dataset not in mspec["datasets"]:
                    continue
                if seed not in mspec.get("seeds", suite["seeds"]):
                    continue
                config = {**(suite.get("config") or {}), **(dspec.get("config") or {}),
                          **(mspec.get("config") or {}), "seed": seed}
                runs.append(RunSpec(dataset, name, mspec.get("model", name), seed, files, config))
    return runs
