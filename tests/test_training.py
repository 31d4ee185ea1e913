import glob
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from slnl_tf.data import build, input as data_input, sources, synthetic
from slnl_tf import evaluate, flags as project_flags, training
from slnl_tf.model import OUTPUTS
from tiny_config import TINY

ROOT = Path(__file__).resolve().parents[1]
FLAGFILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.flags"))


@pytest.fixture(scope="session")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    synthetic.write_raw_dataset(str(root / "raw"), 48, TINY.num_classes, frames=TINY.frames, seed=0,
                                log=lambda _: None)
    build.build(sources.NTUSource(str(root / "raw"), "ntu60_xsub", validation=True), str(root / "records"),
                files_per_shard=8, workers=1, progress=False, log=lambda _: None)
    return str(root / "records")


def _options(records, model_dir, **changes):
    values = dict(model_dir=str(model_dir), data_dir=records, epochs=2, steps_per_epoch=3, batch_size=4,
                  learning_rate=3e-3, warmup_epochs=0.0, seed=1, verbose=0)
    values.update(changes)
    return training.TrainOptions(**values)


# One SLnL block (all three non-local paths) and five local ones: these tests are about
# training, not depth, and every run traces its steps (five tests here: 93 -> 68 s of CPU
# against m1=3). The distributed script below uses the same config.
CONFIG = TINY.replace(num_classes=60, dropout=0.0, m1=1, m2=5)


@pytest.fixture(scope="session")
def straight_run(records, tmp_path_factory):
    """(model, history, checkpoint directory) of one deterministic run of `_options` as they
    are (Keras fit, 2 epochs of 3 steps): the reference run of several tests, trained once
    per test process (each run traces its steps, ~15 s on 2 cores); session-scoped, its tests
    in one xdist_group (tests/conftest.py)."""
    tf.config.experimental.enable_op_determinism()
    return training.train(CONFIG, _options(records, tmp_path_factory.mktemp("straight")), log=lambda _: None)


def test_flagfiles_parse_and_their_models_train(records):
    # Every configs/*.flags is parsed with the real parser; each distinct model and
    # optimizer set-up (at tiny width and length) takes a training step on a batch of the
    # tiny generated records, and the first of each optimizer and schedule a second one (an
    # eager step is ~1 s here; 36 steps were two thirds of this test). The full training
    # loop is covered by the tests below.
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
    updates_seen = set()
    for (config, optimizer, schedule), files in setups.items():
        steps = 1 if (optimizer, schedule) in updates_seen else 2
        updates_seen.add((optimizer, schedule))
        options = training.TrainOptions(model_dir="", data_dir="", optimizer=optimizer, lr_schedule=schedule,
                                        epochs=1, batch_size=4)
        model, _ = training.build_compiled_model(config, options, steps_per_epoch=2)
        model.run_eagerly = True  # tracing ~20 graphs would dominate the suite's time
        targets = {name: batch["label"] for name in OUTPUTS}
        losses = [model.train_on_batch(batch["skeleton"], targets)[0] for _ in range(steps)]
        assert np.all(np.isfinite(losses)), files
        assert int(model.optimizer.iterations) == steps
    assert len(updates_seen) >= 2, updates_seen  # the cosine and the step schedule


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])  # float16: a loss-scale optimizer wraps ours
def test_a_compiled_models_train_step_is_traced_once(policy):
    # Keras creates loss trackers lazily; a traced step that creates variables is traced twice.
    keras.mixed_precision.set_global_policy(policy)
    model, _ = training.build_compiled_model(CONFIG, training.TrainOptions(model_dir="", data_dir=""), 1)
    traces, train_step = [], model.train_step
    model.train_step = lambda data: traces.append(data) or train_step(data)
    clips, labels = synthetic.make_clips(2, TINY.num_classes, TINY.frames)
    losses = [model.train_on_batch(clips, {name: labels for name in OUTPUTS}, return_dict=True) for _ in range(2)]
    assert len(traces) == 1
    assert all(np.isfinite(loss[f"{name}_loss"]) for loss in losses for name in OUTPUTS)


HISTORY_KEYS = {"loss", "learning_rate", "samples_per_second"} | {
    f"{prefix}{head}_{metric}" for prefix in ("", "val_") for head in OUTPUTS
    for metric in ("loss", "top1", "top5")} | {"val_loss"}


