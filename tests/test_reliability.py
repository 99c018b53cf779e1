"""No code runs from data, checkpoints or flags; checkpoints and caches know what they belong
to; bad keys and unwritable outputs fail before training, naming what is wrong."""

import json
import os
import pickle

import pytest
import torch

from recbole_hier import load_data_and_model, pipeline
from recbole_hier.checkpoint import CheckpointError, config_state, load_checkpoint, save_checkpoint
from recbole_hier.config import Config
from recbole_hier.registry import get_model
from tests.conftest import PROTOCOL, write_tiny_dataset
from tests.test_checkpoint import Payload


def test_a_planted_dataloader_file_is_never_unpickled(make_config, tmp_path):
    config = make_config()
    os.makedirs(config["checkpoint_dir"], exist_ok=True)
    marker = tmp_path / "code-ran"
    planted = os.path.join(config["checkpoint_dir"], "tiny-for-HierRec-dataloader.pth")
    with open(planted, "wb") as f:
        pickle.dump(Payload(str(marker)), f)
    with pytest.raises(ValueError, match="would unpickle it"):
        pipeline.build(config)
    assert not marker.exists()


def test_models_that_evaluate_config_text_are_refused_from_flags_and_checkpoints(tiny_data, tmp_path):
    marker = tmp_path / "code-ran"
    teacher = f"__import__('pathlib').Path({str(marker)!r}).touch() or print"
    with pytest.raises(ValueError, match="KD_DAGFM.*eval"):
        get_model("KD_DAGFM")
    with pytest.raises(ValueError, match="KD_DAGFM"):
        Config("KD_DAGFM", "tiny", [PROTOCOL], {"data_path": tiny_data}, cmd_args=[f"--teacher={teacher}"])

    class Stored:  # what a pickle-free checkpoint of a KD_DAGFM run would hold
        external_config_dict = {"data_path": tiny_data, "teacher": teacher}
        final_config_dict = {}

        def __getitem__(self, key):
            return {"model": "KD_DAGFM", "dataset": "tiny"}[key]

    path = str(tmp_path / "kd.pth")
    save_checkpoint({"config": config_state(Stored()), "state_dict": {}}, path)
    with pytest.raises(ValueError, match="KD_DAGFM"):
        load_data_and_model(path)
    assert not marker.exists()


def test_runs_started_together_never_share_a_checkpoint(make_config):
    config = make_config(model="SASRec", n_layers=1)
    names = {pipeline.build(config).trainer.saved_model_file for _ in range(2)}
    assert len(names) == 2 and all(f"-{os.getpid()}-" in name for name in names)


def test_a_checkpoint_loads_only_into_the_data_and_model_it_was_trained_for(make_config, tmp_path):
    run = pipeline.build(make_config(model="SASRec", n_layers=1))
    path = str(tmp_path / "sasrec.pth")
    run.trainer._save_checkpoint(0, verbose=False, saved_model_file=path)
    assert json.loads(json.dumps(torch.load(path, weights_only=True)["data"]))["dataset"] == "tiny"
    other_data = write_tiny_dataset(str(tmp_path / "other"), n_items=25)
    other = pipeline.build(make_config(model="SASRec", n_layers=1, data_path=os.path.dirname(other_data)))
    with pytest.raises(CheckpointError, match=r"trained on other data \(n_items: checkpoint 31, here 26; item_ids"):
        other.trainer.resume_checkpoint(path)
    wider = pipeline.build(make_config(model="SASRec", n_layers=1, hidden_size=32))
    with pytest.raises(CheckpointError, match=r"does not fit this model \(it was trained with .*'hidden_size': 16"):
        wider.trainer.resume_checkpoint(path)
    run.trainer.resume_checkpoint(path)  # its own data and model: loads
    # a best checkpoint restored from benchmark progress carries no optimizer state
    scoring_only = {k: v for k, v in load_checkpoint(path).items() if k not in ("format", "optimizer")}
    save_checkpoint(scoring_only, path)
    with pytest.raises(CheckpointError, match="weights for scoring only .* training cannot resume from it"):
        run.trainer.resume_checkpoint(path)


def test_a_text_cache_with_overwritten_bytes_is_reported_and_rebuilt(make_config, caplog):
    config = make_config()
    table = pipeline.build(config, with_trainer=False).dataset.item_text_table.clone()
    [cache] = [os.path.join(config["text_cache_dir"], n) for n in os.listdir(config["text_cache_dir"])]
    with open(cache, "r+b") as f:  # finite garbage over the tensor bytes: the file still parses
        f.seek(-64, os.SEEK_END)
        f.write(torch.full((16,), 0.5).numpy().tobytes())
    with caplog.at_level("WARNING"):
        rebuilt = pipeline.build(config, with_trainer=False).dataset.item_text_table
    assert f"text cache {cache} is corrupt: its tensor bytes do not match" in caplog.text
    assert torch.allclose(rebuilt, table)


@pytest.mark.parametrize("args, message", [
    (["--hiden_size=128"], r"unknown key 'hiden_size' .*did you mean hidden_size"),
    (["--epochs=-1"], r"epochs must be >= 1, got -1"),
    (["--learning_rate=abc"], r"learning_rate must be a number \(float\), got 'abc'"),
])
def test_bad_keys_fail_before_any_data_is_read(tmp_path, args, message):
    with pytest.raises(ValueError, match=message):
        Config("SASRec", "tiny", [PROTOCOL], {"data_path": str(tmp_path / "none")}, cmd_args=args)


def test_config_files_that_set_nothing_or_are_not_mappings(tiny_data, tmp_path):
    empty, listed = tmp_path / "empty.yaml", tmp_path / "list.yaml"
    empty.write_text("# nothing set here\n")
    listed.write_text("- epochs\n- 3\n")
    assert Config("SASRec", "tiny", [PROTOCOL, str(empty)], {"data_path": tiny_data})["epochs"] == 50
    with pytest.raises(ValueError, match=r"config file '.*list.yaml' must hold 'key: value' lines, got a list"):
        Config("SASRec", "tiny", [PROTOCOL, str(listed)], {"data_path": tiny_data})


def test_a_folder_that_is_not_a_model(make_config, tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(FileNotFoundError, match="not a transformers model: it has no config.json"):
        pipeline.build(make_config(plm_name_or_path=str(tmp_path / "notes"), text_cache_dir=str(tmp_path / "c")))


def test_outputs_that_cannot_be_written_fail_before_training(make_config, tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OSError, match=r"cannot write checkpoints to '.*a-file/saved'"):
        pipeline.build(make_config(model="SASRec", n_layers=1, checkpoint_dir=str(tmp_path / "a-file" / "saved")))
    run = pipeline.build(make_config(model="SASRec", n_layers=1))
    with pytest.raises(OSError, match="MB free, a checkpoint of this model needs about"):
        pipeline.check_output_folder(str(tmp_path), run.model, spare_bytes=2**62)
