import keras
import numpy as np
import pytest
import tensorflow as tf

from layer_test_helper import run_layer_test
from slnl_tf.layers import BroadcastBiasConv2D


def test_layer_contract(tmp_path):
    run_layer_test(BroadcastBiasConv2D, {"filters": 4, "kernel_size": (3, 1), "padding": "same"}, (2, 6, 5, 3),
                   (2, 6, 5, 4), expected_num_trainable_weights=2, tmp_path=tmp_path)


@pytest.mark.parametrize("activation", [None, "relu"])
def test_outputs_and_gradients_are_keras_conv2d_ones(activation):
    kwargs = {"filters": 5, "kernel_size": (3, 3), "padding": "same", "activation": activation}
    ours, keras_conv = BroadcastBiasConv2D(**kwargs), keras.layers.Conv2D(**kwargs)
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 6, 4, 3)).astype("float32"))
    ours.build(x.shape)
    keras_conv.build(x.shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in ours.weights]
    ours.set_weights(weights)
    keras_conv.set_weights(weights)

    upstream = tf.constant(rng.normal(size=(2, 6, 4, 5)).astype("float32"))

    def outputs_and_gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        return [y] + tape.gradient(loss, [x] + layer.trainable_variables)

    for got, want in zip(outputs_and_gradients(ours), outputs_and_gradients(keras_conv)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_gradient_graph_has_no_bias_add():
    # The point of the layer: no BiasAdd, whose gradient oneDNN fuses into a slow kernel.
    layer = BroadcastBiasConv2D(4, 1)
    x = tf.zeros((1, 3, 3, 2))
    layer.build(x.shape)

    @tf.function
    def gradients(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, layer.trainable_variables)

    ops = {op.type for op in gradients.get_concrete_function(x).graph.get_operations()}
    assert "Conv2DBackpropFilter" in ops
    assert not ops & {"BiasAdd", "BiasAddGrad"}, ops


def test_channels_first_is_refused():
    with pytest.raises(ValueError, match="channels_last"):
        BroadcastBiasConv2D(4, 1, data_format="channels_first")
