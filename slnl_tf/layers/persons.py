"""Moving between per-clip tensors with M persons and per-person feature maps."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="slnl_tf")
class FoldPersons(keras.layers.Layer):
    """Turns a clip batch into a batch of single-person, channels-last sequences.

    The M persons of a clip share all weights (as in HCN), so they are folded into the
    batch axis; person m of clip b lands at row `b * M + m`.

    Shapes:
        input `(batch, C, T, V, M)` -> output `(batch * M, T, V, C)`.
    """

    def call(self, inputs):
        _, channels, frames, joints, _ = ops.shape(inputs)
        return ops.reshape(ops.transpose(inputs, (0, 4, 2, 3, 1)), (-1, frames, joints, channels))

    def compute_output_shape(self, input_shape):
        batch, channels, frames, joints, persons = input_shape
        return (None if batch is None else batch * persons, frames, joints, channels)


@keras.saving.register_keras_serializable(package="slnl_tf")
class MaxOverPersons(keras.layers.Layer):
    """Merges the per-person features of each clip by an elementwise max (HCN's choice).

    Args:
        num_persons: M, the number of persons folded by `FoldPersons`.

    Shapes:
        input `(batch * M, ...)` -> output `(batch, ...)`.
    """

    def __init__(self, num_persons, **kwargs):
        super().__init__(**kwargs)
        self.num_persons = int(num_persons)

    def call(self, inputs):
        per_clip = ops.reshape(inputs, (-1, self.num_persons) + tuple(inputs.shape[1:]))
        return ops.max(per_clip, axis=1)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        return (None if batch is None else batch // self.num_persons,) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(num_persons=self.num_persons)
        return config


def holds_a_person(per_person):
    """Which rows of a folded batch `(rows, T, V, C)` hold a person: absent ones are all zeros."""
    return ops.any(ops.not_equal(per_person, 0), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="slnl_tf")
class CompactPersons(keras.layers.Layer):
    """Keeps the rows of a folded batch that hold a person, and one absent row.

    An absent person is all zeros and persons share every weight, so up to the first layer
    that draws random numbers (dropout) all absent persons of a batch have the same
    features: one absent row stands for all of them, and `ExpandPersons` copies its
    features back into their slots. The output has a batch size that depends on the data,
    which XLA cannot compile: training uses this pair only with `jit_compile` off.

    Shapes:
        input `(rows, T, V, C)` -> output `(present + min(1, absent), T, V, C)`: the
        present rows in order, then the first absent row if there is one.
    """

    def call(self, per_person):
        present = holds_a_person(per_person)
        # The first absent row is zeros already: taking it needs no new tensor, and a batch
        # with nobody present keeps one row (oneDNN's convolution fails on an empty batch).
        kept = ops.concatenate([ops.where(present)[0], ops.where(ops.logical_not(present))[0][:1]], axis=0)
        return ops.take(per_person, kept, axis=0)

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[1:])


@keras.saving.register_keras_serializable(package="slnl_tf")
class ExpandPersons(keras.layers.Layer):
    """Puts features computed by the rows of `CompactPersons` back into every person slot.

    Inputs: `[features, per_person]`, the features of the compacted rows `(kept, ...)` and
    the folded batch `(rows, T, V, C)` that `CompactPersons` compacted (it says which rows
    were present). Output `(rows, ...)`: row i has the features of its person, or, for an
    absent person, those of the one absent row kept (the last).
    """

    def call(self, inputs):
        features, per_person = inputs
        present = ops.cast(holds_a_person(per_person), "int32")
        slots = ops.where(present > 0, ops.cumsum(present) - 1, ops.sum(present))
        return ops.take(features, slots, axis=0)

    def compute_output_shape(self, input_shape):
        features_shape, per_person_shape = input_shape
        return (per_person_shape[0],) + tuple(features_shape[1:])
