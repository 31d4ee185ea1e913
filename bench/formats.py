"""Batch-1 latency and size of each export format side by side, in one run.

    python bench/formats.py [--preset=ntu60] [--calls=200] [--persons_present=1]

The NTU-60 setting (weights at their initialisation: latency does not depend on them) as
the SavedModel in TensorFlow (its serving_default, which samples the clip in the graph and
computes only the persons present) and as LiteRT float32, float16, int8 (dynamic range)
and all-integer int8 on the standalone interpreter (XNNPACK) and ONNX on ONNX Runtime, with
1 and 2 threads (the clip prepared and resampled first, as LiteRTClassifier does: not
timed), each as its classifier runs it (a one-person clip: the one-person model) and, for a
one-person clip, its model of every person slot too; then the
streaming recognizer's per-decision latency (window 64, stride 8, LiteRT int8, 2 threads:
preparation, resampling and the call). Prints p50 and p99 in ms and the file sizes, and the
JSON with --out.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from slnl_tf import flags as project_flags  # noqa: E402

flags.DEFINE_string("preset", "ntu60", "the model config (slnl_tf.config.PRESETS)")
flags.DEFINE_integer("calls", 200, "timed calls per format after 20 warm-up calls", lower_bound=10)
flags.DEFINE_integer("persons_present", 1, "persons in the clip (of the config's M)", lower_bound=1)
flags.DEFINE_string("out", None, "also write the figures as JSON here")
FLAGS = flags.FLAGS


def _percentiles(call, calls):
    import numpy as np

    for _ in range(20):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
    return {"p50_ms": float(np.percentile(times, 50)), "p99_ms": float(np.percentile(times, 99))}


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main(argv):
    import numpy as np
    import tensorflow as tf

    from slnl_tf import export, litert, onnx_export, portable
    from slnl_tf.config import PRESETS
    from slnl_tf.data import clip_files
    from slnl_tf.model import build_model

    config = PRESETS[FLAGS.preset]
    rng = np.random.default_rng(0)
    clip = np.zeros((config.channels, 80, config.joints, config.persons), np.float32)
    clip[..., : FLAGS.persons_present] = rng.normal(size=clip[..., : FLAGS.persons_present].shape)
    model = build_model(config)
    spec = clip_files.default_spec(config.channels, config.joints, config.persons)
    figures = {"preset": FLAGS.preset, "persons_present": FLAGS.persons_present, "formats": {}}
    with tempfile.TemporaryDirectory() as directory:
        saved = os.path.join(directory, "saved", "1")
        export.export(model, config, saved, input_spec=spec)
        serve = tf.saved_model.load(saved).signatures["serving_default"]
        batch = tf.constant(clip[None])
        figures["formats"]["SavedModel (TensorFlow)"] = {
            **_percentiles(lambda: serve(clips=batch), FLAGS.calls), "bytes": _size(saved)}
        representative = export.resample_batch(tf.constant(rng.normal(size=(16, *clip.shape)).astype(np.float32)),
                                               config.frames, 0.95).numpy()
        lite = os.path.join(directory, "litert")
        litert.export(model, config, lite, spec, litert.QUANTIZATIONS, representative, log=lambda _: None)
        prepared = portable.resample(clip, config.frames, 0.95)
        one_person = portable.only_person_slot(prepared) is not None and config.persons > 1

        def time_both(name, classifier, model_path):
            """The classifier as it runs (the one-person model for a one-person clip), then
            its model of every slot."""
            figures["formats"][name] = {
                **_percentiles(lambda: classifier.probabilities(prepared), FLAGS.calls),
                "bytes": _size(portable.one_person_file(model_path) if one_person else model_path)}
            if one_person:
                figures["formats"][f"{name}, every slot"] = {
                    **_percentiles(lambda: classifier.all_slots(prepared[None]), FLAGS.calls),
                    "bytes": _size(model_path)}

        for quantization in litert.QUANTIZATIONS:
            for threads in (1, 2):
                time_both(f"LiteRT {quantization}, {threads} thread(s)",
                          litert.LiteRTClassifier(lite, quantization, threads=threads),
                          os.path.join(lite, litert.model_file(quantization)))
        onnx_dir = os.path.join(directory, "onnx")
        onnx_export.export(model, config, onnx_dir, spec, log=lambda _: None)
        for threads in (1, 2):
            time_both(f"ONNX Runtime, {threads} thread(s)", onnx_export.OnnxClassifier(onnx_dir, threads=threads),
                      os.path.join(onnx_dir, onnx_export.MODEL_FILE))
        from slnl_tf import stream

        classifier = litert.LiteRTClassifier(lite, "int8", threads=2)
        recognizer = stream.StreamingRecognizer(classifier.classify, config.joints, config.channels, config.persons,
                                                window=64, stride=8)
        frames = np.tile(clip, (1, 4, 1, 1))  # 320 frames
        latencies = [event.latency_ms for t in range(frames.shape[1])
                     for event in [recognizer.push({m: frames[:, t, :, m].T for m in range(FLAGS.persons_present)})]
                     if event]
        figures["streaming_decision_ms"] = {"p50_ms": float(np.percentile(latencies, 50)),
                                            "p99_ms": float(np.percentile(latencies, 99)), "decisions": len(latencies)}
    print(f"{FLAGS.preset}, batch 1, {FLAGS.persons_present} of {config.persons} persons present, "
          f"{FLAGS.calls} calls:")
    print("| format | p50 ms | p99 ms | size MB |\n|---|---|---|---|")
    for name, figure in figures["formats"].items():
        print(f"| {name} | {figure['p50_ms']:.1f} | {figure['p99_ms']:.1f} | {figure['bytes'] / 1e6:.2f} |")
    decisions = figures["streaming_decision_ms"]
    print(f"streaming, LiteRT int8, 2 threads, window 64, stride 8: p50 {decisions['p50_ms']:.1f} ms, "
          f"p99 {decisions['p99_ms']:.1f} ms per decision ({decisions['decisions']} decisions)")
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    project_flags.run(main)
