"""The project's absl flags, in one module. Every ModelConfig field is a flag of the same
name; `--preset` picks the base config and explicitly set flags override it."""
import dataclasses
import os
import sys

from absl import flags

from slnl_tf.config import PRESETS, ModelConfig

FLAGS = flags.FLAGS
# The flagfiles shipped with the package (`configs/` in a checkout links here).
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")

_DEFINE_BY_TYPE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string,
                   bool: flags.DEFINE_bool, tuple: flags.DEFINE_list}
_FIELD_HELP = {
    "num_classes": "number of action classes",
    "frames": "T, frames per clip after temporal sampling",
    "joints": "V, joints per skeleton in the input",
    "persons": "M, persons per clip",
    "channels": "C, values per joint (x, y, z or x, y, score)",
    "coordinate_systems": "K of the coordinate transform (3 -> 3K channels)",
    "skeleton_joints": "V' of the skeleton transform",
    "stage_filters": "widths of the six HCN stages, comma-separated",
    "fc_units": "width of fc7 in the concatenated branch",
    "m1": "number of SLnL stages (the first M1 of six)",
    "m2": "number of local stages; m1 + m2 must be 6",
    "nonlocal_axes": "non-local paths of each SLnL block: time,space,spacetime",
    "nonlocal_subsample": "max-pool non-local keys/values by 2",
    "attention": "frequency attention: none, amplitude, shared, dependent, residual",
    "frequency_bias": "per-frequency bias in the frequency attention network",
    "dropout": "dropout rate",
    "loss": "ce, focal, smce or smfl",
    "gamma": "focusing parameter of focal / smfl",
    "margin": "soft margin m of smce / smfl",
}


def define_model_flags():
    """Defines --preset and one flag per ModelConfig field (idempotent)."""
    if "preset" in FLAGS:
        return
    flags.DEFINE_enum("preset", "ntu60", sorted(PRESETS), "base model config; other model flags override it")
    for field in dataclasses.fields(ModelConfig):
        kind = type(field.default)
        _DEFINE_BY_TYPE[kind](field.name, None, f"{_FIELD_HELP[field.name]} (default: from --preset)")


def model_config_from_flags(manifest=None):
    """The preset with every explicitly given model flag applied; a bad value raises
    ValueError naming the flag. With a dataset manifest, classes, joints, channels and
    persons come from the data unless given, and given values must fit the data."""
    base = PRESETS[FLAGS.preset]
    changes = {}
    if manifest is not None:
        changes = _data_shape_from_manifest(manifest)
    for field in dataclasses.fields(ModelConfig):
        value = FLAGS[field.name].value
        if value is None:
            continue
        if field.name == "stage_filters":
            try:
                value = tuple(int(v) for v in value)
            except ValueError:
                raise ValueError(f"--stage_filters must be comma-separated integers, got {','.join(value)}")
        changes[field.name] = tuple(value) if isinstance(value, list) else value
    return base.replace(**changes)


def _data_shape_from_manifest(manifest):
    layout = manifest["layout"]
    from_data = {"num_classes": manifest["num_classes"], "joints": layout["joints"],
                 "channels": layout["channels"], "persons": layout["persons"]}
    largest_label = max((int(label) for split in manifest["splits"].values() for label in split["class_counts"]),
                        default=-1)
    for name, value in from_data.items():
        given = FLAGS[name].value
        if given is None:
            continue
        if name == "num_classes":
            if given <= largest_label:
                raise ValueError(f"--num_classes={given} but the data has label {largest_label}")
            names = manifest.get("class_names") or []
            if names and given > len(names):
                raise ValueError(f"--num_classes={given} but the data in --data_dir names {len(names)} classes "
                                 "(manifest.json class_names): leave --num_classes out to take it from the data")
        elif given != value:
            raise ValueError(f"--{name}={given} but the data in --data_dir has {name}={value}")
    return {name: value for name, value in from_data.items() if FLAGS[name].value is None}


