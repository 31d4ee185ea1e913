import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import records
from slnl_tf.data.sample import Sample


def _sample():
    data = np.random.default_rng(0).normal(size=(3, 7, 25, 2)).astype(np.float32)
    return Sample(data, 12, "S001C001P001R001A013", {"camera": 1})


@pytest.mark.parametrize("dtype,tolerance", [("float32", 0.0), ("float16", 2e-3)])
def test_round_trip(dtype, tolerance):
    sample = _sample()
    parsed = records.parse(tf.constant(records.serialize(sample, dtype)), dtype)
    np.testing.assert_allclose(parsed["skeleton"].numpy(), sample.data, rtol=tolerance, atol=tolerance)
    assert parsed["skeleton"].dtype == tf.float32
    assert int(parsed["frames"]) == 7 and int(parsed["label"]) == 12
    assert parsed["name"].numpy().decode() == sample.name


def test_parse_inside_tf_data_matches_eager():
    serialized = [records.serialize(_sample(), "float16")] * 2
    eager = records.parse(tf.constant(serialized[0]))
    mapped = next(iter(tf.data.Dataset.from_tensor_slices(serialized).map(records.parse)))
    np.testing.assert_array_equal(mapped["skeleton"].numpy(), eager["skeleton"].numpy())


def test_float16_overflow_is_refused():
    sample = _sample()
    sample.data[0, 0, 0, 0] = 1e6
    with pytest.raises(ValueError, match="float16 range"):
        records.serialize(sample, "float16")
