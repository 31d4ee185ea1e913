import numpy as np
import pytest

from slnl_tf.data.preprocess import LANDMARKS, Preprocessing, normalize_view
from slnl_tf.data.ntu import SHOULDER_JOINTS, SPINE_JOINT


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
    from slnl_tf.data.preprocess import rotation_between

    for vector, target in (([0.0, 0.0, -2.0], [0.0, 0.0, 1.0]), ([-1.0, 0.0, 0.0], [1.0, 0.0, 0.0])):
        vector, target = np.array(vector), np.array(target)
        rotation = rotation_between(vector, target)
        np.testing.assert_allclose(rotation @ vector, np.linalg.norm(vector) * target, atol=1e-9)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(rotation), 1.0)


NTU = tuple(LANDMARKS["ntu25"].items())


def test_first_frame_centring_keeps_motion_and_the_distance_between_persons():
    raw = _clip(np.random.default_rng(2))
    raw[:, :2, :, 0] = 0  # the first person appears in frame 2
    data = Preprocessing(center="first_frame", center_joint=1, landmarks=NTU).apply(raw)
    np.testing.assert_allclose(data[:, 2, 1, 0], 0.0, atol=1e-6)
    present = raw != 0
    np.testing.assert_allclose(data[present], (raw - raw[:, 2:3, 1:2, 0:1])[present], rtol=1e-5, atol=1e-5)
    assert not data[:, :2, :, 0].any() and not data[:, 4:, :, 1].any()  # absent stays zero


def test_every_frame_centring_puts_the_joint_at_the_origin_in_each_frame():
    data = Preprocessing(center="every_frame", center_joint=3, landmarks=NTU).apply(_clip(np.random.default_rng(3)))
    np.testing.assert_allclose(data[:, :, 3, 0], 0.0, atol=1e-6)


def test_torso_and_extent_scales():
    raw = _clip(np.random.default_rng(4)) * 7.0
    torso = Preprocessing(center="first_frame", center_joint=1, scale="torso", landmarks=NTU).apply(raw)
    lengths = np.linalg.norm(torso[:, :, 2, 0] - torso[:, :, 0, 0], axis=0)
    assert np.mean(lengths) == pytest.approx(1.0, rel=1e-5)
    extent = Preprocessing(center="first_frame", center_joint=1, scale="extent", landmarks=NTU).apply(raw)
    present = np.broadcast_to(np.any(raw != 0, axis=0, keepdims=True), raw.shape)
    ranges = [np.ptp(extent[c][present[c]]) for c in range(3)]
    assert max(ranges) == pytest.approx(2.0, rel=1e-5)
    # One factor for all axes: the shape is kept.
    np.testing.assert_allclose(extent[present] * np.ptp(raw[0][present[0]]) / ranges[0],
                               (raw - raw[:, :1, 1:2, :1])[present], rtol=1e-4, atol=1e-4)


def test_only_coordinate_channels_change_and_landmarks_are_checked():
    raw = np.random.default_rng(5).uniform(0.1, 1.0, size=(3, 4, 18, 2)).astype(np.float32)  # x, y, score
    data = Preprocessing(center="first_frame", center_joint=1, scale="extent", coordinate_channels=2).apply(raw)
    np.testing.assert_array_equal(data[2], raw[2])
    np.testing.assert_allclose(data[:2, 0, 1, 0], 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="need the layout's hip, spine"):
        Preprocessing(align_view=True)
    with pytest.raises(ValueError, match="align_view needs 3-D coordinates"):
        Preprocessing(align_view=True, landmarks=NTU, coordinate_channels=2)
    with pytest.raises(ValueError, match="center must be one of"):
        Preprocessing(center="middle")
    spec = Preprocessing(center="every_frame", center_joint=2, scale="torso", landmarks=NTU)
    assert Preprocessing.from_dict(spec.to_dict()) == spec


def test_merged_persons_become_one_body_after_the_shared_centring():
    raw = _clip(np.random.default_rng(7))
    both = Preprocessing(center="first_frame", center_joint=1, merge_persons=True)
    merged = both.apply(raw)
    separate = Preprocessing(center="first_frame", center_joint=1).apply(raw)
    assert merged.shape == (3, 6, 50, 1)
    np.testing.assert_array_equal(merged[:, :, :25, 0], separate[..., 0])
    np.testing.assert_array_equal(merged[:, :, 25:, 0], separate[..., 1])
    assert not merged[:, 4:, 25:].any()  # the second person's absent frames stay zero
    layout = {"channels": 3, "joints": 25, "persons": 2}
    assert both.output_layout(layout) == {"channels": 3, "joints": 50, "persons": 1, "merged_persons": 2}
    assert both.input_layout(both.output_layout(layout)) == layout
    assert Preprocessing.from_dict(both.to_dict()) == both
    assert Preprocessing().output_layout(layout) == layout and not Preprocessing().merge_persons
