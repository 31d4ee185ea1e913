"""Trains and evaluates SLnL-rFA.

    slnl-train --config=ntu_cs [--flag=value ...]
    python train_main.py --flagfile=configs/ntu_cs.flags [--flag=value ...]   # in a checkout

Command-line flags override the flagfile. Flags are checked before any work starts; the
resolved configuration is printed and written to <model_dir>/resolved.flags, which reruns
the same job. Rerunning a command whose model_dir holds checkpoints resumes it. Each epoch
is validated on --validation_split (held-out training samples, never the test split), which
chooses best.keras. At the end the final weights are evaluated on --eval_split
(slnl_tf/evaluate.py) and, with --export_dir, exported as a SavedModel (slnl_tf/export.py).
A run stopped by SIGTERM saves a checkpoint and exits with status 75, not evaluated or
exported.
"""
import os

from absl import app, flags

from slnl_tf import flags as project_flags

project_flags.define_training_flags()
FLAGS = flags.FLAGS
PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL: stopped by SIGTERM after a checkpoint; rerun to resume


def _check_flags():
    """Problems that need no data: raised as UsageError naming the flag."""
    try:
        project_flags.model_config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required")
    if not FLAGS.data_dir:
        raise app.UsageError("--data_dir is required: a dataset built by `python -m slnl_tf.data.build`")
    manifest = os.path.join(FLAGS.data_dir, "manifest.json")
    if not os.path.exists(manifest) and not FLAGS.generate_synthetic_data:
        raise app.UsageError(
            f"--data_dir={FLAGS.data_dir} is not a built dataset (no manifest.json): pass --data_dir=OUT_DIR/NAME, "
            "where `slnl-build ... --out_dir=OUT_DIR` wrote it (a config's --data_dir is relative to the working "
            "directory), build it there (README, \"NTU RGB+D step by step\"), or pass --generate_synthetic_data")
    problem = project_flags.distribution_problem(FLAGS.strategy, FLAGS.training_loop)
    if problem:
        raise app.UsageError(problem)
    if len(FLAGS.scale_range) not in (0, 2):
        raise app.UsageError(f"--scale_range must be empty or min,max; got {','.join(FLAGS.scale_range)}")
    try:
        [int(e) for e in FLAGS.lr_step_epochs]
        [float(v) for v in FLAGS.scale_range]
    except ValueError as error:
        raise app.UsageError(f"--lr_step_epochs / --scale_range must be numbers: {error}")


def _generate_synthetic_data():
    from slnl_tf.data import build, sources, synthetic

    raw = os.path.join(FLAGS.data_dir, "raw")
    classes = FLAGS.num_classes or 10
    synthetic.write_raw_dataset(raw, FLAGS.synthetic_clips, classes, FLAGS.frames or 64, seed=FLAGS.seed)
    build.build(sources.NTUSource(raw, "ntu60_xsub", validation=True), FLAGS.data_dir,
                options={"dataset": "synthetic"},
                class_names=[f"synthetic class {i}" for i in range(classes)])


