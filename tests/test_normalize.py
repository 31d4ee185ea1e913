import numpy as np

from data_pipeline.normalize import normalize_view
from data_pipeline.ntu import SHOULDER_JOINTS, SPINE_JOINT


def _clip(rng, frames=6):
    data = np.zeros((3, frames, 25, 2), np.float32)
    data[..., 0] = rng.normal(size=(3, frames, 25)) + np.array([1.0, 0.5, 3.0])[:, None, None]
    data[:, :4, :, 1] = rng.normal(size=(3, 4, 25)) + np.array([-1.0, 0.5, 3.5])[:, None, None]
    return data


def test_first_person_is_centred_on_its_spine_and_aligned():
    data = normalize_view(_clip(np.random.default_rng(0)))
    np.testing.assert_allclose(data[:, :, SPINE_JOINT, 0], 0.0, atol=1e-5)
    spine = data[:, 0, SPINE_JOINT, 0] - data[:, 0, 0, 0]
    assert abs(spine[0]) < 1e-5 and abs(spine[1]) < 1e-5 and spine[2] > 0
    shoulders = data[:, 0, SHOULDER_JOINTS[1], 0] - data[:, 0, SHOULDER_JOINTS[0], 0]
    assert abs(shoulders[1]) < 1e-5 and shoulders[0] > 0


def test_distances_are_kept_and_absent_persons_stay_zero():
    raw = _clip(np.random.default_rng(1))
    data = normalize_view(raw)
    assert not data[:, 4:, :, 1].any()
    for t in range(4):
        np.testing.assert_allclose(
            np.linalg.norm(data[:, t, 3, 1] - data[:, t, 7, 0]), np.linalg.norm(raw[:, t, 3, 1] - raw[:, t, 7, 0]),
            rtol=1e-5)


def test_opposite_directions_are_turned_by_a_proper_rotation():
    from data_pipeline.normalize import _rotation_between

    for vector, target in (([0.0, 0.0, -2.0], [0.0, 0.0, 1.0]), ([-1.0, 0.0, 0.0], [1.0, 0.0, 0.0])):
        vector, target = np.array(vector), np.array(target)
        rotation = _rotation_between(vector, target)
        np.testing.assert_allclose(rotation @ vector, np.linalg.norm(vector) * target, atol=1e-9)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(rotation), 1.0)
