"""Config: RecBole's configurator with plugin model lookup and package YAML defaults.

Precedence, lowest first: RecBole's internal files < this package's
``properties/model/<Model>.yaml`` < RecBole's dataset YAML < ``config_file_list``
< ``config_dict`` < ``cmd_args``. Differences from ``recbole.config.Config``:

* models are looked up plugin first (``recbole_hier.registry.get_model``), so a stock
  Config no longer leaves every HierRec key ``None``;
* the command line is read only when passed (``cmd_args``), never from ``sys.argv``
  behind the caller's back, and values are parsed with ``ast.literal_eval``
  instead of ``eval``;
* ``data_path`` is honoured for ml-100k too (RecBole always points ml-100k at the
  copy inside its wheel; we fall back to that copy only when the folder is absent);
* distributed runs without CUDA use the ``gloo`` backend on the CPU.
"""

import ast
import os
from logging import getLogger

import recbole.config.configurator as recbole_configurator
import torch
import yaml
from recbole.config import Config as RecBoleConfig

from recbole_hier.known_keys import PACKAGE_KEYS, RECBOLE_KEYS, check_known
from recbole_hier.registry import get_model

PACKAGE_PROPERTIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "properties")
_RECBOLE_PROPERTIES = os.path.join(
    os.path.dirname(os.path.realpath(recbole_configurator.__file__)), "..", "properties"
)


def package_model_yaml(model_name):
    """Path of this package's default YAML for ``model_name`` (may not exist)."""
    return os.path.join(PACKAGE_PROPERTIES, "model", f"{model_name}.yaml")


def set_mixed_precision_defaults(final, external):
    """On CUDA, RecBole's autocast and gradient scaler are on unless a key says otherwise:
    the softmax over the catalogue and the recurrent level are the costly steps there, and
    they run in half precision (the loss stays float32). Every model of a run gets the
    same setting, so comparisons stay like for like; CPU runs are unchanged."""
    if final["device"].type != "cuda":
        return
    for key in ("enable_amp", "enable_scaler"):
        if key not in external:
            final[key] = True


def parse_value(text):
    """Turn a command-line / search-space string into a Python value, safely."""
    if not isinstance(text, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "~", "null"):
            return None
        return text