def define_training_flags():
    """Flags of train_main.py and slnl_tf.evaluate (idempotent)."""
    if "model_dir" in FLAGS:
        return
    define_model_flags()
    flags.DEFINE_string("config", None, f"a shipped flagfile by name, from any directory ({', '.join(config_names())}); "
                                        "the same as --flagfile=configs/NAME.flags in a checkout")
    flags.DEFINE_string("model_dir", None, "checkpoints, resolved.flags, TensorBoard logs and evaluation go here")
    flags.DEFINE_string("data_dir", None, "a dataset built by `python -m slnl_tf.data.build` (has manifest.json)")
    flags.DEFINE_bool("generate_synthetic_data", False,
                      "if --data_dir is not built yet, write a synthetic NTU-format raw dataset and build it")
    flags.DEFINE_integer("synthetic_clips", 1000, "clips in the generated synthetic dataset", lower_bound=10)
    flags.DEFINE_string("train_split", "train", "split of --data_dir to train on")
    flags.DEFINE_string("validation_split", "val", "split of --data_dir validated each epoch and choosing best.keras "
                                                   "(empty, or absent from the data: no validation; never the test split)")
    flags.DEFINE_string("eval_split", "test", "split of --data_dir the final evaluation scores (the test split)")
    flags.DEFINE_integer("epochs", 10, "training epochs", lower_bound=1)
    flags.DEFINE_integer("steps_per_epoch", None, "default: training clips / batch size", lower_bound=1)
    flags.DEFINE_integer("batch_size", 64, "global batch size, split across replicas", lower_bound=1)
    flags.DEFINE_enum("optimizer", "adamw", ["adamw", "sgd"], "optimizer (Keras 3 core)")
    flags.DEFINE_float("learning_rate", 1e-3, "peak learning rate at batch 64; scaled linearly with the global "
                                             "batch size", lower_bound=0.0)
    flags.DEFINE_enum("lr_schedule", "cosine", ["cosine", "step", "constant"], "decay after warm-up")
    flags.DEFINE_list("lr_step_epochs", ["30", "60"], "epochs where the step schedule divides the rate by 10")
    flags.DEFINE_float("warmup_epochs", 0.5, "linear warm-up length", lower_bound=0.0)
    flags.DEFINE_float("weight_decay", 1e-4, "decoupled weight decay (AdamW) / L2-like decay (SGD)",
                       lower_bound=0.0)
    flags.DEFINE_float("crop_min_ratio", 0.5, "training crop: shortest window, as a share of the valid frames",
                       lower_bound=0.05, upper_bound=1.0)
    flags.DEFINE_float("eval_crop_ratio", 0.95, "evaluation: central share of the valid frames",
                       lower_bound=0.05, upper_bound=1.0)
    flags.DEFINE_integer("eval_clips", 1, "evaluation: windows per sample whose scores are averaged", lower_bound=1)
    flags.DEFINE_bool("eval_mirror", False, "evaluation: also score each window mirrored left to right and average "
                                            "(flip testing; helps models trained with --mirror_probability)")
    flags.DEFINE_float("rotation_degrees", 0.0, "training augmentation: max rotation per axis", lower_bound=0.0)
    flags.DEFINE_list("scale_range", [], "training augmentation: min,max coordinate scale (empty: off)")
    flags.DEFINE_float("mirror_probability", 0.0, "training augmentation: share of clips mirrored left to right "
                       "(x negated, left and right joints swapped), e.g. 0.5 where either hand may lead",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                      "default: one device; mirrored: all local GPUs; multi_worker: MultiWorkerMirroredStrategy "
                      "from TF_CONFIG (several machines, docs/training.md)")
    flags.DEFINE_enum("training_loop", "auto", ["auto", "fit", "custom"],
                      "fit: Keras Model.fit; custom: a strategy.run loop (the same updates and logs); auto: fit, "
                      "custom under multi_worker, where Keras 3's fit fails (keras-team/keras#20585)")
    flags.DEFINE_enum("mixed_precision", "none", ["none", "mixed_bfloat16", "mixed_float16"],
                      "Keras dtype policy (FFT, softmax and logits stay float32)")
    flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                      "XLA: auto = on when a GPU/TPU is present, off on CPU (measured slower there)")
    flags.DEFINE_enum("skip_absent_persons", "auto", ["auto", "true", "false"],
                      "compute the layers before the first dropout once per batch for all absent (all-zero) "
                      "persons instead of once per empty person slot: same outputs and gradients, about 1.6x "
                      "faster on NTU-60's person mix; auto = on unless jit_compile (XLA cannot compile it)")
    flags.DEFINE_string("export_dir", None, "after training, write a SavedModel for TF Serving here "
                                            "(<models>/<name>/<version>); see slnl_tf/export.py")
    flags.DEFINE_string("init_checkpoint", None, "fine-tune: start from this .keras model or .weights.h5 checkpoint's "
                                                 "layers where names and shapes match (a new classifier for another "
                                                 "class count); ignored when --model_dir has checkpoints to resume")
    flags.DEFINE_integer("seed", 0, "random seed for data order, augmentation, initialisation and dropout")
    flags.DEFINE_bool("deterministic", False, "deterministic TF ops (exact reruns on CPU; slower)")


