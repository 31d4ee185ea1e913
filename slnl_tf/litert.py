"""LiteRT (TFLite) export for phones and embedded boxes, and a classifier that runs it.

    slnl-export RUN_DIR --format=litert --export_dir=exports/litert

writes `model_float32.tflite`, `model_float16.tflite` (float16 weights), `model_int8.tflite`
(int8 weights, dynamic-range quantization) and, given `--representative_clips`, an
all-integer `model_int8_full.tflite` calibrated on clips of the training split; beside them
`model.json`: the input (one prepared clip `(1, C, T, V, M)`), the outputs, the class names
and how a raw clip is prepared (slnl_tf/data/clip_files.py). Every model uses LiteRT's
builtin ops only (no Select TF ops), so it runs on the standalone `ai-edge-litert`
interpreter and on a phone. The frequency attention runs as matrix products with the same
weights (FrequencyAttention's `transform="matmul"`); LiteRT has no complex FFT.

A LiteRT model takes the clip already prepared and resampled to T frames (the SavedModel
does that in its graph): `LiteRTClassifier` does it with NumPy, as the SavedModel does.
"""
import json
import os

import numpy as np

from slnl_tf.data import clip_files

QUANTIZATIONS = ("float32", "float16", "int8", "int8_full")
METADATA_FILE = "model.json"
OUTPUTS = ("probabilities", "logits")


def model_file(quantization):
    return f"model_{quantization}.tflite"


def matmul_model(model, config):
    """`model`'s network with the frequency attention's DFT as matrix products and its
    weights, every person slot computed (a fixed graph)."""
    from slnl_tf.model import build_model

    converted = build_model(config, frequency_transform="matmul")
    for layer in converted.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return converted


def convert(model, config, quantization="float32", representative_clips=None):
    """The `.tflite` flatbuffer (bytes) of `model` taking one prepared clip float32
    `(1, C, T, V, M)` and giving `probabilities` (the fused score: the mean of the three
    heads' softmaxes) and `logits` (the concatenated head's), both float32 `(1, classes)`.
    `int8_full` needs `representative_clips` (prepared clips `(N, C, T, V, M)`)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from slnl_tf.model import OUTPUTS as HEADS

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8_full" and representative_clips is None:
        raise ValueError("int8_full needs representative clips to calibrate on")
    network = matmul_model(model, config)
    spec = tf.TensorSpec((1, config.channels, config.frames, config.joints, config.persons), tf.float32)

    @tf.function(input_signature=[spec])
    def classify(clips):
        logits = network(clips, training=False)
        probabilities = tf.add_n([tf.nn.softmax(tf.cast(logits[h], tf.float32)) for h in HEADS]) / len(HEADS)
        return probabilities, tf.cast(logits["concat"], tf.float32)

    # Frozen first: converted from the Keras model directly, the weights stay resource
    # variables that the interpreter never initialises (READ_VARIABLE fails or gives NaN).
    frozen = convert_variables_to_constants_v2(classify.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8_full":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        clips = np.asarray(representative_clips, np.float32)
        converter.representative_dataset = lambda: ([clip[None]] for clip in clips)
    return converter.convert()


def export(model, config, export_dir, input_spec, quantizations=("float32", "float16", "int8"),
           representative_clips=None, eval_crop_ratio=0.95, log=print):
    """Writes each quantization's `.tflite` and `model.json` to `export_dir`; returns the paths."""
    os.makedirs(export_dir, exist_ok=True)
    paths = []
    for quantization in quantizations:
        flatbuffer = convert(model, config, quantization, representative_clips)
        paths.append(os.path.join(export_dir, model_file(quantization)))
        with open(paths[-1], "wb") as f:
            f.write(flatbuffer)
        log(f"{paths[-1]}: {len(flatbuffer) / 2**20:.2f} MiB")
    metadata = {
        "input": {"name": "clips", "shape": [1, config.channels, config.frames, config.joints, config.persons],
                  "dtype": "float32", "layout": "(batch, C, T, V, M), prepared and resampled to T frames"},
        "outputs": {"probabilities": "fused score (mean of the three heads' softmaxes)",
                    "logits": "the concatenated head's logits"},
        "models": {q: model_file(q) for q in quantizations},
        "frames": config.frames,
        "eval_crop_ratio": eval_crop_ratio,
        "class_names": (input_spec.get("class_names") or [])[: config.num_classes],
        "input_spec": input_spec,
    }
    with open(os.path.join(export_dir, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=1)
    return paths


def resample(clip, frames_out, ratio):
    """(C, T, V, M) -> (C, frames_out, V, M): the central `ratio` of the frames, linearly
    resized with half-pixel centres; NumPy's version of export.resample_batch."""
    frames = clip.shape[1]
    length = int(np.clip(np.round(ratio * frames), 1, frames))
    start = int(np.round(0.5 * (frames - length)))
    position = np.clip((np.arange(frames_out, dtype=np.float32) + 0.5) * (length / frames_out) - 0.5, 0.0,
                       length - 1)
    lower = np.floor(position).astype(np.int64)
    weight = (position - lower).astype(np.float32)[None, :, None, None]
    before = clip[:, start + lower]
    after = clip[:, start + np.minimum(lower + 1, length - 1)]
    return (before + (after - before) * weight).astype(np.float32)


class LiteRTClassifier:
    """A LiteRT export classifying clips with the standalone interpreter (no TensorFlow).

    `classify(clip)` takes a raw clip `(C, T, V, M)` as a reader gives it, prepares it as
    the training records were, resamples it to T frames and returns the fused probabilities."""

    def __init__(self, export_dir, quantization="float32", threads=None):
        from ai_edge_litert.interpreter import Interpreter

        with open(os.path.join(export_dir, METADATA_FILE)) as f:
            self.metadata = json.load(f)
        self.class_names = self.metadata["class_names"]
        self.interpreter = Interpreter(model_path=os.path.join(export_dir, model_file(quantization)),
                                       num_threads=threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._probabilities = self.interpreter.get_output_details()[0]["index"]

    def prepared(self, clip, where="clip"):
        """The model's input for a raw clip; raises SampleError naming `where`."""
        ready = clip_files.prepare(where, np.asarray(clip, np.float32), self.metadata["input_spec"])
        if isinstance(ready, Exception):
            raise ready
        return resample(ready, self.metadata["frames"], self.metadata["eval_crop_ratio"])

    def probabilities(self, prepared_clip):
        """The fused probabilities `(classes,)` of one prepared clip `(C, T, V, M)`."""
        self.interpreter.set_tensor(self._input, prepared_clip[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._probabilities)[0]

    def classify(self, clip, where="clip"):
        return self.probabilities(self.prepared(clip, where))
