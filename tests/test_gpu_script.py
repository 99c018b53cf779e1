"""The GPU script, run on CPU with tiny data: its runner calls resume the suite within its
time budget, the speed figures are written, and the records are copied where they come back."""

import json
import os
import subprocess
import tarfile
import time

import pytest

from recbole_hier.benchmark.handback import pack, unpack
from tests.conftest import REPO, tiny_config_dict
from tests.test_benchmark import write_suite


def test_the_gpu_script_runs_its_steps_and_the_speed_ratio_and_hands_back_the_records(tiny_data, tiny_bert,
                                                                                         tmp_path):
    suite = write_suite(tmp_path, tiny_data, tiny_bert, models={"HierRec": {}, "SASRec": {"config": {"n_layers": 1}}},
                        tuning={"grid": {"learning_rate": [0.001]}, "seed": 1}, seeds=[1])
    steps = tmp_path / "steps.txt"
    steps.write_text(f"# highest priority first\n--suite {suite} --models HierRec\n\n--suite {suite}\n")
    config = tiny_config_dict(tiny_data, tiny_bert, tmp_path)
    out, results = tmp_path / "out", tmp_path / "results"
    env = {**os.environ, "OUT": str(out), "GPU_HOURS": "0.5", "GPU_JOBS": "1", "GPU_DEVICE": "cpu",
           "GPU_STEPS": str(steps), "GPU_RESULTS": str(results),
           "SPEED_ARGS": " ".join(f"--{k}={v}" for k, v in config.items()
                                  if k in ("data_path", "plm_name_or_path", "text_cache_dir", "hidden_size"))
           + " --dataset tiny --MAX_ITEM_LIST_LENGTH 8 --train_batch_size 64 --load_col={'inter':['user_id','item_id','rating','timestamp'],'item':['item_id','title','genre']}"}
    done = subprocess.run(["bash", os.path.join(REPO, "recbole_hier", "benchmark", "gpu.sh")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("gpu.sh: --suite") == 2  # the comment and the blank line are no steps
    # what comes back: a few flat files (the device's limits), unpacked into a results folder
    assert sorted(os.listdir(out)) == ["records.tar.gz", "training_speed_cpu.json", "training_speed_cpu.txt"]
    back = tmp_path / "back"
    unpack(str(out), str(back))
    runs = set(os.listdir(back / "smoke" / "runs"))
    assert {f"tiny__{m}{g}__1.json" for m in ("HierRec", "SASRec") for g in ("", "@learning_rate=0.001")} == runs
    assert (back / "smoke" / "leaderboard.md").read_text() == (results / "smoke" / "leaderboard.md").read_text()
    figures = json.loads((out / "training_speed_cpu.json").read_text())
    assert figures["HierRec"]["train_epoch_s"] > 0 and figures["ratios"]["train_epoch"] > 0
    # no time left: the steps are skipped, the speed figures still come
    env["GPU_HOURS"] = "0"
    again = subprocess.run(["bash", os.path.join(REPO, "recbole_hier", "benchmark", "gpu.sh")], env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "gpu.sh: no time left for: --suite" in again.stdout


def test_every_step_of_the_repository_s_gpu_script_names_a_suite_and_parts_it_has():
    from recbole_hier.benchmark.__main__ import parse_args
    from recbole_hier.benchmark.plan import Plan

    path = os.path.join(REPO, "recbole_hier", "benchmark", "gpu_steps.txt")
    steps = [line.split() for line in open(path) if line.strip() and not line.startswith("#")]
    assert steps
    for step in steps:
        args = parse_args(step)
        plan = Plan.load(os.path.join(REPO, args.suite))
        plan.select(plan.datasets, args.only, "--only", "datasets")  # SuiteError on a name it lacks
        plan.select(plan.models, args.models, "--models", "models")
        plan.select_seeds(args.seeds)


def test_handback_packs_new_files_within_the_device_limits_and_unpacks_them(tmp_path):
    results, out = tmp_path / "results", tmp_path / "out"
    runs = results / "s" / "runs"
    old = runs / "d__M__1.json"
    for path, size in [(old, 10), (runs / "d__M__2.json", 10), (runs / "d__M__3.progress" / "last.pth", 3000),
                       (runs / "d__M__3.progress" / "best.pth", 3000), (runs / "d__M__4.progress" / "last.pth", 30000),
                       (results / "other" / "runs" / "x.json", 10)]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    since = time.time() - 60
    os.utime(old, (since - 10, since - 10))  # written before the device run: not handed back
    # room for one progress piece of 20 KiB: the smaller last.pth goes, the larger is named
    written, left_out = pack(str(results), ["s"], since, str(out), max_files=4, max_mb=1,
                             reserved_files=2, reserved_mb=0, piece_mb=20 / 1024)
    assert written == ["records.tar.gz", "progress.tar.00"] and left_out == ["s/runs/d__M__4.progress/last.pth"]
    back = tmp_path / "back"
    assert sorted(unpack(str(out), str(back))) == ["s/runs/d__M__2.json", "s/runs/d__M__3.progress/last.pth"]
    assert (back / "s/runs/d__M__3.progress/last.pth").read_bytes() == (runs / "d__M__3.progress/last.pth").read_bytes()
    # a member that would land outside the results folder is refused
    with tarfile.open(out / "records.tar.gz", "w:gz") as tar:
        tar.add(old, arcname="../escape.json")
    with pytest.raises(ValueError, match="'../escape.json': not a file inside"):
        unpack(str(out), str(tmp_path / "again"))
