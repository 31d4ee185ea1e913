"""SavedModel export for TF Serving: a raw-tensor and a serialized-tf.Example signature.

    slnl-export RUN_DIR [CHECKPOINT] --export_dir=exports/slnl_rfa/1
    slnl-export runs/ntu_cs runs/ntu_cs/best.keras --export_dir=exports/slnl_rfa/1
    slnl-export runs/ntu_cs --format=litert --export_dir=exports/litert     # slnl_tf/litert.py
    slnl-export runs/ntu_cs --format=onnx --export_dir=exports/onnx         # slnl_tf/onnx_export.py

RUN_DIR is a training's --model_dir (its resolved.flags) or a flagfile; CHECKPOINT
defaults to RUN_DIR/best.keras, else its latest checkpoint.

Both signatures sample the clip to the model's T frames in the graph (a window of
`eval_crop_ratio` of the frames, centred, linearly resized), and the model computes the
velocity itself, so a client sends a clip of any length. Outputs (float32 whatever the
training precision): `probabilities` (the fused score: mean of the three heads'
softmaxes), `logits` (the concatenated head's), `top_k_classes`, `top_k_scores` and, when
the dataset manifest names the classes, `top_k_names`. Only the persons present in a clip
are computed (slnl_tf.present_persons): a one-person clip costs about half a two-person one.
"""
import json
import os

import keras
import tensorflow as tf

from slnl_tf.data import clip_files, ops, records
from slnl_tf.model import OUTPUTS
from slnl_tf.present_persons import PresentPersonsModel


def resample_batch(clips, frames_out, ratio):
    """(B, C, T', V, M) -> (B, C, frames_out, V, M): the central `ratio` of the T' frames,
    linearly resized, with the same window as the evaluation input (ops.temporal_window)."""
    start, length = ops.window_bounds(tf.shape(clips)[2], ratio)
    return ops.resize_frames(clips[:, :, start : start + length], frames_out)


def export(model, config, export_dir, *, eval_crop_ratio=0.95, storage_dtype="float16", class_names=None,
           top_k=5, input_spec=None):
    """Writes the SavedModel to `export_dir` (e.g. `<models>/<name>/<version>`), with
    `input_spec` (slnl_tf.data.clip_files.input_spec of the dataset's manifest; default: the
    readers' defaults) as `assets.extra/slnl_input.json` for prediction and clients."""
    top_k = min(top_k, config.num_classes)
    names = tf.constant(list(class_names)[: config.num_classes]) if class_names else None
    clip_shape = (config.channels, config.frames, config.joints, config.persons)
    present_persons_only = PresentPersonsModel(model)

    def predict(clips, ratio):
        # Checked on the runtime shape: a loaded signature accepts any rank, and an empty batch
        # or clip would otherwise fail inside a gather with a message naming no dimension.
        clips = tf.ensure_shape(clips, (None, config.channels, None, config.joints, config.persons),
                                name="clips_must_be_batch_C_T_V_M")
        shape = tf.shape(clips)
        checks = [tf.debugging.Assert(tf.reduce_all(shape[::2] > 0), [
            "clips must hold at least one clip of at least one frame: (batch, C, T, V, M) = ", shape], summarize=5)]
        # The check first: in a graph nothing else orders it before the ops that would fail.
        with tf.control_dependencies(checks):
            clips = tf.debugging.assert_all_finite(tf.identity(clips), "clips contain NaN or inf")
        sampled = tf.ensure_shape(resample_batch(clips, config.frames, ratio), (None,) + clip_shape)
        logits = present_persons_only(sampled)
        probabilities = tf.add_n([tf.nn.softmax(tf.cast(logits[n], tf.float32)) for n in OUTPUTS]) / len(OUTPUTS)
        scores, classes = tf.math.top_k(probabilities, k=top_k)
        outputs = {"probabilities": probabilities, "logits": tf.cast(logits["concat"], tf.float32),
                   "top_k_classes": classes, "top_k_scores": scores}
        if names is not None:
            outputs["top_k_names"] = tf.gather(names, classes)
        return outputs

    def serve_clips(clips):
        return predict(clips, eval_crop_ratio)

    def serve_examples(serialized):
        # Records differ in length: each is sampled to T on its own, then the batch goes
        # through with ratio 1 (resizing T frames to T is the identity).
        def one(example):
            skeleton = records.parse(example, storage_dtype)["skeleton"]
            return resample_batch(skeleton[None], config.frames, eval_crop_ratio)[0]

        with tf.control_dependencies([tf.debugging.Assert(tf.size(serialized) > 0, [
                "examples is empty: send at least one serialized tf.train.Example (slnl_tf/data/records.py)"])]):
            serialized = tf.identity(serialized)
        clips = tf.map_fn(one, serialized, fn_output_signature=tf.TensorSpec(clip_shape, tf.float32))
        return predict(clips, 1.0)

    archive = keras.export.ExportArchive()
    archive.track(model)
    if names is not None:
        archive.class_names = tf.Variable(names, trainable=False)
    archive.add_endpoint("serving_default", serve_clips,
                         [tf.TensorSpec((None, config.channels, None, config.joints, config.persons), tf.float32,
                                        name="clips")])
    archive.add_endpoint("serve_examples", serve_examples, [tf.TensorSpec((None,), tf.string, name="examples")])
    os.makedirs(os.path.dirname(os.path.abspath(export_dir)), exist_ok=True)
    archive.write_out(export_dir, verbose=False)
    spec = dict(input_spec or clip_files.default_spec(config.channels, config.joints, config.persons))
    spec.update(class_names=list(class_names)[: config.num_classes] if class_names else None, frames=config.frames,
                eval_crop_ratio=eval_crop_ratio, storage_dtype=storage_dtype)
    os.makedirs(os.path.join(export_dir, os.path.dirname(clip_files.SPEC_FILE)), exist_ok=True)
    with open(os.path.join(export_dir, clip_files.SPEC_FILE), "w") as f:
        json.dump(spec, f, indent=1)
    return export_dir


