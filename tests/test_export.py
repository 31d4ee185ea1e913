import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import build, input as data_input, records, sources, synthetic
from slnl_tf.data.sample import Sample
from slnl_tf import export, training
from slnl_tf.model import OUTPUTS, build_model
from tiny_config import TINY

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter that never imports the project, as TF Serving would load it.
LOAD_SCRIPT = r"""
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2])
out = {}
plain = lambda value: value.numpy().astype(str) if value.dtype == tf.string else value.numpy()
for key in ("short", "long"):
    result = loaded.signatures["serving_default"](clips=tf.constant(inputs[key]))
    out.update({f"{key}_{name}": plain(value) for name, value in result.items()})
with open(sys.argv[3], "rb") as f:
    examples = [line for line in f.read().split(b"\n--record--\n") if line]
result = loaded.signatures["serve_examples"](examples=tf.constant(examples))
out.update({f"examples_{name}": plain(value) for name, value in result.items()})
np.savez(sys.argv[4], **out)
"""


def _fused(model, clips):
    logits = model(clips, training=False)
    return np.mean([tf.nn.softmax(logits[name]).numpy() for name in OUTPUTS], axis=0)


# Session-scoped, its tests in one xdist_group: one worker exports once (tests/conftest.py).
@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    model = build_model(TINY)
    names = ["wave", "kick", "clap", "jump"]
    export.export(model, TINY, str(root / "slnl" / "1"), class_names=names, storage_dtype="float32")
    return model, root, names


@pytest.mark.xdist_group("exported")
def test_export_round_trip_in_a_fresh_process(exported, tmp_path):
    model, root, names = exported
    rng = np.random.default_rng(0)
    clips = {"short": rng.normal(size=(2, 3, 11, 25, 2)).astype(np.float32),
             "long": rng.normal(size=(3, 3, 57, 25, 2)).astype(np.float32)}
    clips["short"][1, ..., 1] = 0  # a one-person clip: the export computes its present person only
    np.savez(tmp_path / "inputs.npz", **clips)
    samples = [Sample(rng.normal(size=(3, length, 25, 2)).astype(np.float32), i, f"s{i}")
               for i, length in enumerate((9, 30, 16))]
    (tmp_path / "examples.bin").write_bytes(b"\n--record--\n".join(records.serialize(s, "float32") for s in samples))
    result = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(root / "slnl" / "1"), str(tmp_path / "inputs.npz"),
                             str(tmp_path / "examples.bin"), str(tmp_path / "out.npz")], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(tmp_path / "out.npz")
    for key, batch in clips.items():
        expected = _fused(model, export.resample_batch(tf.constant(batch), TINY.frames, 0.95))
        np.testing.assert_allclose(served[f"{key}_probabilities"], expected, rtol=1e-5, atol=1e-6)
        assert served[f"{key}_top_k_classes"].shape == (len(batch), 4)
        np.testing.assert_array_equal(served[f"{key}_top_k_classes"][:, 0], expected.argmax(1))
        assert served[f"{key}_top_k_names"][0, 0] == names[expected[0].argmax()]
    # The Example signature equals the evaluation pipeline on the same records.
    manifest_dir = tmp_path / "records"

    class _Source:
        layout = {"channels": 3, "joints": 25, "persons": 2}
        num_classes = 4

        def items(self):
            return [sources.Item("test", s.name, s.name, i) for i, s in enumerate(samples)], []

        def read(self, item):
            return samples[item.index]

    build.build(_Source(), str(manifest_dir), storage_dtype="float32", workers=1, progress=False, log=lambda _: None)
    batch = next(iter(data_input.make_dataset(str(manifest_dir), "test", batch_size=3, frames=TINY.frames,
                                              training=False, keep_names=True)))
    order = [int(n.decode()[1:]) for n in batch["name"].numpy()]
    expected = _fused(model, batch["skeleton"])
    np.testing.assert_allclose(served["examples_probabilities"][order], expected, rtol=1e-5, atol=1e-6)


