import keras
import numpy as np
import pytest
import tensorflow as tf

from slnl_tf import losses

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(scale=3.0, size=(32, 10)).astype("float32")
LABELS = RNG.integers(0, 10, size=32)


def _p_true(logits, labels):
    z = logits.astype("float64")
    z = np.exp(z - z.max(-1, keepdims=True))
    return (z / z.sum(-1, keepdims=True))[np.arange(len(labels)), labels]


def _closed_form(logits, labels, gamma, margin):
    p = _p_true(logits, labels)
    return np.mean(np.log(np.exp(margin) + (1 - np.exp(margin)) * p) - (1 - p) ** gamma * np.log(p))


@pytest.mark.parametrize("gamma,margin", [(0.0, 0.0), (2.0, 0.0), (3.0, 0.0), (0.0, 0.4), (2.0, 0.4), (0.5, 0.6)])
def test_smfl_matches_closed_form(gamma, margin):
    value = losses.SoftMarginFocalLoss(gamma, margin)(LABELS, LOGITS)
    np.testing.assert_allclose(float(value), _closed_form(LOGITS, LABELS, gamma, margin), rtol=1e-5)


def test_cross_entropy_matches_keras():
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS)
    np.testing.assert_allclose(float(losses.CrossEntropy()(LABELS, LOGITS)), float(expected), rtol=1e-6)
    np.testing.assert_allclose(float(losses.SoftMarginCrossEntropy(0.0)(LABELS, LOGITS)), float(expected), rtol=1e-6)


@pytest.mark.parametrize("gamma", [2.0, 3.0])
def test_focal_is_smfl_without_margin(gamma):
    np.testing.assert_allclose(
        float(losses.FocalLoss(gamma)(LABELS, LOGITS)), _closed_form(LOGITS, LABELS, gamma, 0.0), rtol=1e-5
    )


@pytest.mark.parametrize("margin", [0.4, 0.6, 2.0])
def test_smce_is_ce_with_margin_subtracted_and_equals_sm_plus_ce(margin):
    shifted = LOGITS - margin * np.eye(10, dtype="float32")[LABELS]
    ce_shifted = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, shifted)
    smce = float(losses.SoftMarginCrossEntropy(margin)(LABELS, LOGITS))
    np.testing.assert_allclose(smce, float(ce_shifted), rtol=1e-5)
    np.testing.assert_allclose(smce, _closed_form(LOGITS, LABELS, 0.0, margin), rtol=1e-5)
    # gamma = 0 gives the SMCE form.
    np.testing.assert_allclose(float(losses.SoftMarginFocalLoss(0.0, margin)(LABELS, LOGITS)), smce, rtol=1e-5)


@pytest.mark.parametrize(
    "loss",
    [losses.CrossEntropy(), losses.FocalLoss(2.0), losses.FocalLoss(0.5), losses.SoftMarginCrossEntropy(0.4),
     losses.SoftMarginFocalLoss(2.0, 0.4), losses.SoftMarginFocalLoss(0.0, 0.4)],
    ids=lambda loss: loss.name,
)
def test_value_and_gradient_finite_for_logits_of_magnitude_50(loss):
    logits = tf.constant(50.0 * np.sign(RNG.normal(size=(16, 5))), "float32")
    labels = np.arange(16) % 5
    logits = tf.tensor_scatter_nd_update(logits, [[0, labels[0]]], [50.0])  # p == 1 exactly
    logits = tf.tensor_scatter_nd_update(logits, [[1, labels[1]]], [-50.0])  # p ~ e^-100
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = loss(labels, logits)
    gradient = tape.gradient(value, logits).numpy()
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(gradient))
    assert np.abs(gradient[1]).max() > 0  # the hopeless sample still gets a gradient


def test_soft_margin_term_bounds():
    log_p = tf.constant(np.log([1e-30, 0.5, 1.0]), "float32")
    term = losses.soft_margin_term(log_p, 0.4).numpy()
    np.testing.assert_allclose(term, [0.4, np.log(np.exp(0.4) + (1 - np.exp(0.4)) * 0.5), 0.0], atol=1e-6)


def test_reduction_and_label_shapes():
    per_sample = losses.SoftMarginFocalLoss(2.0, 0.4, reduction=None)(LABELS[:, None], LOGITS).numpy()
    assert per_sample.shape == (32,)
    np.testing.assert_allclose(per_sample.mean(), float(losses.SoftMarginFocalLoss(2.0, 0.4)(LABELS, LOGITS)),
                               rtol=1e-6)


def test_bfloat16_logits_are_computed_in_float32():
    value = losses.SoftMarginFocalLoss(2.0, 0.4)(LABELS, tf.cast(LOGITS, "bfloat16"))
    expected = _closed_form(tf.cast(tf.cast(LOGITS, "bfloat16"), "float32").numpy(), LABELS, 2.0, 0.4)
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "loss", [losses.CrossEntropy(), losses.FocalLoss(3.0), losses.SoftMarginCrossEntropy(0.6),
             losses.SoftMarginFocalLoss(2.0, 0.4)], ids=lambda loss: loss.name,
)
def test_config_round_trip(loss):
    config = loss.get_config()
    restored = type(loss).from_config(config)
    assert restored.get_config() == config
    assert keras.losses.deserialize(keras.losses.serialize(loss)).get_config() == config
    np.testing.assert_allclose(float(restored(LABELS, LOGITS)), float(loss(LABELS, LOGITS)), rtol=1e-6)


def test_get_loss_and_bad_parameters():
    assert isinstance(losses.get_loss("smfl", 2.0, 0.4), losses.SoftMarginFocalLoss)
    assert losses.get_loss("focal", 3.0).gamma == 3.0
    with pytest.raises(ValueError, match="loss must be one of"):
        losses.get_loss("hinge")
    with pytest.raises(ValueError, match="margin must be >= 0"):
        losses.SoftMarginCrossEntropy(-0.1)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        losses.FocalLoss(-1.0)
