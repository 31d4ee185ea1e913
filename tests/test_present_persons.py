import keras
import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import synthetic
from slnl_tf.model import OUTPUTS, build_model
from slnl_tf.model_cost import flops_per_clip
from slnl_tf.present_persons import PresentPersonsModel
from tiny_config import TINY


def _model_with_random_weights(config=TINY, skip_absent_persons=False):
    # Every weight random, biases and the zero-initialised non-local output maps included:
    # then an absent (zero) person's features are not zero and can win the max over persons,
    # so leaving absent persons out instead of using their features would change the output.
    keras.utils.set_random_seed(0)  # the same dropout seeds for models built in turn
    model = build_model(config, skip_absent_persons=skip_absent_persons)
    rng = np.random.default_rng(1)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype(weight.dtype))
    return model


def _clips(n, seed=0):
    clips, _ = synthetic.make_clips(n, TINY.num_classes, TINY.frames, TINY.joints, TINY.persons, seed=seed)
    return clips


def _assert_same(expected, actual, tolerance=1e-5):
    # Absolute round-off grows with the values (the random weights make logits of ~100), and
    # oneDNN picks its kernels by batch size, so the compacted batch rounds otherwise.
    assert sorted(expected) == sorted(actual)
    for name in expected:
        scale = float(np.max(np.abs(expected[name])))
        np.testing.assert_allclose(actual[name], expected[name], rtol=tolerance, atol=tolerance * scale, err_msg=name)


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


def test_fewer_slots_equal_the_model_with_the_rest_absent():
    """The fixed graph for converters: clips with one slot give the model's output for the
    same clips with the other slots absent, eagerly and in a graph."""
    model = _model_with_random_weights()
    wrapped = PresentPersonsModel(model)
    clips = _clips(6)
    clips[..., 1] = 0
    clips[0] = 0  # nobody
    expected = model(clips, training=False)
    one_slot = tf.constant(clips[..., :1])
    _assert_same(expected, wrapped.call_on_fewer_slots(one_slot))
    _assert_same(expected, tf.function(wrapped.call_on_fewer_slots)(one_slot))


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


# Training: the model built with skip_absent_persons computes the layers before the first
# dropout for the persons present and one absent row per batch (CompactPersons).

def _mixed_clips():
    clips = _clips(12)
    present = np.any(clips != 0, axis=(1, 2, 3))
    assert present[:, 1].any() and not present[:, 1].all()
    return clips, int(present.sum())


def _outputs_and_gradients(model, clips, training):
    with tf.GradientTape() as tape:
        outputs = model(clips, training=training)
        loss = sum(tf.reduce_sum(tf.square(outputs[name])) for name in OUTPUTS)
    return outputs, tape.gradient(loss, model.trainable_variables)


@pytest.mark.parametrize("training", [True, False])
def test_skipping_absent_persons_gives_the_models_outputs_and_gradients(training):
    clips, _ = _mixed_clips()
    plain = _model_with_random_weights()
    skipping = _model_with_random_weights(skip_absent_persons=True)
    for run in (lambda m, x: _outputs_and_gradients(m, x, training),
                tf.function(lambda m, x: _outputs_and_gradients(m, x, training))):
        # Dropout (TINY has 0.1) draws the same masks: the persons are expanded before it.
        expected, expected_gradients = run(plain, tf.constant(clips))
        actual, gradients = run(skipping, tf.constant(clips))
        _assert_same(expected, actual)
        # Under oneDNN the two batch sizes round apart by up to 1.5e-4 of a gradient's largest
        # value (sums of terms up to ~1e4 cancelling); under Eigen they agreed to 1e-5.
        for weight, a, b in zip(plain.trainable_variables, expected_gradients, gradients):
            scale = float(tf.reduce_max(tf.abs(a)))
            np.testing.assert_allclose(tf.convert_to_tensor(b), a, rtol=1e-4, atol=5e-4 * scale, err_msg=weight.path)


def test_skipping_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    clips, _ = _mixed_clips()
    expected = _model_with_random_weights()(clips, training=True)
    actual = _model_with_random_weights(skip_absent_persons=True)(clips, training=True)
    assert all(logits.dtype == tf.float32 for logits in actual.values())
    _assert_same(expected, actual, tolerance=1e-2)


def test_skipping_computes_the_present_persons_and_one_absent_row():
    model = build_model(TINY, skip_absent_persons=True)
    rows = keras.Model(model.input, model.get_layer("compact_persons").output)
    clips, present = _mixed_clips()
    assert rows(clips).shape[0] == present + 1
    clips[..., 1] = clips[..., 0] + 1
    assert rows(clips).shape[0] == 2 * len(clips)  # nobody absent: no extra row
    assert rows(np.zeros_like(clips)).shape[0] == 1
    outputs = model(np.zeros_like(clips))
    assert all(logits.shape == (len(clips), TINY.num_classes) for logits in outputs.values())


def test_weights_move_between_skipping_and_plain_models(tmp_path):
    clips, _ = _mixed_clips()
    skipping = _model_with_random_weights(skip_absent_persons=True)
    expected = skipping(clips, training=False)
    skipping.save_weights(str(tmp_path / "skipping.weights.h5"))
    plain = build_model(TINY)
    plain.load_weights(str(tmp_path / "skipping.weights.h5"))
    _assert_same(expected, plain(clips, training=False))
    plain.save_weights(str(tmp_path / "plain.weights.h5"))
    skipping_again = build_model(TINY, skip_absent_persons=True)
    skipping_again.load_weights(str(tmp_path / "plain.weights.h5"))
    _assert_same(expected, skipping_again(clips, training=False))
    skipping.save(str(tmp_path / "skipping.keras"))
    _assert_same(expected, keras.saving.load_model(str(tmp_path / "skipping.keras"))(clips, training=False))
    # PresentPersonsModel serves a model trained this way (as best.keras is) with its outputs.
    _assert_same(expected, PresentPersonsModel(skipping)(tf.constant(clips)))


def test_flops_are_counted_on_the_model_that_computes_every_person():
    with pytest.raises(ValueError, match="skips absent persons"):
        flops_per_clip(build_model(TINY, skip_absent_persons=True))
