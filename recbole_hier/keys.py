"""Typed configuration keys: declared once, validated once, documented from the declaration.

A plugin model lists its keys as :class:`Key` objects in a :class:`KeySet` and sets it
as the class attribute ``config_keys``; :class:`recbole_hier.config.Config` validates
the final configuration against it before any data is read (numbers must be numbers,
strings one of the allowed values, booleans ``true/false/yes/no/1/0`` and nothing
else), and writes the parsed values back. The model's YAML of defaults and the
README's key table are rendered from the same declaration (:meth:`KeySet.yaml`,
:meth:`KeySet.markdown`); a test checks that the files on disk equal them.
"""

import dataclasses
import json
import math
from dataclasses import dataclass

_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_TYPES = ("str", "int", "float", "bool", "list", "dict")


@dataclass(frozen=True)
class Key:
    """One configuration key.

    ``kind``: one of ``str int float bool list dict``; ``choices``: the allowed values
    (of a list's entries, for a list; for a number, words allowed beside it, e.g. ``all``);
    ``low`` / ``high``: bounds of a number, open
    where ``low_open`` / ``high_open``; ``nullable``: ``~`` is allowed.
    """

    name: str
    kind: str
    default: object
    doc: str
    choices: tuple = None
    low: float = None
    high: float = None
    low_open: bool = False
    high_open: bool = False
    nullable: bool = False
    section: str = None  # starts a new section of the YAML file

    def __post_init__(self):
        if self.kind not in _TYPES:
            raise ValueError(f"key {self.name}: kind must be one of {_TYPES}, got {self.kind!r}")

    def range_text(self):
        """``Range in [...]`` as RecBole's YAMLs write it, or '' when unconstrained."""
        if self.choices is not None and self.kind in ("int", "float"):
            numbers = dataclasses.replace(self, choices=None).range_text()
            return f"{numbers or 'a number'} or {' or '.join(self.choices)}"
        if self.choices is not None:
            return f"Range in {list(self.choices)}"
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {_number(self.high)}"
        return (f"Range in {'(' if self.low_open else '['}{_number(self.low)}, "
                f"{_number(self.high)}{')' if self.high_open else ']'}")

    def parse(self, value, owner):
        """``value`` checked and converted to this key's type; ValueError naming the key."""
        if value is None:
            if self.nullable:
                return None
            raise self._error(owner, value, "must be set (~ is not allowed)")
        if self.kind == "bool":
            value = _boolean(value)
            if value is None:
                raise self._error(owner, value, "must be a boolean: true/false, yes/no or 1/0")
            return value
        if self.kind in ("int", "float"):
            if self.choices is not None and value in self.choices:
                return value
            value = self._number(value, owner)
            out_of_range = ((self.low is not None and (value < self.low or (self.low_open and value == self.low)))
                            or (self.high is not None and (value > self.high or (self.high_open and value == self.high))))
            if out_of_range:
                raise self._error(owner, value, f"must be {self.range_text().replace('Range in ', 'in ')}")
            return value
        expected = {"str": str, "list": (list, tuple), "dict": dict}[self.kind]
        if not isinstance(value, expected):
            raise self._error(owner, value, f"must be a {self.kind}")
        if self.kind == "list":
            value = list(value)
            bad = [v for v in value if self.choices is not None and v not in self.choices]
            if bad:
                raise self._error(owner, value, f"entries must be in {list(self.choices)}")
        elif self.choices is not None and value not in self.choices:
            raise self._error(owner, value, f"must be one of {list(self.choices)}")
        return value

    def _number(self, value, owner):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._error(owner, value, f"must be a number ({self.kind})")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise self._error(owner, value, "must be a whole number")
            return int(value)
        if not math.isfinite(value):
            raise self._error(owner, value, "must be a finite number")
        return float(value)

    def _error(self, owner, value, what):
        return ValueError(f"{owner}: {self.name} {what}, got {value!r} "
                          f"(set it in a config file, config_dict or --{self.name}=...)")

    def yaml_line(self, width=32):
        """``key: default   # (type) doc. Range in [...]``, comments aligned at ``width``."""
        text = self.doc + (f" {self.range_text()}." if self.range_text() else "")
        value = f"{self.name}: {_yaml_value(self.default)}"
        return f"{value.ljust(width) if len(value) < width - 1 else value + '  '}# ({self.kind}) {text}"


class KeySet:
    """The keys of one model, and checks that relate several of them.

    ``checks``: functions ``(config, owner) -> None`` that raise ValueError, run after
    every key has been parsed (e.g. one loss weight per level).
    """

    def __init__(self, owner, keys, checks=(), header=""):
        self.owner, self.keys, self.checks, self.header = owner, list(keys), tuple(checks), header
        self.by_name = {key.name: key for key in self.keys}
        if len(self.by_name) != len(self.keys):
            raise ValueError(f"{owner}: a key is declared twice")

    def __getitem__(self, name):
        return self.by_name[name]

    def validate(self, config):
        """Parse every key of ``config`` (a RecBole Config or a dict) in place."""
        for key in self.keys:
            config[key.name] = key.parse(config[key.name], self.owner)
        for check in self.checks:
            check(config, self.owner)

    def yaml(self):
        """The model's YAML of defaults, one commented key a line."""
        lines = [self.header.rstrip("\n")] if self.header else []
        for key in self.keys:
            if key.section:
                lines += ["", f"# --- {key.section} ---"]
            lines.append(key.yaml_line())
        return "\n".join(lines) + "\n"

    def markdown(self):
        """The README's table of the keys."""
        rows = ["| key | default | type | meaning |", "|---|---|---|---|"]
        for key in self.keys:
            meaning = key.doc + (f" {key.range_text()}." if key.range_text() else "")
            rows.append(f"| `{key.name}` | `{_yaml_value(key.default)}` | {key.kind} | {meaning.replace('|', '/')} |")
        return "\n".join(rows) + "\n"


def _boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _number(value):
    return str(int(value)) if float(value).is_integer() else str(value)


def _yaml_value(value):
    """``value`` as a YAML flow literal that reads back to the same value."""
    if value is None:
        return "~"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and "e" in repr(value) and "." not in repr(value):
        return repr(value).replace("e", ".0e")  # 5e-05 reads back as a string in YAML 1.1; 5.0e-05 as a float
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        plain = value and all(c.isalnum() or c in "_-./+" for c in value) and value.lower() not in (
            "true", "false", "yes", "no", "on", "off", "null", "~")
        return value if plain else json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no YAML literal for {value!r}")
