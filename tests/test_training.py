import glob
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from data_pipeline import build, sources, synthetic
from slnl_tf import evaluate, flags as project_flags, training
from tiny_config import TINY

ROOT = Path(__file__).resolve().parents[1]
FLAGFILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.flags"))


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    synthetic.write_raw_dataset(str(root / "raw"), 48, TINY.num_classes, frames=TINY.frames, seed=0,
                                log=lambda _: None)
    build.build(sources.NTUSource(str(root / "raw"), "ntu60_xsub"), str(root / "records"), files_per_shard=8,
                workers=1, progress=False, log=lambda _: None)
    return str(root / "records")


def _options(records, model_dir, **changes):
    values = dict(model_dir=str(model_dir), data_dir=records, epochs=2, steps_per_epoch=3, batch_size=4,
                  learning_rate=3e-3, warmup_epochs=0.0, seed=1, verbose=0)
    values.update(changes)
    return training.TrainOptions(**values)


CONFIG = TINY.replace(num_classes=60, dropout=0.0)


def test_flagfiles_parse_and_their_models_take_two_steps(records):
    # Every configs/*.flags is parsed with the real parser; each distinct model and
    # optimizer set-up (at tiny width and length) takes two training steps on a batch of
    # the tiny generated records. The full training loop is covered by the tests below.
    from data_pipeline import input as data_input

    project_flags.define_training_flags()
    assert len(FLAGFILES) >= 25
    batch = next(iter(data_input.make_dataset(records, "train", batch_size=4, frames=TINY.frames, training=True,
                                              seed=0)))
    setups = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for flagfile in FLAGFILES:
            flags.FLAGS.unparse_flags()
            flags.FLAGS(["prog", f"--flagfile={flagfile}"])
            assert flags.FLAGS.model_dir and flags.FLAGS.data_dir, flagfile
            config = project_flags.model_config_from_flags().replace(
                num_classes=60, joints=25, frames=TINY.frames, skeleton_joints=8, stage_filters=TINY.stage_filters,
                fc_units=8)
            key = (config, flags.FLAGS.optimizer, flags.FLAGS.lr_schedule)
            setups.setdefault(key, []).append(flagfile)
    finally:
        os.chdir(cwd)
        flags.FLAGS.unparse_flags()
    for (config, optimizer, schedule), files in setups.items():
        options = training.TrainOptions(model_dir="", data_dir="", optimizer=optimizer, lr_schedule=schedule,
                                        epochs=1, batch_size=4)
        model, _ = training.build_compiled_model(config, options, steps_per_epoch=2)
        model.run_eagerly = True  # tracing ~20 graphs would dominate the suite's time
        targets = {name: batch["label"] for name in ("position", "velocity", "concat")}
        losses = [model.train_on_batch(batch["skeleton"], targets)[0] for _ in range(2)]
        assert np.all(np.isfinite(losses)), files
        assert int(model.optimizer.iterations) == 2