def test_serving_window_is_the_evaluation_window_for_every_length():
    from slnl_tf.data import ops

    rng = np.random.default_rng(1)
    for frames in range(1, 121):  # window offsets up to 3, where floor and round differ
        clip = rng.normal(size=(3, frames, 25, 2)).astype(np.float32)
        served = export.resample_batch(tf.constant(clip[None]), TINY.frames, 0.95)[0]
        evaluated = ops.temporal_window({"skeleton": tf.constant(clip), "frames": tf.constant(frames)}, TINY.frames)
        np.testing.assert_allclose(served.numpy(), evaluated["skeleton"].numpy(), atol=1e-6, err_msg=str(frames))


@pytest.mark.xdist_group("exported")
def test_saved_model_cli_lists_both_signatures(exported):
    _, root, _ = exported
    cli = Path(sys.executable).parent / "saved_model_cli"
    result = subprocess.run([str(cli), "show", "--dir", str(root / "slnl" / "1"), "--all"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "signature_def['serving_default']" in result.stdout and "signature_def['serve_examples']" in result.stdout
    assert "top_k_scores" in result.stdout


@pytest.mark.xdist_group("exported")
def test_bad_input_is_an_error_not_a_crash(exported):
    _, root, _ = exported
    loaded = tf.saved_model.load(str(root / "slnl" / "1"))
    serve = loaded.signatures["serving_default"]
    for shape in [(2, 3, 10, 25), (1, 3, 10, 25, 2, 1), (1, 3, 10, 18, 2), (1, 2, 10, 25, 2)]:
        expected = re.escape(f"Shape of tensor clips [{','.join(map(str, shape))}] is not compatible with expected "
                             "shape [?,3,?,25,2]")
        with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
            serve(clips=tf.zeros(shape))
    for shape in [(0, 3, 10, 25, 2), (1, 3, 0, 25, 2)]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(
                "clips must hold at least one clip of at least one frame: (batch, C, T, V, M) = ] "
                f"[{' '.join(map(str, shape))}]")):
            serve(clips=tf.zeros(shape))
    with pytest.raises(tf.errors.InvalidArgumentError, match="examples is empty: send at least one serialized"):
        loaded.signatures["serve_examples"](examples=tf.constant([], tf.string))
    bad = np.zeros((1, 3, 10, 25, 2), np.float32)
    bad[0, 0, 3, 3, 0] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        serve(clips=tf.constant(bad))


def test_export_from_a_mixed_precision_checkpoint_serves_float32(tmp_path):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = build_model(TINY)
    model.save(str(tmp_path / "best.keras"))
    restored = training.restore_for_inference(TINY, str(tmp_path / "best.keras"))
    export.export(restored, TINY, str(tmp_path / "out" / "1"))
    keras.mixed_precision.set_global_policy("float32")
    served = tf.saved_model.load(str(tmp_path / "out" / "1")).signatures["serving_default"](
        clips=tf.zeros((1, 3, 20, 25, 2)))
    assert served["probabilities"].dtype == tf.float32 and served["logits"].dtype == tf.float32
    np.testing.assert_allclose(served["probabilities"].numpy().sum(), 1.0, atol=1e-3)


def test_export_from_an_xla_trained_model_matches_it(tmp_path):
    # One SLnL block (all three non-local paths): XLA compiles the step, alone 43 -> 25 s against m1=3.
    config = TINY.replace(dropout=0.0, m1=1, m2=5)
    model, _ = training.build_compiled_model(config, training.TrainOptions(
        model_dir="", data_dir="", jit_compile=True, batch_size=2, warmup_epochs=0.0), steps_per_epoch=1)
    clips = np.random.default_rng(1).normal(size=(2, 3, TINY.frames, 25, 2)).astype(np.float32)
    model.train_on_batch(clips, {name: np.array([0, 1]) for name in OUTPUTS})
    export.export(model, config, str(tmp_path / "xla" / "1"), eval_crop_ratio=1.0)
    served = tf.saved_model.load(str(tmp_path / "xla" / "1")).signatures["serving_default"](clips=tf.constant(clips))
    np.testing.assert_allclose(served["probabilities"].numpy(), _fused(model, clips), rtol=1e-4, atol=1e-6)
