"""Training-step rate (samples/s) of a model config, with and without XLA.

    python bench/train_rate.py                         # NTU config, batch 64, T=64
    python bench/train_rate.py --flagfile=configs/demo.flags --batch_size=32

Times full training steps (forward, backward, AdamW update) on synthetic clips already in
memory, so the figure is the model's, not the input pipeline's. Prints the median and the
range over --repeats timed runs of --steps steps each, after a warm-up run.
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from slnl_tf import flags as project_flags  # noqa: E402

project_flags.define_training_flags()
flags.DEFINE_integer("steps", 5, "training steps per timed run")
flags.DEFINE_integer("repeats", 3, "timed runs")
FLAGS = flags.FLAGS


def _rate(config, jit_compile):
    import keras
    import numpy as np
    import tensorflow as tf

    from data_pipeline import synthetic
    from slnl_tf.model import OUTPUTS, build_losses, build_model

    keras.utils.set_random_seed(0)
    clips, labels = synthetic.make_clips(FLAGS.batch_size, config.num_classes, config.frames, config.joints,
                                         config.persons)
    model = build_model(config)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=build_losses(config), jit_compile=jit_compile)
    x = tf.constant(clips)
    y = {name: tf.constant(labels) for name in OUTPUTS}
    model.train_on_batch(x, y)  # build + compile
    rates = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        for _ in range(FLAGS.steps):
            loss = model.train_on_batch(x, y)
        rates.append(FLAGS.steps * FLAGS.batch_size / (time.perf_counter() - start))
    assert np.all(np.isfinite(loss))
    return rates


def main(argv):
    del argv
    import tensorflow as tf

    config = project_flags.model_config_from_flags()
    print(f"TF {tf.__version__}, {os.cpu_count()} CPU cores, devices: "
          f"{[d.device_type for d in tf.config.list_physical_devices()]}")
    print(f"config: T={config.frames} M1={config.m1} attention={config.attention} batch={FLAGS.batch_size}")
    for jit_compile in (False, True):
        rates = sorted(_rate(config, jit_compile))
        print(f"jit_compile={jit_compile!s:<5}  samples/s median {rates[len(rates) // 2]:8.1f} "
              f"(min {rates[0]:.1f}, max {rates[-1]:.1f})", flush=True)


if __name__ == "__main__":
    app.run(main)
