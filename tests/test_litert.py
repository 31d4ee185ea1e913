"""The LiteRT export against the SavedModel on the same clips, on the standalone interpreter
(ai-edge-litert, which has builtin ops only: a model that needed Select TF ops would not
load), its metadata, and the classifier that prepares raw clips with NumPy."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf import export, litert
from slnl_tf.data import clip_files, synthetic
from slnl_tf.data.sample import SampleError
from slnl_tf.model import build_losses, build_model
from tiny_config import TINY

ROOT = Path(__file__).resolve().parents[1]
NAMES = [f"move {i}" for i in range(TINY.num_classes)]
SPEC = clip_files.input_spec({"layout": {"channels": 3, "joints": 25, "persons": 2}, "class_names": NAMES,
                              "options": {"body_selection": "denoise"}})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model trained for a few epochs on generated clips (confident, so that top-1
    agreement means something), exported as a SavedModel and in every LiteRT form."""
    root = tmp_path_factory.mktemp("litert")
    clips, labels = synthetic.make_clips(96, TINY.num_classes, TINY.frames, seed=2)
    model = build_model(TINY)
    model.compile("adam", loss=build_losses(TINY))
    model.fit(clips, {"position": labels, "velocity": labels, "concat": labels}, epochs=8, batch_size=16, verbose=0)
    export.export(model, TINY, str(root / "saved" / "1"), class_names=NAMES, input_spec=SPEC)
    representative = export.resample_batch(tf.constant(clips[:32]), TINY.frames, 0.95).numpy()
    litert.export(model, TINY, str(root / "litert"), SPEC, litert.QUANTIZATIONS, representative,
                  log=lambda _: None)
    return root / "saved" / "1", root / "litert"


def _test_clips():
    """Generated clips of other lengths than T, as a user's files are."""
    return [clip[:, :length] for clip, length in zip(synthetic.make_clips(40, TINY.num_classes, 30, seed=9)[0],
                                                      np.resize([30, 22, 17, 25], 40))]


def _saved_model_probabilities(saved, clips):
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    return np.stack([serve(clips=tf.constant(clip[None]))["probabilities"].numpy()[0] for clip in clips])


def test_resample_is_the_saved_models_resampling():
    rng = np.random.default_rng(0)
    for frames in (1, 5, 16, 37, 300):
        clip = rng.normal(size=(3, frames, 4, 2)).astype(np.float32)
        for ratio in (0.5, 0.95, 1.0):
            expected = export.resample_batch(tf.constant(clip[None]), 16, ratio).numpy()[0]
            np.testing.assert_allclose(litert.resample(clip, 16, ratio), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.xdist_group("litert")
def test_every_form_loads_on_the_standalone_interpreter_and_agrees_with_the_saved_model(exported):
    saved, directory = exported
    clips = _test_clips()
    reference = _saved_model_probabilities(saved, clips)
    agreement = {}
    for quantization in litert.QUANTIZATIONS:
        classifier = litert.LiteRTClassifier(str(directory), quantization)
        probabilities = np.stack([classifier.classify(clip) for clip in clips])
        if quantization == "float32":
            np.testing.assert_allclose(probabilities, reference, rtol=1e-4, atol=1e-5)
        agreement[quantization] = float(np.mean(probabilities.argmax(1) == reference.argmax(1)))
    # Seen: float16 and int8 weights 1.0, all-integer 0.875 (40 clips of a model trained for
    # seconds, calibrated on 32 clips); the floors sit below.
    assert agreement["float32"] == agreement["float16"] == 1.0, agreement
    assert agreement["int8"] >= 0.95 and agreement["int8_full"] >= 0.75, agreement
    sizes = {q: (directory / litert.model_file(q)).stat().st_size for q in litert.QUANTIZATIONS}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"], sizes


@pytest.mark.xdist_group("litert")
def test_metadata_and_bad_clips(exported):
    _, directory = exported
    metadata = json.loads((directory / litert.METADATA_FILE).read_text())
    assert metadata["input"]["shape"] == [1, 3, TINY.frames, 25, 2] and metadata["class_names"] == NAMES
    assert metadata["input_spec"] == SPEC and set(metadata["models"]) == set(litert.QUANTIZATIONS)
    classifier = litert.LiteRTClassifier(str(directory))
    with pytest.raises(SampleError, match="18 joints, but the model takes 25"):
        classifier.classify(np.ones((3, 10, 18, 2), np.float32), "wrong.npy")
    nan = np.ones((3, 10, 25, 2), np.float32)
    nan[0, 3, 4, 0] = np.nan
    with pytest.raises(SampleError, match="non-finite"):
        classifier.classify(nan, "nan.npy")


def test_export_cli_writes_litert_files(tmp_path):
    clips, labels = synthetic.make_clips(8, TINY.num_classes, TINY.frames, seed=1)
    model = build_model(TINY)
    model.save(tmp_path / "model.keras")
    fields = [f"--{name}={value}" for name, value in (
        ("num_classes", TINY.num_classes), ("frames", TINY.frames), ("coordinate_systems", TINY.coordinate_systems),
        ("skeleton_joints", TINY.skeleton_joints), ("stage_filters", ",".join(map(str, TINY.stage_filters))),
        ("fc_units", TINY.fc_units))]
    result = subprocess.run([sys.executable, "-m", "slnl_tf.export", f"--checkpoint={tmp_path / 'model.keras'}",
                             "--format=litert", "--quantizations=float32,int8", f"--export_dir={tmp_path / 'lite'}",
                             *fields], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "lite").iterdir()) == ["model.json", "model_float32.tflite",
                                                                     "model_int8.tflite"]
    refused = subprocess.run([sys.executable, "-m", "slnl_tf.export", f"--checkpoint={tmp_path / 'model.keras'}",
                              "--format=litert", "--quantizations=int4", f"--export_dir={tmp_path / 'x'}", *fields],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "--quantizations: unknown ['int4']" in refused.stderr
