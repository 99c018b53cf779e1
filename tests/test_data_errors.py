"""Bad atomic input gets an error that names the file, field or key."""

import os

import pytest

from recbole_hier.data.atomic_files import AtomicFileError
from recbole_hier.text.templates import TextSpecError
from recbole_hier.registry import create_dataset
from tests.conftest import write_tiny_dataset


def test_missing_text_field(make_config):
    with pytest.raises(TextSpecError) as err:
        create_dataset(make_config(item_text_fields=["title", "plot"]))
    message = str(err.value)
    assert "item_text_fields" in message and "'plot'" in message
    assert "tiny.item" in message and "genre" in message  # lists what exists


def test_unknown_field_in_template(make_config):
    with pytest.raises(TextSpecError) as err:
        create_dataset(make_config(item_text_template="{title} by {director}"))
    assert "item_text_template" in str(err.value) and "'director'" in str(err.value)
    assert "tiny.item" in str(err.value)


@pytest.mark.parametrize("template", ["{title.__class__}", "{title[0]}", "{title!r}", "{title:>9}"])
def test_template_placeholders_are_plain_names(make_config, template):
    with pytest.raises(TextSpecError, match="plain field names"):
        create_dataset(make_config(item_text_template=template))


def test_fields_and_template_are_exclusive(make_config):
    with pytest.raises(TextSpecError, match="not both"):
        create_dataset(make_config(item_text_fields=["title"], item_text_template="{title}"))


def test_item_file_missing(make_config, tmp_path):
    root = str(tmp_path / "data")
    write_tiny_dataset(root, name="noitem", with_item_file=False)
    with pytest.raises(TextSpecError) as err:
        create_dataset(make_config(dataset="noitem", data_path=root))
    assert os.path.join(root, "noitem", "noitem.item") in str(err.value)
    assert "load_col" in str(err.value)


def test_item_columns_not_loaded(make_config):
    with pytest.raises(TextSpecError, match="load_col"):
        create_dataset(make_config(load_col={"inter": ["user_id", "item_id", "timestamp"]}))


def test_pickled_dataset_options_are_refused(make_config):
    with pytest.raises(ValueError, match="save_dataset"):
        create_dataset(make_config(save_dataset=True))
    with pytest.raises(ValueError, match="dataloaders_save_path"):
        create_dataset(make_config(dataloaders_save_path="x.pth"))


def test_language_model_folder_missing(make_config, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a local folder") as err:
        create_dataset(make_config(plm_name_or_path=str(tmp_path / "nope")))
    assert "plm_name_or_path" in str(err.value)


@pytest.mark.parametrize("model", ["HierRec", "SASRec"])
def test_dataset_folder_missing_is_not_downloaded(make_config, tmp_path, model):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        create_dataset(make_config(model=model, dataset="absent", data_path=str(tmp_path)))
    assert os.path.join(str(tmp_path), "absent") in str(err.value)


def _rewrite(folder, name, transform, suffix="inter"):
    path = os.path.join(folder, f"{name}.{suffix}")
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(transform(raw))
    return path


@pytest.mark.parametrize("suffix, transform, message", [
    ("inter", lambda raw: b"\xef\xbb\xbf" + raw, r"starts with a UTF-8 byte-order mark"),
    ("item", lambda raw: raw.replace(b"story", b"st\xf6ry", 1), r"is not UTF-8: byte \d+ \(line 2\) is 0xf6; convert"),
    ("inter", lambda raw: raw.replace(b"\t", b","), r"header is one column.*comma- or semicolon-separated"),
    ("inter", lambda raw: raw.replace(b"rating:float", b"rating:number", 1), r"field 'rating' has type 'number'"),
    ("inter", lambda raw: raw.replace(b"\n", b"\tabc\n", 2).replace(b"\tabc", b"", 1),
     r"line 2: 5 values for 4 fields"),
    ("inter", lambda raw: raw.split(b"\n", 1)[0] + b"\n" + raw.split(b"\n", 1)[1].replace(b"\t3\t", b"\tthree\t", 1),
     r"line \d+, field 'rating' \(float\): 'three' is not a number"),
    ("inter", lambda raw: raw[: raw.index(b"\n", 200)] + b"\nu1\ti2\t3" + raw[raw.index(b"\n", 200):],
     r"line \d+: 3 values for 4 fields"),  # a short row, mid-file
    ("inter", lambda raw: b"", r"is empty"),
    ("inter", lambda raw: raw.split(b"\n", 1)[0] + b"\n", r"has a header but no rows"),
    ("item", lambda raw: raw.replace(b"genre:token_seq", b"title:token_seq", 1), r"names field 'title' twice"),
])
def test_bad_atomic_files_are_reported_with_file_line_and_field(make_config, tmp_path, suffix, transform, message):
    folder = write_tiny_dataset(str(tmp_path / "data"))
    _rewrite(folder, "tiny", transform, suffix)
    with pytest.raises(AtomicFileError, match=message) as err:
        create_dataset(make_config(data_path=str(tmp_path / "data")))
    assert f"tiny.{suffix}" in str(err.value)


def test_interactions_dropped_for_a_missing_item_are_counted(make_config, tmp_path, caplog):
    folder = write_tiny_dataset(str(tmp_path / "data"))
    _rewrite(folder, "tiny", lambda raw: b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"i7\t")),
             "item")
    with caplog.at_level("WARNING"):
        dataset = create_dataset(make_config(data_path=str(tmp_path / "data"), item_text_fields=["title"]))
    dropped = int(caplog.text.split(" of ")[0].split()[-1])
    assert dropped > 0 and "have a item_id with no row in" in caplog.text and "RecBole drops them" in caplog.text
    with open(os.path.join(folder, "tiny.inter")) as f:
        assert dataset.inter_num == sum(1 for _ in f) - 1 - dropped  # exactly what was reported
    with pytest.raises(AtomicFileError, match=r"dropped_rows: error"):
        create_dataset(make_config(data_path=str(tmp_path / "data"), dropped_rows="error"))


def test_empty_and_nan_float_values_are_accepted(make_config, tmp_path):
    folder = write_tiny_dataset(str(tmp_path / "data"))
    lines = open(os.path.join(folder, "tiny.inter")).read().splitlines()
    lines[3] = "\t".join(lines[3].split("\t")[:2] + ["", lines[3].split("\t")[3]])  # no rating
    lines[4] = "\t".join(lines[4].split("\t")[:2] + ["nan", lines[4].split("\t")[3]])
    with open(os.path.join(folder, "tiny.inter"), "w") as f:
        f.write("\n".join(lines) + "\n")
    dataset = create_dataset(make_config(data_path=str(tmp_path / "data")))
    assert dataset.inter_num > 0
