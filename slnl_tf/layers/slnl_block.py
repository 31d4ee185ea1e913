"""The SLnL block: a local convolution and non-local attention in parallel."""
import keras

from slnl_tf.layers.broadcast_bias_conv2d import BroadcastBiasConv2D
from slnl_tf.layers.non_local_attention import AXES, NonLocalAttention


@keras.saving.register_keras_serializable(package="slnl_tf")
class SLnLBlock(keras.layers.Layer):
    """Synchronous local and non-local learning on one input.

    `y = conv(x) + sum_{a in axes} NL_a(x)`: the local path is the stage's convolution
    (what a plain local block would be), and each non-local path (`NonLocalAttention`
    along `time` = tSLnL, `space` = sSLnL, `spacetime` = stSLnL) reads the same input. The
    sum is the non-local paper's residual form; with the non-local output maps
    zero-initialised, the block starts as the plain local block.

    Args:
        filters: output channels of the block.
        kernel_size: kernel of the local convolution ('same' padding).
        axes: the non-local paths, a non-empty subset of `time`, `space`, `spacetime`.
        embed_dim: width E of the non-local embeddings; default `max(1, filters // 2)`
            (Wang et al.'s half-width bottleneck).
        subsample: max-pool the non-local keys/values by 2 (see `NonLocalAttention`).
        nonlocal_output_initializer: initializer of the non-local output maps.

    Shapes:
        input `(batch, T, W, C)` -> output `(batch, T, W, filters)`.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        axes=AXES,
        embed_dim=None,
        subsample=False,
        nonlocal_output_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        axes = tuple(axes)
        if not axes or any(a not in AXES for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"axes must be a non-empty subset of {AXES} without repeats, got {axes!r}")
        self.filters = int(filters)
        self.kernel_size = tuple(kernel_size) if isinstance(kernel_size, (list, tuple)) else (kernel_size,) * 2
        self.axes = axes
        self.embed_dim = int(embed_dim) if embed_dim else max(1, self.filters // 2)
        self.subsample = subsample
        # Stored serialized so that get_config stays JSON-able for any initializer given.
        self.nonlocal_output_initializer = keras.initializers.serialize(
            keras.initializers.get(nonlocal_output_initializer)
        )
        self.local = BroadcastBiasConv2D(
            self.filters, self.kernel_size, padding="same", dtype=self.dtype_policy, name="local"
        )
        self.non_local = [
            NonLocalAttention(
                axis,
                self.embed_dim,
                self.filters,
                subsample=subsample,
                output_kernel_initializer=self.nonlocal_output_initializer,
                use_bias=False,  # the local convolution's bias is the sum's
                dtype=self.dtype_policy,
                name=f"non_local_{axis}",
            )
            for axis in axes
        ]

    def build(self, input_shape):
        self.local.build(input_shape)
        for path in self.non_local:
            path.build(input_shape)

    def call(self, inputs):
        outputs = self.local(inputs)
        for path in self.non_local:
            outputs = outputs + path(inputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            axes=self.axes,
            embed_dim=self.embed_dim,
            subsample=self.subsample,
            nonlocal_output_initializer=self.nonlocal_output_initializer,
        )
        return config
