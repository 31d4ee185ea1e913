import numpy as np
import pytest

from layer_test_helper import run_layer_test
from slnl_tf.layers import SLnLBlock

SHAPE = (4, 6, 5, 8)


@pytest.mark.parametrize("axes", [("time",), ("space",), ("time", "space", "spacetime")])
def test_layer_contract(axes, tmp_path):
    run_layer_test(
        SLnLBlock,
        {"filters": 6, "kernel_size": 3, "axes": axes, "nonlocal_output_initializer": "glorot_uniform"},
        SHAPE, SHAPE[:3] + (6,), expected_num_trainable_weights=2 + 2 * len(axes), tmp_path=tmp_path,
    )


def test_output_is_local_plus_each_non_local_path():
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    block = SLnLBlock(6, (3, 1), nonlocal_output_initializer="glorot_uniform")
    y = block(x).numpy()
    parts = block.local(x).numpy() + sum(path(x).numpy() for path in block.non_local)
    np.testing.assert_allclose(y, parts, rtol=1e-5, atol=1e-5)


def test_starts_as_its_local_convolution():
    x = np.random.default_rng(0).normal(size=SHAPE).astype("float32")
    block = SLnLBlock(6, 3)
    np.testing.assert_array_equal(block(x).numpy(), block.local(x).numpy())


def test_default_embedding_is_half_the_filters():
    assert SLnLBlock(64, 3).embed_dim == 32


@pytest.mark.parametrize("axes", [(), ("time", "time"), ("depth",)])
def test_rejects_bad_axes(axes):
    with pytest.raises(ValueError, match="axes"):
        SLnLBlock(6, 3, axes=axes)
