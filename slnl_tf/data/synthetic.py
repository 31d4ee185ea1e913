"""A small, learnable skeleton dataset generated on the fly (no download).

Class `c` moves one group of joints (`c % num_groups`) with a temporal frequency of
`1 + c // num_groups` cycles per clip, on top of a random resting pose, random phase,
amplitude jitter and noise. The classes therefore differ by *which joints* move and by
*how fast*, which is what the spatial and frequency parts of SLnL-rFA are for. Some clips
have a second person; absent persons are zeros, as in the real datasets.
"""
import os

import numpy as np

# NTU-25 joint groups (0-based): torso, left arm, right arm, left leg, right leg.
NTU_JOINT_GROUPS = ((0, 1, 2, 3, 20), (4, 5, 6, 7, 21, 22), (8, 9, 10, 11, 23, 24),
                    (12, 13, 14, 15), (16, 17, 18, 19))
# Two NTU-60 cross-subject training performers for each test performer, so that an
# `ntu60_xsub` build of the raw files splits them about 2:1; the validation performers
# (35, 38) come second, so that even a few dozen clips have a validation split.
_TRAIN_PERFORMERS = (1, 2, 35, 38, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34)
_TEST_PERFORMERS = (3, 6, 7, 10, 11, 12, 20, 21, 22, 23)
_PERFORMERS = tuple(p for pair in zip(_TRAIN_PERFORMERS[0::2], _TRAIN_PERFORMERS[1::2], _TEST_PERFORMERS)
                    for p in pair)


def joint_groups(num_joints):
    """NTU's body parts for 25 joints, else consecutive equal chunks of 5."""
    if num_joints == 25:
        return NTU_JOINT_GROUPS
    return tuple(tuple(range(start, min(start + 5, num_joints))) for start in range(0, num_joints, 5))


def make_clip(rng, label, frames, joints=25, persons=2, noise=0.02):
    """One (3, T, V, M) float32 clip of class `label`."""
    groups = joint_groups(joints)
    moving = list(groups[label % len(groups)])
    cycles = 1 + label // len(groups)
    t = np.arange(frames, dtype=np.float64) / frames
    clip = np.zeros((3, frames, joints, persons), np.float32)
    for m in range(persons if rng.random() < 0.3 else 1):
        pose = rng.normal(scale=0.3, size=(3, 1, joints)) + np.array([0.0, 0.0, 3.0])[:, None, None]
        motion = np.zeros((3, frames, joints))
        phase = rng.uniform(0, 2 * np.pi)
        amplitude = rng.uniform(0.15, 0.3, size=(3, 1, 1))
        motion[:, :, moving] = amplitude * np.sin(2 * np.pi * cycles * t + phase)[None, :, None]
        clip[:, :, :, m] = pose + motion + rng.normal(scale=noise, size=(3, frames, joints))
    return clip


def make_clips(num_clips, num_classes, frames, joints=25, persons=2, seed=0, noise=0.02):
    """Returns `(clips (N, 3, T, V, M) float32, labels (N,) int32)`, labels balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num_clips, dtype=np.int32) % num_classes
    rng.shuffle(labels)
    clips = np.stack([make_clip(rng, label, frames, joints, persons, noise) for label in labels]) if num_clips \
        else np.zeros((0, 3, frames, joints, persons), np.float32)
    return clips, labels


MAX_RAW_CLIPS = 17 * 3 * len(_PERFORMERS) * 2  # setups x cameras x performers x replications


def write_raw_dataset(directory, num_clips, num_classes, frames, seed=0, log=print):
    """Writes clips as NTU `.skeleton` files with unique names (class c = action c + 1,
    balanced); clip lengths vary from 0.75 to 1.5 x `frames` so that temporal sampling
    has work to do."""
    from slnl_tf.data import ntu

    if not 1 <= num_classes <= 60:
        raise ValueError(f"the synthetic NTU-format dataset has 1 to 60 classes, got {num_classes}")
    if num_clips > MAX_RAW_CLIPS:
        raise ValueError(f"at most {MAX_RAW_CLIPS} synthetic NTU-format clips, got {num_clips}")
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(num_clips):
        label = index % num_classes
        clip = make_clip(rng, label, int(rng.integers(int(0.75 * frames), int(1.5 * frames) + 1)))
        per_frame = [[(f"72057594037{m}", clip[:, t, :, m].T) for m in range(2) if clip[..., m].any()]
                     for t in range(clip.shape[1])]
        camera, rest = index % 3 + 1, index // 3
        performer, rest = _PERFORMERS[rest % len(_PERFORMERS)], rest // len(_PERFORMERS)
        replication, setup = rest % 2 + 1, rest // 2 + 1
        name = f"S{setup:03d}C{camera:03d}P{performer:03d}R{replication:03d}A{label + 1:03d}"
        ntu.write_skeleton_file(os.path.join(directory, f"{name}.skeleton"), per_frame)
    log(f"wrote {num_clips} synthetic NTU-format files to {directory}")
