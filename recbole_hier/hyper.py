"""Hyper-parameter search the RecBole way: ``HyperTuning`` (hyperopt), safely parsed.

Search-space files use RecBole's format, one parameter a line::

    learning_rate choice [0.001, 0.003]
    hidden_size choice [32, 64]
    dropout_prob uniform 0.1,0.5
    weight_decay loguniform -10,-4
    kl_beta_max quniform 0,0.1,0.02

Values are read with ``ast.literal_eval`` (RecBole's reader calls ``eval`` on the
file). Every trial trains with the normal pipeline; trials are compared on the
best *validation* score only; test metrics are reported beside them, never used.
``ray`` is not needed; ``hyperopt`` is (``pip install hyperopt``).
"""

import ast
import csv
import io
import json
import os
from functools import partial

from recbole_hier.files import write_text
from recbole_hier.quick_start import run_recbole_hier

KINDS = ("choice", "uniform", "quniform", "loguniform")


def _numbers(text, count, where):
    try:
        values = [float(ast.literal_eval(v.strip())) for v in text.split(",")]
    except (ValueError, SyntaxError):
        values = []
    if len(values) != count:
        raise ValueError(f"{where}: expected {count} comma-separated numbers, got {text!r}")
    return values


def read_space(path):
    """``{name: (kind, values)}`` from a RecBole search-space file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"search-space file {path!r} does not exist")
    space = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            where = f"{path}:{number}"
            parts = line.split(maxsplit=2)
            if len(parts) != 3 or parts[1] not in KINDS:
                raise ValueError(f"{where}: expected '<name> <{'|'.join(KINDS)}> <values>', got {line!r}")
            name, kind, text = parts
            if kind == "choice":
                try:
                    values = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise ValueError(f"{where}: choice values must be a Python literal list, got {text!r}") from None
                if not isinstance(values, list) or not values:
                    raise ValueError(f"{where}: choice values must be a non-empty list, got {text!r}")
            else:
                values = _numbers(text, 3 if kind == "quniform" else 2, where)
            space[name] = (kind, values)
    if not space:
        raise ValueError(f"search-space file {path!r} defines no parameter")
    return space


def to_hyperopt(space):
    from hyperopt import hp

    built = {}
    for name, (kind, values) in space.items():
        if kind == "choice":
            built[name] = hp.choice(name, values)
        else:
            built[name] = getattr(hp, kind)(name, *values)
    return built


def objective(config_dict, config_file_list, model, dataset, base_config, cmd_args):
    """One trial: train, select on validation, report (RecBole's objective contract)."""
    params = {k: v.item() if hasattr(v, "item") else v for k, v in config_dict.items()}
    result = run_recbole_hier(model, dataset, config_file_list, {**base_config, **params},
                              cmd_args, saved=True)
    result["params"] = params
    return result


def _plain(metrics):
    return {k: float(v) for k, v in (metrics or {}).items()}


def write_table(rows, valid_metric, bigger, output_prefix):
    """``<prefix>.csv`` and ``<prefix>.md``: one row per trial, best-by-validation marked."""
    pick = max if bigger else min
    best = pick(range(len(rows)), key=lambda i: rows[i]["best_valid_score"])
    param_names = sorted({k for r in rows for k in r["params"]})
    valid_names = sorted({k for r in rows for k in r["valid"]})
    test_names = sorted({k for r in rows for k in r["test"]})
    header = (["trial", "chosen"] + param_names + [f"valid {valid_metric}"]
              + [f"valid {m}" for m in valid_names] + [f"test {m}" for m in test_names])
    table = []
    for i, r in enumerate(rows):
        table.append([i, "*" if i == best else ""] + [json.dumps(r["params"].get(p)) for p in param_names]
                     + [f"{r['best_valid_score']:.4f}"] + [f"{r['valid'].get(m, float('nan')):.4f}" for m in valid_names]
                     + [f"{r['test'].get(m, float('nan')):.4f}" for m in test_names])
    text = io.StringIO(newline="")
    csv.writer(text).writerows([header] + table)
    write_text(output_prefix + ".csv", text.getvalue())
    lines = [f"Hyper-parameter search: {len(rows)} trials, chosen (*) by validation {valid_metric}.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in line) + " |" for line in table]
    write_text(output_prefix + ".md", "\n".join(lines) + "\n")
    return best


def run_hyper(model, dataset, params_file, config_file_list=None, config_dict=None, cmd_args=None,
              algo="exhaustive", max_evals=100, early_stop=10, output="hyper/result"):
    """Search ``params_file``'s space; returns (rows, index of the chosen trial)."""
    from recbole.trainer import HyperTuning

    space = read_space(params_file)
    base = {"state": "WARNING", "show_progress": False, **(config_dict or {})}
    tuner = HyperTuning(
        partial(objective, model=model, dataset=dataset, base_config=base, cmd_args=cmd_args),
        space=to_hyperopt(space), fixed_config_file_list=config_file_list, algo=algo,
        max_evals=max_evals, early_stop=early_stop,
    )
    tuner.run()
    rows = []
    for result in tuner.params2result.values():
        rows.append({"params": result["params"], "best_valid_score": float(result["best_valid_score"]),
                     "valid": _plain(result["best_valid_result"]), "test": _plain(result["test_result"])})
    first = next(iter(tuner.params2result.values()))
    best = write_table(rows, first["valid_metric"], first["valid_score_bigger"], output)
    return rows, best
