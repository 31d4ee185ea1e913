"""Northwestern-UCLA Multiview Action 3D (NW-UCLA), as released with CTR-GCN.

One JSON per sequence, named `aXX_sYY_eZZ_vWW.json` (action, subject, take, view):
`{"file_name": "a01_s01_e00_v01", "skeletons": [[[x, y, z] x 20 joints] x T frames],
"label": L}`. Ten actions a01-a06, a08, a09, a11, a12; L is the 1-based position of the
action in that list (a08 is 7), not the action number. 20 Kinect v1 joints, one body.
"""
import os
import re

import numpy as np

from slnl_tf.data.sample import Sample, SampleError, finite_float32, load_json

ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
CLASS_NAMES = ("pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
               "stand up", "donning", "doffing", "throw", "carry")
NUM_JOINTS = 20
JOINT_NAMES = ("hip centre", "spine", "shoulder centre", "head", "left shoulder", "left elbow", "left wrist",
               "left hand", "right shoulder", "right elbow", "right wrist", "right hand", "left hip", "left knee",
               "left ankle", "left foot", "right hip", "right knee", "right ankle", "right foot")
NAME_PATTERN = re.compile(r"a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})")


def parse_name(name):
    """`a08_s02_e01_v03` -> {"action": 8, "subject": 2, "take": 1, "view": 3}; ValueError if
    it is not such a name or the action is not one of the ten."""
    match = NAME_PATTERN.fullmatch(name)
    if not match:
        raise ValueError(f"not an NW-UCLA sample name (aXX_sYY_eZZ_vWW): {name!r}")
    metadata = dict(zip(("action", "subject", "take", "view"), map(int, match.groups())))
    if metadata["action"] not in ACTIONS:
        raise ValueError(f"action a{metadata['action']:02d} is not one of NW-UCLA's ten "
                         f"({', '.join(f'a{a:02d}' for a in ACTIONS)}): {name!r}")
    return metadata


def read_array(path):
    """(C=3, T, V=20, M=1) float32 and the file's label field (or None); SampleError if unusable."""
    content = load_json(path)
    try:
        skeletons = content["skeletons"]
    except (KeyError, TypeError):
        raise SampleError(path, "no 'skeletons' list of frames")
    try:
        values = np.asarray(skeletons, np.float64)
    except (TypeError, ValueError):
        raise SampleError(path, "'skeletons' is not a list of frames of [x, y, z] joints of one shape")
    if values.size == 0:
        raise SampleError(path, "zero frames")
    if values.ndim != 3 or values.shape[1:] != (NUM_JOINTS, 3):
        raise SampleError(path, f"'skeletons' has shape {values.shape}, expected (T, {NUM_JOINTS}, 3)")
    values = finite_float32(path, values)
    return np.ascontiguousarray(values.transpose(2, 0, 1)[..., None]), content.get("label")


def read_sample(path):
    """One sequence as a Sample; the label comes from the name's action and must agree with
    the file's own `label` field when it has one."""
    name = os.path.basename(str(path))[: -len(".json")]
    try:
        metadata = parse_name(name)
    except ValueError as error:
        raise SampleError(path, str(error))
    data, file_label = read_array(path)
    label = ACTIONS.index(metadata["action"])
    if file_label is not None and file_label != label + 1:
        raise SampleError(path, f"'label' {file_label!r} disagrees with the name's action a{metadata['action']:02d} "
                                f"(label {label + 1}: the 1-based position in {list(ACTIONS)})")
    return Sample(data, label, name, metadata)
