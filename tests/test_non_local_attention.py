import keras
import numpy as np
import pytest

from layer_test_helper import run_layer_test
from slnl_tf.layers import NonLocalAttention
from slnl_tf.layers.non_local_attention import AXES

SHAPE = (4, 6, 5, 8)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("subsample,use_bias", [(False, True), (True, True), (True, False)])
def test_layer_contract(axis, subsample, use_bias, tmp_path):
    run_layer_test(
        NonLocalAttention,
        {"axis": axis, "embed_dim": 4, "output_dim": 7, "subsample": subsample,
         "output_kernel_initializer": "glorot_uniform", "use_bias": use_bias},
        SHAPE, SHAPE[:3] + (7,), expected_num_trainable_weights=3 if use_bias else 2, tmp_path=tmp_path,
    )


def _layer(axis, subsample=False):
    layer = NonLocalAttention(axis, 4, 7, subsample=subsample, output_kernel_initializer="glorot_uniform")
    layer.build(SHAPE)
    return layer


@pytest.mark.parametrize("axis", ["time", "spacetime"])
def test_permuting_frames_permutes_the_output(axis):
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    order = np.random.default_rng(1).permutation(SHAPE[1])
    layer = _layer(axis)
    np.testing.assert_allclose(layer(x[:, order]).numpy(), layer(x).numpy()[:, order], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", ["space", "spacetime"])
def test_permuting_columns_permutes_the_output(axis):
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    order = np.random.default_rng(1).permutation(SHAPE[2])
    layer = _layer(axis)
    np.testing.assert_allclose(layer(x[:, :, order]).numpy(), layer(x).numpy()[:, :, order], rtol=1e-5, atol=1e-5)


def test_time_attention_does_not_mix_columns():
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    changed = x.copy()
    changed[:, :, 0] += 1.0
    layer = _layer("time")
    np.testing.assert_allclose(layer(changed).numpy()[:, :, 1:], layer(x).numpy()[:, :, 1:], atol=1e-6)


@pytest.mark.parametrize("axis,keys", [("time", 6), ("space", 5), ("spacetime", 30)])
@pytest.mark.parametrize("subsample", [False, True])
def test_attention_rows_sum_to_one(axis, keys, subsample):
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    _, weights = _layer(axis, subsample)(x, return_attention_scores=True)
    weights = weights.numpy()
    expected_keys = {"time": 3, "space": 3, "spacetime": 9}[axis] if subsample else keys
    assert weights.shape[-1] == expected_keys
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_matches_a_numpy_reference_for_spacetime():
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    layer = _layer("spacetime")
    qkv = x.reshape(4, 30, 8) @ layer.qkv_kernel.numpy()
    q, k, v = np.split(qkv, 3, axis=-1)
    s = q @ k.transpose(0, 2, 1) / 2.0
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    expected = (a @ v) @ layer.output_kernel.numpy() + layer.output_bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected.reshape(4, 6, 5, 7), rtol=1e-4, atol=1e-5)


def test_default_output_map_is_zero_so_the_block_starts_local():
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    assert not np.any(NonLocalAttention("time", 4, 7)(x).numpy())


def test_softmax_runs_in_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    outputs, weights = NonLocalAttention("spacetime", 4, 7)(x, return_attention_scores=True)
    assert outputs.dtype == "bfloat16" and weights.dtype == "float32"
    # bfloat16 sums would be off by ~1e-2.
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, atol=1e-5)


def test_rejects_unknown_axis():
    with pytest.raises(ValueError, match="axis"):
        NonLocalAttention("channel", 4, 7)


@pytest.mark.parametrize("dtype,tolerance", [("float32", 1e-5), ("bfloat16", 2e-2)])
def test_written_out_gradient_is_as_close_to_the_exact_one_as_autodiff_of_the_plain_formula(dtype, tolerance):
    """Both gradients against autodiff of the plain formula in float64, each within
    `tolerance` of the largest gradient: in bfloat16 the two differ from the exact one by
    a few of its units in the last place (2^-8 relative), by how much depends on the CPU's
    bf16 matmul (AVX-512 BF16 or emulated), so they are not compared with each other."""
    import tensorflow as tf

    from slnl_tf.layers.non_local_attention import attend

    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(3, n, 4)) for n in (10, 6, 6)]
    upstream = rng.normal(size=(3, 10, 4))

    def plain(query, key, value):
        weights = tf.nn.softmax(tf.cast(tf.matmul(query, key, transpose_b=True), "float32"), axis=-1)
        return tf.matmul(tf.cast(weights, query.dtype), value)

    def exact(query, key, value):
        return tf.matmul(tf.nn.softmax(tf.matmul(query, key, transpose_b=True), axis=-1), value)

    def gradients(function, dtype):
        query, key, value = (tf.constant(array, dtype) for array in arrays)
        with tf.GradientTape() as tape:
            tape.watch([query, key, value])
            output = function(query, key, value)
        assert output.dtype == dtype
        found = tape.gradient(output, [query, key, value], output_gradients=tf.constant(upstream, dtype))
        assert all(gradient.dtype == dtype for gradient in found)
        return [tf.cast(gradient, "float64").numpy() for gradient in found]

    references = gradients(exact, "float64")
    for function in (attend, plain):
        for found, reference in zip(gradients(function, dtype), references):
            np.testing.assert_allclose(found, reference, rtol=0, atol=tolerance * np.abs(reference).max())


def test_the_gradient_reads_no_score_sized_tensor_transposed():
    # oneDNN's batched matmul reads a transposed score-sized operand at about half its speed
    # (bench/RESULTS.md change 16), so the gradient transposes only the E-wide tensors.
    import tensorflow as tf

    from slnl_tf.layers.non_local_attention import attend

    @tf.function
    def gradients(query, key, value):
        with tf.GradientTape() as tape:
            tape.watch([query, key, value])
            output = attend(query, key, value)
        return tape.gradient(output, [query, key, value])

    graph = gradients.get_concrete_function(tf.zeros((3, 10, 4)), tf.zeros((3, 6, 4)), tf.zeros((3, 6, 4))).graph
    scores = {(3, 10, 6), (3, 6, 10)}
    matmuls = [op for op in graph.get_operations() if op.type.startswith("BatchMatMul")]
    assert len(matmuls) == 6  # forward: scores, output; backward: (dO, -r)(V, 1)^T, dQ, dK, dV
    for op in graph.get_operations():
        shapes = {tuple(tensor.shape) for tensor in op.inputs}
        if op.type == "Transpose":
            assert not shapes & scores, op
        if op in matmuls and shapes & scores:
            assert not (op.get_attr("adj_x") or op.get_attr("adj_y")), op


@pytest.mark.parametrize("length", [6, 5])
def test_max_over_pairs_is_max_pooling_by_two_along_one_axis(length):
    from slnl_tf.layers.non_local_attention import max_over_pairs

    x = np.random.default_rng(0).normal(size=(2, length, length + 2, 3)).astype("float32")
    for axis, pool in ((1, (2, 1)), (2, (1, 2))):
        expected = keras.ops.max_pool(x, pool_size=pool, strides=pool, padding="same")
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(max_over_pairs(x, axis)),
                                      keras.ops.convert_to_numpy(expected))


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("subsample", [False, True])
def test_attention_weight_count_is_the_score_tensor_size(axis, subsample):
    # SHAPE's odd width checks the key count of a 'same' max-pool (ceil).
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    _, weights = _layer(axis, subsample)(x, return_attention_scores=True)
    assert _layer(axis, subsample).attention_weight_count(SHAPE) == weights.numpy().size // SHAPE[0]
