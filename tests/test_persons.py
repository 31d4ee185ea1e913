import numpy as np
import pytest
import tensorflow as tf

from layer_test_helper import run_layer_test
from slnl_tf.layers import CompactPersons, ExpandPersons, FoldPersons, MaxOverPersons


def test_fold_persons_contract(tmp_path):
    run_layer_test(FoldPersons, {}, (3, 3, 6, 5, 2), (6, 6, 5, 3), expected_num_trainable_weights=0, tmp_path=tmp_path)


def test_max_over_persons_contract(tmp_path):
    run_layer_test(MaxOverPersons, {"num_persons": 2}, (6, 4, 8), (3, 4, 8), expected_num_trainable_weights=0, tmp_path=tmp_path)


def test_fold_puts_person_m_of_clip_b_at_row_b_times_m():
    x = np.random.default_rng(0).normal(size=(3, 3, 6, 5, 2)).astype("float32")
    folded = FoldPersons()(x).numpy()
    for b in range(3):
        for m in range(2):
            np.testing.assert_array_equal(folded[b * 2 + m], x[b, :, :, :, m].transpose(1, 2, 0))


def test_max_over_persons_takes_each_clips_own_persons():
    x = np.random.default_rng(0).normal(size=(6, 4)).astype("float32")
    np.testing.assert_array_equal(MaxOverPersons(2)(x).numpy(), np.maximum(x[0::2], x[1::2]))


def _folded_with_absent_rows(absent):
    rows = np.random.default_rng(0).normal(size=(6, 4, 5, 3)).astype("float32")
    rows[list(absent)] = 0
    return rows


@pytest.mark.parametrize("absent", [(1, 3, 4), (), (0, 1, 2, 3, 4, 5)])
@pytest.mark.parametrize("graph", [False, True])
def test_compact_keeps_present_rows_in_order_then_one_absent_row(absent, graph):
    rows = _folded_with_absent_rows(absent)
    compact = tf.function(CompactPersons()) if graph else CompactPersons()
    kept = np.asarray(compact(tf.constant(rows)))
    present = [i for i in range(6) if i not in absent]
    expected = rows[present + list(absent[:1])]
    np.testing.assert_array_equal(kept, expected)


@pytest.mark.parametrize("absent", [(1, 3, 4), (), (0, 1, 2, 3, 4, 5)])
@pytest.mark.parametrize("graph", [False, True])
def test_expand_puts_rowwise_features_back_in_every_slot(absent, graph):
    rows = _folded_with_absent_rows(absent)
    weights = np.random.default_rng(1).normal(size=(60, 7)).astype("float32")

    def features(x):  # any row-wise function; an absent row's value is not zero
        return tf.tanh(tf.reshape(x, (-1, 60)) @ weights + 0.5)

    def compact_then_expand(x):
        return ExpandPersons()([features(CompactPersons()(x)), x])

    run = tf.function(compact_then_expand) if graph else compact_then_expand
    np.testing.assert_allclose(np.asarray(run(tf.constant(rows))), np.asarray(features(rows)), rtol=1e-6)
