"""Trains and evaluates SLnL-rFA.

    python train_main.py --flagfile=configs/demo.flags [--flag=value ...]

Command-line flags override the flagfile. The resolved configuration is printed and
written to <model_dir>/resolved.flags, which reruns the same job. Data: the synthetic
learnable dataset for now (real datasets arrive with the data pipeline).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from slnl_tf import flags as project_flags  # noqa: E402

project_flags.define_training_flags()
FLAGS = flags.FLAGS
TRAINING_FLAGS = ("dataset", "synthetic_train_clips", "synthetic_test_clips", "epochs", "batch_size",
                  "learning_rate", "weight_decay", "jit_compile", "seed", "model_dir")


def _top1(logits, labels):
    import numpy as np

    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = project_flags.model_config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))

    import keras
    import numpy as np
    import tensorflow as tf

    from data_pipeline import synthetic
    from slnl_tf.model import OUTPUTS, build_losses, build_model
    from slnl_tf.model_cost import flops_per_clip

    resolved = project_flags.resolved_flagfile(config, TRAINING_FLAGS)
    print("resolved configuration:\n" + resolved, flush=True)
    if FLAGS.model_dir:
        os.makedirs(FLAGS.model_dir, exist_ok=True)
        with open(os.path.join(FLAGS.model_dir, "resolved.flags"), "w") as f:
            f.write(resolved)

    keras.utils.set_random_seed(FLAGS.seed)
    accelerators = len(tf.config.list_physical_devices("GPU")) + len(tf.config.list_physical_devices("TPU"))
    jit_compile = project_flags.jit_compile_from_flag(FLAGS.jit_compile, accelerators)

    def make(clips, seed):
        return synthetic.make_clips(clips, config.num_classes, config.frames, config.joints, config.persons,
                                    seed=seed)

    train_x, train_y = make(FLAGS.synthetic_train_clips, FLAGS.seed)
    test_x, test_y = make(FLAGS.synthetic_test_clips, FLAGS.seed + 1)
    print(f"data: synthetic, {len(train_y)} training / {len(test_y)} test clips, "
          f"{config.num_classes} classes (chance {1 / config.num_classes:.1%})")

    model = build_model(config)
    print(f"model: {model.count_params():,} parameters, {flops_per_clip(model) / 1e9:.3f} GFLOPs per clip; "
          f"jit_compile={jit_compile} ({accelerators} accelerator(s))", flush=True)
    steps = FLAGS.epochs * -(-len(train_y) // FLAGS.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=FLAGS.learning_rate,
                                                      warmup_steps=max(1, steps // 20))
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=FLAGS.weight_decay),
        loss=build_losses(config),
        metrics={name: ["sparse_categorical_accuracy"] for name in OUTPUTS},
        jit_compile=jit_compile,
    )
    targets = {name: train_y for name in OUTPUTS}
    model.fit(train_x, targets, batch_size=FLAGS.batch_size, epochs=FLAGS.epochs, verbose=2,
              callbacks=[keras.callbacks.TerminateOnNaN()])
    if not np.isfinite(model.history.history["loss"][-1]):
        raise SystemExit("training stopped: the loss became NaN or inf (lower --learning_rate?)")

    logits = model.predict(test_x, batch_size=FLAGS.batch_size, verbose=0)
    fused = sum(keras.ops.softmax(logits[name]).numpy() for name in OUTPUTS)
    for name in OUTPUTS:
        print(f"test top-1 {name:<9} {_top1(logits[name], test_y):.1%}")
    print(f"test top-1 fused     {_top1(fused, test_y):.1%}  (chance {1 / config.num_classes:.1%})")
    if FLAGS.model_dir:
        path = os.path.join(FLAGS.model_dir, "model.keras")
        model.save(path)
        print(f"saved {path}")


if __name__ == "__main__":
    app.run(main)
