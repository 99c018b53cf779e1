"""How a trained model ranks, apart from what it learned: its scoring setting.

``score_levels`` (HierRec), ``id_fill``/``id_fill_k``/``id_fill_temperature`` (text+id items)
and ``cold_score``/``cold_score_temperature``/``text_mix_count`` (HierRec, SASRecText) change
ranking only, so one trained checkpoint answers for each of their values. A
:class:`ScoringSetting` is the one way to change them on a live model (the recommender,
the CLI and the benchmark's rescoring all go through it): each value is parsed by the
model's own key declaration, the cross-key rules are the ones the config is checked
with (``text_keys.TEXT_SCORE_CHECKS``), and :meth:`ScoringSetting.apply` sets them.
"""

import difflib

from recbole_hier.model.score import has_text_scores
from recbole_hier.model.text_keys import TEXT_SCORE_CHECKS

# key -> the part of the model that holds it (None: the model itself)
_HOLDER = {"score_levels": None, "id_fill": "item_representation", "id_fill_k": "item_representation",
           "id_fill_temperature": "item_representation", "cold_score": None, "cold_score_temperature": None,
           "text_mix_count": None}
SCORING_KEYS = tuple(_HOLDER)


def _has_text_and_id(model):
    items = getattr(model, "item_representation", None)
    return items is not None and items.uses_text and items.uses_id


def supported_keys(model):
    """The scoring keys ``model`` applies when ranking."""
    keys = set()
    if hasattr(model, "score_levels"):
        keys.add("score_levels")
    if _has_text_and_id(model):
        keys.update(("id_fill", "id_fill_k", "id_fill_temperature"))
    if has_text_scores(model):
        keys.update(("cold_score", "cold_score_temperature", "text_mix_count"))
    return keys


def _missing(name, model_name):
    if name.startswith("id_fill"):
        return f"{model_name} has no text+id item vectors (item_repr: text+id) whose ID part could be filled"
    if name == "score_levels":
        return f"{model_name} has no score_levels (HierRec has)"
    return f"{model_name} has no cold_score (HierRec and SASRecText have)"


class ScoringSetting:
    """Values for some of :data:`SCORING_KEYS`; the rest stay as the model has them.
    ``ScoringSetting(cold_score="calibrated", cold_score_temperature=0.05)``; None means unset."""

    def __init__(self, **values):
        for name in values:
            if name not in _HOLDER:
                close = difflib.get_close_matches(name, SCORING_KEYS, n=1, cutoff=0.6)
                raise ValueError(f"{name!r} is not a scoring key" + (f" (did you mean {close[0]!r}?)" if close else "")
                                 + f"; scoring keys: {', '.join(SCORING_KEYS)}")
        self.values = {name: value for name, value in values.items() if value is not None}

    def __repr__(self):
        return "ScoringSetting(" + ", ".join(f"{k}={v!r}" for k, v in self.values.items()) + ")"

    @staticmethod
    def of(model):
        """The setting ``model`` ranks with now (the keys it supports)."""
        return ScoringSetting(**{name: getattr(_holder(model, name), name) for name in sorted(supported_keys(model))})

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
            setattr(_holder(model, name), name, value)
        if _has_text_and_id(model):
            model.item_representation.train(model.training)  # forget ID rows filled under the previous setting
        return merged


def _holder(model, name):
    return model if _HOLDER[name] is None else getattr(model, _HOLDER[name])
