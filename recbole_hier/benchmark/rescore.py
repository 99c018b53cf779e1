"""Scoring settings chosen on validation: a suite model's ``rescore`` grid and its rule.

    HierRec-newitems: {model: HierRec, config: {...},
                       rescore: {grid: {cold_score: [calibrated], cold_score_temperature: [0.05, 0.1, 0.2]},
                                 choose: {metric: warm ndcg@10, within: 0.05, pick: smallest cold_score_temperature}}}

A scoring setting (``model/scoring.py``) changes ranking only, so the runner scores each
point of the grid on the run's best checkpoint, before it is deleted, and stores per-user
validation and test NDCG@10 per point in the run's record (``rescored``; the first row is
the setting the model trained with). ``grid`` is a mapping of key -> values (every
combination) or a list of settings (when the keys do not combine, e.g. ``text_mix_count``
only with ``cold_score: calibrated``). :func:`choose` picks a row on validation alone:
``metric`` is ``ndcg@10`` over all targets, or over the ``warm`` or ``cold`` ones (the
cold-item protocol); with ``within`` and ``pick``, among the rows whose validation metric
is at least ``(1 - within)`` times the base row's (the trained setting, or the grid point
``of`` names), the one with the smallest (or largest) value of a grid key; without them,
the row with the best validation metric.
"""

import itertools

import numpy as np

from recbole_hier.model.scoring import SCORING_KEYS, ScoringSetting

RESCORE_KEYS = {"grid", "choose"}
CHOOSE_KEYS = {"metric", "within", "pick", "of"}
GROUPS = ("all", "warm", "cold")


def check(where, rescore):
    """The ``rescore`` entry of a suite model, checked; ValueError naming what is wrong."""
    if not isinstance(rescore, dict):
        raise ValueError(f"{where}: rescore must be a mapping with grid (and choose)")
    unknown = set(rescore) - RESCORE_KEYS
    if unknown:
        raise ValueError(f"{where}: rescore keys {sorted(unknown)} are not among {sorted(RESCORE_KEYS)}")
    grid, rule = rescore.get("grid"), rescore.get("choose") or {}
    if isinstance(grid, dict) and grid:
        for name, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{where}: rescore grid {name!r} must be a non-empty list")
    elif not (isinstance(grid, list) and grid and all(isinstance(p, dict) and p for p in grid)):
        raise ValueError(f"{where}: rescore needs a grid: a mapping of key -> values, e.g. "
                         "{cold_score_temperature: [0.05, 0.1]}, or a list of settings")
    points = settings(grid)
    for name in {n for point in points for n in point}:
        if name not in SCORING_KEYS:
            raise ValueError(f"{where}: rescore grid key {name!r} is not a scoring key ({', '.join(SCORING_KEYS)})")
    unknown = set(rule) - CHOOSE_KEYS
    if unknown:
        raise ValueError(f"{where}: rescore choose keys {sorted(unknown)} are not among {sorted(CHOOSE_KEYS)}")
    group, _ = metric_group(rule.get("metric", "ndcg@10"), where)
    if ("within" in rule) != ("pick" in rule) or ("of" in rule and "within" not in rule):
        raise ValueError(f"{where}: rescore choose needs within and pick together (and of only with them), or none")
    if "pick" in rule:
        how, _, key = str(rule["pick"]).partition(" ")
        if how not in ("smallest", "largest") or not any(key in p for p in points):
            raise ValueError(f"{where}: rescore pick must be 'smallest KEY' or 'largest KEY' with KEY in the grid, "
                             f"got {rule['pick']!r}")
        if not 0 <= float(rule["within"]) < 1:
            raise ValueError(f"{where}: rescore within must be in [0, 1), got {rule['within']!r}")
    if "of" in rule and rule["of"] not in points:
        raise ValueError(f"{where}: rescore choose of {rule['of']!r} is not a point of the grid")
    return group


def metric_group(metric, where="rescore"):
    """The target group (all, warm, cold) of a rule's ``metric``; ValueError when it is not one."""
    group, _, name = metric.rpartition(" ")
    group = group or "all"
    if group not in GROUPS or name != "ndcg@10":
        raise ValueError(f"{where}: rescore metric must be 'ndcg@10', 'warm ndcg@10' or 'cold ndcg@10', got {metric!r}")
    return group, name


def settings(grid):
    """Every point of ``grid`` as ``{key: value}``, in the grid's order (a list: itself)."""
    if isinstance(grid, list):
        return [dict(point) for point in grid]
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def score_settings(trainer, model, valid_data, test_data, points):
    """``[{"setting", "valid", "test"}]``: per-user NDCG@10 (the trainer's per-user evaluator) of
    validation and test under the model's trained setting (``setting`` {}), then each of
    ``points``; the model ranks with its trained setting again afterwards."""
    trained = ScoringSetting.of(model)
    rows = []
    try:
        for point in [{}] + list(points):
            ScoringSetting(**point).apply(model)
            row = {"setting": point}
            for split, data in (("valid", valid_data), ("test", test_data)):
                trainer.evaluate(data, load_best_model=False, show_progress=False)
                row[split] = [float(v) for v in trainer.evaluator.last_ndcg10]
            rows.append(row)
    finally:
        trained.apply(model)
    return rows


def score_checkpoint(model_file, points):
    """:func:`score_settings` on a kept checkpoint (``--keep_checkpoints``): its validation and
    test splits rebuilt from its config, then the trained setting and each of ``points``.
    ValueError naming the file and the key when the model does not apply a point."""
    from recbole_hier.benchmark.runner import per_user_evaluator
    from recbole_hier.quick_start import load_data_and_model
    from recbole_hier.registry import get_trainer

    config, model, _, _, valid_data, test_data = load_data_and_model(model_file)
    for point in points:
        try:
            ScoringSetting(**point).checked(model)
        except ValueError as error:
            raise ValueError(f"{model_file}: {error}") from None
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    trainer.evaluator = per_user_evaluator(config)
    return score_settings(trainer, model, valid_data, test_data, points)


def group_mean(values, users, groups, group):
    """Mean of per-user ``values`` over the users in ``group`` (``groups``: {user: group}; all: every user)."""
    values = np.asarray(values, dtype=float)
    if group == "all":
        return float(values.mean())
    keep = np.array([groups.get(u) == group for u in users])
    return float(values[keep].mean()) if keep.any() else float("nan")


def choose(record, rule, valid_groups):
    """The ``rescored`` row of ``record`` that ``rule`` picks on validation (see the module
    docstring); ``valid_groups``: {validation user: warm/cold}."""
    rows = record["rescored"]
    users = record["per_user_valid"]["user"]
    group, _ = metric_group((rule or {}).get("metric", "ndcg@10"))
    scores = [group_mean(row["valid"], users, valid_groups, group) for row in rows]
    if not rule or "pick" not in rule:
        return rows[int(np.nanargmax(scores))]
    base = next(i for i, row in enumerate(rows) if row["setting"] == rule.get("of", {}))
    bound = (1 - float(rule["within"])) * scores[base]
    how, _, key = rule["pick"].partition(" ")
    eligible = [row for i, (row, score) in enumerate(zip(rows, scores))
                if i != base and key in row["setting"] and score >= bound]
    if not eligible:
        return rows[base]
    values = [row["setting"][key] for row in eligible]
    return eligible[int(np.argmin(values) if how == "smallest" else np.argmax(values))]
