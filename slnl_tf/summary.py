"""Prints the parameter and FLOP counts of a model config.

    python -m slnl_tf.summary                      # the paper's NTU-60 setting
    python -m slnl_tf.summary --attention=none --m1=0 --m2=6
    python -m slnl_tf.summary --all_variants       # every ablation row of the paper
"""
from absl import app, flags

from slnl_tf import flags as project_flags

project_flags.define_model_flags()
flags.DEFINE_bool("all_variants", False, "also print the paper's attention-type and M1/M2 ablation rows")
flags.DEFINE_bool("layers", False, "print the Keras layer table too")
FLAGS = flags.FLAGS


def _row(label, config):
    from slnl_tf.model import build_model
    from slnl_tf.model_cost import attention_weights_per_clip, flops_per_clip, parameter_counts

    model = build_model(config)
    params = parameter_counts(model)
    flops = flops_per_clip(model)
    weights = attention_weights_per_clip(model)
    print(f"{label:<34} params {params['total']:>10,}  GFLOPs/clip {flops / 1e9:7.3f}  "
          f"attention weights/clip {weights / 1e6:6.2f} M", flush=True)
    return model


def main(argv):
    del argv
    try:
        config = project_flags.model_config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error))
    print(f"preset {FLAGS.preset}: T={config.frames} V={config.joints} M={config.persons} "
          f"classes={config.num_classes} K={config.coordinate_systems} V'={config.skeleton_joints} "
          f"M1={config.m1} M2={config.m2} attention={config.attention} loss={config.loss}")
    print("FLOPs: a multiply-add counts 2; FFT 5 N log2 N per transform. Attention weights: the elements of the\n"
          "non-local score tensors, each kept for the backward pass in training (4 B, or 2 under mixed precision).")
    model = _row("this config", config)
    if FLAGS.layers:
        model.summary()
    if FLAGS.all_variants:
        from slnl_tf.config import ablation_variants

        for label, variant in ablation_variants(config):
            _row(label, variant)


def cli():
    """The command line (console script and `python -m`)."""
    project_flags.run(main, project_flags)


if __name__ == "__main__":
    cli()