def test_interrupted_and_resumed_run_ends_with_the_same_weights(records, tmp_path):
    tf.config.experimental.enable_op_determinism()
    straight, _, _ = training.train(CONFIG, _options(records, tmp_path / "straight"), log=lambda _: None)

    class SigtermAtStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 4:  # mid-epoch 2
                os.kill(os.getpid(), signal.SIGTERM)

    messages = []
    first, _, _ = training.train(CONFIG, _options(records, tmp_path / "resumed"), log=messages.append,
                                 extra_callbacks=[SigtermAtStep()])
    assert int(first.optimizer.iterations) == 4 and any("preempted" in m for m in messages)
    messages.clear()
    resumed, _, _ = training.train(CONFIG, _options(records, tmp_path / "resumed"), log=messages.append)
    assert any("resumed from" in m and "step 4" in m for m in messages)
    assert int(resumed.optimizer.iterations) == 6
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_outputs_checkpoints_history_tensorboard_and_best_model(records, tmp_path):
    model, history, checkpoint_dir = training.train(CONFIG, _options(records, tmp_path), log=lambda _: None)
    assert training.CheckpointStore(checkpoint_dir, None).latest().endswith(".weights.h5")
    assert (tmp_path / "best.keras").exists() and (tmp_path / "history.csv").exists()
    assert {"learning_rate", "samples_per_second", "val_concat_top1"} <= set(history)
    tags = set()
    for event_file in glob.glob(str(tmp_path / "logs" / "**" / "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            tags.update(value.tag for value in event.summary.value)
    for tag in ("epoch_loss", "epoch_concat_top1", "epoch_position_loss", "epoch_velocity_top5",
                "epoch_learning_rate", "epoch_samples_per_second",
                "frequency_attention/position_frequency_attention/real",
                "frequency_attention/velocity_frequency_attention/imaginary"):
        assert tag in tags, (tag, sorted(tags))
    restored = training.restore_for_inference(CONFIG, checkpoint_dir)
    clips = synthetic.make_clips(2, 4, CONFIG.frames)[0]
    np.testing.assert_allclose(restored(clips)["concat"].numpy(), model(clips, training=False)["concat"].numpy(),
                               rtol=1e-5, atol=1e-5)


def test_evaluation_outputs_are_consistent(records, tmp_path):
    model, _, _ = training.train(CONFIG, _options(records, tmp_path / "run", epochs=1), log=lambda _: None)
    metrics, matrix = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "eval"), batch_size=5)
    test_count = json.loads((Path(records) / "manifest.json").read_text())["splits"]["test"]["written"]
    assert metrics["samples"] == test_count == matrix.sum()
    for head in ("position", "velocity", "concat", "fused"):
        assert 0 <= metrics[f"{head}_top1"] <= metrics[f"{head}_top5"] <= 1
    scores = np.load(tmp_path / "eval" / "scores.npz")
    assert len(set(scores["names"])) == test_count and scores["fused"].shape == (test_count, 60)
    np.testing.assert_allclose(scores["fused"].sum(1), 1.0, atol=1e-5)
    assert np.mean(scores["fused"].argmax(1) == scores["labels"]) == pytest.approx(metrics["fused_top1"])
    csv_rows = (tmp_path / "eval" / "confusion_matrix.csv").read_text().splitlines()
    assert len(csv_rows) == 61
    assert (tmp_path / "eval" / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    per_class = (tmp_path / "eval" / "per_class.csv").read_text().splitlines()
    assert sum(int(row.split(",")[2]) for row in per_class[1:]) == test_count


def test_multi_clip_evaluation_averages_windows(records, tmp_path):
    model, _, _ = training.train(CONFIG, _options(records, tmp_path / "run", epochs=1), log=lambda _: None)
    single, _ = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "one"), batch_size=5)
    multi, _ = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "three"), batch_size=5,
                                 eval_crop_ratio=0.5, clips=3)
    assert multi["samples"] == single["samples"]
    scores = {n: np.load(tmp_path / n / "scores.npz") for n in ("one", "three")}
    np.testing.assert_array_equal(scores["one"]["names"], scores["three"]["names"])
    np.testing.assert_allclose(scores["three"]["fused"].sum(1), 1.0, atol=1e-5)
    assert not np.allclose(scores["one"]["fused"], scores["three"]["fused"])


def test_mixed_precision_training_keeps_float32_logits(records, tmp_path):
    options = _options(records, tmp_path, epochs=1, mixed_precision="mixed_bfloat16")
    model, history, _ = training.train(CONFIG, options, log=lambda _: None)
    assert np.isfinite(history["loss"]).all()
    assert model.get_layer("stage5_conv").compute_dtype == "bfloat16"
    clips = synthetic.make_clips(2, 4, CONFIG.frames)[0]
    assert all(logits.dtype == "float32" for logits in model(clips).values())


def test_divergence_stops_with_a_clear_message(records, tmp_path):
    options = _options(records, tmp_path, optimizer="sgd", learning_rate=1e12, lr_schedule="constant")
    with pytest.raises(training.TrainingDiverged, match="NaN or inf at step .* lower --learning_rate"):
        training.train(CONFIG.replace(loss="ce"), options, log=lambda _: None)


def test_learning_rate_scales_with_the_global_batch():
    assert training.scaled_learning_rate(1e-3, 64) == pytest.approx(1e-3)
    assert training.scaled_learning_rate(1e-3, 256) == pytest.approx(4e-3)


MIRRORED_SCRIPT = r"""
import os, sys, json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.experimental.enable_op_determinism()
sys.path.insert(0, sys.argv[3])
from slnl_tf import training
from tiny_config import TINY
import numpy as np
config = TINY.replace(num_classes=60, dropout=0.0)
# SGD: its update is linear in the gradient. Adam-type updates divide by the gradient's own
# size, so where a gradient is ~0 the order of the replica sum flips the update's sign.
options = training.TrainOptions(model_dir=sys.argv[2], data_dir=sys.argv[1], epochs=1, steps_per_epoch=3,
                                batch_size=4, optimizer="sgd", learning_rate=0.05, warmup_epochs=0.0, seed=1,
                                verbose=0, strategy=sys.argv[4])
model, _, _ = training.train(config, options, log=lambda _: None)
np.savez(os.path.join(sys.argv[2], "weights.npz"), *model.get_weights())
"""


def test_mirrored_on_two_cpus_matches_one_device(records, tmp_path):
    weights = {}
    for strategy in ("default", "mirrored"):
        model_dir = tmp_path / strategy
        result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, records, str(model_dir),
                                 str(ROOT / "tests"), strategy], cwd=ROOT, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        loaded = np.load(model_dir / "weights.npz")
        weights[strategy] = [loaded[f"arr_{i}"] for i in range(len(loaded.files))]
    for a, b in zip(weights["default"], weights["mirrored"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)



def test_multi_worker_fails_fast_with_the_reason():
    with pytest.raises(ValueError, match="multi_worker is not supported yet.*keras-team/keras#20585"):
        training.make_strategy("multi_worker")
