import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from absl import flags

from slnl_tf import flags as project_flags
from slnl_tf.config import PRESETS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def parsed():
    project_flags.define_training_flags()

    def parse(*argv):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["prog", *argv])
        return project_flags.model_config_from_flags()

    yield parse
    flags.FLAGS.unparse_flags()


def test_preset_is_the_base_and_flags_override_it(parsed):
    assert parsed() == PRESETS["ntu60"]
    config = parsed("--preset=kinetics", "--m1=4", "--m2=2", "--stage_filters=8,8,8,8,16,16",
                    "--nonlocal_axes=time", "--attention=none", "--nonlocal_subsample=false")
    assert config.joints == 18 and config.num_classes == 400
    assert (config.m1, config.m2, config.stage_filters) == (4, 2, (8, 8, 8, 8, 16, 16))
    assert config.nonlocal_axes == ("time",) and config.attention == "none" and not config.nonlocal_subsample


def test_bad_values_name_the_flag(parsed):
    with pytest.raises(ValueError, match="m1 \\+ m2 must be 6"):
        parsed("--m1=4")
    with pytest.raises(ValueError, match="--stage_filters must be comma-separated integers"):
        parsed("--stage_filters=8,x,8,8,8,8")
    with pytest.raises(flags.IllegalFlagValueError):
        parsed("--preset=imagenet")


def test_num_classes_must_fit_the_data_labels_and_class_names(parsed):
    manifest = {"num_classes": 3, "class_names": ["a", "b", "c"], "splits": {"train": {"class_counts": {"2": 4}}},
                "layout": {"joints": 25, "channels": 3, "persons": 2}}
    parsed("--num_classes=3")
    assert project_flags.model_config_from_flags(manifest).num_classes == 3
    parsed("--num_classes=4")
    with pytest.raises(ValueError, match="--num_classes=4 but the data in --data_dir names 3 classes"):
        project_flags.model_config_from_flags(manifest)
    parsed("--num_classes=2")
    with pytest.raises(ValueError, match="--num_classes=2 but the data has label 2"):
        project_flags.model_config_from_flags(manifest)


def test_skip_absent_persons_auto_means_without_xla():
    assert project_flags.skip_absent_persons_from_flag("auto", False) is True
    assert project_flags.skip_absent_persons_from_flag("auto", True) is False
    assert project_flags.skip_absent_persons_from_flag("false", False) is False
    assert project_flags.skip_absent_persons_from_flag("true", False) is True
    # Training refuses this one (tests/test_training.py).
    assert project_flags.skip_absent_persons_from_flag("true", True) is True


def test_jit_compile_auto_means_accelerators_only():
    assert project_flags.jit_compile_from_flag("auto", 0) is False
    assert project_flags.jit_compile_from_flag("auto", 1) is True
    assert project_flags.jit_compile_from_flag("true", 0) is True
    assert project_flags.jit_compile_from_flag("false", 2) is False


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_summary_cli_prints_counts():
    result = _run("-m", "slnl_tf.summary", "--preset=ntu60", "--frames=16", "--stage_filters=8,8,8,8,16,16")
    assert result.returncode == 0, result.stderr
    assert "params" in result.stdout and "GFLOPs/clip" in result.stdout and "attention weights/clip" in result.stdout


def test_summary_cli_rejects_a_bad_config_with_the_flag_name():
    result = _run("-m", "slnl_tf.summary", "--m1=5")
    assert result.returncode != 0
    assert "m1 + m2 must be 6" in result.stderr


