"""ONNX export, for ONNX Runtime and the runtimes of the rest of the field.

    slnl-export RUN_DIR --format=onnx --export_dir=exports/onnx

writes `model.onnx` (opset 17, any batch: prepared clips `(batch, C, T, V, M)` ->
`probabilities`, `logits`) and `model.json` (slnl_tf/portable.py), converted with tf2onnx
from the network with the frequency attention's DFT as matrix products (tf2onnx has no
conversion for TensorFlow's complex FFT ops). `OnnxClassifier` runs it with ONNX Runtime and
prepares raw clips with NumPy.
"""
import os

from slnl_tf import portable

MODEL_FILE = "model.onnx"
OPSET = 17


def export(model, config, export_dir, input_spec, eval_crop_ratio=0.95, log=print):
    """Writes `model.onnx` and `model.json` to `export_dir`; returns the model's path."""
    import tf2onnx

    os.makedirs(export_dir, exist_ok=True)
    classify = portable.classify_function(model, config, batch=None)
    # Outputs in the function's order: probabilities, then logits.
    tf2onnx.convert.from_function(classify, input_signature=classify.input_signature, opset=OPSET,
                                  output_path=os.path.join(export_dir, MODEL_FILE))
    portable.write_metadata(export_dir, config, input_spec, {"float32": MODEL_FILE}, eval_crop_ratio, batch="batch")
    path = os.path.join(export_dir, MODEL_FILE)
    log(f"{path}: {os.path.getsize(path) / 2**20:.2f} MiB")
    return path


class OnnxClassifier(portable.PreparingClassifier):
    """An ONNX export run by ONNX Runtime on the CPU (no TensorFlow); `classify(clip)` takes
    a raw clip (slnl_tf/portable.py)."""

    def __init__(self, export_dir, threads=None):
        import onnxruntime

        super().__init__(export_dir)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(os.path.join(export_dir, MODEL_FILE), options,
                                                    providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name

    def probabilities(self, prepared_clip):
        """The fused probabilities `(classes,)` of one prepared clip `(C, T, V, M)`."""
        return self.session.run(None, {self._input: prepared_clip[None]})[0][0]