TRAINING_FLAGS = ("model_dir", "data_dir", "generate_synthetic_data", "synthetic_clips", "train_split",
                  "validation_split", "eval_split", "epochs", "steps_per_epoch", "batch_size", "optimizer", "learning_rate",
                  "lr_schedule", "lr_step_epochs", "warmup_epochs", "weight_decay", "crop_min_ratio",
                  "eval_crop_ratio", "eval_clips", "eval_mirror", "rotation_degrees", "scale_range",
                  "mirror_probability", "strategy", "training_loop", "mixed_precision", "jit_compile",
                  "skip_absent_persons", "export_dir", "init_checkpoint", "seed", "deterministic")


def distribution_problem(strategy, training_loop="auto"):
    """Why `--strategy` with `--training_loop` cannot run here, or None (no TF needed, so
    train_main can say it before any work)."""
    if strategy != "multi_worker":
        return None
    if training_loop == "fit":
        return ("--training_loop=fit cannot run --strategy=multi_worker (Keras 3's fit fails there, "
                "keras-team/keras#20585); use --training_loop=auto or custom")
    if not os.environ.get("TF_CONFIG"):
        return ("--strategy=multi_worker needs the TF_CONFIG environment variable naming the cluster's workers "
                "and this process's task (docs/training.md)")
    return None


def jit_compile_from_flag(value, accelerators):
    """Resolves --jit_compile; `accelerators` is the number of visible GPUs/TPUs."""
    if value == "auto":
        return accelerators > 0
    return value == "true"


def skip_absent_persons_from_flag(value, jit_compile):
    """Resolves --skip_absent_persons against the resolved --jit_compile (training refuses
    true with XLA)."""
    if value == "auto":
        return not jit_compile
    return value == "true"


def resolved_flagfile(config, training_flag_names=TRAINING_FLAGS):
    """A flagfile that reruns this configuration: every model field and training flag."""
    lines = [f"--preset={FLAGS.preset}"]
    for name, value in config.to_dict().items():
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        lines.append(f"--{name}={value}")
    for name in training_flag_names:
        serialized = FLAGS[name].serialize()
        if serialized:  # a None-valued flag serializes to ""
            lines.append(serialized)
    return "\n".join(lines) + "\n"


HELP_ARGUMENTS = ("--help", "-h", "-?", "--helpshort")


