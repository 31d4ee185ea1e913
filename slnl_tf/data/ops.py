"""Input ops: small pure functions over a feature dict, usable eagerly and in tf.data.map.

A feature dict holds at least `skeleton` (float32 (C, T, V, M)) and `frames` (int32, the
valid frame count, T). Random ops take an explicit `seed` (int32/int64 shape (2,)) and
use stateless random numbers, so the same seed gives the same result everywhere.
"""
import math

import tensorflow as tf


def window_bounds(frames, ratio, position=0.5):
    """(start, length) of a window of `ratio` of `frames` frames (at least 1); `position`
    0 puts it at the start, 0.5 in the centre, 1 at the end."""
    length = tf.clip_by_value(tf.cast(tf.round(ratio * tf.cast(frames, tf.float32)), tf.int32), 1, frames)
    start = tf.cast(tf.round(position * tf.cast(frames - length, tf.float32)), tf.int32)
    return start, length


def _crop_and_resize(clips, start, length, frames_out):
    """Frames [start, start + length) of `clips` (..., T, V, M) resized to frames_out by
    linear interpolation along time with half-pixel centres: the values of
    tf.image.resize's bilinear (antialias off), from two gathers in the clips' own layout.
    The image resize needed a transpose on each side, and on these small per-clip tensors
    the two transposes cost more than the rest of the training augmentation together
    (bench/RESULTS.md, change 9)."""
    scale = tf.cast(length, tf.float32) / frames_out
    position = tf.clip_by_value((tf.range(frames_out, dtype=tf.float32) + 0.5) * scale - 0.5, 0.0,
                                tf.cast(length - 1, tf.float32))
    lower = tf.cast(tf.floor(position), tf.int32)
    weight = tf.reshape(position - tf.cast(lower, tf.float32), (-1, 1, 1))
    before = tf.gather(clips, start + lower, axis=-3)
    after = tf.gather(clips, start + tf.minimum(lower + 1, length - 1), axis=-3)
    return before + (after - before) * weight


def resize_frames(clips, frames_out):
    """(B, C, T, V, M) -> (B, C, frames_out, V, M) by linear interpolation along time
    (half-pixel centres)."""
    return _crop_and_resize(clips, 0, tf.shape(clips)[-3], frames_out)


def _with(features, skeleton, frames_out):
    return {**features, "skeleton": skeleton, "frames": tf.constant(frames_out, tf.int32)}


def random_temporal_crop(features, seed, frames_out, min_ratio=0.5, max_ratio=1.0):
    """Training crop (HCN): a random window of ratio in [min_ratio, max_ratio] of the valid
    frames at a random start, resized to frames_out."""
    frames = tf.cast(features["frames"], tf.int32)
    ratio_seed, start_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    ratio = tf.random.stateless_uniform((), ratio_seed, min_ratio, max_ratio)
    _, length = window_bounds(frames, ratio)
    start = tf.random.stateless_uniform((), start_seed, 0, frames - length + 1, dtype=tf.int32)
    return _with(features, _crop_and_resize(features["skeleton"], start, length, frames_out), frames_out)


def temporal_window(features, frames_out, ratio=0.95, position=0.5):
    """Evaluation crop: a window of `ratio` of the valid frames, resized to frames_out;
    `position` 0 puts it at the start, 0.5 in the centre (the default), 1 at the end."""
    start, length = window_bounds(tf.cast(features["frames"], tf.int32), ratio, position)
    return _with(features, _crop_and_resize(features["skeleton"], start, length, frames_out), frames_out)


def _rotation_matrix(angles):
    """3x3 rotation: about x by angles[0], then y by angles[1], then z by angles[2]."""
    cx, cy, cz = tf.unstack(tf.cos(angles))
    sx, sy, sz = tf.unstack(tf.sin(angles))
    one, zero = tf.ones_like(cx), tf.zeros_like(cx)
    rx = tf.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx])
    ry = tf.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy])
    rz = tf.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one])
    return tf.reshape(rz, (3, 3)) @ tf.reshape(ry, (3, 3)) @ tf.reshape(rx, (3, 3))


def random_rotation(features, seed, max_degrees=17.0, coordinate_channels=3):
    """Rotates the coordinates by uniform random angles in [-max_degrees, max_degrees]:
    about all three axes for 3-D data, about the image normal for 2-D data
    (`coordinate_channels=2`, e.g. Kinetics' x, y, score; the score is untouched)."""
    limit = max_degrees * math.pi / 180.0
    angles = tf.random.stateless_uniform((3,), seed, -limit, limit)
    if coordinate_channels == 2:
        angles = angles * tf.constant([0.0, 0.0, 1.0])
    rotation = _rotation_matrix(angles)[:coordinate_channels, :coordinate_channels]
    skeleton = features["skeleton"]
    # A matmul over the flattened clip: tf.einsum cost 70 us per clip here, twice as much.
    coordinates = skeleton[:coordinate_channels]
    coordinates = tf.reshape(rotation @ tf.reshape(coordinates, (coordinate_channels, -1)), tf.shape(coordinates))
    return {**features, "skeleton": tf.concat([coordinates, skeleton[coordinate_channels:]], axis=0)}


def mirror(features, permutation):
    """Mirrors the clip left to right: x negated (the data are centred, so this reflects
    about the body's vertical plane) and each left joint swapped with its right partner
    (`permutation`, from bones.mirror_permutation)."""
    mirrored = tf.gather(features["skeleton"], permutation, axis=2)
    return {**features, "skeleton": tf.concat([-mirrored[:1], mirrored[1:]], axis=0)}


def random_mirror(features, seed, permutation, probability=0.5):
    """With `probability`, mirrors the clip left to right (`mirror`)."""
    flip = tf.random.stateless_uniform((), seed) < probability
    return {**features, "skeleton": tf.where(flip, mirror(features, permutation)["skeleton"], features["skeleton"])}


def random_scale(features, seed, min_scale=0.9, max_scale=1.1, coordinate_channels=3):
    """Multiplies the coordinates by one uniform random factor in [min_scale, max_scale]."""
    scale = tf.random.stateless_uniform((), seed, min_scale, max_scale)
    skeleton = features["skeleton"]
    return {**features, "skeleton": tf.concat(
        [skeleton[:coordinate_channels] * scale, skeleton[coordinate_channels:]], axis=0)}