def main(argv):
    from absl import app, flags

    from slnl_tf.data import input as data_input
    from slnl_tf import flags as project_flags
    from slnl_tf.training import restore_for_inference

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.export_dir:
        raise app.UsageError("--export_dir is required (a SavedModel: TF Serving's <models>/<name>/<version>)")
    manifest = data_input.read_manifest(FLAGS.data_dir) if FLAGS.data_dir and os.path.exists(
        os.path.join(FLAGS.data_dir, "manifest.json")) else None
    try:
        config = project_flags.model_config_from_flags(manifest)
    except ValueError as error:
        raise app.UsageError(str(error))
    checkpoint = FLAGS.checkpoint
    if not checkpoint:
        if not FLAGS.model_dir:
            raise app.UsageError("give --checkpoint or --model_dir")
        best = os.path.join(FLAGS.model_dir, "best.keras")
        checkpoint = best if os.path.exists(best) else os.path.join(FLAGS.model_dir, "checkpoints")
    try:
        model = restore_for_inference(config, checkpoint)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error))
    input_spec = clip_files.input_spec(manifest) if manifest else clip_files.default_spec(
        config.channels, config.joints, config.persons)
    if FLAGS.format == "onnx":
        from slnl_tf import onnx_export

        onnx_export.export(model, config, FLAGS.export_dir, input_spec, FLAGS.eval_crop_ratio)
        print(f"exported {checkpoint} -> {FLAGS.export_dir} (ONNX, opset {onnx_export.OPSET})")
        return
    if FLAGS.format == "litert":
        from slnl_tf import litert

        unknown = set(FLAGS.quantizations) - set(litert.QUANTIZATIONS)
        if unknown:
            raise app.UsageError(f"--quantizations: unknown {sorted(unknown)}; choose from {litert.QUANTIZATIONS}")
        representative = None
        if "int8_full" in FLAGS.quantizations:
            if not manifest:
                raise app.UsageError("int8_full calibrates on the training records: give --data_dir")
            batch = next(iter(data_input.make_dataset(FLAGS.data_dir, FLAGS.train_split, batch_size=64,
                                                      frames=config.frames, training=False,
                                                      eval_crop_ratio=FLAGS.eval_crop_ratio)))
            representative = batch["skeleton"].numpy()
        litert.export(model, config, FLAGS.export_dir, input_spec, FLAGS.quantizations, representative,
                      FLAGS.eval_crop_ratio)
        print(f"exported {checkpoint} -> {FLAGS.export_dir} (LiteRT: {', '.join(FLAGS.quantizations)})")
        return
    export(model, config, FLAGS.export_dir, eval_crop_ratio=FLAGS.eval_crop_ratio,
           storage_dtype=manifest["storage_dtype"] if manifest else "float16",
           class_names=manifest.get("class_names") if manifest else None,
           input_spec=input_spec if manifest else None)
    print(f"exported {checkpoint} -> {FLAGS.export_dir} (signatures: serving_default, serve_examples)")


def cli():
    """The command line (console script and `python -m`)."""
    from absl import flags

    from slnl_tf import flags as project_flags

    project_flags.define_training_flags()
    flags.DEFINE_string("checkpoint", None, "a .keras model, a .weights.h5 checkpoint or a checkpoint directory "
                                            "(default: <model_dir>/best.keras, else its latest checkpoint)")
    flags.DEFINE_enum("format", "savedmodel", ["savedmodel", "litert", "onnx"],
                      "savedmodel: TF Serving's layout; litert: .tflite files for phones and embedded devices; "
                      "onnx: model.onnx for ONNX Runtime")
    flags.DEFINE_list("quantizations", ["float32", "float16", "int8"],
                      "litert: float32, float16 (weights), int8 (weights, dynamic range), int8_full (all-integer, "
                      "calibrated on 64 training clips)")
    project_flags.run(main, project_flags, positional_run=True)


if __name__ == "__main__":
    cli()
