"""The bones (pairs of 0-based joint indices) of each joint layout, for drawing skeletons,
and its left/right joint pairs, for mirroring a clip.

Written from each dataset's documentation of its joints:
- NTU RGB+D (Kinect v2, 25 joints): 1 spine base, 2 spine middle, 3 neck, 4 head,
  5-8 left shoulder, elbow, wrist, hand, 9-12 the right arm, 13-16 left hip, knee, ankle,
  foot, 17-20 the right leg, 21 spine at the shoulders, 22-23 left hand tip and thumb,
  24-25 the right hand's.
- Kinetics-skeleton (OpenPose COCO, 18): 0 nose, 1 neck, 2-4 right shoulder, elbow, wrist,
  5-7 the left arm, 8-10 right hip, knee, ankle, 11-13 the left leg, 14-15 right and left
  eye, 16-17 right and left ear.
- NW-UCLA (Kinect v1, 20): 1 hip centre, 2 spine, 3 shoulder centre, 4 head, 5-8 left
  shoulder, elbow, wrist, hand, 9-12 the right arm, 13-16 left hip, knee, ankle, foot,
  17-20 the right leg.
- SBU Kinect Interaction (15): 1 head, 2 neck, 3 torso, 4-6 left shoulder, elbow, hand,
  7-9 the right arm, 10-12 left hip, knee, foot, 13-15 the right leg.
"""

_NTU_1_BASED = ((1, 2), (2, 21), (21, 3), (3, 4), (21, 5), (5, 6), (6, 7), (7, 8), (8, 22), (8, 23),
                (21, 9), (9, 10), (10, 11), (11, 12), (12, 24), (12, 25), (1, 13), (13, 14), (14, 15),
                (15, 16), (1, 17), (17, 18), (18, 19), (19, 20))
_OPENPOSE_18 = ((0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
                (11, 12), (12, 13), (0, 14), (14, 16), (0, 15), (15, 17))
_NWUCLA_1_BASED = ((1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (7, 8), (3, 9), (9, 10), (10, 11),
                   (11, 12), (1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18), (18, 19), (19, 20))
_SBU_1_BASED = ((1, 2), (2, 3), (2, 4), (4, 5), (5, 6), (2, 7), (7, 8), (8, 9), (3, 10), (10, 11), (11, 12),
                (3, 13), (13, 14), (14, 15))


def _zero_based(pairs):
    return tuple((a - 1, b - 1) for a, b in pairs)


SBU = _zero_based(_SBU_1_BASED)
BONES = {
    25: _zero_based(_NTU_1_BASED),
    18: _OPENPOSE_18,
    20: _zero_based(_NWUCLA_1_BASED),
    15: SBU,
    # SBU with both persons merged into one body (the SBU records): joints 0-14 and 15-29.
    30: SBU + tuple((a + 15, b + 15) for a, b in SBU),
}


def bones_for(joints, layout=None):
    """The bones of a layout: `layout["bones"]` when a custom layout.json gives them, else
    the known layout with this joint count, else none (joints are drawn as points)."""
    if layout and layout.get("bones"):
        try:
            pairs = tuple((int(a), int(b)) for a, b in layout["bones"])
        except (TypeError, ValueError):
            raise ValueError(f"layout bones must be pairs of joint indices, got {layout['bones']!r}") from None
        outside = [pair for pair in pairs if not all(0 <= j < joints for j in pair)]
        if outside:
            raise ValueError(f"layout bones {outside} name joints outside 0-{joints - 1}")
        return pairs
    return BONES.get(joints, ())


# Left/right joint pairs (0-based) of each layout, from the joint lists above.
_NTU_MIRROR = ((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19), (21, 23), (22, 24))
_OPENPOSE_MIRROR = ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17))
_NWUCLA_MIRROR = ((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19))
_SBU_MIRROR = ((3, 6), (4, 7), (5, 8), (9, 12), (10, 13), (11, 14))
MIRROR_PAIRS = {
    25: _NTU_MIRROR,
    18: _OPENPOSE_MIRROR,
    20: _NWUCLA_MIRROR,
    15: _SBU_MIRROR,
    30: _SBU_MIRROR + tuple((a + 15, b + 15) for a, b in _SBU_MIRROR),
}


def mirror_permutation(joints, layout=None):
    """The joint order of the mirrored skeleton (each left joint takes its right partner's
    place and back): from `layout["mirror_pairs"]` when a custom layout.json gives them,
    else the known layout with this joint count; ValueError when neither exists."""
    if layout and layout.get("mirror_pairs"):
        try:
            pairs = tuple((int(a), int(b)) for a, b in layout["mirror_pairs"])
        except (TypeError, ValueError):
            raise ValueError(f"layout mirror_pairs must be pairs of joint indices, got {layout['mirror_pairs']!r}") \
                from None
    elif joints in MIRROR_PAIRS:
        pairs = MIRROR_PAIRS[joints]
    else:
        raise ValueError(f"no left/right joint pairs known for a {joints}-joint layout: give \"mirror_pairs\" in "
                         "the dataset's layout.json, or leave mirroring off (--mirror_probability=0, "
                         "no --eval_mirror)")
    permutation = list(range(joints))
    for a, b in pairs:
        if not (0 <= a < joints and 0 <= b < joints):
            raise ValueError(f"mirror pair {(a, b)} names a joint outside 0-{joints - 1}")
        permutation[a], permutation[b] = b, a
    if sorted(permutation) != list(range(joints)):
        raise ValueError(f"mirror pairs {pairs} use a joint twice")
    return tuple(permutation)
