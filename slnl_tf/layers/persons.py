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