@pytest.mark.parametrize("loop", ["fit", "custom"])
@pytest.mark.xdist_group("straight_run")  # one worker trains the shared run once
def test_interrupted_and_resumed_run_ends_with_the_same_weights(records, tmp_path, loop, request):
    tf.config.experimental.enable_op_determinism()
    if loop == "fit":
        straight, history, _ = request.getfixturevalue("straight_run")
    else:
        straight, history, _ = training.train(CONFIG, _options(records, tmp_path / "straight", training_loop=loop),
                                              log=lambda _: None)
    assert set(history) == HISTORY_KEYS

    class SigtermAtStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations) == 4:  # mid-epoch 2
                os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(training.Preempted, match="preempted .*rerun the same command to resume") as preempted:
        training.train(CONFIG, _options(records, tmp_path / "resumed", training_loop=loop), log=lambda _: None,
                       extra_callbacks=[SigtermAtStep()])
    first = preempted.value.model
    # The custom loop stops after the next step, once the request has reached all workers.
    stopped = 4 if loop == "fit" else 5
    assert int(first.optimizer.iterations) == stopped
    messages = []
    resumed, _, _ = training.train(CONFIG, _options(records, tmp_path / "resumed", training_loop=loop),
                                   log=messages.append)
    assert any("resumed from" in m and f"step {stopped}" in m for m in messages)
    assert int(resumed.optimizer.iterations) == 6
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.xdist_group("straight_run")
def test_skipping_absent_persons_trains_to_the_same_weights(records, tmp_path, straight_run):
    tf.config.experimental.enable_op_determinism()
    straight = straight_run[0]
    skipping, _, _ = training.train(CONFIG, _options(records, tmp_path, skip_absent_persons=True), log=lambda _: None)
    assert any(layer.name == "compact_persons" for layer in skipping.layers)
    for weight, a, b in zip(straight.weights, straight.get_weights(), skipping.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5, err_msg=weight.path)
    with pytest.raises(ValueError, match="skip_absent_persons needs jit_compile off"):
        training.build_compiled_model(CONFIG, _options(records, tmp_path, skip_absent_persons=True, jit_compile=True),
                                      steps_per_epoch=1)


def test_a_checkpoint_of_another_model_is_refused_naming_the_directory_or_file(tmp_path):
    from slnl_tf.model import build_model

    path = training.CheckpointStore(str(tmp_path), build_model(CONFIG), config=CONFIG).save(step=3)
    # Keras' load_weights alone fills a block with fewer non-local paths from the first
    # paths in the file without a word; the config check refuses it.
    for other in (CONFIG.replace(nonlocal_axes=("time",)), CONFIG.replace(m1=2, m2=4)):
        reason = "; ".join(CONFIG.architecture_differences(other))
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path} holds checkpoints of another model ({reason})")):
            training.restore_for_inference(other, path)
        with pytest.raises(ValueError, match="new --model_dir"):
            training.CheckpointStore(str(tmp_path), build_model(other), config=other).restore(path)
    # The dropout rate and the loss do not shape the weights.
    training.CheckpointStore(str(tmp_path), build_model(CONFIG), config=CONFIG.replace(dropout=0.3, loss="ce")
                             ).restore(path)
    # Without the config file (another tool wrote the weights), a layer whose variables differ
    # is still refused with the file named.
    os.remove(tmp_path / "model_config.json")
    with pytest.raises(ValueError, match="ckpt-000000003.weights.h5: this checkpoint does not fit"):
        training.restore_for_inference(CONFIG.replace(stage_filters=(8, 8, 8, 8, 16, 32)), path)