def main(argv):
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # TF's checkpoint saver logs every save at INFO
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    _check_flags()
    if not os.path.exists(os.path.join(FLAGS.data_dir, "manifest.json")):
        _generate_synthetic_data()

    import tensorflow as tf

    from slnl_tf.data import input as data_input
    from slnl_tf import evaluate, training
    from slnl_tf.model import build_model
    from slnl_tf.model_cost import flops_per_clip

    try:
        manifest = data_input.read_manifest(FLAGS.data_dir)
    except ValueError as error:
        raise app.UsageError(str(error))
    if FLAGS.validation_split not in manifest["splits"] and not FLAGS["validation_split"].present:
        FLAGS.validation_split = ""  # the data has no validation split: none (also in resolved.flags)
    for split in (FLAGS.train_split, FLAGS.eval_split) + ((FLAGS.validation_split,) if FLAGS.validation_split else ()):
        if split not in manifest["splits"]:
            raise app.UsageError(f"--data_dir has no split {split!r}; it has {sorted(manifest['splits'])}")
    if FLAGS.validation_split == FLAGS.eval_split:
        raise app.UsageError(f"--validation_split and --eval_split are both {FLAGS.eval_split!r}: choosing "
                             "checkpoints on the split that is scored overstates the accuracy")
    try:
        config = project_flags.model_config_from_flags(manifest)
    except ValueError as error:
        raise app.UsageError(str(error))
    resolved = project_flags.resolved_flagfile(config)
    print("resolved configuration:\n" + resolved, flush=True)
    os.makedirs(FLAGS.model_dir, exist_ok=True)
    try:
        lock = training.lock_model_dir(FLAGS.model_dir)  # noqa: F841 (held until the process ends)
    except training.ModelDirInUse as error:
        raise app.UsageError(str(error))
    with open(os.path.join(FLAGS.model_dir, "resolved.flags"), "w") as f:
        f.write(resolved)
    if FLAGS.deterministic:
        tf.config.experimental.enable_op_determinism()

    accelerators = len(tf.config.list_physical_devices("GPU")) + len(tf.config.list_physical_devices("TPU"))
    jit_compile = project_flags.jit_compile_from_flag(FLAGS.jit_compile, accelerators)
    skip_absent_persons = project_flags.skip_absent_persons_from_flag(FLAGS.skip_absent_persons, jit_compile)
    options = training.TrainOptions(
        model_dir=FLAGS.model_dir, data_dir=FLAGS.data_dir, train_split=FLAGS.train_split,
        validation_split=FLAGS.validation_split, epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch,
        batch_size=FLAGS.batch_size, optimizer=FLAGS.optimizer, learning_rate=FLAGS.learning_rate,
        lr_schedule=FLAGS.lr_schedule, lr_step_epochs=tuple(int(e) for e in FLAGS.lr_step_epochs),
        warmup_epochs=FLAGS.warmup_epochs, weight_decay=FLAGS.weight_decay, crop_min_ratio=FLAGS.crop_min_ratio,
        eval_crop_ratio=FLAGS.eval_crop_ratio, rotation_degrees=FLAGS.rotation_degrees,
        scale_range=tuple(float(v) for v in FLAGS.scale_range), mirror_probability=FLAGS.mirror_probability,
        strategy=FLAGS.strategy, training_loop=FLAGS.training_loop, mixed_precision=FLAGS.mixed_precision,
        jit_compile=jit_compile, skip_absent_persons=skip_absent_persons, seed=FLAGS.seed,
        init_checkpoint=FLAGS.init_checkpoint)
    counts = {split: info["written"] for split, info in manifest["splits"].items()}
    print(f"data: {FLAGS.data_dir} {counts}, {config.num_classes} classes (chance {1 / config.num_classes:.1%})")
    print(f"jit_compile={options.jit_compile} ({accelerators} accelerator(s)), absent persons skipped: "
          f"{options.skip_absent_persons}, mixed precision {options.mixed_precision}", flush=True)
    try:
        model, _, _ = training.train(config, options)
    except training.TrainingDiverged as error:
        raise SystemExit(f"training stopped: {error}")
    except training.Preempted as error:
        # A partial run: no final metrics or export that could pass for a finished one.
        print(f"partial run, not evaluated or exported: {error}", flush=True)
        raise SystemExit(PREEMPTED_EXIT_CODE)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error))
    if not model.distribute_strategy.extended.should_checkpoint:
        print("trained; this worker is not the chief, which evaluates and exports")
        return
    print(f"model: {model.count_params():,} parameters, {flops_per_clip(build_model(config)) / 1e9:.3f} "
          "GFLOPs per clip")

    out_dir = os.path.join(FLAGS.model_dir, f"eval_{FLAGS.eval_split}")
    weights = f"the final weights (step {training.current_step(model.optimizer)}, end of the schedule)"
    try:
        metrics, _ = evaluate.evaluate(model, config, FLAGS.data_dir, FLAGS.eval_split, out_dir,
                                            FLAGS.batch_size, FLAGS.eval_crop_ratio, FLAGS.eval_clips,
                                            FLAGS.eval_mirror, weights=weights)
    except ValueError as error:
        raise SystemExit(f"trained, but not evaluated: {error}")
    step = training.current_step(model.optimizer)  # the evaluation belongs to the last training step
    with tf.summary.create_file_writer(os.path.join(FLAGS.model_dir, "logs", "evaluation")).as_default():
        for name, value in metrics.items():
            if name != "samples":
                tf.summary.scalar(f"evaluation/{name}", value, step=step)
        for name in evaluate.FIGURES:
            png = tf.io.decode_png(tf.io.read_file(os.path.join(out_dir, f"{name}.png")), channels=3)
            tf.summary.image(f"evaluation/{name}", png[None], step=step)
    print(f"evaluation of {weights} on split {FLAGS.eval_split!r}:\n{evaluate.format_metrics(metrics)}")
    if FLAGS.export_dir:
        from slnl_tf.data import clip_files
        from slnl_tf import export

        export.export(model, config, FLAGS.export_dir, eval_crop_ratio=FLAGS.eval_crop_ratio,
                      storage_dtype=manifest["storage_dtype"], class_names=manifest.get("class_names"),
                      input_spec=clip_files.input_spec(manifest))
        print(f"SavedModel for TF Serving: {FLAGS.export_dir} (signatures serving_default, serve_examples)")
    print(f"wrote {out_dir}; TensorBoard: tensorboard --logdir {os.path.join(FLAGS.model_dir, 'logs')}")


def cli():
    """The command line (console script and `python -m`)."""
    project_flags.run(main, project_flags)


if __name__ == "__main__":
    cli()
