"""Pickle-free checkpoints: round trip, and refusal of files carrying pickled objects."""


import pytest
import torch

from recbole_hier.checkpoint import FORMAT, CheckpointError, load_checkpoint, save_checkpoint


class Payload:
    """Unpickling this object would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_round_trip_is_weights_only(tmp_path):
    path = tmp_path / "ok.pth"
    state = {"state_dict": {"w": torch.randn(2, 3)}, "epoch": 3, "config": {"model": "X"}}
    save_checkpoint(state, str(path))
    loaded = load_checkpoint(path)
    assert loaded["format"] == FORMAT and loaded["epoch"] == 3
    assert torch.equal(loaded["state_dict"]["w"], state["state_dict"]["w"])
    torch.load(path, weights_only=True)  # loadable by plain torch, default-safe mode
    assert [p.name for p in tmp_path.iterdir()] == ["ok.pth"]  # no temporary left


def test_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pth"
    torch.save({"format": FORMAT, "state_dict": {}, "x": Payload(str(marker))}, evil)
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(evil)
    assert not marker.exists()


def test_trainer_refuses_pickle_payload_model_file(built, tmp_path):
    from recbole_hier.trainer import HierRecTrainer

    config, dataset, train, valid, test, model = built()
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pth"
    torch.save({"format": FORMAT, "state_dict": Payload(str(marker))}, evil)
    trainer = HierRecTrainer(config, model)
    with pytest.raises(CheckpointError):
        trainer.evaluate(test, load_best_model=True, model_file=str(evil))
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError):
        load_checkpoint(junk)
    plain = tmp_path / "plain.pth"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(CheckpointError, match="not a recbole_hier checkpoint"):
        load_checkpoint(plain)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    import os

    from recbole_hier.files import atomic_path, write_text

    path = tmp_path / "record.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half a rec")
            raise RuntimeError("disk full")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["record.json"]
    # created like any other file: the umask decides, not a private 0600
    umask = os.umask(0)
    os.umask(umask)
    save_checkpoint({"epoch": 1}, str(tmp_path / "c.pth"))
    assert os.stat(tmp_path / "c.pth").st_mode & 0o777 == 0o666 & ~umask == os.stat(path).st_mode & 0o777


def test_a_write_that_fails_names_the_file(tmp_path):
    from recbole_hier.files import write_text

    (tmp_path / "blocker").write_text("")
    with pytest.raises(OSError, match=r"writing '.*blocker/run.json' failed"):
        write_text(tmp_path / "blocker" / "run.json", "{}")