def test_a_damaged_newest_checkpoint_falls_back_to_the_newest_that_loads(tmp_path):
    from slnl_tf.model import build_model

    model = build_model(CONFIG)
    store = training.CheckpointStore(str(tmp_path), model, config=CONFIG)
    saved = {}
    for step in (1, 2, 3):
        model.set_weights([w + step for w in model.get_weights()])
        saved[step] = model.get_weights()
        store.save(step)
    newest = tmp_path / "ckpt-000000003.weights.h5"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a disk that lost the tail
    (tmp_path / "checkpoint.json").write_text("{not json")
    # Inference reads the directory without renaming anything.
    lines = []
    inference, path = training.restore_for_inference(CONFIG, str(tmp_path), describe=True)
    assert path.endswith("ckpt-000000002.weights.h5") and newest.exists()
    for a, b in zip(saved[2], inference.get_weights()):
        np.testing.assert_array_equal(a, b)
    resumed = build_model(CONFIG)
    store = training.CheckpointStore(str(tmp_path), resumed, config=CONFIG)
    assert store.restore_newest_intact(lines.append).endswith("ckpt-000000002.weights.h5")
    for a, b in zip(saved[2], resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    log = "\n".join(lines)
    assert "checkpoint.json is unreadable" in log and "the checkpoint files in the directory are used" in log
    assert f"checkpoint {newest} does not load (Unable to synchronously open file (truncated file" in log
    assert (tmp_path / "ckpt-000000003.weights.h5.unreadable").exists() and not newest.exists()
    assert store.latest().endswith("ckpt-000000002.weights.h5")
    # The next save lists what is there; with nothing loadable the error names every file.
    store.save(4)
    assert json.loads((tmp_path / "checkpoint.json").read_text())["checkpoints"] == [
        "ckpt-000000001.weights.h5", "ckpt-000000002.weights.h5", "ckpt-000000004.weights.h5"]
    for name in store.checkpoints():
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ValueError, match=r"no checkpoint in .* loads: ckpt-000000004.weights.h5: .*; "
                                         r"ckpt-000000002.weights.h5: .*; ckpt-000000001.weights.h5"):
        store.restore_newest_intact(lines.append)
    with pytest.raises(ValueError, match="ckpt-000000004.weights.h5: does not load"):
        training.restore_for_inference(CONFIG, str(tmp_path / "ckpt-000000004.weights.h5"))


def test_init_checkpoint_copies_the_layers_that_fit_and_leaves_a_new_classifier(tmp_path):
    from slnl_tf.model import build_model

    source = build_model(CONFIG)
    source.set_weights([w + 1.0 for w in source.get_weights()])
    source.save(tmp_path / "source.keras")
    training.CheckpointStore(str(tmp_path / "checkpoints"), source, config=CONFIG).save(5)
    fewer_classes = CONFIG.replace(num_classes=7)
    for path in (tmp_path / "source.keras", tmp_path / "checkpoints" / "ckpt-000000005.weights.h5"):
        model, lines = build_model(fewer_classes), []
        fresh = training.initialize_from(model, str(path), lines.append)
        assert fresh and all(model.get_layer(name).weights[0].shape[-1] == 7 for name in fresh)
        for layer in model.layers:
            if layer.weights and layer.name not in fresh:
                for mine, theirs in zip(layer.get_weights(), source.get_layer(layer.name).get_weights()):
                    np.testing.assert_array_equal(mine, theirs)
        with_weights = sum(1 for layer in model.layers if layer.weights)
        assert lines[0].startswith(f"initialised {with_weights - len(fresh)} of {with_weights} layers from {path}; "
                                   "trained from scratch: ")
    with pytest.raises(ValueError, match="give a .keras model, or a .weights.h5 checkpoint"):
        training.initialize_from(build_model(fewer_classes), str(tmp_path / "nothing.weights.h5"))


def test_a_checkpoint_that_does_not_fit_is_refused_and_kept(tmp_path):
    """A checkpoint that reads but fits another model (its model_config.json gone) points at
    the flags or the code, not at damage: resuming stops naming it and renames nothing."""
    from slnl_tf.model import build_model

    other = CONFIG.replace(stage_filters=(8, 8, 8, 8, 16, 32))
    training.CheckpointStore(str(tmp_path), build_model(other), config=other).save(1)
    os.remove(tmp_path / "model_config.json")
    store = training.CheckpointStore(str(tmp_path), build_model(CONFIG), config=CONFIG)
    with pytest.raises(training.CheckpointMisfit, match="ckpt-000000001.weights.h5: this checkpoint does not fit"):
        store.restore_newest_intact(print)
    assert (tmp_path / "ckpt-000000001.weights.h5").exists()
    assert not list(tmp_path.glob("*.unreadable*"))


