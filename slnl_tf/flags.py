"""The project's absl flags, in one module. Every ModelConfig field is a flag of the same
name; `--preset` picks the base config and explicitly set flags override it."""
import dataclasses

from absl import flags

from slnl_tf.config import PRESETS, ModelConfig

FLAGS = flags.FLAGS

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


def model_config_from_flags():
    """The preset with every explicitly given model flag applied; a bad value raises
    ValueError naming the flag."""
    base = PRESETS[FLAGS.preset]
    changes = {}
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


def define_training_flags():
    """Flags of train_main.py (idempotent)."""
    if "model_dir" in FLAGS:
        return
    define_model_flags()
    flags.DEFINE_string("model_dir", None, "where checkpoints, the resolved flagfile and logs go", required=False)
    flags.DEFINE_enum("dataset", "synthetic", ["synthetic"], "training data; 'synthetic' is generated on the fly")
    flags.DEFINE_integer("synthetic_train_clips", 800, "clips in the synthetic training set", lower_bound=1)
    flags.DEFINE_integer("synthetic_test_clips", 200, "clips in the synthetic test set", lower_bound=1)
    flags.DEFINE_integer("epochs", 10, "training epochs", lower_bound=1)
    flags.DEFINE_integer("batch_size", 64, "global batch size", lower_bound=1)
    flags.DEFINE_float("learning_rate", 1e-3, "peak learning rate (AdamW)", lower_bound=0.0)
    flags.DEFINE_float("weight_decay", 1e-4, "AdamW decoupled weight decay", lower_bound=0.0)
    flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"],
                      "XLA: auto = on when a GPU/TPU is present, off on CPU (measured slower there)")
    flags.DEFINE_integer("seed", 0, "random seed for data, initialisation and dropout")


def jit_compile_from_flag(value, accelerators):
    """Resolves --jit_compile; `accelerators` is the number of visible GPUs/TPUs."""
    if value == "auto":
        return accelerators > 0
    return value == "true"


def resolved_flagfile(config, training_flag_names):
    """A flagfile that reruns this configuration: every model field and training flag."""
    lines = [f"--preset={FLAGS.preset}"]
    for name, value in config.to_dict().items():
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        lines.append(f"--{name}={value}")
    lines += [f"--{name}={FLAGS[name].serialize().split('=', 1)[1]}" for name in training_flag_names]
    return "\n".join(lines) + "\n"
