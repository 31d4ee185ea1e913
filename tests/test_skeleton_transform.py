import numpy as np
import pytest

from layer_test_helper import run_layer_test
from slnl_tf.layers import SkeletonTransform


def test_layer_contract(tmp_path):
    run_layer_test(
        SkeletonTransform, {"num_joints": 7}, (4, 6, 5, 3), (4, 6, 7, 3),
        expected_num_trainable_weights=1, tmp_path=tmp_path,
    )


def test_is_a_linear_map_over_joints():
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype("float32")
    layer = SkeletonTransform(num_joints=6)
    y = layer(x).numpy()
    expected = np.einsum("btvc,vw->btwc", x, layer.kernel.numpy())
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_rejects_zero_joints():
    with pytest.raises(ValueError, match="num_joints"):
        SkeletonTransform(num_joints=0)
