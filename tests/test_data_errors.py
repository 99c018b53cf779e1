"""Bad atomic input gets an error that names the file, field or key."""

import os

import pytest

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
