"""Velocity stream: frame differences resized back to the clip length."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="slnl_tf")
class FrameDifference(keras.layers.Layer):
    """`x[t + 1] - x[t]` (T - 1 frames), linearly resized along time back to T frames.

    The resize uses half-pixel centres, which is what HCN does with
    `F.upsample(..., mode='bilinear', align_corners=False)`. A person absent from the clip
    (all zeros) stays all zeros.

    Shapes:
        input `(batch, T, V, C)` with T >= 2 -> output `(batch, T, V, C)`.
    """

    def call(self, inputs):
        frames, joints = inputs.shape[1], inputs.shape[2]
        velocity = inputs[:, 1:] - inputs[:, :-1]
        return ops.image.resize(velocity, (frames, joints), interpolation="bilinear", antialias=False)

    def compute_output_shape(self, input_shape):
        return input_shape
