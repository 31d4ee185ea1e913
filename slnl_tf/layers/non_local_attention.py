"""Embedded-Gaussian non-local attention (Wang et al., CVPR 2018) along time, space or both."""
import keras
from keras import ops

AXES = ("time", "space", "spacetime")


def attention_weights(query, key):
    """softmax over keys of `query . key`, in float32: `(groups, queries, keys)`."""
    scores = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
    return ops.softmax(ops.cast(scores, "float32"), axis=-1)


def _transposed_times(scores, small):
    """`scores^T small` for scores `(groups, queries, keys)` and small `(groups, queries, E)`,
    computed as `(small^T scores)^T`: Eigen's batched matmul (TensorFlow without oneDNN)
    reads a score-sized operand transposed at about half the speed, and the transposes here
    are of E-wide tensors (bench/RESULTS.md, change 16)."""
    return ops.transpose(ops.matmul(ops.transpose(small, (0, 2, 1)), scores), (0, 2, 1))


def max_over_pairs(x, axis):
    """Max over consecutive pairs along `axis` (1 or 2) of `(batch, T, W, C)`, an odd length
    padded at the end as 'same' max-pooling pads: `max_pool` by 2 along one axis. Its
    gradient, a max's, is faster than TensorFlow's Eigen MaxPoolGrad (bench/RESULTS.md,
    change 17); the spacetime path's 2 x 2 pooling keeps `max_pool`, faster there. Tied
    values share the gradient, where MaxPoolGrad gives it to one of them."""
    length = x.shape[axis]
    if length % 2:
        padding = [(0, 0)] * 4
        padding[axis] = (0, 1)
        x = ops.pad(x, padding, constant_values=float("-inf"))
        length += 1
    shape = [-1, *x.shape[1:]]
    shape[axis : axis + 1] = [length // 2, 2]
    return ops.max(ops.reshape(x, shape), axis=axis + 1)


@ops.custom_gradient
def attend(query, key, value):
    """`softmax(query key^T) value`: `(groups, queries, E)` from queries `(groups, queries, E)`
    and keys, values `(groups, keys, E)`.

    The gradient is written out because autodiff's softmax backward makes four passes
    over the (queries x keys) tensors (multiply, row sum, subtract, multiply), the
    memory-bound bulk of a training step. Here the row sums `r_i = sum_j P_ij dP_ij` are
    taken as `dO_i . O_i` (equal, since `O = P V`) over the small `(queries, E)` tensors,
    and `dP - r` comes out of one matmul, `(dO, -r) . (V, 1)^T`, which leaves a single
    elementwise pass, the product with P (bench/RESULTS.md, change 2).
    """
    weights = attention_weights(query, key)
    weights_in_value_dtype = ops.cast(weights, value.dtype)
    attended = ops.matmul(weights_in_value_dtype, value)

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        row_sums = ops.sum(ops.cast(upstream, "float32") * ops.cast(attended, "float32"), axis=-1, keepdims=True)
        upstream_and_row_sums = ops.concatenate([upstream, ops.cast(-row_sums, upstream.dtype)], axis=-1)
        value_and_ones = ops.concatenate([value, ops.ones_like(value[..., :1])], axis=-1)
        centred = ops.matmul(upstream_and_row_sums, ops.transpose(value_and_ones, (0, 2, 1)))
        # P in the compute dtype, as the forward matmul used it: under mixed precision the
        # float32 softmax output is then not kept for the backward (2 of 6 bytes per score).
        d_scores = ops.cast(weights_in_value_dtype * centred, query.dtype)
        return (ops.matmul(d_scores, key), _transposed_times(d_scores, query),
                _transposed_times(weights_in_value_dtype, upstream))

    return attended, gradient


@keras.saving.register_keras_serializable(package="slnl_tf")
class NonLocalAttention(keras.layers.Layer):
    """`y_i = sum_j softmax_j(theta(x_i) . phi(x_j) / sqrt(E)) g(x_j)`, then `W_z y`.

    Positions are the cells of the (T, W) grid of a channels-last feature map. `axis`
    picks which positions attend to each other:

    - `time`: each position attends to all frames of its own column (same joint/feature).
    - `space`: each position attends to all columns of its own frame.
    - `spacetime`: each position attends to all T*W positions.

    theta, phi, g and W_z are 1x1 maps (no positional term, so the layer is
    permutation-equivariant along the attended axis when `subsample` is off). The
    1/sqrt(E) scale is ours: it keeps the softmax from saturating at init. The softmax
    runs in float32 under mixed precision. `W_z` is zero-initialised by default (as Wang
    et al. zero the last BN), so an SLnL block starts as its local convolution.

    Args:
        axis: `time`, `space` or `spacetime`.
        embed_dim: E, width of theta / phi / g.
        output_dim: channels of the output (W_z maps E -> output_dim).
        subsample: max-pool keys and values by 2 along the attended axes (Wang et al.'s
            sub-sampling trick; cuts the attention cost 2x / 4x).
        output_kernel_initializer: initializer of W_z.
        use_bias: add a bias after W_z. `SLnLBlock` turns it off: its local
            convolution's bias already covers the sum, and each redundant bias cost a
            pass over the output and a reduction in the backward.

    Call arguments:
        inputs: `(batch, T, W, C)`.
        return_attention_scores: also return the softmax weights, float32, shaped
            `(groups, queries, keys)`: groups = batch*W for `time`, batch*T for `space`,
            batch for `spacetime`.

    Shapes:
        input `(batch, T, W, C)` -> output `(batch, T, W, output_dim)`.
    """

    def __init__(
        self, axis, embed_dim, output_dim, subsample=False, output_kernel_initializer="zeros", use_bias=True,
        **kwargs
    ):
        super().__init__(**kwargs)
        if axis not in AXES:
            raise ValueError(f"axis must be one of {AXES}, got {axis!r}")
        self.axis = axis
        self.embed_dim = int(embed_dim)
        self.output_dim = int(output_dim)
        self.subsample = subsample
        self.use_bias = use_bias
        self.output_kernel_initializer = keras.initializers.get(output_kernel_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.qkv_kernel = self.add_weight(
            name="qkv_kernel", shape=(channels, 3 * self.embed_dim), initializer="glorot_uniform"
        )
        self.output_kernel = self.add_weight(
            name="output_kernel", shape=(self.embed_dim, self.output_dim), initializer=self.output_kernel_initializer
        )
        if self.use_bias:
            self.output_bias = self.add_weight(name="output_bias", shape=(self.output_dim,), initializer="zeros")

    def _subsample(self, embedded):
        """Max-pooling by 2 ('same' padding) along the attended axes."""
        if self.axis == "spacetime":
            return ops.max_pool(embedded, pool_size=(2, 2), strides=(2, 2), padding="same")
        return max_over_pairs(embedded, 1 if self.axis == "time" else 2)

    def _to_sequences(self, embedded):
        """(B, T, W, E) -> (groups, positions, E) for the chosen axis."""
        _, frames, width, _ = ops.shape(embedded)
        if self.axis == "time":
            embedded = ops.transpose(embedded, (0, 2, 1, 3))
            return ops.reshape(embedded, (-1, frames, self.embed_dim))
        if self.axis == "space":
            return ops.reshape(embedded, (-1, width, self.embed_dim))
        return ops.reshape(embedded, (-1, frames * width, self.embed_dim))

    def _project(self, inputs):
        """(query, key, value) sequences `(groups, positions, E)`, queries scaled by 1/sqrt(E)."""
        # Two matmuls on slices of the one kernel instead of one matmul and a split: the
        # split (and its gradient, a concat) copied all three full-size embeddings, while
        # keys and values are split here after max-pooling, one op for both. The 1/sqrt(E)
        # scale goes on the (C, E) kernel slice, not on the queries (bench/RESULTS.md).
        embed = self.embed_dim
        query = ops.matmul(inputs, self.qkv_kernel[:, :embed] * ops.cast(embed**-0.5, self.qkv_kernel.dtype))
        key_value = ops.matmul(inputs, self.qkv_kernel[:, embed:])
        if self.subsample:
            key_value = self._subsample(key_value)
        key, value = ops.split(key_value, 2, axis=-1)
        return tuple(self._to_sequences(t) for t in (query, key, value))

    def call(self, inputs, return_attention_scores=False):
        batch, frames, width, _ = ops.shape(inputs)
        query, key, value = self._project(inputs)
        attended = attend(query, key, value)
        if self.axis == "time":
            attended = ops.transpose(ops.reshape(attended, (batch, width, frames, self.embed_dim)), (0, 2, 1, 3))
        else:
            attended = ops.reshape(attended, (batch, frames, width, self.embed_dim))
        outputs = ops.matmul(attended, self.output_kernel)
        if self.use_bias:
            outputs = outputs + self.output_bias
        if return_attention_scores:
            return outputs, attention_weights(query, key)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def attention_weight_count(self, input_shape):
        """Attention weights (query-key pairs) per example of an input `(batch, T, W, C)`:
        the size of the score tensor, which a training step writes and reads several times
        (what bounds the training rate where memory is the limit)."""
        _, frames, width, _ = input_shape
        # Max-pooling by 2 with 'same' padding leaves ceil(n / 2) keys along a pooled axis.
        key_frames, key_width = ((frames + 1) // 2, (width + 1) // 2) if self.subsample else (frames, width)
        if self.axis == "time":
            return width * frames * key_frames
        if self.axis == "space":
            return frames * width * key_width
        return frames * width * key_frames * key_width

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis,
            embed_dim=self.embed_dim,
            output_dim=self.output_dim,
            subsample=self.subsample,
            output_kernel_initializer=keras.initializers.serialize(self.output_kernel_initializer),
            use_bias=self.use_bias,
        )
        return config
