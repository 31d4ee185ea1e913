"""Your own skeleton data: one `.npy` per clip plus a CSV index (README, "Your own data").

    my_data/
      layout.json     {"joints": 17, "channels": 3, "class_names": ["wave", "kick", ...],
                       "joint_names": [...]}            (joint_names optional)
      samples.csv     name,label,split   (header line; label: 0-based int; split: any word,
                                          e.g. train / test)
      clips/<name>.npy  float array (C, T, V, M), or (C, T, V) for one person
"""
import csv
import json
import os

import numpy as np

from data_pipeline.sample import Sample, SampleError, check_finite


def read_layout(root):
    path = os.path.join(root, "layout.json")
    try:
        with open(path) as f:
            layout = json.load(f)
        joints, channels, class_names = int(layout["joints"]), int(layout["channels"]), list(layout["class_names"])
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise SampleError(path, f"needs integer 'joints', 'channels' and a 'class_names' list: {error!r}")
    return {**layout, "joints": joints, "channels": channels, "class_names": class_names}


def read_index(root):
    """[(name, label, split)] from samples.csv; bad rows raise SampleError naming the line."""
    path = os.path.join(root, "samples.csv")
    rows = []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"name", "label", "split"} <= set(reader.fieldnames):
                raise SampleError(path, "header must have the columns name,label,split")
            for line, row in enumerate(reader, start=2):
                try:
                    rows.append((row["name"].strip(), int(row["label"]), row["split"].strip()))
                except (ValueError, AttributeError):
                    raise SampleError(f"{path}:{line}", f"label must be an integer, got {row['label']!r}")
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    return rows


def read_sample(root, name, label, layout, max_persons=2):
    path = os.path.join(root, "clips", f"{name}.npy")
    try:
        data = np.load(path).astype(np.float32)
    except (OSError, ValueError) as error:
        raise SampleError(path, f"cannot load as .npy: {error}")
    if data.ndim == 3:
        data = data[..., None]
    expected = (layout["channels"], layout["joints"])
    if data.ndim != 4 or (data.shape[0], data.shape[2]) != expected:
        raise SampleError(path, f"shape {data.shape} is not (C={expected[0]}, T, V={expected[1]}, M)")
    if data.shape[1] == 0:
        raise SampleError(path, "zero frames")
    if data.shape[3] > max_persons:
        raise SampleError(path, f"{data.shape[3]} persons, more than max_persons={max_persons}")
    check_finite(path, data)
    if not 0 <= label < len(layout["class_names"]):
        raise SampleError(path, f"label {label} out of range [0, {len(layout['class_names'])})")
    padded = np.zeros(data.shape[:3] + (max_persons,), np.float32)
    padded[..., : data.shape[3]] = data
    return Sample(padded, label, name, {})
