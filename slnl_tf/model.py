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
    CoordinateTransform,
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


def _stage(x, index, config, prefix):
    kernel, activation, dropout, pool = _STAGES[index]
    filters = config.stage_filters[index]
    name = f"{prefix}stage{index + 1}"
    if index < config.m1:
        x = SLnLBlock(filters, kernel, axes=config.nonlocal_axes, subsample=config.nonlocal_subsample,
                      name=f"{name}_slnl")(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, padding="same", name=f"{name}_conv")(x)
    if activation:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    if dropout and config.dropout:
        x = keras.layers.SpatialDropout2D(config.dropout, name=f"{name}_dropout")(x)
    if pool:
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"{name}_pool")(x)
    return x


def _stream(x, config, name):
    x = CoordinateTransform(config.coordinate_systems, name=f"{name}_coordinate_transform")(x)
    x = SkeletonTransform(config.skeleton_joints, name=f"{name}_skeleton_transform")(x)
    x = FrequencyAttention(config.attention, frequency_bias=config.frequency_bias,
                           name=f"{name}_frequency_attention")(x)
    x = _stage(x, 0, config, f"{name}_")
    x = _stage(x, 1, config, f"{name}_")
    x = keras.layers.Permute((1, 3, 2), name=f"{name}_cooccurrence")(x)
    x = _stage(x, 2, config, f"{name}_")
    return _stage(x, 3, config, f"{name}_")


def _classifier(x, config, name):
    # Logits in float32 whatever the mixed-precision policy.
    return keras.layers.Dense(config.num_classes, dtype="float32", name=name)(x)


def build_model(config: ModelConfig = ModelConfig()) -> keras.Model:
    """SLnL-rFA as a functional Keras model.

    Input `skeleton`: float32 `(batch, C, T, V, M)`. Outputs: a dict of float32 logits
    `(batch, num_classes)` keyed `position`, `velocity`, `concat`.
    """
    inputs = keras.Input((config.channels, config.frames, config.joints, config.persons), name="skeleton")
    per_person = FoldPersons(name="fold_persons")(inputs)
    streams = {
        "position": per_person,
        "velocity": FrameDifference(name="frame_difference")(per_person),
    }
    outputs, features = {}, []
    for name, x in streams.items():
        x = _stream(x, config, name)
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
