"""Evaluation: top-1 / top-5 per head and fused, per-class accuracy, confusion matrix,
per-sample scores keyed by sample name.

    slnl-evaluate RUN_DIR [CHECKPOINT] [--flag=value ...]
    slnl-evaluate runs/demo/model runs/demo/model/best.keras --eval_split=test

RUN_DIR is a training's --model_dir (its resolved.flags give the model and data) or a
flagfile; CHECKPOINT a .keras model, a .weights.h5 checkpoint or a checkpoint directory
(default: the latest checkpoint in RUN_DIR/checkpoints). It prints which weights it scored.

The fused score is the mean of the three heads' softmax probabilities. `--eval_clips=N`
averages N windows per sample (multi-clip testing); `--eval_mirror` adds each window
mirrored left to right (flip testing, for models trained with --mirror_probability).
Outputs go to `<model_dir>/eval_<split>/` (or --eval_dir): metrics.json, per_class.csv,
confusion_matrix.csv, scores.npz (names, labels and each head's probabilities, so streams
and runs can be fused by name, not by order), and as PNG and SVG the confusion matrix,
per-class top-1 (worst first) and the most confused pairs.
"""
import csv
import json
import os

import numpy as np

from slnl_tf.model import OUTPUTS

FUSED = "fused"


def collect_scores(logits_of, dataset):
    """Runs `logits_of` (clips -> logits per head) over a dataset of {"skeleton", "label",
    "name"} batches."""
    import keras

    names, labels, scores = [], [], {name: [] for name in OUTPUTS}
    for batch in dataset:
        logits = logits_of(batch["skeleton"])
        for name in OUTPUTS:
            scores[name].append(keras.ops.convert_to_numpy(keras.ops.softmax(logits[name])))
        names += [n.decode() for n in batch["name"].numpy()]
        labels.append(batch["label"].numpy())
    scores = {name: np.concatenate(values) for name, values in scores.items()}
    scores[FUSED] = np.mean([scores[name] for name in OUTPUTS], axis=0)
    return np.array(names), np.concatenate(labels), scores


