"""LiteRT (TFLite) export for phones and embedded boxes, and a classifier that runs it.

    slnl-export RUN_DIR --format=litert --export_dir=exports/litert

writes `model_float32.tflite`, `model_float16.tflite` (float16 weights), `model_int8.tflite`
(int8 weights, dynamic-range quantization) and, with `--quantizations=...,int8_full`, an
all-integer `model_int8_full.tflite` calibrated on clips of the training split; beside them
`model.json` (slnl_tf/portable.py): the input (one prepared clip `(1, C, T, V, M)`), the
outputs, the class names and how a raw clip is prepared. Every model uses LiteRT's
builtin ops only (no Select TF ops), so it runs on the standalone `ai-edge-litert`
interpreter and on a phone. The frequency attention runs as matrix products with the same
weights (FrequencyAttention's `transform="matmul"`); LiteRT has no complex FFT.

A LiteRT model takes the clip already prepared and resampled to T frames (the SavedModel
does that in its graph): `LiteRTClassifier` does it with NumPy, as the SavedModel does.
"""
import os

from slnl_tf import portable

QUANTIZATIONS = ("float32", "float16", "int8", "int8_full")


def model_file(quantization):
    return f"model_{quantization}.tflite"


def convert(model, config, quantization="float32", representative_clips=None):
    """The `.tflite` flatbuffer (bytes) of `model` taking one prepared clip float32
    `(1, C, T, V, M)` and giving `probabilities` (the fused score: the mean of the three
    heads' softmaxes) and `logits` (the concatenated head's), both float32 `(1, classes)`.
    `int8_full` needs `representative_clips` (prepared clips `(N, C, T, V, M)`)."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if quantization == "int8_full" and representative_clips is None:
        raise ValueError("int8_full needs representative clips to calibrate on")
    classify = portable.classify_function(model, config)
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
    portable.write_metadata(export_dir, config, input_spec, {q: model_file(q) for q in quantizations},
                            eval_crop_ratio)
    return paths


class LiteRTClassifier(portable.PreparingClassifier):
    """A LiteRT export run by the standalone interpreter (no TensorFlow); `classify(clip)`
    takes a raw clip (slnl_tf/portable.py)."""

    def __init__(self, export_dir, quantization="float32", threads=None):
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(export_dir)
        self.interpreter = Interpreter(model_path=os.path.join(export_dir, model_file(quantization)),
                                       num_threads=threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._probabilities = self.interpreter.get_output_details()[0]["index"]

    def probabilities(self, prepared_clip):
        """The fused probabilities `(classes,)` of one prepared clip `(C, T, V, M)`."""
        self.interpreter.set_tensor(self._input, prepared_clip[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._probabilities)[0]
