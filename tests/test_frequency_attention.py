import keras
import numpy as np
import pytest

from layer_test_helper import run_layer_test
from slnl_tf.layers import FrequencyAttention
from slnl_tf.layers.frequency_attention import ATTENTION_NETWORKS, VARIANTS

SHAPE = (4, 8, 5, 3)


@pytest.mark.parametrize("variant", VARIANTS)
def test_layer_contract(variant, tmp_path):
    # FFT and masks stay float32 under mixed_bfloat16: the output is float32.
    run_layer_test(
        FrequencyAttention, {"variant": variant}, SHAPE, SHAPE,
        expected_num_trainable_weights=2 * ATTENTION_NETWORKS[variant],
        mixed_output_dtype="float32", tmp_path=tmp_path,
    )


def _open_all_masks(layer):
    for kernel, bias in layer.attention_networks:
        kernel.assign(np.zeros(kernel.shape, "float32"))
        bias.assign(np.full(bias.shape, 30.0, "float32"))  # sigmoid(30) == 1.0 in float32


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_residual_with_all_masks_one_doubles_the_input(policy):
    keras.mixed_precision.set_global_policy(policy)
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    layer = FrequencyAttention("residual")
    layer.build(SHAPE)
    _open_all_masks(layer)
    y = layer(x)
    assert y.dtype == "float32"
    np.testing.assert_allclose(y.numpy(), 2 * x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", ["amplitude", "shared", "dependent"])
def test_non_residual_variants_with_all_masks_one_are_identity(variant):
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    layer = FrequencyAttention(variant)
    layer.build(SHAPE)
    _open_all_masks(layer)
    np.testing.assert_allclose(layer(x).numpy(), x, rtol=1e-5, atol=1e-5)


def test_variants_differ_in_parameters_as_documented():
    counts = {}
    for variant in VARIANTS:
        layer = FrequencyAttention(variant)
        layer.build(SHAPE)
        counts[variant] = layer.count_params()
    per_network = 3 * 3 + 3 * 8 * 5
    assert counts == {v: ATTENTION_NETWORKS[v] * per_network for v in VARIANTS}
    assert counts["none"] == 0 < counts["amplitude"] == counts["shared"] < counts["dependent"] == counts["residual"]


def test_variants_compute_different_functions():
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    # With zero biases the imaginary-part mask is 0.5 + an odd function of the odd
    # spectrum Im F, and only its constant 0.5 reaches the real output, so random biases
    # are needed to tell `shared` from `dependent`.
    outputs = {}
    for variant in VARIANTS:
        keras.utils.set_random_seed(3)
        layer = FrequencyAttention(variant)
        layer.build(SHAPE)
        rng = np.random.default_rng(4)
        for _, bias in layer.attention_networks:
            bias.assign(rng.normal(size=bias.shape).astype("float32"))
        outputs[variant] = layer(x).numpy()
    np.testing.assert_array_equal(outputs["none"], x)
    names = list(VARIANTS)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not np.allclose(outputs[a], outputs[b], atol=1e-4), (a, b)


def test_closed_mask_on_one_frequency_removes_exactly_that_frequency():
    # Masks are 1 everywhere except frequency (u, w) = (1, 0), where they are 0: the
    # dependent variant must return the input with that Fourier component removed.
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    layer = FrequencyAttention("dependent")
    layer.build(SHAPE)
    _open_all_masks(layer)
    for _, bias in layer.attention_networks:
        value = bias.numpy()
        value[:, 1, 0] = -30.0
        bias.assign(value)
    spectrum = np.fft.fft2(x.transpose(0, 3, 1, 2))
    spectrum[:, :, 1, 0] = 0
    expected = np.fft.ifft2(spectrum).real.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        FrequencyAttention("phase")


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "none"])
def test_the_matmul_dft_gives_the_fft_layers_output_and_masks(variant):
    """The LiteRT-convertible form (the 2-D DFT as products with cos/sin matrices) against
    tf.signal's FFT, with trained-like (random) weights, an odd and an even length."""
    rng = np.random.default_rng(1)
    for shape in (SHAPE, (2, 16, 7, 4)):
        x = rng.normal(size=shape).astype("float32")
        fft, matmul = FrequencyAttention(variant), FrequencyAttention(variant, transform="matmul")
        fft.build(shape)
        matmul.build(shape)
        weights = [rng.normal(size=w.shape).astype("float32") for w in fft.weights]
        fft.set_weights(weights)
        matmul.set_weights(weights)
        np.testing.assert_allclose(matmul(x).numpy(), fft(x).numpy(), rtol=1e-4, atol=1e-4)
        for a, b in zip(matmul.attention_masks(x), fft.attention_masks(x)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=2e-4)


def test_an_unknown_transform_is_refused():
    with pytest.raises(ValueError, match="transform must be one of"):
        FrequencyAttention("residual", transform="dct")
