import numpy as np
import pytest
import tensorflow as tf

from slnl_tf.data import bones, ops


def _features(frames=20, channels=3, seed=0):
    skeleton = np.random.default_rng(seed).normal(size=(channels, frames, 25, 2)).astype(np.float32)
    skeleton[..., 1] = 0.0  # absent second person
    return {"skeleton": tf.constant(skeleton), "frames": tf.constant(frames, tf.int32),
            "label": tf.constant(3, tf.int32)}


def _ramp(frames):
    skeleton = np.broadcast_to(np.arange(frames, dtype=np.float32)[None, :, None, None], (3, frames, 25, 2))
    return {"skeleton": tf.constant(skeleton), "frames": tf.constant(frames, tf.int32)}


SEED = tf.constant([7, 11], tf.int64)
OPS = {
    "random_temporal_crop": lambda f: ops.random_temporal_crop(f, SEED, 16, 0.5, 1.0),
    "temporal_window": lambda f: ops.temporal_window(f, 16, 0.9, 0.3),
    "random_rotation": lambda f: ops.random_rotation(f, SEED, 30.0),
    "random_rotation_2d": lambda f: ops.random_rotation(f, SEED, 30.0, coordinate_channels=2),
    "random_scale": lambda f: ops.random_scale(f, SEED, 0.8, 1.2),
    "random_mirror": lambda f: ops.random_mirror(f, SEED, bones.mirror_permutation(25), 1.0),
    "mirror": lambda f: ops.mirror(f, bones.mirror_permutation(25)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_eager_and_tf_data_map_agree(name):
    op = OPS[name]
    features = _features()
    eager = op(features)
    mapped = next(iter(tf.data.Dataset.from_tensors(features).map(op)))
    for key in eager:
        np.testing.assert_allclose(mapped[key].numpy(), eager[key].numpy(), rtol=1e-6, atol=1e-6)
    assert not eager["skeleton"].numpy()[..., 1].any()  # the absent person stays zero
    assert int(eager["label"]) == 3


def test_full_crop_at_the_same_length_is_the_identity():
    features = _features(frames=16)
    out = ops.random_temporal_crop(features, SEED, 16, 1.0, 1.0)
    np.testing.assert_allclose(out["skeleton"].numpy(), features["skeleton"].numpy(), atol=1e-6)
    np.testing.assert_allclose(ops.temporal_window(features, 16, 1.0)["skeleton"].numpy(),
                               features["skeleton"].numpy(), atol=1e-6)


def test_random_crop_stays_within_the_ratio_and_the_clip():
    for k in range(20):
        out = ops.random_temporal_crop(_ramp(40), tf.constant([k, 1], tf.int64), 32, 0.5, 0.75)
        values = out["skeleton"].numpy()[0, :, 0, 0]
        assert out["skeleton"].shape == (3, 32, 25, 2) and int(out["frames"]) == 32
        assert np.all(np.diff(values) >= 0) and values[0] >= 0 and values[-1] <= 39
        assert 0.5 * 40 - 2 <= values[-1] - values[0] + 1 <= 0.75 * 40 + 1


def test_temporal_window_is_centred_by_default_and_moves_with_position():
    values = ops.temporal_window(_ramp(100), 50, 0.9)["skeleton"].numpy()[0, :, 0, 0]
    assert abs((values[0] + values[-1]) / 2 - 49.5) < 1e-4
    assert 88 <= values[-1] - values[0] + 1 <= 91
    first = ops.temporal_window(_ramp(100), 50, 0.5, position=0.0)["skeleton"].numpy()[0, :, 0, 0]
    last = ops.temporal_window(_ramp(100), 50, 0.5, position=1.0)["skeleton"].numpy()[0, :, 0, 0]
    assert first[0] < 1 and 48 <= first[-1] <= 50 and 50 <= last[0] <= 51 and last[-1] > 98.5


def test_rotation_keeps_lengths_and_2d_rotation_keeps_the_score():
    features = _features()
    out = ops.random_rotation(features, SEED, 45.0)["skeleton"].numpy()
    before = features["skeleton"].numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), np.linalg.norm(before, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(out, before)
    flat = ops.random_rotation(features, SEED, 45.0, coordinate_channels=2)["skeleton"].numpy()
    np.testing.assert_array_equal(flat[2], before[2])
    np.testing.assert_allclose(np.linalg.norm(flat[:2], axis=0), np.linalg.norm(before[:2], axis=0), rtol=1e-5,
                               atol=1e-6)


def test_scale_multiplies_coordinates_only():
    features = _features()
    out = ops.random_scale(features, SEED, 2.0, 2.0)["skeleton"].numpy()
    np.testing.assert_allclose(out, 2.0 * features["skeleton"].numpy(), rtol=1e-6)
    flat = ops.random_scale(features, SEED, 2.0, 2.0, coordinate_channels=2)["skeleton"].numpy()
    np.testing.assert_array_equal(flat[2], features["skeleton"].numpy()[2])


def test_mirror_swaps_left_and_right_and_negates_x():
    features = _features()
    before = features["skeleton"].numpy()
    out = ops.random_mirror(features, SEED, bones.mirror_permutation(25), 1.0)["skeleton"].numpy()
    # NTU joints 5-8 (0-based 4-7) are the left arm, 9-12 the right; 1 (spine) has no partner.
    np.testing.assert_array_equal(out[0, :, 4], -before[0, :, 8])
    np.testing.assert_array_equal(out[1:, :, 4], before[1:, :, 8])
    np.testing.assert_array_equal(out[1:, :, 11], before[1:, :, 7])
    np.testing.assert_array_equal(out[:, :, 1], before[:, :, 1] * np.array([-1, 1, 1])[:, None, None])
    twice = ops.random_mirror({**features, "skeleton": tf.constant(out)}, SEED, bones.mirror_permutation(25), 1.0)
    np.testing.assert_array_equal(twice["skeleton"].numpy(), before)
    np.testing.assert_array_equal(ops.random_mirror(features, SEED, bones.mirror_permutation(25), 0.0)[
        "skeleton"].numpy(), before)
    np.testing.assert_array_equal(ops.mirror(features, bones.mirror_permutation(25))["skeleton"].numpy(), out)
    shares = [float(ops.random_mirror(features, tf.constant([k, 5], tf.int64), bones.mirror_permutation(25), 0.5)[
        "skeleton"].numpy()[1, 0, 4, 0] == before[1, 0, 8, 0]) for k in range(200)]
    assert 0.35 < np.mean(shares) < 0.65


@pytest.mark.parametrize("joints", sorted(bones.MIRROR_PAIRS))
def test_mirror_pairs_of_every_known_layout_are_a_swap_between_bones_of_the_same_length(joints):
    permutation = bones.mirror_permutation(joints)
    assert sorted(permutation) == list(range(joints)) and permutation != tuple(range(joints))
    assert all(permutation[permutation[j]] == j for j in range(joints))
    # The mirrored bones are the layout's bones: left limbs map onto right limbs.
    layout_bones = {frozenset(bone) for bone in bones.BONES[joints]}
    assert {frozenset((permutation[a], permutation[b])) for a, b in bones.BONES[joints]} == layout_bones


def test_mirror_pairs_from_a_custom_layout_and_the_errors():
    assert bones.mirror_permutation(4, {"mirror_pairs": [[0, 1]]}) == (1, 0, 2, 3)
    with pytest.raises(ValueError, match="no left/right joint pairs known for a 7-joint layout"):
        bones.mirror_permutation(7)
    with pytest.raises(ValueError, match="outside 0-3"):
        bones.mirror_permutation(4, {"mirror_pairs": [[0, 9]]})
    with pytest.raises(ValueError, match="use a joint twice"):
        bones.mirror_permutation(4, {"mirror_pairs": [[0, 1], [1, 2]]})


def test_same_seed_same_result_other_seed_other_result():
    a = ops.random_temporal_crop(_ramp(60), SEED, 16, 0.5, 1.0)["skeleton"].numpy()
    b = ops.random_temporal_crop(_ramp(60), SEED, 16, 0.5, 1.0)["skeleton"].numpy()
    c = ops.random_temporal_crop(_ramp(60), tf.constant([1, 2], tf.int64), 16, 0.5, 1.0)["skeleton"].numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("frames_in,frames_out", [(100, 64), (37, 64), (64, 64), (1, 8), (300, 17), (5, 300)])
def test_resize_frames_equals_the_bilinear_image_resize(frames_in, frames_out):
    # The reference is tf.image.resize (bilinear, half-pixel centres, no antialiasing) over
    # (T, V*M) images with the channels last, as the resize was first written.
    clips = tf.constant(np.random.default_rng(frames_in).normal(size=(2, 3, frames_in, 25, 2)).astype(np.float32))
    images = tf.reshape(tf.transpose(clips, (0, 2, 3, 4, 1)), (2, frames_in, 50, 3))
    resized = tf.image.resize(images, (frames_out, 50), method="bilinear", antialias=False)
    expected = tf.transpose(tf.reshape(resized, (2, frames_out, 25, 2, 3)), (0, 4, 1, 2, 3))
    np.testing.assert_allclose(ops.resize_frames(clips, frames_out).numpy(), expected.numpy(), atol=1e-6)
    # A window of one clip: the same values as resizing the sliced frames.
    start, length = frames_in // 4, max(1, frames_in // 2)
    window = ops.temporal_window({"skeleton": clips[0], "frames": tf.constant(frames_in)}, frames_out,
                                 length / frames_in, start / max(1, frames_in - length))["skeleton"]
    np.testing.assert_allclose(window.numpy(), ops.resize_frames(clips[:1, :, start:start + length],
                                                                 frames_out)[0].numpy(), atol=1e-6)
