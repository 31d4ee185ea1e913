import numpy as np

from layer_test_helper import run_layer_test
from slnl_tf.layers import FrameDifference


def test_layer_contract(tmp_path):
    run_layer_test(FrameDifference, {}, (4, 6, 5, 3), (4, 6, 5, 3), expected_num_trainable_weights=0, tmp_path=tmp_path)


def test_constant_velocity_gives_that_velocity_everywhere():
    t = np.arange(8, dtype="float32")
    x = np.broadcast_to((0.5 * t)[None, :, None, None], (2, 8, 5, 3)).copy()
    np.testing.assert_allclose(FrameDifference()(x).numpy(), 0.5, atol=1e-6)


def test_absent_person_stays_zero():
    assert not np.any(FrameDifference()(np.zeros((1, 8, 5, 3), "float32")).numpy())
