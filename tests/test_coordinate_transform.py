import numpy as np

from layer_test_helper import run_layer_test
from slnl_tf.layers import CoordinateTransform


def test_layer_contract(tmp_path):
    run_layer_test(
        CoordinateTransform, {"num_systems": 3}, (4, 6, 5, 3), (4, 6, 5, 9),
        expected_num_trainable_weights=2, tmp_path=tmp_path,
    )


def test_first_system_starts_as_identity():
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype("float32")
    y = CoordinateTransform(num_systems=4)(x).numpy()
    np.testing.assert_allclose(y[..., :3], x, atol=1e-6)
    assert not np.allclose(y[..., 3:6], x, atol=1e-3)


def test_rejects_zero_systems():
    import pytest

    with pytest.raises(ValueError, match="num_systems"):
        CoordinateTransform(num_systems=0)
