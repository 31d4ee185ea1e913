import numpy as np

from layer_test_helper import run_layer_test
from slnl_tf.layers import FoldPersons, MaxOverPersons


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
