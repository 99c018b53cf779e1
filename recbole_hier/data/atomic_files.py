"""Atomic files checked before RecBole reads them, so bad input fails naming file, line and field.

RecBole turns a byte-order mark into ``KeyError: 'user_id'``, a Latin-1 file into a
bare ``UnicodeDecodeError``, commas instead of tabs into ``too many values to unpack``
and text in a float column into a pandas error without a line. :func:`check_atomic_files`
reads the ``.inter``, ``.item`` and ``.user`` files of a dataset first and reports:
an empty file; a byte-order mark or bytes that are not UTF-8 (with the byte offset and
line, and how to convert); a header that is not ``name:type`` with known types, or that
names a field twice; a separator that is not the configured one; rows with the wrong
number of columns; values of float fields that do not parse (file, line, field).

It also counts the interactions RecBole will drop because their item (or user) has no
row in the ``.item`` (``.user``) file, logs the count, and with
``dropped_rows: error`` refuses to go on.
"""

import codecs
import csv
import io
import os
from logging import getLogger

import pandas as pd

TYPES = ("token", "token_seq", "float", "float_seq")
SUFFIXES = ("inter", "item", "user")


class AtomicFileError(ValueError):
    """An atomic file RecBole would misread or fail on."""


def _text(path):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise AtomicFileError(f"{path} is empty: it needs a 'field:type' header and at least one row")
    if raw.startswith(codecs.BOM_UTF8):
        raise AtomicFileError(f"{path} starts with a UTF-8 byte-order mark, which RecBole reads as part of the "
                              f"first field name; save it without one (e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' {path})")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise AtomicFileError(f"{path} is not UTF-8: byte {err.start} (line {line}) is 0x{raw[err.start]:02x}; "
                              f"convert it, e.g. iconv -f latin1 -t utf-8 {path} > converted") from None


def _header(path, line, separator):
    columns = line.rstrip("\r\n").split(separator)
    if len(columns) == 1 and ("," in columns[0] or ";" in columns[0]):
        raise AtomicFileError(f"{path}: the header is one column, {columns[0][:60]!r}: fields must be separated "
                              f"by field_separator ({separator!r}); this file looks comma- or semicolon-separated")
    fields = []
    for column in columns:
        name, colon, kind = column.partition(":")
        if not colon or not name:
            raise AtomicFileError(f"{path}: header column {column!r} must look like name:type, with a type "
                                  f"in {list(TYPES)}")
        if kind not in TYPES:
            raise AtomicFileError(f"{path}: field {name!r} has type {kind!r}; RecBole knows {list(TYPES)}")
        if name in [f for f, _ in fields]:
            raise AtomicFileError(f"{path}: the header names field {name!r} twice")
        fields.append((name, kind))
    return fields


def _check_rows(path, text, fields, separator, seq_separator, wanted):
    """Every row has one value per field and every loaded float value parses; returns the
    rows as a DataFrame of strings. Pandas' C parser checks a clean file quickly; anything
    it finds suspicious is checked again row by row, which names the line."""
    floats = [(name, kind) for name, kind in fields if kind.startswith("float") and (wanted is None or name in wanted)]
    try:
        # float fields parsed as numbers by the C parser (a value that is not one raises)
        dtype = {n: ("float64" if (n, k) in floats and k == "float" else str) for n, k in fields}
        frame = pd.read_csv(io.StringIO(text), sep=separator, header=0, names=[f for f, _ in fields], dtype=dtype,
                            keep_default_na=False, na_filter=True, na_values=[], engine="c")
        suspicious = bool(frame.isna().to_numpy().any()) or any(_bad_numbers(frame[n], k, seq_separator)
                                                                for n, k in floats if k == "float_seq")
    except (pd.errors.ParserError, ValueError):
        frame, suspicious = None, True
    if suspicious:
        rows = _check_rows_one_by_one(path, text, fields, separator, seq_separator, floats)
        if frame is None:  # pandas could not parse what the row-by-row reading accepts
            frame = pd.DataFrame(rows, columns=[f for f, _ in fields], dtype=str)
    if not len(frame):
        raise AtomicFileError(f"{path} has a header but no rows")
    return frame


def _bad_numbers(column, kind, seq_separator):  # a float_seq column of strings
    values = column.str.split(seq_separator).explode()
    values = values[values.str.strip() != ""]
    return bool(pd.to_numeric(values, errors="coerce").isna().any())


def _check_rows_one_by_one(path, text, fields, separator, seq_separator, floats):
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    next(reader)
    columns = [f for f, _ in fields]
    rows = []
    for number, row in enumerate(reader, start=2):
        if not row:
            continue
        rows.append(row)
        if len(row) != len(fields):
            raise AtomicFileError(f"{path}, line {number}: {len(row)} values for {len(fields)} fields "
                                  f"({', '.join(columns)}); is every value separated by {separator!r}?")
        for name, kind in floats:
            value = row[columns.index(name)]
            for part in (value.split(seq_separator) if kind == "float_seq" else [value]):
                try:
                    if part.strip():
                        float(part)
                except ValueError:
                    raise AtomicFileError(f"{path}, line {number}, field {name!r} ({kind}): {part!r} is not a "
                                          "number") from None
    return rows


def read_atomic_file(path, separator="\t", seq_separator=" "):
    """``(fields, rows)`` of one atomic file, checked as above: ``fields`` is ``[(name, type)]``,
    ``rows`` the rows' values as strings."""
    if not os.path.isfile(path):
        raise AtomicFileError(f"{path} does not exist")
    text = _text(path)
    fields = _header(path, text.split("\n", 1)[0], separator)
    floats = [(name, kind) for name, kind in fields if kind.startswith("float")]
    rows = _check_rows_one_by_one(path, text, fields, separator, seq_separator, floats)  # as strings
    if not rows:
        raise AtomicFileError(f"{path} has a header but no rows")
    return fields, rows


def check_atomic_files(config):
    """Check the dataset's atomic files; count the interactions RecBole will drop."""
    folder, name = config["data_path"], config["dataset"]
    separator, seq_separator = config["field_separator"], config["seq_separator"]
    load_col = config["load_col"] or {}
    ids = {}
    for suffix in SUFFIXES:
        path = os.path.join(folder, f"{name}.{suffix}")
        if not os.path.isfile(path) or (load_col and suffix not in load_col):
            continue
        text = _text(path)
        fields = _header(path, text.split("\n", 1)[0], separator)
        wanted = set(load_col[suffix]) if load_col else None
        ids[suffix] = (path, _check_rows(path, text, fields, separator, seq_separator, wanted))
    _count_dropped(config, ids)


def _count_dropped(config, ids):
    if "inter" not in ids or not config["filter_inter_by_user_or_item"]:
        return
    inter_path, inter = ids["inter"]
    for suffix, key in (("item", "ITEM_ID_FIELD"), ("user", "USER_ID_FIELD")):
        field = config[key]
        if suffix not in ids or field not in inter.columns or field not in ids[suffix][1].columns:
            continue
        path, rows = ids[suffix]
        missing = inter[field][~inter[field].isin(rows[field])].tolist()
        if not missing:
            continue
        message = (f"{len(missing)} of {len(inter)} interactions in {inter_path} have a {field} with no row "
                   f"in {path} (e.g. {', '.join(sorted(set(missing))[:3])}); RecBole drops them")
        if config["dropped_rows"] == "error":
            raise AtomicFileError(message + " (dropped_rows: error); add the rows, or set dropped_rows: log")
        getLogger().warning(message + " (dropped_rows: log; set dropped_rows: error to stop instead)")
