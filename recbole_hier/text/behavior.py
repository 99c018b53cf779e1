"""Behaviour text: one string per interaction, saying what the user did.

Rendered from the interaction's own ``.inter`` fields with
``behavior_text_template`` (e.g. ``"rated {rating} of 5"``) and, optionally, from a
side file of per-event text keyed by user, item and time (``behavior_side_file``,
e.g. ml-latest-small's tags). No leakage by construction:

* a side event shapes an interaction's text only if it has the same user and item
  and ``side timestamp <= interaction timestamp``;
* the text is stored as a token field of the interaction (``behavior_text``), so
  RecBole's sequence building carries ``behavior_text_list`` for the *history*
  only; the target interaction's own behaviour never enters the model's input.

Distinct texts become RecBole token ids of that field (``field2id_token`` holds the
texts), so each distinct text is embedded once. An interaction with no behaviour
signal at all gets ``behavior_placeholder`` (counted in the log).
"""

import os
from logging import getLogger

import numpy as np
import pandas as pd

from recbole_hier.text.templates import TextSpecError, template_fields

BEHAVIOR_FIELD = "behavior_text"


def _as_text(value):
    if isinstance(value, float):
        return "" if np.isnan(value) else format(value, "g")
    if isinstance(value, np.ndarray):  # token_seq as RecBole loads it
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def read_side_file(path, separator):
    """A typed atomic side file (``field:type`` header) as a DataFrame of strings."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"behavior_side_file {path!r} does not exist (it is looked up in the dataset folder)"
        )
    frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


class BehaviorTextSpec:
    """How an interaction's behaviour text is made (from the HierRec config keys)."""

    def __init__(self, config):
        self.template = config["behavior_text_template"]
        self.side_file = config["behavior_side_file"]
        self.side_template = config["behavior_side_template"]
        self.placeholder = config["behavior_placeholder"]
        self.separator = config["field_separator"]
        if self.template is not None:
            template_fields(self.template)  # validates placeholders early
        if self.side_file is not None:
            if not self.side_template:
                raise TextSpecError("behavior_side_file needs behavior_side_template, e.g. 'tagged {tag}'")
            template_fields(self.side_template)
        if self.enabled and not str(self.placeholder or "").strip():
            raise TextSpecError("behavior_placeholder must be a non-empty string")

    @property
    def enabled(self):
        return self.template is not None or self.side_file is not None

    def describe(self):
        return (f"template={self.template!r} side_file={self.side_file!r} "
                f"side_template={self.side_template!r} placeholder={self.placeholder!r}")

    def render(self, inter, inter_file, dataset_path, uid, iid, time_field):
        """Texts for the rows of the raw ``inter`` DataFrame (same index)."""
        parts = []
        if self.template is not None:
            names = template_fields(self.template)
            missing = [n for n in names if n not in inter.columns]
            if missing:
                raise TextSpecError(
                    f"behavior_text_template names field(s) {missing} that {inter_file!r} does "
                    f"not provide (or load_col did not load); available: {list(inter.columns)}"
                )
            columns = {n: [_as_text(v) for v in inter[n].values] for n in names}
            parts.append(pd.Series(
                [self.template.format(**{n: columns[n][r] for n in names}).strip()
                 for r in range(len(inter))], index=inter.index,
            ))
        if self.side_file is not None:
            parts.append(self._render_side(inter, dataset_path, uid, iid, time_field))
        texts = parts[0]
        for more in parts[1:]:
            texts = pd.Series(
                ["; ".join(t for t in pair if t) for pair in zip(texts, more)], index=inter.index
            )
        empty = texts.str.strip() == ""
        if empty.any():
            getLogger().info(
                f"{int(empty.sum())} of {len(texts)} interactions have no behaviour text; "
                f"they get the placeholder {self.placeholder!r}"
            )
            texts[empty] = self.placeholder
        return texts

    def _render_side(self, inter, dataset_path, uid, iid, time_field):
        path = os.path.join(dataset_path, self.side_file)
        side = read_side_file(path, self.separator)
        names = template_fields(self.side_template)
        needed = [uid, iid, time_field] + names
        missing = [n for n in needed if n not in side.columns]
        if missing:
            raise TextSpecError(
                f"{path!r} lacks field(s) {missing} (needed for user, item, time and "
                f"behavior_side_template); it has {list(side.columns)}"
            )
        if time_field not in inter.columns:
            raise TextSpecError(f"behavior_side_file needs the time field {time_field!r} in the .inter file")
        side = side.assign(_time=pd.to_numeric(side[time_field], errors="raise"))
        rows = pd.DataFrame({uid: inter[uid].astype(str).values, iid: inter[iid].astype(str).values,
                             "_t": inter[time_field].astype(float).values, "_row": inter.index})
        joined = rows.merge(side[[uid, iid, "_time"] + names], on=[uid, iid])
        joined = joined[joined["_time"] <= joined["_t"]]  # only events at or before the interaction
        joined = joined.sort_values(["_row", "_time"])
        rendered = {}
        for row, group in joined.groupby("_row", sort=False):
            values = {n: ", ".join(dict.fromkeys(v for v in group[n] if v)) for n in names}
            if any(values.values()):
                rendered[row] = self.side_template.format(**values).strip()
        getLogger().info(
            f"behaviour side file {path}: {len(side)} events shape {len(rendered)} of "
            f"{len(inter)} interactions (events after an interaction are ignored)"
        )
        return pd.Series([rendered.get(r, "") for r in inter.index], index=inter.index)
