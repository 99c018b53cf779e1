"""Item text: one string per item, rendered from the item's ``.item`` fields.

Default rendering names every text-like field (``token`` / ``token_seq``, except the
item id) with its value, e.g. ``"movie title: Toy Story. release year: 1995.
class: Animation Children's Comedy"``. ``item_text_fields`` picks and orders the
fields; ``item_text_template`` (``str.format`` style, e.g.
``"{movie_title} ({release_year})"``) takes full control.
"""

import string

from recbole.utils import FeatureType

TEXT_LIKE_TYPES = (FeatureType.TOKEN, FeatureType.TOKEN_SEQ)


class TextSpecError(ValueError):
    """A text template or field list that does not fit the data."""


def _column(dataset, field):
    """A field of ``item_feat`` as a Python list, whether it is still a DataFrame
    (right after ``Dataset.__init__``) or already an ``Interaction`` of tensors."""
    values = dataset.item_feat[field]
    if hasattr(values, "numpy") and not hasattr(values, "iloc"):  # torch tensor
        return values.tolist()
    return [v.tolist() if hasattr(v, "tolist") else v for v in values]


def field_values(dataset, field):
    """The field's value for every item, as strings ('' when missing)."""
    values = _column(dataset, field)
    ftype = dataset.field2type[field]
    if ftype == FeatureType.TOKEN:
        tokens = dataset.field2id_token[field]
        return [str(tokens[int(i)]) if int(i) > 0 else "" for i in values]
    if ftype == FeatureType.TOKEN_SEQ:
        tokens = dataset.field2id_token[field]
        return [" ".join(str(tokens[int(i)]) for i in row if int(i) > 0) for row in values]
    if ftype == FeatureType.FLOAT:
        return [format(v, "g") for v in values]
    if ftype == FeatureType.FLOAT_SEQ:
        return [" ".join(format(v, "g") for v in row) for row in values]
    raise TextSpecError(f"item field {field!r} has unsupported type {ftype}")


def render_named_fields(values):
    """Default rendering: ``"name one: value. name two: value"`` (empty values skipped)."""
    return ". ".join(f"{f.replace('_', ' ')}: {v}" for f, v in values.items() if v.strip())


def template_fields(template):
    """Names used by a ``str.format`` template; only plain field names are allowed."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TextSpecError(
                f"item_text_template placeholder {{{name}}} is not allowed: use plain "
                "field names such as {movie_title} (no attributes, indexes or format specs)"
            )
        names.append(name)
    return names


def default_text_fields(dataset):
    """Every text-like item field except the item id, in file order."""
    return [
        field
        for field in dataset.item_feat.columns
        if field != dataset.iid_field and dataset.field2type[field] in TEXT_LIKE_TYPES
    ]


class ItemTextSpec:
    """Which fields make an item's text, and how they are put together."""

    def __init__(self, fields=None, template=None):
        if fields is not None and template is not None:
            raise TextSpecError("set item_text_fields or item_text_template, not both")
        if fields is not None and (isinstance(fields, str) or not list(fields)):
            raise TextSpecError("item_text_fields must be a non-empty list of field names")
        self.template = template
        self.fields = template_fields(template) if template is not None else fields

    def describe(self):
        """A string that identifies the rendering (part of the cache key)."""
        return f"template={self.template!r}" if self.template else f"fields={self.fields!r}"

    def text_fields(self, dataset, item_file):
        """The item fields the texts are made of, checked against what the dataset loaded."""
        if dataset.item_feat is None:
            raise TextSpecError(
                f"HierRec needs item text, but no item features were loaded from {item_file!r}: "
                "check that the file exists and that load_col has an 'item' entry with the "
                "text fields (see properties/dataset/*.yaml)"
            )
        fields = self.fields if self.fields is not None else default_text_fields(dataset)
        available = [f for f in dataset.item_feat.columns if f != dataset.iid_field]
        missing = [f for f in fields if f not in available]
        if missing:
            key = "item_text_template" if self.template else "item_text_fields"
            raise TextSpecError(
                f"{key} names field(s) {missing} that {item_file!r} does not provide (or "
                f"load_col did not load); available item fields: {available}"
            )
        if not fields:
            raise TextSpecError(
                f"{item_file!r} has no text-like (token / token_seq) field to build item "
                "text from; set item_text_fields or item_text_template"
            )
        return list(fields)

    def render(self, dataset, item_file):
        """Texts for item ids ``0 .. item_num-1``; entry 0 (``[PAD]``) is ''."""
        fields = self.text_fields(dataset, item_file)
        columns = {f: field_values(dataset, f) for f in fields}
        return [""] + self.render_rows(columns, range(1, dataset.item_num))

    def render_rows(self, columns, rows):
        """One text per row index of ``columns`` (``{field: [value string per row]}``)."""
        texts = []
        for i in rows:
            values = {f: column[i] for f, column in columns.items()}
            if not any(v.strip() for v in values.values()):
                texts.append("")  # no text at all: the missing-text policy decides
            elif self.template is not None:
                texts.append(self.template.format(**values).strip())
            else:
                texts.append(render_named_fields(values))
        return texts