@pytest.mark.slow
def test_train_main_end_to_end_and_rerun_from_its_resolved_flagfile(tmp_path):
    # The demo path at toy size: synthetic raw files -> converter -> records -> training ->
    # evaluation; then the written flagfile reruns the job, which resumes and is done.
    args = ["train_main.py", "--flagfile=configs/demo.flags", "--frames=8", "--stage_filters=4,4,4,4,8,8",
            "--m1=1", "--m2=5", "--fc_units=8", "--synthetic_clips=24", "--epochs=1", "--batch_size=8",
            f"--data_dir={tmp_path / 'data'}", f"--model_dir={tmp_path / 'model'}",
            f"--export_dir={tmp_path / 'export' / 'slnl' / '1'}"]
    result = _run(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "export" / "slnl" / "1" / "saved_model.pb").exists()
    assert "fused     top-1" in result.stdout and "read 24 = written 24 + skipped 0" in result.stdout
    # One compact line per epoch, the heads grouped and validation apart.
    assert re.search(r"^epoch 1/1  train loss [\d.]+, top-1 p [\d.]+ v [\d.]+ c [\d.]+ %  \| val loss [\d.]+, "
                     r"top-1 p [\d.]+ v [\d.]+ c [\d.]+ % \(c top-5 [\d.]+ %\)  \| lr [\d.e+-]+, \d+ clips/s  \d+ s$",
                     result.stdout, re.M), result.stdout[-3000:]
    resolved = (tmp_path / "model" / "resolved.flags").read_text()
    assert "--frames=8" in resolved and "--num_classes=10" in resolved and "--epochs=1" in resolved
    assert "--skip_absent_persons=auto" in resolved and "absent persons skipped: True" in result.stdout
    for name in ("metrics.json", "confusion_matrix.csv", "confusion_matrix.png", "scores.npz", "per_class.csv"):
        assert (tmp_path / "model" / "eval_test" / name).exists()
    best = tmp_path / "model" / "best.keras"
    loaded = _run("-c", f"import keras, slnl_tf; keras.saving.load_model({str(best)!r}); "
                        f"print(len(slnl_tf.load_model({str(best)!r}).outputs))", cwd=tmp_path)
    assert loaded.returncode == 0 and loaded.stdout.strip() == "3", loaded.stderr[-3000:]
    rerun = _run("train_main.py", f"--flagfile={tmp_path / 'model' / 'resolved.flags'}")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resumed from" in rerun.stdout
    assert resolved == (tmp_path / "model" / "resolved.flags").read_text()
    # The export command on the run directory, from the best model.
    exported = _run("-m", "slnl_tf.export", str(tmp_path / "model"), f"--export_dir={tmp_path / 'export2' / '1'}")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "best.keras" in exported.stdout and (tmp_path / "export2" / "1" / "saved_model.pb").exists()
    # Skipping absent persons makes the batch inside depend on the data, which XLA cannot compile.
    refused = _run("train_main.py", f"--flagfile={tmp_path / 'model' / 'resolved.flags'}", "--jit_compile=true",
                   "--skip_absent_persons=true", f"--model_dir={tmp_path / 'model_xla'}")
    assert refused.returncode != 0 and "skip_absent_persons needs jit_compile off" in refused.stderr


def test_train_main_holds_its_model_dir_exits_75_when_preempted_and_names_a_damaged_shard(tmp_path):
    args = ["train_main.py", "--flagfile=configs/demo.flags", "--frames=8", "--stage_filters=4,4,4,4,8,8",
            "--m1=1", "--m2=5", "--fc_units=8", "--synthetic_clips=24", "--epochs=100000", "--batch_size=8",
            f"--data_dir={tmp_path / 'data'}", f"--model_dir={tmp_path / 'model'}", "--export_dir="]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        history = tmp_path / "model" / "history.csv"
        deadline = time.time() + 240
        while not (history.exists() and len(history.read_text().splitlines()) > 2) and first.poll() is None:
            assert time.time() < deadline, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.5)
        second = _run(*args)
        assert second.returncode != 0 and "Traceback" not in second.stderr
        assert f"--model_dir {tmp_path / 'model'} is in use by another training (pid {first.pid} " in second.stderr
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=120) == 75, (tmp_path / "first.log").read_text()[-3000:]
    finally:
        first.kill()
    assert "partial run, not evaluated or exported: preempted (SIGTERM)" in (tmp_path / "first.log").read_text()
    shard = next((tmp_path / "data").glob("train-*.tfrecord"))
    damaged = bytearray(shard.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # same size, a record's checksum fails
    shard.write_bytes(bytes(damaged))
    resumed = _run(*args)
    assert resumed.returncode != 0 and "Traceback" not in resumed.stderr, resumed.stderr[-3000:]
    assert f"damaged records: {shard} (corrupted record at" in resumed.stderr
    assert f"rebuild the dataset with `rm -r {tmp_path / 'data'} && python train_main.py --generate_synthetic_data" \
        in resumed.stderr


def test_train_main_names_the_build_command_for_missing_data(tmp_path):
    result = _run("train_main.py", "--flagfile=configs/ntu_cs.flags", f"--data_dir={tmp_path}",
                  f"--model_dir={tmp_path / 'model'}")
    assert result.returncode != 0
    assert "is not a built dataset" in result.stderr and "--data_dir=OUT_DIR/NAME" in result.stderr


def test_help_lists_the_commands_own_flags_and_exits_0():
    result = _run("train_main.py", "--help")
    assert result.returncode == 0 and "--learning_rate" in result.stdout and "--model_dir" in result.stdout
    assert "I0000" not in result.stderr and "cuInit" not in result.stderr


def test_train_main_rejects_unknown_flags_and_bad_values():
    result = _run("train_main.py", "--flagfile=configs/demo.flags", "--attention=phase")
    assert result.returncode != 0 and "attention must be one of" in result.stderr
    result = _run("train_main.py", "--no_such_flag=1")
    assert result.returncode != 0 and "no_such_flag" in result.stderr


def test_train_main_checks_the_multi_worker_set_up():
    result = _run("train_main.py", "--flagfile=configs/demo.flags", "--strategy=multi_worker", "--training_loop=fit")
    assert result.returncode != 0 and "--training_loop=fit cannot run --strategy=multi_worker" in result.stderr
    if "TF_CONFIG" not in os.environ:
        result = _run("train_main.py", "--flagfile=configs/demo.flags", "--strategy=multi_worker")
        assert result.returncode != 0 and "needs the TF_CONFIG environment variable" in result.stderr