@pytest.mark.xdist_group("straight_run")
def test_outputs_checkpoints_history_tensorboard_and_best_model(straight_run):
    model, history, checkpoint_dir = straight_run
    model_dir = Path(checkpoint_dir).parent
    assert training.CheckpointStore(checkpoint_dir, None).latest().endswith(".weights.h5")
    assert (model_dir / "best.keras").exists() and (model_dir / "history.csv").exists()
    assert {"learning_rate", "samples_per_second", "val_concat_top1"} <= set(history)
    tags = set()
    for event_file in glob.glob(str(model_dir / "logs" / "**" / "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            tags.update(value.tag for value in event.summary.value)
    for tag in ("epoch_loss", "epoch_concat_top1", "epoch_position_loss", "epoch_velocity_top5",
                "epoch_learning_rate", "epoch_samples_per_second",
                training.FrequencyMaskImages.TAG):
        assert tag in tags, (tag, sorted(tags))
    for when in ("before_training", "after_training"):
        assert (model_dir / "frequency_masks" / f"{when}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (model_dir / "frequency_masks" / f"{when}.svg").exists()
    restored = training.restore_for_inference(CONFIG, checkpoint_dir)
    clips = synthetic.make_clips(2, 4, CONFIG.frames)[0]
    np.testing.assert_allclose(restored(clips)["concat"].numpy(), model(clips, training=False)["concat"].numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.xdist_group("straight_run")
def test_tensorboard_serves_the_images_text_and_hparams(straight_run):
    """TensorBoard's own HTTP API, served from the run's logs: the frequency-mask image, the
    text panels and the HParams experiment with its metrics."""
    import urllib.request

    logs = Path(straight_run[2]).parent / "logs"
    board = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logs), "--host", "127.0.0.1",
                              "--port", "0", "--load_fast", "false", "--reload_interval", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        while url is None:
            line = board.stdout.readline()
            assert line, "TensorBoard ended before serving"
            url = next(iter(re.findall(r"(http://127\.0\.0\.1:\d+/)", line)), None)

        def get(path, body=None):
            request = urllib.request.Request(url + path, data=body and json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as reply:
                return json.loads(reply.read())

        deadline = time.time() + 90
        while True:
            images, texts = get("data/plugin/images/tags"), get("data/plugin/text/tags")
            image_tags = {tag for run in images.values() for tag in run}
            text_tags = {tag for run in texts.values() for tag in run}
            if training.FrequencyMaskImages.TAG in image_tags and "run/class_names" in text_tags or \
                    time.time() > deadline:
                break
            time.sleep(1)
        assert training.FrequencyMaskImages.TAG in image_tags, images
        assert {"run/configuration", "run/data", "run/class_names"} <= text_tags, texts
        experiment = get("data/plugin/hparams/experiment", {"experimentName": ""})
        hparams = {info["name"] for info in experiment["hparamInfos"]}
        assert {"m1", "attention", "loss", "learning_rate", "batch_size"} <= hparams
        assert {m["name"]["tag"] for m in experiment["metricInfos"]} >= {"epoch_concat_top1", "evaluation/fused_top1"}
    finally:
        board.kill()
        board.wait()


@pytest.mark.xdist_group("straight_run")
def test_evaluation_outputs_are_consistent(records, tmp_path, straight_run):
    model = straight_run[0]
    metrics, matrix = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "eval"), batch_size=5)
    test_count = json.loads((Path(records) / "manifest.json").read_text())["splits"]["test"]["written"]
    assert metrics["samples"] == test_count == matrix.sum()
    for head in (*OUTPUTS, evaluate.FUSED):
        assert 0 <= metrics[f"{head}_top1"] <= metrics[f"{head}_top5"] <= 1
    scores = np.load(tmp_path / "eval" / "scores.npz")
    assert len(set(scores["names"])) == test_count and scores["fused"].shape == (test_count, 60)
    np.testing.assert_allclose(scores["fused"].sum(1), 1.0, atol=1e-5)
    assert np.mean(scores["fused"].argmax(1) == scores["labels"]) == pytest.approx(metrics["fused_top1"])
    csv_rows = (tmp_path / "eval" / "confusion_matrix.csv").read_text().splitlines()
    assert len(csv_rows) == 61
    for figure in evaluate.FIGURES:
        assert (tmp_path / "eval" / f"{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (tmp_path / "eval" / f"{figure}.svg").exists()
    per_class = (tmp_path / "eval" / "per_class.csv").read_text().splitlines()
    assert sum(int(row.split(",")[2]) for row in per_class[1:]) == test_count


def test_a_report_with_fewer_class_names_than_classes_names_the_rest_by_index(tmp_path):
    scores = {head: np.eye(4)[[0, 3, 3]] for head in (*OUTPUTS, evaluate.FUSED)}
    metrics, matrix = evaluate.report(np.array(["a", "b", "c"]), np.array([0, 3, 2]), scores, 4, ["zero", "one"],
                                      str(tmp_path), top_confusions=1)
    assert metrics["fused_top1"] == pytest.approx(2 / 3) and matrix[2, 3] == 1
    assert (tmp_path / "confusion_matrix.csv").read_text().splitlines()[0] == "true\\predicted,zero,one,2,3"
    # The figures carry the names (matplotlib's SVG keeps each text in a comment).
    svg = html.unescape((tmp_path / "top_confusions.svg").read_text())
    assert "2 -> 3" in svg and "The 1 most confused pairs" in svg


@pytest.mark.xdist_group("straight_run")
def test_multi_clip_evaluation_averages_windows(records, tmp_path, straight_run):
    model = straight_run[0]
    single, _ = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "one"), batch_size=5)
    multi, _ = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "three"), batch_size=5,
                                 eval_crop_ratio=0.5, clips=3)
    assert multi["samples"] == single["samples"]
    scores = {n: np.load(tmp_path / n / "scores.npz") for n in ("one", "three")}
    np.testing.assert_array_equal(scores["one"]["names"], scores["three"]["names"])
    np.testing.assert_allclose(scores["three"]["fused"].sum(1), 1.0, atol=1e-5)
    assert not np.allclose(scores["one"]["fused"], scores["three"]["fused"])