class Config(RecBoleConfig):
    """RecBole ``Config`` that knows HierRec. Same arguments, plus ``cmd_args``.

    Args:
        cmd_args (list of str, optional): ``--key=value`` overrides, highest precedence
            (what RecBole reads from ``sys.argv``; the CLI passes them explicitly).
    """

    def __init__(
        self, model=None, dataset=None, config_file_list=None, config_dict=None, cmd_args=None
    ):
        self._cmd_args = list(cmd_args or [])
        for path in config_file_list or []:
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"config file {path!r} does not exist (from config_file_list / --config_files)"
                )
        super().__init__(model, dataset, config_file_list, config_dict)
        # checked before any data is read: every key exists, and the typed ones parse
        check_known(self.external_config_dict, "configuration (config files, config_dict, command line)")
        RECBOLE_KEYS.validate(self)
        PACKAGE_KEYS.validate(self)
        keys = getattr(self.model_class, "config_keys", None)
        if keys is not None:
            keys.validate(self)

    def _load_config_files(self, file_list):
        # An empty (or comments-only) file sets nothing; anything but a mapping is refused
        # by name instead of failing inside RecBole with a TypeError.
        kept = []
        for path in file_list or []:
            with open(path, encoding="utf-8") as f:
                loaded = yaml.load(f.read(), Loader=self.yaml_loader)
            if loaded is None:
                continue
            if not isinstance(loaded, dict):
                raise ValueError(f"config file {path!r} must hold 'key: value' lines, got a {type(loaded).__name__}")
            kept.append(path)
        return super()._load_config_files(kept)

    def compatibility_settings(self):
        # RecBole assigns np.float = np.float_, which numpy 2 removed; see compat.py.
        pass

    def _convert_config_dict(self, config_dict):
        return {key: parse_value(value) for key, value in config_dict.items()}

    def _load_cmd_line(self):
        cmd_config_dict = {}
        for arg in self._cmd_args:
            if not arg.startswith("--") or "=" not in arg:
                raise ValueError(f"command-line override {arg!r} must look like --key=value")
            key, value = arg[2:].split("=", 1)
            if key in cmd_config_dict and cmd_config_dict[key] != value:
                raise ValueError(f"command-line key {key!r} given twice with different values")
            cmd_config_dict[key] = value
        return self._convert_config_dict(cmd_config_dict)

    def _get_model_and_dataset(self, model, dataset):
        if model is None:
            model = self.external_config_dict.get("model")
            if model is None:
                raise KeyError("model must be given (argument, config file, config_dict or --model)")
        if dataset is None:
            dataset = self.external_config_dict.get("dataset")
            if dataset is None:
                raise KeyError("dataset must be given (argument, config file, config_dict or --dataset)")
        if isinstance(model, str):
            return model, get_model(model), dataset
        return model.__name__, model, dataset

    def _load_internal_config_dict(self, model, model_class, dataset):
        super()._load_internal_config_dict(model, model_class, dataset)
        self.internal_config_dict.update({key.name: key.default for key in PACKAGE_KEYS.keys})
        package_file = package_model_yaml(model)
        if os.path.isfile(package_file):
            # a plugin model built on a RecBole model (SASRecText on SASRec) inherits its
            # defaults: the RecBole ancestors' YAMLs first, base class first, then our own
            for ancestor in reversed(model_class.__mro__[1:]):
                ancestor_file = os.path.join(_RECBOLE_PROPERTIES, "model", f"{ancestor.__name__}.yaml")
                if ancestor.__module__.startswith("recbole.model.") and os.path.isfile(ancestor_file):
                    self._update_internal_config_dict(ancestor_file)
            self._update_internal_config_dict(package_file)
            # Dataset YAML outranks model defaults, as in RecBole.
            recbole_dataset_file = os.path.join(_RECBOLE_PROPERTIES, "dataset", f"{dataset}.yaml")
            if os.path.isfile(recbole_dataset_file):
                self._update_internal_config_dict(recbole_dataset_file)

    def _set_default_parameters(self):
        user_path = self.final_config_dict["data_path"]
        super()._set_default_parameters()
        if self.dataset == "ml-100k":
            # RecBole hard-wires ml-100k to its wheel; honour data_path like any dataset.
            local = os.path.join(user_path, "ml-100k")
            if os.path.isdir(local):
                self.final_config_dict["data_path"] = local
            elif "data_path" in self.external_config_dict:
                raise FileNotFoundError(
                    f"data_path {user_path!r} has no folder 'ml-100k'; remove data_path to "
                    "use the copy inside the recbole wheel"
                )

    def _init_device(self):
        if "local_rank" in self.final_config_dict and not torch.cuda.is_available():
            self._init_cpu_distributed()
            return
        super()._init_device()
        set_mixed_precision_defaults(self.final_config_dict, self.external_config_dict)

    def _init_cpu_distributed(self):
        # RecBole 1.2.1 only knows NCCL (GPU); gloo lets the DDP path run on CPUs.
        cfg = self.final_config_dict
        cfg["gpu_id"] = str(cfg["gpu_id"])
        torch.distributed.init_process_group(
            backend="gloo",
            rank=cfg["local_rank"] + cfg["offset"],
            world_size=cfg["world_size"],
            init_method=f"tcp://{cfg['ip']}:{cfg['port']}",
        )
        cfg["device"] = torch.device("cpu")
        cfg["single_spec"] = False
        if cfg["local_rank"] != 0:
            cfg["state"] = "error"
            cfg["show_progress"] = False
            cfg["verbose"] = False
        getLogger().info("distributed run on CPU: using the gloo backend")

