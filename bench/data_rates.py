"""Raw-file conversion rate and tf.data input rate, printed.

    python bench/data_rates.py [--files=400] [--workers=2] [--batch_size=64] [--frames=64]

1. Conversion: writes --files synthetic NTU raw files (like the real ones: ~100 frames,
   CRLF, 1-2 bodies), converts them with data_pipeline.build on --workers processes, and
   extrapolates to NTU-60's 56,880 files.
2. Input: samples/s of the training input (parse, random crop, rotation, scale, batch)
   from the records just written, at --batch_size and T=--frames.
Each figure: median (min-max) over --repeats runs.
"""
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

flags.DEFINE_integer("files", 400, "synthetic raw files to convert")
flags.DEFINE_integer("workers", 2, "converter processes")
flags.DEFINE_integer("batch_size", 64, "input batch size")
flags.DEFINE_integer("frames", 64, "T of the input")
flags.DEFINE_integer("repeats", 3, "timed runs per figure")
flags.DEFINE_integer("input_batches", 50, "batches per input timing run")
FLAGS = flags.FLAGS
NTU60_FILES = 56880


def _write_raw(directory, count):
    from data_pipeline import ntu

    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        frames = []
        base = rng.normal(size=(2, 25, 3)) + [0, 0, 3]
        bodies = 2 if i % 5 == 0 else 1
        for t in range(int(rng.integers(70, 130))):
            frames.append([(str(b), base[b] + 0.05 * np.sin(t / 5)) for b in range(bodies)])
        # A unique valid name per i: action, camera, performer, replication, setup.
        name = (f"S{i // 14400 + 1:03d}C{(i // 60) % 3 + 1:03d}P{(i // 180) % 40 + 1:03d}"
                f"R{(i // 7200) % 2 + 1:03d}A{i % 60 + 1:03d}")
        ntu.write_skeleton_file(os.path.join(directory, f"{name}.skeleton"), frames)


def _median(values):
    values = sorted(values)
    return values[len(values) // 2], values[0], values[-1]


def main(argv):
    del argv
    import tensorflow as tf

    from data_pipeline import build, input as data_input, sources

    root = tempfile.mkdtemp(prefix="slnl_bench_")
    try:
        raw = os.path.join(root, "raw")
        _write_raw(raw, FLAGS.files)
        print(f"TF {tf.__version__}, {os.cpu_count()} CPU cores")
        rates = []
        for run in range(FLAGS.repeats):
            out = os.path.join(root, f"out{run}")
            start = time.perf_counter()
            build.build(sources.NTUSource(raw, "ntu60_xview"), out, files_per_shard=max(1, FLAGS.files // 8),
                        workers=FLAGS.workers, progress=False, log=lambda _: None)
            rates.append(FLAGS.files / (time.perf_counter() - start))
        median, low, high = _median(rates)
        print(f"conversion: {median:.0f} files/s median ({low:.0f}-{high:.0f}) on {FLAGS.workers} workers "
              f"-> NTU-60 ({NTU60_FILES} files) in {NTU60_FILES / median / 60:.1f} min")

        dataset = data_input.make_dataset(os.path.join(root, "out0"), "train", batch_size=FLAGS.batch_size,
                                          frames=FLAGS.frames, training=True, seed=0, rotation_degrees=17.0,
                                          scale_range=(0.9, 1.1))
        iterator = iter(dataset)
        next(iterator)
        rates = []
        for _ in range(FLAGS.repeats):
            start = time.perf_counter()
            for _ in range(FLAGS.input_batches):
                next(iterator)
            rates.append(FLAGS.input_batches * FLAGS.batch_size / (time.perf_counter() - start))
        median, low, high = _median(rates)
        print(f"input: {median:.0f} samples/s median ({low:.0f}-{high:.0f}) at batch {FLAGS.batch_size}, "
              f"T={FLAGS.frames} (parse, crop, rotate, scale, batch)")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    app.run(main)