@pytest.mark.xdist_group("straight_run")
def test_mirrored_evaluation_averages_each_window_and_its_mirror(records, tmp_path, straight_run):
    model = straight_run[0]
    both, _ = evaluate.evaluate(model, CONFIG, records, "test", str(tmp_path / "both"), batch_size=5, mirror=True)
    names, _, plain = evaluate.collect_scores(model, data_input.make_dataset(
        records, "test", batch_size=5, frames=CONFIG.frames, training=False, keep_names=True))
    _, _, mirrored = evaluate.collect_scores(model, data_input.make_dataset(
        records, "test", batch_size=5, frames=CONFIG.frames, training=False, eval_mirror=True, keep_names=True))
    scores = np.load(tmp_path / "both" / "scores.npz")
    np.testing.assert_array_equal(scores["names"], names)
    np.testing.assert_allclose(scores["fused"], (plain["fused"] + mirrored["fused"]) / 2, atol=1e-5)
    assert not np.allclose(plain["fused"], mirrored["fused"])
    metrics = json.loads((tmp_path / "both" / "metrics.json").read_text())
    assert metrics["scored"]["mirrored"] is True and metrics["scored"]["windows"] == 1


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


DISTRIBUTED_SCRIPT = r"""
import os, sys, json
import tensorflow as tf
records, model_dir, tests, strategy, loop = sys.argv[1:6]
if strategy == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
tf.config.experimental.enable_op_determinism()
sys.path.insert(0, tests)
from slnl_tf import training
from tiny_config import TINY
import numpy as np
config = TINY.replace(num_classes=60, dropout=0.0, m1=1, m2=5)
# SGD: its update is linear in the gradient. Adam-type updates divide by the gradient's own
# size, so where a gradient is ~0 the order of the replica sum flips the update's sign.
options = training.TrainOptions(model_dir=model_dir, data_dir=records, epochs=1, steps_per_epoch=3,
                                batch_size=4, optimizer="sgd", learning_rate=0.05, warmup_epochs=0.0, seed=1,
                                verbose=0, strategy=strategy, training_loop=loop,
                                skip_absent_persons=True)  # as train_main on CPU: replicas compact their own shard
task = json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"]
callbacks = []
if len(sys.argv) > 6:  # "worker:step": that worker gets SIGTERM after that step
    import keras, signal
    worker, step = map(int, sys.argv[6].split(":"))
    class Sigterm(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if task == worker and training.current_step(self.model.optimizer) == step:
                os.kill(os.getpid(), signal.SIGTERM)
    callbacks.append(Sigterm())
try:
    model, _, _ = training.train(config, options, log=print, extra_callbacks=callbacks)
except training.Preempted as preempted:
    print(preempted)
    model = preempted.model
np.savez(os.path.join(model_dir, f"weights-{task}.npz"), *model.get_weights())
"""


