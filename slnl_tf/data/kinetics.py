"""Kinetics-skeleton clips (the ST-GCN release: one JSON per clip, 18 OpenPose joints).

`{"data": [{"frame_index": 1, "skeleton": [{"pose": [x0, y0, ..., x17, y17],
"score": [s0, ..., s17]}, ...]}, ...], "label": "abseiling", "label_index": 0}`, x and y
normalised by the frame size. As in ST-GCN's feeder: up to 5 persons per frame are read,
x and y are centred by -0.5, joints with score 0 are zeroed, persons are ranked per frame
by summed score and the best `max_persons` kept. Channels are (x, y, score). Frames keep
their `frame_index` positions (1-based), frames without a person stay zero.
"""
import os

import numpy as np

from slnl_tf.data.sample import Sample, SampleError, check_finite, finite_float32, load_json

NUM_JOINTS = 18
PERSONS_READ = 5  # ST-GCN reads up to 5 persons per frame before ranking
# Kinetics clips are 300 frames; this bound (5.5 minutes at 30 fps) keeps one bad index
# from becoming a record of gigabytes.
MAX_FRAME_INDEX = 10_000


def read_label_names(path):
    """Class names, one per line, in label-index order (e.g. Kinetics' label_name.txt)."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def read_label_file(path):
    """ST-GCN's `kinetics_{split}_label.json`: {clip name: {"label_index", "has_skeleton", ...}}."""
    info = load_json(path)
    if not isinstance(info, dict):
        raise SampleError(path, f"a label file maps clip names to entries; this holds a {type(info).__name__}")
    return info


def _label(path, clip, label_names):
    if label_names is not None and "label" in clip:
        if clip["label"] not in label_names:
            raise SampleError(path, f"label {clip['label']!r} is not in the label names")
        label = label_names.index(clip["label"])
    elif "label_index" in clip:
        label = clip["label_index"]
    else:
        raise SampleError(path, "no 'label_index' and no 'label' with label names to look it up")
    num_classes = len(label_names) if label_names is not None else None
    if not isinstance(label, int) or label < 0 or (num_classes is not None and label >= num_classes):
        raise SampleError(path, f"label {label!r} out of range [0, {num_classes or 'classes'})")
    return label


def read_sample(path, label_names=None, max_persons=2, label=None, labelled=True):
    """A Kinetics-skeleton JSON as a Sample; SampleError if unusable.

    label_names: class names in index order; when given, the label comes from the clip's
    `label` name and is checked against it, else from `label_index`.
    label: the clip's label_index from the split's label JSON, which then takes precedence.
    labelled: False for a clip to classify: its label (-1) is not read.
    """
    clip = load_json(path)
    try:
        frames = clip["data"]
    except (KeyError, TypeError):
        raise SampleError(path, "no 'data' list of frames")
    if not labelled:
        label = -1
    else:
        label = _label(path, {"label_index": label} if label is not None else clip,
                       None if label is not None else label_names)
    if labelled and label is not None and label_names is not None and label >= len(label_names):
        raise SampleError(path, f"label {label} out of range [0, {len(label_names)})")
    if not isinstance(frames, list) or not all(isinstance(frame, dict) for frame in frames):
        raise SampleError(path, "'data' must be a list of frame objects")
    try:
        indices = [int(frame["frame_index"]) for frame in frames]
    except (KeyError, TypeError, ValueError, OverflowError):
        raise SampleError(path, "a frame without a valid 'frame_index'")
    if min(indices, default=1) < 1:
        raise SampleError(path, f"frame_index {min(indices)} < 1 (indices are 1-based)")
    num_frames = max(indices, default=0)
    if num_frames <= 0:
        raise SampleError(path, "zero frames")
    if num_frames > MAX_FRAME_INDEX:
        raise SampleError(path, f"frame_index {num_frames} is beyond {MAX_FRAME_INDEX} (Kinetics clips have 300 "
                                "frames): not read")
    data = np.zeros((3, num_frames, NUM_JOINTS, PERSONS_READ), np.float32)
    for frame, t in zip(frames, np.asarray(indices) - 1):
        persons = frame.get("skeleton") or []  # null or absent: nobody in this frame
        if not isinstance(persons, list):
            raise SampleError(path, f"frame {t + 1}: 'skeleton' must be a list of persons")
        for m, person in enumerate(persons[:PERSONS_READ]):
            try:
                pose = finite_float32(path, np.asarray(person["pose"], np.float64))
                score = finite_float32(path, np.asarray(person["score"], np.float64))
            except SampleError:
                raise
            except (KeyError, TypeError, ValueError):
                raise SampleError(path, f"frame {t + 1}: a person without numeric 'pose' and 'score'")
            if pose.shape != (2 * NUM_JOINTS,) or score.shape != (NUM_JOINTS,):
                raise SampleError(path, f"wrong joint count in frame {t + 1}: {pose.size // 2} poses, "
                                        f"{score.size} scores (expected {NUM_JOINTS})")
            data[0, t, :, m], data[1, t, :, m], data[2, t, :, m] = pose[0::2], pose[1::2], score
    check_finite(path, data)
    if not data[2].any():
        raise SampleError(path, "no skeleton in any frame")
    data[:2] -= 0.5
    data[:2][np.broadcast_to(data[2] == 0, data[:2].shape)] = 0
    order = np.argsort(-data[2].sum(axis=1), axis=1, kind="stable")  # (T, persons) per frame
    data = np.take_along_axis(data, order[None, :, None, :], axis=3)[..., :max_persons]
    name = os.path.splitext(os.path.basename(str(path)))[0]
    return Sample(np.ascontiguousarray(data), label, name, {"label_name": clip.get("label", "")})
