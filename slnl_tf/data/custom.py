"""Your own skeleton data: one `.npy` per clip plus a CSV index (README, "Your own data").

    my_data/
      layout.json     {"joints": 17, "channels": 3, "class_names": ["wave", "kick", ...],
                       "joint_names": [...], "channel_names": ["x", "y", "z"]}
                      (joint_names optional; channel_names default x, y(, z): name a
                       confidence "score" so augmentation leaves it alone; optional
                       "bones" and "mirror_pairs": joint pairs to draw and left/right
                       partners for --mirror_probability)
      samples.csv     name,label,split   (header line; name: a plain file name; label: 0-based
                                          int; split: a word, e.g. train / test)
      clips/<name>.npy  float array (C, T, V, M), or (C, T, V) for one person
"""
import csv
import json
import os
import re

import numpy as np

from slnl_tf.data import arrays, bones
from slnl_tf.data.preprocess import default_channel_names
from slnl_tf.data.sample import Sample, SampleError, finite_float32


MAX_JOINTS, MAX_CHANNELS = 1024, 64  # far beyond any skeleton layout: a larger value is a damaged file


def read_layout(root):
    path = os.path.join(root, "layout.json")
    try:
        with open(path) as f:
            layout = json.load(f)
        joints, channels, class_names = int(layout["joints"]), int(layout["channels"]), list(layout["class_names"])
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as error:
        raise SampleError(path, f"needs integer 'joints', 'channels' and a 'class_names' list: {error!r}")
    if not (1 <= joints <= MAX_JOINTS and 1 <= channels <= MAX_CHANNELS and class_names):
        raise SampleError(path, f"'joints' must be 1-{MAX_JOINTS}, 'channels' 1-{MAX_CHANNELS} and 'class_names' "
                                f"not empty; got {joints}, {channels} and {len(class_names)} names")
    names = layout.get("channel_names") or default_channel_names(channels)
    if not isinstance(names, list) or len(names) != channels:
        raise SampleError(path, f"channel_names must list {channels} names (e.g. x, y, score), got {names!r}")
    if layout.get("mirror_pairs"):
        try:
            bones.mirror_permutation(joints, layout)
        except ValueError as error:
            raise SampleError(path, str(error))
    return {**layout, "joints": joints, "channels": channels, "class_names": class_names, "channel_names": names}


SPLIT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def _row_problem(row):
    """Why a samples.csv row cannot be used, or None."""
    missing = [column for column in ("name", "label", "split") if row[column] is None]
    if missing:
        return f"no {', '.join(missing)} (a row needs name,label,split)"
    name, label, split = row["name"].strip(), row["label"].strip(), row["split"].strip()
    if not name or name in (".", "..") or "/" in name or "\\" in name or os.path.isabs(name):
        return f"name {name!r} is not a plain file name (clips/<name>.npy; no '/', '\\' or '..')"
    try:
        int(label)
    except ValueError:
        return f"label must be an integer, got {label!r}"
    if not SPLIT_NAME.match(split):
        return f"split {split!r} must be a word of letters, digits, '_' or '-' (e.g. train, test)"
    return None


def read_index(root):
    """(rows, skips): [(name, label, split)] from samples.csv, and [(path:line, why)] for the
    rows that cannot be used (too few fields, a name that is not a plain file name, a label
    that is not an integer, a split that is not a word); a bad header raises SampleError."""
    path = os.path.join(root, "samples.csv")
    rows, skips = [], []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"name", "label", "split"} <= set(reader.fieldnames):
                raise SampleError(path, "header must have the columns name,label,split")
            for line, row in enumerate(reader, start=2):
                problem = _row_problem(row)
                if problem:
                    skips.append((f"{path}:{line}", problem))
                else:
                    rows.append((row["name"].strip(), int(row["label"]), row["split"].strip()))
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    except (UnicodeDecodeError, csv.Error) as error:
        raise SampleError(path, f"not a readable CSV file: {error}")
    return rows, skips


def read_sample(root, name, label, layout, max_persons=2):
    path = os.path.join(root, "clips", f"{name}.npy")
    data = finite_float32(path, arrays.load_array(path))
    if data.ndim == 3:
        data = data[..., None]
    expected = (layout["channels"], layout["joints"])
    if data.ndim != 4 or (data.shape[0], data.shape[2]) != expected:
        raise SampleError(path, f"shape {data.shape} is not (C={expected[0]}, T, V={expected[1]}, M)")
    if data.shape[1] == 0:
        raise SampleError(path, "zero frames")
    if data.shape[3] > max_persons:
        raise SampleError(path, f"{data.shape[3]} persons, more than max_persons={max_persons}")
    if not 0 <= label < len(layout["class_names"]):
        raise SampleError(path, f"label {label} out of range [0, {len(layout['class_names'])})")
    padded = np.zeros(data.shape[:3] + (max_persons,), np.float32)
    padded[..., : data.shape[3]] = data
    return Sample(padded, label, name, {})