def top_k_accuracy(probabilities, labels, k):
    k = min(k, probabilities.shape[1])
    top = np.argsort(-probabilities, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def confusion_matrix(labels, predictions, num_classes):
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


FIGURES = ("confusion_matrix", "per_class_accuracy", "top_confusions")


def write_figures(matrix, class_names, out_dir, top_confusions=20):
    """The confusion matrix, per-class top-1 and the `top_confusions` most confused pairs as
    PNG and SVG in `out_dir` (slnl_tf/plots.py); returns the PNG paths by figure name."""
    from slnl_tf import plots

    figures = {"confusion_matrix": plots.confusion_figure(matrix, class_names),
               "per_class_accuracy": plots.per_class_accuracy_figure(matrix, class_names),
               "top_confusions": plots.top_confusions_figure(matrix, class_names, top_confusions)}
    return {name: plots.save(figure, os.path.join(out_dir, name))[0] for name, figure in figures.items()}


def report(names, labels, scores, num_classes, class_names, out_dir, scored=None, top_confusions=20):
    """Writes the evaluation files and returns the metrics dict; `scored` (which split and
    weights) goes into metrics.json beside it."""
    os.makedirs(out_dir, exist_ok=True)
    metrics = {"samples": int(len(labels))}
    for head, probabilities in scores.items():
        metrics[f"{head}_top1"] = top_k_accuracy(probabilities, labels, 1)
        metrics[f"{head}_top5"] = top_k_accuracy(probabilities, labels, 5)
    predictions = scores[FUSED].argmax(axis=1)
    matrix = confusion_matrix(labels, predictions, num_classes)
    class_names = list(class_names or [])[:num_classes]
    class_names += [str(i) for i in range(len(class_names), num_classes)]  # a head wider than the names
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump({**metrics, **({"scored": scored} if scored else {})}, f, indent=2)
    with open(os.path.join(out_dir, "confusion_matrix.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true\\predicted"] + class_names)
        writer.writerows([class_names[i]] + row.tolist() for i, row in enumerate(matrix))
    with open(os.path.join(out_dir, "per_class.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "name", "samples", "fused_top1"])
        for i in range(num_classes):
            total = int(matrix[i].sum())
            writer.writerow([i, class_names[i], total, f"{matrix[i, i] / total:.4f}" if total else ""])
    write_figures(matrix, class_names, out_dir, top_confusions)
    np.savez_compressed(os.path.join(out_dir, "scores.npz"), names=names, labels=labels,
                        **{head: values.astype(np.float32) for head, values in scores.items()})
    return metrics, matrix


def evaluate(model, config, data_dir, split, out_dir, batch_size=64, eval_crop_ratio=0.95, clips=1, mirror=False,
             weights=None, top_confusions=20):
    """Scores `split`; with clips > 1 the probabilities of `clips` windows spread evenly
    from the start to the end of each sample's valid frames are averaged, with mirror
    those of each window and its left-right mirror. `weights` says which weights the
    model holds (recorded in metrics.json)."""
    import tensorflow as tf

    from slnl_tf.data import input as data_input
    from slnl_tf.present_persons import PresentPersonsModel

    manifest = data_input.read_manifest(data_dir)
    # Only the persons present in each clip are computed; one trace for every window and batch size.
    logits_of = tf.function(PresentPersonsModel(model),
                            input_signature=[tf.TensorSpec((None, *model.input_shape[1:]), "float32")])
    positions = [0.5] if clips == 1 else np.linspace(0.0, 1.0, clips)
    passes = [(float(position), mirrored) for position in positions
              for mirrored in ((False, True) if mirror else (False,))]
    names, labels, scores = None, None, None
    for position, mirrored in passes:
        dataset = data_input.make_dataset(data_dir, split, batch_size=batch_size, frames=config.frames,
                                          training=False, eval_crop_ratio=eval_crop_ratio,
                                          eval_window_position=position, eval_mirror=mirrored, keep_names=True)
        try:
            clip_names, labels, clip_scores = collect_scores(logits_of, dataset)
        except tf.errors.DataLossError as error:
            raise ValueError(data_input.data_loss_message(data_dir, [split])) from error
        if names is not None and not np.array_equal(names, clip_names):
            raise RuntimeError("evaluation passes returned samples in different orders")
        names = clip_names
        scores = clip_scores if scores is None else {k: scores[k] + v for k, v in clip_scores.items()}
    scores = {head: values / len(passes) for head, values in scores.items()}
    return report(names, labels, scores, config.num_classes, manifest.get("class_names"), out_dir,
                  scored={"split": split, "weights": weights, "windows": len(positions), "mirrored": mirror},
                  top_confusions=top_confusions)


def format_metrics(metrics):
    heads = list(OUTPUTS) + [FUSED]
    return "\n".join(f"{head:<9} top-1 {metrics[f'{head}_top1']:.1%}  top-5 {metrics[f'{head}_top5']:.1%}"
                     for head in heads) + f"\n({metrics['samples']} samples)"


def main(argv):
    from absl import app, flags

    from slnl_tf import flags as project_flags
    from slnl_tf.training import restore_for_inference

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = project_flags.model_config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))
    if not FLAGS.model_dir and not FLAGS.checkpoint:
        raise app.UsageError("give --checkpoint or --model_dir (whose checkpoints/ is used)")
    checkpoint = FLAGS.checkpoint or os.path.join(FLAGS.model_dir, "checkpoints")
    out_dir = FLAGS.eval_dir or os.path.join(FLAGS.model_dir or os.path.dirname(checkpoint), f"eval_{FLAGS.eval_split}")
    try:
        model, weights = restore_for_inference(config, checkpoint, describe=True)
        metrics, _ = evaluate(model, config, FLAGS.data_dir, FLAGS.eval_split, out_dir, FLAGS.batch_size,
                              FLAGS.eval_crop_ratio, FLAGS.eval_clips, FLAGS.eval_mirror, weights=weights,
                              top_confusions=FLAGS.top_confusions)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error))
    print(f"scored {weights} on split {FLAGS.eval_split!r}:")
    print(format_metrics(metrics))
    print(f"wrote {out_dir}")


def cli():
    """The command line (console script and `python -m`)."""
    from absl import flags

    from slnl_tf import flags as project_flags

    project_flags.define_training_flags()
    flags.DEFINE_string("checkpoint", None, "checkpoint prefix or directory (default: <model_dir>/checkpoints)")
    flags.DEFINE_string("eval_dir", None, "output directory (default: <model_dir>/eval_<split>)")
    flags.DEFINE_integer("top_confusions", 20, "pairs in the most-confused-pairs figure", lower_bound=1)
    project_flags.run(main, project_flags, positional_run=True)


if __name__ == "__main__":
    cli()
