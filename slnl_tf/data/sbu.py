"""SBU Kinect Interaction v2.0 (Yun et al., CVPRW 2012), clean version.

Layout: `<raw_dir>/<set>/<class>/<take>/skeleton_pos.txt`, 21 sets `sAAsBB` (a pair of
performers), 8 classes `01`-`08`, one CSV line a frame: the frame number, then person 1's
15 joints x, y, z, then person 2's (91 values). Coordinates are kept as the dataset ships
them (x, y in image units, z in depth units; its readme gives x = 1280 - 2560 x',
y = 960 - 1920 y', z = 10000 z' / 7.8125): centring and scale normalisation
(`slnl_tf/data/preprocess.py`) make their offsets and units irrelevant.
"""
import os

import numpy as np

from slnl_tf.data.sample import Sample, SampleError, finite_float32, is_number

NUM_JOINTS = 15
PERSONS = 2
CLASS_NAMES = ("approaching", "departing", "kicking", "punching", "pushing", "hugging", "shaking hands",
               "exchanging objects")
JOINT_NAMES = ("head", "neck", "torso", "left shoulder", "left elbow", "left hand", "right shoulder",
               "right elbow", "right hand", "left hip", "left knee", "left foot", "right hip", "right knee",
               "right foot")
FILE_NAME = "skeleton_pos.txt"


def sample_name(path):
    """`.../s01s02/03/001/skeleton_pos.txt` -> `s01s02_03_001`."""
    take_dir = os.path.dirname(os.path.abspath(path))
    class_dir = os.path.dirname(take_dir)
    return "_".join((os.path.basename(os.path.dirname(class_dir)), os.path.basename(class_dir),
                     os.path.basename(take_dir)))


def parse_name(name):
    """`s01s02_03_001` -> {"set": "s01s02", "class": 3, "take": 1}; ValueError otherwise."""
    parts = name.split("_")
    if (len(parts) != 3 or len(parts[0]) != 6 or parts[0][0] != "s" or parts[0][3] != "s"
            or not (parts[0][1:3] + parts[0][4:6] + parts[1] + parts[2]).isdigit()):
        raise ValueError(f"not an SBU sample path <set sAAsBB>/<class>/<take>/{FILE_NAME}: {name!r}")
    set_name, label, take = parts[0], int(parts[1]), int(parts[2])
    if not 1 <= label <= len(CLASS_NAMES):
        raise ValueError(f"SBU class folder {parts[1]!r} is not one of 01-{len(CLASS_NAMES):02d}: {name!r}")
    return {"set": set_name, "class": label, "take": take}


def read_array(path):
    """(C=3, T, V=15, M=2) float32 from one `skeleton_pos.txt`; SampleError if unusable."""
    try:
        with open(path) as f:
            lines = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise SampleError(path, f"cannot read: {getattr(error, 'strerror', None) or error}")
    if not lines:
        raise SampleError(path, "zero frames")
    expected = 1 + PERSONS * NUM_JOINTS * 3
    rows = []
    for number, line in enumerate(lines, start=1):
        values = line.split(",")
        if len(values) != expected:
            raise SampleError(path, f"line {number} has {len(values)} values, expected {expected} "
                                    f"(frame number + {PERSONS} persons x {NUM_JOINTS} joints x 3)")
        try:
            rows.append([float(v) for v in values[1:]])
        except ValueError:
            bad = next(v for v in values[1:] if not is_number(v))
            raise SampleError(path, f"non-numeric value {bad.strip()!r} in line {number}")
    values = finite_float32(path, np.array(rows, np.float64).reshape(len(rows), PERSONS, NUM_JOINTS, 3))
    return values.transpose(3, 0, 2, 1)  # (T, M, V, C) -> (C, T, V, M)


def read_sample(path):
    """One SBU take as a Sample (label = class - 1)."""
    name = sample_name(path)
    try:
        metadata = parse_name(name)
    except ValueError as error:
        raise SampleError(path, str(error))
    return Sample(read_array(path), metadata["class"] - 1, name, metadata)
