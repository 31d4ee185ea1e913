"""Top-1 agreement of every export format with the SavedModel on a built split.

    python bench/agreement.py RUN_DIR [--split=test] [--checkpoint=...]

RUN_DIR is a training's --model_dir (its resolved.flags give the config and the data). The
model (best.keras, else the latest checkpoint) is exported as a SavedModel, in every LiteRT
form and as ONNX; each clip of the split (its records, already prepared) is scored by each,
and the table gives top-1 accuracy against the labels and top-1 agreement with the
SavedModel, which the float forms should match exactly and the quantized ones nearly.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from slnl_tf import flags as project_flags  # noqa: E402

project_flags.define_training_flags()
flags.DEFINE_string("split", "test", "the split to score")
flags.DEFINE_string("checkpoint", None, "default: <model_dir>/best.keras, else its latest checkpoint")
FLAGS = flags.FLAGS


def main(argv):
    import numpy as np
    import tensorflow as tf

    from slnl_tf import export, litert, onnx_export, portable
    from slnl_tf.data import clip_files, input as data_input, records
    from slnl_tf.training import restore_for_inference

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    manifest = data_input.read_manifest(FLAGS.data_dir)
    config = project_flags.model_config_from_flags(manifest)
    best = os.path.join(FLAGS.model_dir, "best.keras")
    checkpoint = FLAGS.checkpoint or (best if os.path.exists(best) else os.path.join(FLAGS.model_dir, "checkpoints"))
    model = restore_for_inference(config, checkpoint)
    spec = clip_files.input_spec(manifest)
    clips, labels = [], []
    for serialized in tf.data.TFRecordDataset(data_input.listed_shards(FLAGS.data_dir, manifest, FLAGS.split)):
        record = records.parse(serialized, manifest["storage_dtype"])
        clips.append(record["skeleton"].numpy()[:, : int(record["frames"])])  # every valid frame, as a user's file
        labels.append(int(record["label"]))
    labels = np.array(labels)
    with tempfile.TemporaryDirectory() as directory:
        saved = os.path.join(directory, "saved", "1")
        export.export(model, config, saved, eval_crop_ratio=FLAGS.eval_crop_ratio, input_spec=spec)
        serve = tf.saved_model.load(saved).signatures["serving_default"]
        reference = np.stack([serve(clips=tf.constant(c[None]))["probabilities"].numpy()[0] for c in clips])
        train = next(iter(data_input.make_dataset(FLAGS.data_dir, FLAGS.train_split, batch_size=64,
                                                  frames=config.frames, training=False,
                                                  eval_crop_ratio=FLAGS.eval_crop_ratio)))["skeleton"].numpy()
        litert.export(model, config, os.path.join(directory, "litert"), spec, litert.QUANTIZATIONS, train,
                      FLAGS.eval_crop_ratio, log=lambda _: None)
        onnx_export.export(model, config, os.path.join(directory, "onnx"), spec, FLAGS.eval_crop_ratio,
                           log=lambda _: None)
        classifiers = {f"LiteRT {q}": litert.LiteRTClassifier(os.path.join(directory, "litert"), q)
                       for q in litert.QUANTIZATIONS}
        classifiers["ONNX"] = onnx_export.OnnxClassifier(os.path.join(directory, "onnx"))
        rows = [("SavedModel", reference)]
        for name, classifier in classifiers.items():
            rows.append((name, np.stack([classifier.probabilities(portable.resample(
                c, config.frames, FLAGS.eval_crop_ratio)) for c in clips])))
    print(f"{FLAGS.data_dir}, split {FLAGS.split!r}, {len(clips)} clips, {checkpoint}:")
    print("| format | top-1 | agreement with the SavedModel | max abs probability difference |\n|---|---|---|---|")
    for name, probabilities in rows:
        print(f"| {name} | {100 * np.mean(probabilities.argmax(1) == labels):.1f} % | "
              f"{100 * np.mean(probabilities.argmax(1) == reference.argmax(1)):.1f} % | "
              f"{np.abs(probabilities - reference).max():.2e} |")


if __name__ == "__main__":
    project_flags.run(main, positional_run=True)
