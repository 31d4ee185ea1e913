"""A small, learnable skeleton dataset generated on the fly (no download).

Class `c` moves one group of joints (`c % num_groups`) with a temporal frequency of
`1 + c // num_groups` cycles per clip, on top of a random resting pose, random phase,
amplitude jitter and noise. The classes therefore differ by *which joints* move and by
*how fast*, which is what the spatial and frequency parts of SLnL-rFA are for. Some clips
have a second person; absent persons are zeros, as in the real datasets.
"""
import numpy as np

# NTU-25 joint groups (0-based): torso, left arm, right arm, left leg, right leg.
NTU_JOINT_GROUPS = ((0, 1, 2, 3, 20), (4, 5, 6, 7, 21, 22), (8, 9, 10, 11, 23, 24),
                    (12, 13, 14, 15), (16, 17, 18, 19))


def joint_groups(num_joints):
    """NTU's body parts for 25 joints, else consecutive equal chunks of 5."""
    if num_joints == 25:
        return NTU_JOINT_GROUPS
    return tuple(tuple(range(start, min(start + 5, num_joints))) for start in range(0, num_joints, 5))


def make_clips(num_clips, num_classes, frames, joints=25, persons=2, seed=0, noise=0.02):
    """Returns `(clips (N, 3, T, V, M) float32, labels (N,) int32)`, labels balanced."""
    rng = np.random.default_rng(seed)
    groups = joint_groups(joints)
    labels = np.arange(num_clips, dtype=np.int32) % num_classes
    rng.shuffle(labels)
    t = np.arange(frames, dtype=np.float64) / frames
    clips = np.zeros((num_clips, 3, frames, joints, persons), np.float32)
    for n, label in enumerate(labels):
        moving = list(groups[label % len(groups)])
        cycles = 1 + label // len(groups)
        for m in range(persons if rng.random() < 0.3 else 1):
            pose = rng.normal(scale=0.3, size=(3, 1, joints)) + np.array([0.0, 0.0, 3.0])[:, None, None]
            motion = np.zeros((3, frames, joints))
            phase = rng.uniform(0, 2 * np.pi)
            amplitude = rng.uniform(0.15, 0.3, size=(3, 1, 1))
            motion[:, :, moving] = amplitude * np.sin(2 * np.pi * cycles * t + phase)[None, :, None]
            clips[n, :, :, :, m] = pose + motion + rng.normal(scale=noise, size=(3, frames, joints))
    return clips, labels
