"""Learned skeleton transform: N joints -> N' learned joints."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="slnl_tf")
class SkeletonTransform(keras.layers.Layer):
    """Replaces the V joints by V' learned linear combinations of them.

    The paper's `R^{3K x T x N} -> R^{3K x T x N'}`: one (V, V') matrix shared by all
    frames and channels. Initialised so that the first min(V, V') output joints copy the
    input joints (plus small noise) and the rest are small random mixtures, so training
    starts from the plain skeleton.

    Args:
        num_joints: V', the number of output joints (>= 1).
        noise_stddev: std of the noise added to the identity at init.

    Shapes:
        input `(batch, T, V, C)` -> output `(batch, T, num_joints, C)`.
    """

    def __init__(self, num_joints, noise_stddev=0.05, **kwargs):
        super().__init__(**kwargs)
        if int(num_joints) < 1:
            raise ValueError(f"num_joints must be >= 1, got {num_joints}")
        self.num_joints = int(num_joints)
        self.noise_stddev = noise_stddev

    def build(self, input_shape):
        def identity_plus_noise(shape, dtype=None):
            return ops.eye(shape[0], shape[1], dtype=dtype) + keras.random.normal(
                shape, stddev=self.noise_stddev, dtype=dtype
            )

        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[2], self.num_joints), initializer=identity_plus_noise
        )

    def call(self, inputs):
        # (B, T, V, C) -> (B, T, C, V) @ (V, V') -> (B, T, C, V') -> (B, T, V', C); matmul
        # (not einsum) so that the TF profiler counts its FLOPs.
        mixed = ops.matmul(ops.transpose(inputs, (0, 1, 3, 2)), self.kernel)
        return ops.transpose(mixed, (0, 1, 3, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.num_joints, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update(num_joints=self.num_joints, noise_stddev=self.noise_stddev)
        return config
