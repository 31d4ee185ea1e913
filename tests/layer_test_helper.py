"""One check-list every custom layer goes through (keras-hub style)."""
import json

import keras
import numpy as np


def _model_around(layer_cls, init_kwargs, input_shape):
    inputs = keras.Input(batch_shape=input_shape)
    return keras.Model(inputs, layer_cls(**init_kwargs)(inputs))


def _one_jit_training_step(model, inputs):
    outputs = model(inputs)
    targets = np.random.default_rng(1).normal(size=outputs.shape).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=True)
    before = [w.numpy().copy() for w in model.trainable_weights]
    loss = model.train_on_batch(inputs, targets)
    assert np.isfinite(loss), f"non-finite loss {loss}"
    if before:
        changed = [not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights)]
        assert any(changed), "a jit-compiled training step changed no weight"


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    expected_num_trainable_weights=None,
    mixed_output_dtype="bfloat16",
    tmp_path=None,
):
    """Checks output shape, config round trip, .keras save/load, a jit training step and
    the mixed_bfloat16 policy for one layer. `input_shape` includes the batch size."""
    inputs = np.random.default_rng(0).normal(size=input_shape).astype("float32")

    layer = layer_cls(**init_kwargs)
    outputs = layer(inputs)
    assert tuple(outputs.shape) == tuple(expected_output_shape)
    assert tuple(layer.compute_output_shape(input_shape)) == tuple(expected_output_shape)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights

    config = layer.get_config()
    json.dumps(config)
    assert layer_cls.from_config(config).get_config() == config

    model = _model_around(layer_cls, init_kwargs, input_shape)
    expected = keras.ops.convert_to_numpy(model(inputs))
    path = str(tmp_path / f"{layer_cls.__name__}.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(inputs)), expected)

    _one_jit_training_step(model, inputs)

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed_model = _model_around(layer_cls, init_kwargs, input_shape)
        mixed_outputs = mixed_model(inputs)
        assert keras.backend.standardize_dtype(mixed_outputs.dtype) == mixed_output_dtype
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(mixed_outputs, "float32"))))
        for weight in mixed_model.weights:
            assert weight.dtype == "float32", f"{weight.path} stored as {weight.dtype}"
        _one_jit_training_step(mixed_model, inputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
