"""How a trained model ranks, apart from what it learned: its scoring setting.

``score_levels`` (HierRec) and ``cold_score``/``cold_score_temperature``/``text_mix_count``
(HierRec, SASRecText) change ranking only, so one trained checkpoint answers for each of their values. A
:class:`ScoringSetting` is the one way to change them on a live model (the recommender,
the CLI and the benchmark's rescoring all go through it): each value is parsed by the
model's own key declaration, the cross-key rules are the ones the config is checked
with (``text_keys.TEXT_SCORE_CHECKS``), and :meth:`ScoringSetting.apply` sets them.
"""

import difflib

from recbole_hier.known_keys import RETIRED_KEYS
from recbole_hier.model.score import has_text_scores
from recbole_hier.model.text_keys import TEXT_SCORE_CHECKS

# each is an attribute of the model it is set on
SCORING_KEYS = ("score_levels", "cold_score", "cold_score_temperature", "text_mix_count")


def supported_keys(model):
    """The scoring keys ``model`` applies when ranking."""
    keys = set()
    if hasattr(model, "score_levels"):
        keys.add("score_levels")
    if has_text_scores(model):
        keys.update(("cold_score", "cold_score_temperature", "text_mix_count"))
    return keys


def _missing(name, model_name):
    if name == "score_levels":
        return f"{model_name} has no score_levels (HierRec has)"
    return f"{model_name} has no cold_score (HierRec and SASRecText have)"


class ScoringSetting:
    """Values for some of :data:`SCORING_KEYS`; the rest stay as the model has them.
    ``ScoringSetting(cold_score="calibrated", cold_score_temperature=0.05)``; None means unset."""

    def __init__(self, **values):
        for name in values:
            if name in RETIRED_KEYS:
                raise ValueError(f"scoring key {name!r} was retired: it measured nothing (results/levers.md, "
                                 "'Retired switches'); remove it")
            if name not in SCORING_KEYS:
                close = difflib.get_close_matches(name, SCORING_KEYS, n=1, cutoff=0.6)
                raise ValueError(f"{name!r} is not a scoring key" + (f" (did you mean {close[0]!r}?)" if close else "")
                                 + f"; scoring keys: {', '.join(SCORING_KEYS)}")
        self.values = {name: value for name, value in values.items() if value is not None}

    def __repr__(self):
        return "ScoringSetting(" + ", ".join(f"{k}={v!r}" for k, v in self.values.items()) + ")"

    @staticmethod
    def of(model):
        """The setting ``model`` ranks with now (the keys it supports)."""
        return ScoringSetting(**{name: getattr(model, name) for name in sorted(supported_keys(model))})

    def checked(self, model):
        """``{key: parsed value}`` of the whole setting ``model`` would rank with, this one
        over its current one; ValueError naming the key when a value or a combination is
        refused, or when ``model`` does not apply a key."""
        owner = type(model).__name__
        supported = supported_keys(model)
        for name in self.values:
            if name not in supported:
                raise ValueError(f"{name}: {_missing(name, owner)}")
        merged = dict(ScoringSetting.of(model).values)
        for name, value in self.values.items():
            merged[name] = model.config_keys[name].parse(value, owner)
        if has_text_scores(model):
            rules = {**merged, "item_repr": "text+id"}  # has_text_scores implies text+id items here
            for check in TEXT_SCORE_CHECKS:
                check(rules, owner)
        return merged

    def apply(self, model):
        """Rank ``model`` with this setting from now on; returns the whole setting applied."""
        merged = self.checked(model)
        for name, value in merged.items():
            setattr(model, name, value)
        return merged

