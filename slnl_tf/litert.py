"""LiteRT (TFLite) export for phones and embedded boxes, and a classifier that runs it.

    slnl-export RUN_DIR --format=litert --export_dir=exports/litert

writes `model_float32.tflite`, `model_float16.tflite` (float16 weights), `model_int8.tflite`
(int8 weights, dynamic-range quantization) and, with `--quantizations=...,int8_full`, an
all-integer `model_int8_full.tflite` calibrated on clips of the training split, each with
its one-person model `model_<quantization>_one_person.tflite` (slnl_tf/portable.py); beside
them `model.json`: the input (one prepared clip `(1, C, T, V, M)`), the outputs, the class
names and how a raw clip is prepared. Every model uses LiteRT's builtin ops only (no Select
TF ops), so it runs on the standalone `ai-edge-litert` interpreter and on a phone. The
frequency attention runs as matrix products with the same weights (FrequencyAttention's
`transform="matmul"`); LiteRT has no complex FFT.

A LiteRT model takes the clip already prepared and resampled to T frames (the SavedModel
does that in its graph): `LiteRTClassifier` does it with NumPy, as the SavedModel does.
"""
import os

from slnl_tf import portable

QUANTIZATIONS = ("float32", "float16", "int8", "int8_full")


def model_file(quantization):
    return f"model_{quantization}.tflite"


def convert(network, config, quantization="float32", representative_clips=None, persons=None):
    """The `.tflite` flatbuffer (bytes) of `network` (a model of `portable.matmul_model`)
    taking one prepared clip float32 `(1, C, T, V, persons)` (persons: config.persons by
    default, 1 for the one-person model) and giving `probabilities` (the fused score: the
    mean of the three heads' softmaxes) and `logits` (the concatenated head's), both
    float32 `(1, classes)`. `int8_full` needs `representative_clips` (prepared clips
    `(N, C, T, V, M)`; the one-person model calibrates on their first slot)."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8_full" and representative_clips is None:
        raise ValueError("int8_full needs representative clips to calibrate on")
    persons = persons or config.persons
    classify = portable.classify_function(network, config, persons=persons)
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
        clips = np.asarray(representative_clips, np.float32)[..., :persons]
        converter.representative_dataset = lambda: ([clip[None]] for clip in clips)
    return converter.convert()


def export(model, config, export_dir, input_spec, quantizations=("float32", "float16", "int8"),
           representative_clips=None, eval_crop_ratio=0.95, log=print):
    """Writes each quantization's `.tflite` (and its one-person model when the config has
    more than one person slot) and `model.json` to `export_dir`; returns the paths."""
    os.makedirs(export_dir, exist_ok=True)
    network = portable.matmul_model(model, config)
    paths = []
    for quantization in quantizations:
        for name, persons in portable.model_forms(model_file(quantization), config):
            flatbuffer = convert(network, config, quantization, representative_clips, persons)
            paths.append(os.path.join(export_dir, name))
            with open(paths[-1], "wb") as f:
                f.write(flatbuffer)
            log(f"{paths[-1]}: {len(flatbuffer) / 2**20:.2f} MiB")
    portable.write_metadata(export_dir, config, input_spec, {q: model_file(q) for q in quantizations},
                            eval_crop_ratio)
    return paths


class LiteRTClassifier(portable.PreparingClassifier):
    """A LiteRT export run by the standalone interpreter (no TensorFlow); `classify(clip)`
    takes a raw clip (slnl_tf/portable.py)."""

    def __init__(self, export_dir, quantization="float32", threads=None):
        self.threads = threads
        super().__init__(export_dir, quantization)

    def load(self, path):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=path, num_threads=self.threads)
        interpreter.allocate_tensors()
        clips = interpreter.get_input_details()[0]["index"]
        probabilities = interpreter.get_output_details()[0]["index"]

        def run(batch):
            interpreter.set_tensor(clips, batch)
            interpreter.invoke()
            return interpreter.get_tensor(probabilities)

        return run
