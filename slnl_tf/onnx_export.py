"""ONNX export, for ONNX Runtime and the runtimes of the rest of the field.

    slnl-export RUN_DIR --format=onnx --export_dir=exports/onnx

writes `model.onnx` (opset 17, any batch: prepared clips `(batch, C, T, V, M)` ->
`probabilities`, `logits`), its one-person model `model_one_person.onnx` (M = 1, when the
model has more person slots) and `model.json` (slnl_tf/portable.py), converted with tf2onnx
from the network with the frequency attention's DFT as matrix products (tf2onnx has no
conversion for TensorFlow's complex FFT ops). `OnnxClassifier` runs it with ONNX Runtime and
prepares raw clips with NumPy.
"""
import os

from slnl_tf import portable

MODEL_FILE = "model.onnx"
OPSET = 17


def export(model, config, export_dir, input_spec, eval_crop_ratio=0.95, log=print):
    """Writes `model.onnx` (and its one-person model) and `model.json` to `export_dir`;
    returns the model's path."""
    import tf2onnx

    os.makedirs(export_dir, exist_ok=True)
    network = portable.matmul_model(model, config)
    for name, persons in portable.model_forms(MODEL_FILE, config):
        classify = portable.classify_function(network, config, batch=None, persons=persons)
        path = os.path.join(export_dir, name)
        # Outputs in the function's order: probabilities, then logits.
        tf2onnx.convert.from_function(classify, input_signature=classify.input_signature, opset=OPSET,
                                      output_path=path)
        log(f"{path}: {os.path.getsize(path) / 2**20:.2f} MiB")
    portable.write_metadata(export_dir, config, input_spec, {"float32": MODEL_FILE}, eval_crop_ratio, batch="batch")
    return os.path.join(export_dir, MODEL_FILE)


class OnnxClassifier(portable.PreparingClassifier):
    """An ONNX export run by ONNX Runtime on the CPU (no TensorFlow); `classify(clip)` takes
    a raw clip (slnl_tf/portable.py)."""

    def __init__(self, export_dir, threads=None):
        self.threads = threads
        super().__init__(export_dir, "float32")

    def load(self, path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        clips = session.get_inputs()[0].name
        return lambda batch: session.run(None, {clips: batch})[0]
