"""A small REST client for a model served by TF Serving (`/v1/models/<name>:predict`).

    python -m slnl_tf.serving_client --server=http://localhost:8501 --model=slnl_rfa \\
        --input_spec=exports/slnl_rfa/1/assets.extra/slnl_input.json clip.skeleton [--json]

Turns each clip file into a request body in TF Serving's documented columnar format
(`{"signature_name": ..., "inputs": {"clips": [clip]}}`, one clip per request since clips
differ in length; serialized records go to `serve_examples` as `{"b64": ...}` values) and
reads the `{"outputs": {...}}` reply. Needs only the standard library and NumPy; the
`--input_spec` file (copied from the export) says how clips are prepared.
"""
import base64
import json
import os
import sys
import urllib.error
import urllib.request

import numpy as np

from slnl_tf.data import clip_files


def clips_request(clip):
    """The predict body for one float32 `(C, T, V, M)` clip (a batch of one)."""
    clip = np.asarray(clip, np.float32)
    if clip.ndim != 4:
        raise ValueError(f"a clip is (C, T, V, M); got shape {clip.shape}")
    return {"signature_name": "serving_default", "inputs": {"clips": [clip.tolist()]}}


def examples_request(serialized_examples):
    """The predict body for serialized tf.train.Example records (slnl_tf/data/records.py)."""
    return {"signature_name": "serve_examples",
            "inputs": {"examples": [{"b64": base64.b64encode(e).decode("ascii")} for e in serialized_examples]}}


class ServingError(RuntimeError):
    pass


def post(server, model, body, timeout=60.0):
    """POSTs a predict body; returns the reply's `outputs`. ServingError with the server's
    own message for an HTTP error (TF Serving answers `{"error": ...}`)."""
    url = f"{server.rstrip('/')}/v1/models/{model}:predict"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            data = reply.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except ValueError:
            pass
        raise ServingError(f"{url}: HTTP {error.code}: {detail}")
    except urllib.error.URLError as error:
        raise ServingError(f"{url}: {error.reason}")
    try:
        answer = json.loads(data)
    except ValueError:
        raise ServingError(f"{url}: the reply is not JSON (is --server a TF Serving REST address?): {data[:200]!r}")
    if not isinstance(answer, dict) or not answer.get("outputs"):
        raise ServingError(f"{url}: reply without 'outputs': {str(answer)[:200]}")
    return answer["outputs"]


def probabilities_of(outputs, url=""):
    """The (classes,) fused probabilities of a one-clip reply's outputs."""
    values = outputs.get("probabilities") if isinstance(outputs, dict) else None
    try:
        probabilities = np.asarray(values, np.float32)
    except (TypeError, ValueError):
        probabilities = np.zeros(0)
    if probabilities.ndim != 2 or probabilities.shape[0] != 1 or not probabilities.shape[1]:
        raise ServingError(f"{url}: the reply has no 'probabilities' of one clip (outputs: {str(outputs)[:200]}); "
                           "is --model an slnl_tf export?")
    return probabilities[0]


def classify(server, model, paths, spec, top_k=5):
    """Like slnl_tf.predict.Predictor.classify, through the server."""
    from slnl_tf.predict import classify_files

    def probabilities(clip):
        return probabilities_of(post(server, model, clips_request(clip)), server)

    return classify_files(paths, spec, probabilities, top_k, errors=(ServingError,))


def main(argv):
    from absl import app, flags

    from slnl_tf.predict import format_result

    FLAGS = flags.FLAGS
    paths = argv[1:]
    if not paths:
        raise app.UsageError("give one or more clip files (.skeleton, .json, .npy)")
    try:
        with open(FLAGS.input_spec) as f:
            spec = json.load(f)
    except OSError as error:
        raise app.UsageError(f"--input_spec {FLAGS.input_spec!r}: {error.strerror} (it is the export's "
                             f"{clip_files.SPEC_FILE})")
    results = classify(FLAGS.server, FLAGS.model, paths, spec, FLAGS.top_k)
    if FLAGS.json:
        print(json.dumps({"server": FLAGS.server, "model": FLAGS.model, "results": results}, indent=1))
    else:
        for result in results:
            print(format_result(result), file=sys.stderr if "error" in result else sys.stdout)
    if any("error" in r for r in results):
        sys.exit(1)


def cli():
    """The command line (console script and `python -m`)."""
    from absl import flags

    from slnl_tf import flags as project_flags

    flags.DEFINE_string("server", "http://localhost:8501", "TF Serving's REST address")
    flags.DEFINE_string("model", "slnl_rfa", "the served model's name (TF Serving's --model_name)")
    flags.DEFINE_string("input_spec", None, f"the export's {clip_files.SPEC_FILE}", required=True)
    flags.DEFINE_integer("top_k", 5, "classes to print per clip", lower_bound=1)
    flags.DEFINE_bool("json", False, "print one JSON document instead of lines")
    project_flags.run(main)


if __name__ == "__main__":
    cli()
