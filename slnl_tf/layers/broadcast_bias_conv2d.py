"""Conv2D whose bias is a broadcasting add, not a BiasAdd."""
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="slnl_tf")
class BroadcastBiasConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` (same arguments, weights and outputs) that adds its bias with
    `tf.add`. Keras' Conv2D adds it with `ops.add`, which on the TensorFlow backend emits
    `tf.nn.bias_add` for a bias-shaped operand.

    Why: on CPU, TensorFlow's oneDNN graph rewrite fuses BiasAdd's gradient (BiasAddGrad)
    into the filter gradient, and that fused kernel is slower than the filter gradient and
    a separate sum (bench/RESULTS.md, change 12). The forward is fused with the add either way.

    Shapes: input `(batch, H, W, C)` -> output `(batch, H', W', filters)` ('channels_last').
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(f"BroadcastBiasConv2D needs data_format='channels_last', got {self.data_format!r}")

    def call(self, inputs):
        outputs = self.convolution_op(inputs, self.kernel)
        if self.use_bias:
            outputs = tf.add(outputs, self.bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs
