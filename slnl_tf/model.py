"""Builds SLnL-rFA from a ModelConfig.

Per person (persons share weights, HCN-style), two streams - position and velocity (frame
difference) - each go through: coordinate transform (3 -> 3K) -> skeleton transform
(V -> V') -> frequency attention -> HCN stages 1-4, where stage 2 is followed by the
co-occurrence transpose (joints become channels). The two streams are concatenated for
stages 5-6. The first M1 of the six stages are SLnL blocks, the other M2 plain
convolutions. Persons are merged by max before each classifier. Three heads give the
logits `position`, `velocity` and `concat`; the loss is their sum.
"""
import keras

from slnl_tf import losses
from slnl_tf.config import ModelConfig
from slnl_tf.layers import (
    BroadcastBiasConv2D,
    CompactPersons,
    CoordinateTransform,
    ExpandPersons,
    FoldPersons,
    FrameDifference,
    FrequencyAttention,
    MaxOverPersons,
    SkeletonTransform,
    SLnLBlock,
)

OUTPUTS = ("position", "velocity", "concat")

# HCN's stage layout: (kernel, activation, dropout, max-pool by 2).
_STAGES = (
    ((1, 1), "relu", False, False),
    ((3, 1), None, False, False),
    ((3, 3), None, False, True),
    ((3, 3), None, True, True),
    ((3, 3), "relu", True, True),
    ((3, 3), "relu", True, True),
)
# Absent persons can share one computed row up to here (see CompactPersons).
_FIRST_DROPOUT_STAGE = next(index for index, stage in enumerate(_STAGES) if stage[2])


def _stage(x, index, config, prefix):
    kernel, activation, dropout, pool = _STAGES[index]
    filters = config.stage_filters[index]
    name = f"{prefix}stage{index + 1}"
    if index < config.m1:
        x = SLnLBlock(filters, kernel, axes=config.nonlocal_axes, subsample=config.nonlocal_subsample,
                      name=f"{name}_slnl")(x)
    else:
        x = BroadcastBiasConv2D(filters, kernel, padding="same", name=f"{name}_conv")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    if dropout and config.dropout:
        x = keras.layers.SpatialDropout2D(config.dropout, name=f"{name}_dropout")(x)
    if pool:
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"{name}_pool")(x)
    return x


def _stream(x, config, name, folded=None, frequency_transform="fft"):
    """Stages 1-4 of one stream. With `folded` (the batch before CompactPersons), `x` holds
    the compacted rows and is expanded to all person slots before the first dropout."""
    x = CoordinateTransform(config.coordinate_systems, name=f"{name}_coordinate_transform")(x)
    x = SkeletonTransform(config.skeleton_joints, name=f"{name}_skeleton_transform")(x)
    x = FrequencyAttention(config.attention, frequency_bias=config.frequency_bias, transform=frequency_transform,
                           name=f"{name}_frequency_attention")(x)
    for index in range(4):
        if folded is not None and index == _FIRST_DROPOUT_STAGE:
            x = ExpandPersons(name=f"{name}_expand_persons")([x, folded])
        x = _stage(x, index, config, f"{name}_")
        if index == 1:
            x = keras.layers.Permute((1, 3, 2), name=f"{name}_cooccurrence")(x)
    return x


def _classifier(x, config, name):
    # Logits in float32 whatever the mixed-precision policy.
    return keras.layers.Dense(config.num_classes, dtype="float32", name=name)(x)


def build_model(config: ModelConfig = ModelConfig(), skip_absent_persons=False,
                frequency_transform="fft") -> keras.Model:
    """SLnL-rFA as a functional Keras model.

    Input `skeleton`: float32 `(batch, C, T, V, M)`. Outputs: a dict of float32 logits
    `(batch, num_classes)` keyed `position`, `velocity`, `concat`.

    `skip_absent_persons`: compute the layers before the first dropout for the persons
    present and one absent person per batch, not for every person slot (CompactPersons).
    The outputs, gradients and weights are the model's; the batch inside then depends on
    the data, so such a model does not compile under XLA (jit_compile).

    `frequency_transform="matmul"`: the frequency attention's DFT as matrix products (the
    same weights and outputs), which LiteRT converts with its builtin ops.
    """
    inputs = keras.Input((config.channels, config.frames, config.joints, config.persons), name="skeleton")
    folded = FoldPersons(name="fold_persons")(inputs)
    per_person = CompactPersons(name="compact_persons")(folded) if skip_absent_persons else folded
    streams = {
        "position": per_person,
        "velocity": FrameDifference(name="frame_difference")(per_person),
    }
    outputs, features = {}, []
    for name, x in streams.items():
        x = _stream(x, config, name, folded if skip_absent_persons else None, frequency_transform)
        features.append(x)
        pooled = keras.layers.GlobalMaxPooling2D(name=f"{name}_pool")(x)
        pooled = MaxOverPersons(config.persons, name=f"{name}_max_persons")(pooled)
        pooled = keras.layers.Dropout(config.dropout, name=f"{name}_dropout")(pooled)
        outputs[name] = _classifier(pooled, config, name)

    x = keras.layers.Concatenate(name="concat_streams")(features)
    x = _stage(x, 4, config, "")
    x = _stage(x, 5, config, "")
    x = keras.layers.Flatten(name="flatten")(x)
    x = MaxOverPersons(config.persons, name="concat_max_persons")(x)
    x = keras.layers.Dense(config.fc_units, activation="relu", name="fc7")(x)
    x = keras.layers.Dropout(config.dropout, name="fc7_dropout")(x)
    outputs["concat"] = _classifier(x, config, "concat")
    return keras.Model(inputs, {name: outputs[name] for name in OUTPUTS}, name="slnl_rfa")


def build_losses(config: ModelConfig):
    """The configured loss for each head; Keras sums them (the pseudo multi-task loss)."""
    return {name: losses.get_loss(config.loss, config.gamma, config.margin) for name in OUTPUTS}