def _start_distributed(records, model_dir, strategy, loop, *extra, environment=None):
    return subprocess.Popen([sys.executable, "-c", DISTRIBUTED_SCRIPT, records, str(model_dir), str(ROOT / "tests"),
                             strategy, loop, *extra], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _outputs(processes):
    outputs = []
    for process in processes:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output[-3000:]
        outputs.append(output)
    return outputs


def _weights(path):
    loaded = np.load(path)
    return [loaded[f"arr_{i}"] for i in range(len(loaded.files))]


def test_mirrored_on_two_cpus_matches_one_device_with_fit_and_the_custom_loop(records, tmp_path):
    runs = [("default", "fit"), ("mirrored", "fit"), ("mirrored", "custom")]
    # At once: each is mostly single-threaded start-up and tracing.
    _outputs([_start_distributed(records, tmp_path / f"{strategy}-{loop}", strategy, loop) for strategy, loop in runs])
    reference = _weights(tmp_path / "default-fit" / "weights-0.npz")
    for strategy, loop in runs[1:]:
        for a, b in zip(reference, _weights(tmp_path / f"{strategy}-{loop}" / "weights-0.npz")):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{strategy} {loop}")


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_two_workers(records, model_dir, *extra):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    return _outputs([_start_distributed(records, model_dir, "multi_worker", "auto", *extra, environment=dict(
        os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})))
        for index in range(2)])


def test_multi_worker_trains_in_step_and_resumes_after_one_worker_is_stopped(records, tmp_path):
    # Two workers on 127.0.0.1 from TF_CONFIG, one model directory (as on a shared file
    # system). Straight run: both take the same 3 steps on their own shards of the input and
    # end with the same weights, which the chief's checkpoint holds. Second run: worker 1
    # gets SIGTERM after step 1, both stop after the next step, the chief saves; rerun, both
    # resume from it and end with the straight run's weights.
    tf.config.experimental.enable_op_determinism()
    _run_two_workers(records, tmp_path / "straight")
    chief, other = _weights(tmp_path / "straight" / "weights-0.npz"), _weights(tmp_path / "straight" / "weights-1.npz")
    initial = training.build_model(CONFIG).get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(chief, initial))
    for a, b in zip(chief, other):
        np.testing.assert_array_equal(a, b)
    checkpoint = training.CheckpointStore(str(tmp_path / "straight" / "checkpoints"), None).latest()
    assert checkpoint.endswith("ckpt-000000003.weights.h5")
    for a, b in zip(chief, training.restore_for_inference(CONFIG, checkpoint).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert json.loads((tmp_path / "straight" / "history.json").read_text())["loss"]

    outputs = _run_two_workers(records, tmp_path / "resumed", "1:1")
    assert all("preempted (SIGTERM) at step 2 of 3" in output for output in outputs)
    assert training.CheckpointStore(str(tmp_path / "resumed" / "checkpoints"), None).latest().endswith(
        "ckpt-000000002.weights.h5")
    outputs = _run_two_workers(records, tmp_path / "resumed")
    assert all("at step 2" in output for output in outputs)
    for index in range(2):
        for a, b in zip(chief, _weights(tmp_path / "resumed" / f"weights-{index}.npz")):
            np.testing.assert_array_equal(a, b)


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="multi_worker needs the TF_CONFIG"):
        training.make_strategy("multi_worker")
    with pytest.raises(ValueError, match="training_loop=fit cannot run --strategy=multi_worker"):
        training.uses_custom_loop(training.TrainOptions(model_dir="", data_dir="", strategy="multi_worker",
                                                        training_loop="fit"))