def config_names():
    """The names `--config` takes: the shipped flagfiles without `.flags`, e.g. ablation/loss_ce."""
    names = []
    for directory, _, files in os.walk(CONFIG_DIR):
        names += [os.path.relpath(os.path.join(directory, name), CONFIG_DIR)[: -len(".flags")]
                  for name in files if name.endswith(".flags")]
    return sorted(names)


def _config_arguments(name):
    """The arguments of the shipped flagfile `name`; a nested `--flagfile=configs/...` names a
    shipped file too, so that a config works from any directory."""
    name = name.removesuffix(".flags")
    if name not in config_names():
        raise ValueError(f"--config={name}: no such config (the configs: {', '.join(config_names())})")
    arguments = []
    with open(os.path.join(CONFIG_DIR, f"{name}.flags")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", "//")):
                continue
            if line.startswith("--flagfile=configs/"):
                arguments += _config_arguments(line[len("--flagfile=configs/"):])
            else:
                arguments.append(line)
    return arguments


def expand_config_flags(argv):
    """`argv` with each `--config=NAME` replaced by the arguments of the shipped flagfile
    (absl's own `--flagfile` reads paths relative to the working directory)."""
    expanded = []
    for argument in argv:
        if argument.startswith("--config="):
            expanded += _config_arguments(argument[len("--config="):])
        else:
            expanded.append(argument)
    return expanded


def run_and_checkpoint_arguments(argv):
    """`argv` with the leading positional `RUN [CHECKPOINT]` of evaluate and export (the
    field's `test CONFIG CHECKPOINT`) turned into flags that later flags override: RUN is a
    model_dir holding resolved.flags, or a flagfile; CHECKPOINT a .keras model or checkpoint."""
    positional = []
    while len(positional) < 2 and len(argv) > len(positional) and not argv[len(positional)].startswith("-"):
        positional.append(argv[len(positional)])
    if not positional:
        return argv
    run_path, checkpoint = positional[0], positional[1:]
    flagfile = os.path.join(run_path, "resolved.flags") if os.path.isdir(run_path) else run_path
    if not os.path.isfile(flagfile):
        raise ValueError(f"{run_path}: neither a run's model_dir (with resolved.flags) nor a flagfile")
    return [f"--flagfile={flagfile}", *(f"--checkpoint={c}" for c in checkpoint), *argv[len(positional):]]


def run(main, *key_modules, positional_run=False):
    """absl's `app.run(main)` for the project's commands. `--help` prints the command's
    documentation and its own flags (the main module's and those of `key_modules`, e.g. this
    module for the model and training flags) and exits 0 (absl lists none of a module's flags
    and exits 1); a usage error prints one line naming the problem instead of the whole help.
    `--config=NAME` reads a shipped config; with `positional_run`, `RUN [CHECKPOINT]` may lead."""
    from absl import app

    try:
        if positional_run:
            sys.argv[1:] = run_and_checkpoint_arguments(sys.argv[1:])
        sys.argv[1:] = expand_config_flags(sys.argv[1:])
    except ValueError as error:
        sys.exit(f"{os.path.basename(sys.argv[0])}: {error}")
    if main.__module__ != "__main__":  # a console script: absl's help prints __main__'s documentation
        sys.modules["__main__"].__doc__ = sys.modules[main.__module__].__doc__
    # absl's help lists the flags it keys to sys.argv[0] (its name for the main module); a
    # console script's main function lives in a module of another name.
    for module_name in {main.__module__, *(module.__name__ for module in key_modules)} - {"__main__"}:
        for flag in FLAGS.get_key_flags_for_module(module_name):
            FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    if any(argument in HELP_ARGUMENTS for argument in sys.argv[1:]):
        app.usage(shorthelp=True, writeto_stdout=True, exitcode=0)

    def main_with_one_line_usage_errors(argv):
        try:
            return main(argv)
        except app.UsageError as error:
            sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {error}\n(--help lists the flags)\n")
            sys.exit(error.exitcode)

    app.run(main_with_one_line_usage_errors)
