"""Classifies clip files with an exported SavedModel.

    python -m slnl_tf.predict --export_dir=exports/slnl_rfa/1 S001C001P001R001A001.skeleton clip.json [--json]

Files: raw NTU `.skeleton` (any name), Kinetics-skeleton `.json`, `.npy` `(C, T, V, M)` or
`(N, C, T, V, M)`; each is prepared as the model's training data was (the export's
`assets.extra/slnl_input.json`, see slnl_tf/data/clip_files.py) and sent whole to the
`serving_default` signature, which samples it to the model's frame count. Prints the top
classes with names and scores, or with `--json` one JSON document. A file that cannot be
classified (wrong joint count, NaN, no frames, unknown kind) is reported with the reason and
the others are still classified; the exit status is 1 when any file failed.
"""
import json
import os
import sys

import numpy as np

from slnl_tf.data import clip_files
from slnl_tf.data.sample import SampleError


def top_classes(probabilities, class_names, k):
    """[{"class": index, "name": name or None, "score": probability}] for the k best."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [{"class": int(i), "name": class_names[i] if class_names else None, "score": float(probabilities[i])}
            for i in order]


def format_result(result):
    """One line per file: `file: name (score), ...` or `file: ERROR reason`."""
    if "error" in result:
        return f"{result['file']}: ERROR {result['error']}"
    return f"{result['file']}: " + ", ".join(
        f"{c['name'] if c['name'] is not None else c['class']} ({c['score']:.3f})" for c in result["top"])


class Predictor:
    """An exported SavedModel and the spec its clips are prepared with."""

    def __init__(self, export_dir):
        import tensorflow as tf

        if not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
            raise FileNotFoundError(f"--export_dir {export_dir!r} holds no saved_model.pb; write one with "
                                    "`python -m slnl_tf.export` or train_main.py --export_dir")
        self.serve = tf.saved_model.load(export_dir).signatures["serving_default"]
        self.spec = clip_files.read_spec(export_dir)
        if self.spec is None:  # an export without its spec: the readers' defaults for its input shape
            shape = self.serve.structured_input_signature[1]["clips"].shape
            self.spec = clip_files.default_spec(shape[1], shape[3], shape[4])

    def probabilities(self, clip):
        import tensorflow as tf

        return self.serve(clips=tf.constant(clip[None]))["probabilities"].numpy()[0]

    def classify(self, paths, top_k=5):
        return classify_files(paths, self.spec, self.probabilities, top_k)


def classify_files(paths, spec, probabilities, top_k=5, errors=()):
    """[{"file", "frames", "top"} or {"file", "error"}] in file order, each file prepared by
    `spec` and scored by `probabilities(clip)`; a bad file, or an exception of a type in
    `errors` while scoring it, becomes an error entry and does not stop the rest."""
    results = []
    for path in paths:
        for where, clip in clip_files.read_clips(path, spec):
            if isinstance(clip, SampleError):
                results.append({"file": where, "error": clip.problem})
                continue
            try:
                scores = probabilities(clip)
            except errors as error:
                results.append({"file": where, "error": str(error)})
                continue
            results.append({"file": where, "frames": int(clip.shape[1]),
                            "top": top_classes(scores, spec.get("class_names"), top_k)})
    return results


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    paths = argv[1:]
    if not paths:
        raise app.UsageError("give one or more clip files (.skeleton, .json, .npy)")
    if not FLAGS.export_dir:
        raise app.UsageError("--export_dir is required: a SavedModel written by `python -m slnl_tf.export`")
    try:
        predictor = Predictor(FLAGS.export_dir)
    except FileNotFoundError as error:
        raise app.UsageError(str(error))
    results = predictor.classify(paths, FLAGS.top_k)
    if FLAGS.json:
        print(json.dumps({"export_dir": FLAGS.export_dir, "results": results}, indent=1))
    else:
        for result in results:
            print(format_result(result), file=sys.stderr if "error" in result else sys.stdout)
    failed = sum("error" in r for r in results)
    if failed:
        print(f"{failed} of {len(results)} clips could not be classified", file=sys.stderr)
        sys.exit(1)


def cli():
    """The command line (console script and `python -m`)."""
    from absl import flags

    from slnl_tf import flags as project_flags

    flags.DEFINE_string("export_dir", None, "the SavedModel version directory (<models>/<name>/<version>)")
    flags.DEFINE_integer("top_k", 5, "classes to print per clip", lower_bound=1)
    flags.DEFINE_bool("json", False, "print one JSON document instead of lines")
    project_flags.run(main)


if __name__ == "__main__":
    cli()
