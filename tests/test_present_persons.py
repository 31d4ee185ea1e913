import keras
import numpy as np
import pytest
import tensorflow as tf

from data_pipeline import synthetic
from slnl_tf.model import build_model
from slnl_tf.present_persons import PresentPersonsModel
from tiny_config import TINY


def _model_with_random_weights(config=TINY):
    # Every weight random, biases and the zero-initialised non-local output maps included:
    # then an absent (zero) person's features are not zero and can win the max over persons,
    # so leaving absent persons out instead of using their features would change the output.
    model = build_model(config)
    rng = np.random.default_rng(1)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype(weight.dtype))
    return model


def _clips(n, seed=0):
    clips, _ = synthetic.make_clips(n, TINY.num_classes, TINY.frames, TINY.joints, TINY.persons, seed=seed)
    return clips


def _assert_same(expected, actual, tolerance=1e-5):
    assert sorted(expected) == sorted(actual)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=tolerance, atol=tolerance, err_msg=name)


@pytest.mark.parametrize("kind", ["mixed", "one person each", "nobody", "single clip"])
def test_equals_the_model_eagerly_and_in_a_graph(kind):
    model = _model_with_random_weights()
    clips = {"mixed": _clips(12), "nobody": np.zeros_like(_clips(3)), "single clip": _clips(1)}.get(kind)
    if kind == "one person each":
        clips = _clips(6)
        clips[..., 1] = 0
    present = np.any(clips != 0, axis=(1, 2, 3))
    if kind == "mixed":
        assert present[:, 1].any() and not present[:, 1].all()  # both kinds of clip in the batch
    wrapped = PresentPersonsModel(model)
    assert any(np.any(features != 0) for features in wrapped.absent_features)
    expected = model(clips, training=False)
    _assert_same(expected, wrapped(tf.constant(clips)))
    _assert_same(expected, tf.function(wrapped)(tf.constant(clips)))


def test_computes_only_the_persons_present():
    wrapped = PresentPersonsModel(_model_with_random_weights())
    computed_rows = []
    per_person = wrapped.per_person

    def counting(rows, training):
        computed_rows.append(rows.shape[0])
        return per_person(rows, training=training)

    wrapped.per_person = counting
    clips = _clips(5)
    clips[0, ..., 1] = 0
    clips[1, ..., 1] = clips[1, ..., 0] + 1  # two persons
    clips[2:, ..., 1] = 0
    wrapped(tf.constant(clips))
    assert computed_rows == [6]  # 5 first persons + the one second person present
    wrapped(tf.constant(np.zeros_like(clips)))
    assert computed_rows[-1] == 1  # an empty batch would fail in oneDNN's convolution: one absent row


def test_mixed_precision_model():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model_with_random_weights()
    clips = _clips(8)
    expected = model(clips, training=False)
    actual = PresentPersonsModel(model)(tf.constant(clips))
    assert all(logits.dtype == tf.float32 for logits in actual.values())
    # Equal here; bf16 kernels chosen for another batch size may round differently.
    _assert_same(expected, actual, tolerance=1e-2)


def test_a_model_without_persons_to_fold_is_refused():
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="0 FoldPersons and 0 MaxOverPersons"):
        PresentPersonsModel(keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain"))
