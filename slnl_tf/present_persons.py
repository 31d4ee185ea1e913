"""Inference that computes only the persons a clip has.

A clip holds M person slots and an absent person is all zeros (the readers zero-fill, and
sampling, normalisation and augmentation keep zeros zero). Persons share every weight up
to the max over persons, so an absent person's features are the same in every clip: the
network's features of a zero sequence. With trained (fixed) weights they are computed
once; each call then runs the per-person part of the model on the persons present only
and puts those constants in place of the absent ones before the max, which gives the
model's output. Most NTU clips show one person in two slots (49 of NTU-60's 60 actions
are done alone), so serving and evaluating them costs about half (bench/RESULTS.md).

In training the weights change every step, so there is no constant: a model built with
`skip_absent_persons` (CompactPersons) computes one absent person per batch instead, up to
the first dropout.
"""
import keras
import tensorflow as tf

from slnl_tf.layers import ExpandPersons, FoldPersons, MaxOverPersons
from slnl_tf.layers.persons import holds_a_person


class PresentPersonsModel:
    """Wraps a built SLnL-rFA model (`slnl_tf.model.build_model`) for inference.

    Calling it on float32 clips `(batch, C, T, V, M)` returns what `model(clips,
    training=False)` returns (a dict of logits `(batch, num_classes)`), equal up to float
    rounding. The absent persons' features are taken from the weights when this object is
    made: make a new one after the weights change.
    """

    def __init__(self, model):
        folds = [layer for layer in model.layers if isinstance(layer, FoldPersons)]
        merges = [layer for layer in model.layers if isinstance(layer, MaxOverPersons)]
        if len(folds) != 1 or not merges:
            raise ValueError(f"model {model.name!r} has {len(folds)} FoldPersons and {len(merges)} MaxOverPersons "
                             "layers; expected one and at least one (a model of slnl_tf.model.build_model)")
        self.fold = folds[0]
        self.expand = ExpandPersons()
        self.merges = merges
        # Keras makes the two sub-models from the model's own layers: they share its weights.
        self.per_person = keras.Model(self.fold.output, [layer.input for layer in merges], name="per_person")
        self.after_merge = keras.Model([layer.output for layer in merges], model.output, name="after_merge")
        person_shape = self.fold.output.shape[1:]
        # NumPy, so that each traced graph holds them as constants rather than capturing an
        # eager tensor (which tf2onnx would turn into an input).
        self.absent_features = [keras.ops.convert_to_numpy(features) for features in
                                self.per_person(tf.zeros((1,) + tuple(person_shape)), training=False)]

    def __call__(self, clips):
        per_person = self.fold(clips)  # (batch * M, T, V, C)
        rows = tf.where(holds_a_person(per_person))[:, 0]
        count = tf.shape(rows)[0]
        # oneDNN's convolution fails on an empty batch: with no person present in the whole
        # batch, row 0 (absent) is computed instead; its features equal the constants, and
        # ExpandPersons, which gives absent persons the row after the present ones, takes it.
        rows = tf.concat([rows, tf.zeros((1,), rows.dtype)], 0)[: tf.maximum(count, 1)]
        computed = self.per_person(tf.gather(per_person, rows), training=False)
        merged = [merge(self.expand([tf.concat([features, tf.cast(absent, features.dtype)], 0), per_person]))
                  for merge, features, absent in zip(self.merges, computed, self.absent_features)]
        return self.after_merge(merged, training=False)

    def call_on_fewer_slots(self, clips):
        """The model's output for clips with fewer person slots than its M, `(batch, C, T,
        V, m)`, m < M, each missing slot an absent person: every slot given is computed,
        present or not. A fixed graph (no selection by presence), for the converters: a
        one-person LiteRT or ONNX model costs one person's network."""
        per_person = self.fold(clips)  # (batch * m, T, V, C)
        slots = clips.shape[-1]
        computed = self.per_person(per_person, training=False)
        merged = [tf.maximum(tf.reduce_max(tf.reshape(features, (-1, slots) + tuple(features.shape[1:])), axis=1),
                             tf.cast(absent, features.dtype))
                  for features, absent in zip(computed, self.absent_features)]
        return self.after_merge(merged, training=False)
