"""Learned coordinate transform: 3 coordinates -> K learned coordinate systems."""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="slnl_tf")
class CoordinateTransform(keras.layers.Layer):
    """Maps each joint's C coordinates to C*K values: K learned affine coordinate systems.

    This is the paper's `R^{3 x T x N} -> R^{3K x T x N}` (a 1x1 convolution over
    channels). The kernel is initialised with the first system equal to the identity and
    the others as identity plus noise, so the untrained layer keeps the input coordinates.

    Args:
        num_systems: K, the number of coordinate systems (>= 1).
        use_bias: whether each system has a translation.
        noise_stddev: std of the noise added to the identity for systems 2..K at init.

    Shapes:
        input `(batch, T, V, C)` -> output `(batch, T, V, C * num_systems)`.
    """

    def __init__(self, num_systems, use_bias=True, noise_stddev=0.1, **kwargs):
        super().__init__(**kwargs)
        if int(num_systems) < 1:
            raise ValueError(f"num_systems must be >= 1, got {num_systems}")
        self.num_systems = int(num_systems)
        self.use_bias = use_bias
        self.noise_stddev = noise_stddev

    def build(self, input_shape):
        channels = input_shape[-1]

        def identity_plus_noise(shape, dtype=None):
            eye = ops.tile(ops.eye(channels, dtype=dtype), (1, self.num_systems))
            noise = keras.random.normal(shape, stddev=self.noise_stddev, dtype=dtype)
            first_is_exact = ops.concatenate(
                [ops.zeros((channels, channels), dtype), ops.ones((channels, shape[1] - channels), dtype)],
                axis=1,
            )
            return eye + noise * first_is_exact

        self.kernel = self.add_weight(
            name="kernel", shape=(channels, channels * self.num_systems), initializer=identity_plus_noise
        )
        self.bias = (
            self.add_weight(name="bias", shape=(channels * self.num_systems,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] * self.num_systems,)

    def get_config(self):
        config = super().get_config()
        config.update(num_systems=self.num_systems, use_bias=self.use_bias, noise_stddev=self.noise_stddev)
        return config
