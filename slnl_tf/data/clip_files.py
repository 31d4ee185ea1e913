"""One unlabelled clip file -> the array a trained model takes, prepared as its training data was.

Prediction and the serving client read a user's file here: a raw NTU-format `.skeleton`
file (any name), a Kinetics-skeleton or NW-UCLA `.json` clip, an SBU `skeleton_pos.txt`, or
a `.npy` array `(C, T, V, M)` or `(N, C, T, V, M)` (trailing all-zero frames dropped, as
the converter does). The preparation (NTU body selection, the preprocessing of
slnl_tf/data/preprocess.py) comes from the dataset's manifest, which the export copies as
`assets.extra/slnl_input.json` (`input_spec`), so a clip is prepared exactly as the records
the model was trained on.
"""
import json
import os

import numpy as np

from slnl_tf.data import arrays, kinetics, ntu, nwucla, sbu
from slnl_tf.data.preprocess import Preprocessing, two_stream_agcn
from slnl_tf.data.sample import PREPROCESSING_OVERFLOW, SampleError, check_finite, finite_float32

SPEC_FILE = os.path.join("assets.extra", "slnl_input.json")
SUFFIXES = (".skeleton", ".json", ".txt", ".npy")


def input_spec(manifest):
    """What a clip file needs to become model input: layout, class names, preparation."""
    options = manifest.get("options", {})
    return {"layout": manifest["layout"], "class_names": manifest.get("class_names"),
            "body_selection": options.get("body_selection", "denoise"),
            "preprocessing": manifest.get("preprocessing") or preprocessing_of(
                {"normalize": options.get("normalize", False)}).to_dict()}


def default_spec(channels, joints, persons):
    """The spec of an export that carries none: the readers' defaults for that shape."""
    return {"layout": {"channels": channels, "joints": joints, "persons": persons}, "class_names": None,
            "body_selection": "denoise", "preprocessing": Preprocessing().to_dict()}


def preprocessing_of(spec):
    """The spec's Preprocessing; specs written before it existed say only `normalize`."""
    if spec.get("preprocessing"):
        return Preprocessing.from_dict(spec["preprocessing"])
    return two_stream_agcn() if spec.get("normalize") else Preprocessing()


def read_spec(export_dir):
    """The export's input spec, or None when it has none."""
    path = os.path.join(export_dir, SPEC_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def read_clips(path, spec):
    """[(where, clip or SampleError)] for one file: one entry, or one per clip of an
    `(N, C, T, V, M)` `.npy` (where = `path[i]`). A clip is float32 `(C, T, V, M)` checked
    against `spec["layout"]`; the error names the file and the problem (unknown kind, wrong
    joint or channel count, no frames, NaN)."""
    path = str(path)
    suffix = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        return [(path, SampleError(path, "no such file"))]
    if suffix not in SUFFIXES:
        return [(path, SampleError(path, f"unknown clip kind {suffix!r}; expected one of {', '.join(SUFFIXES)}"))]
    if suffix != ".npy":
        return [(path, prepare(path, _read_raw(path, suffix, spec), spec))]
    try:
        array = arrays.load_array(path)
    except SampleError as error:
        return [(path, error)]
    if array.ndim == 4:
        return [(path, prepare(path, _trimmed(path, array), spec))]
    if array.ndim == 5:
        return [(f"{path}[{i}]", prepare(f"{path}[{i}]", _trimmed(f"{path}[{i}]", array[i]), spec))
                for i in range(len(array))]
    return [(path, SampleError(path, f"a .npy must hold (C, T, V, M) or (N, C, T, V, M); got shape {array.shape}"))]


def read_unprepared(path, spec, index=0):
    """A clip file as read, before any preprocessing: a raw file (`.skeleton`, `.json`,
    `.txt`) with the spec's person count, or a `.npy` `(C, T, V, M)` (the `index`-th of an
    `(N, C, T, V, M)`) without its trailing all-zero frames; float32 `(C, T, V, M)`. Raises
    SampleError naming the file."""
    path = str(path)
    if path.endswith(".npy"):
        array = arrays.load_array(path)
        if array.ndim == 5:
            if not 0 <= index < len(array):
                raise SampleError(path, f"clip index {index}, but the file holds {len(array)} clips")
            array = array[index]
        if array.ndim != 4:
            raise SampleError(path, f"a .npy must hold (C, T, V, M) or (N, C, T, V, M); got shape {array.shape}")
        data = _trimmed(path, array)
    else:
        data = _read_raw(path, os.path.splitext(path)[1].lower(), spec)
    if isinstance(data, SampleError):
        raise data
    return data


def prepared_or_raise(where, data, spec):
    """`prepare`, raising its SampleError instead of returning it."""
    prepared = prepare(where, data, spec)
    if isinstance(prepared, SampleError):
        raise prepared
    return prepared


def _read_raw(path, suffix, spec):
    persons = _raw_layout(spec)["persons"]
    try:
        if suffix == ".skeleton":
            return ntu.read_array(path, spec.get("body_selection", "denoise"), persons)[0]
        if suffix == ".txt":
            return sbu.read_array(path)
        if _is_nwucla_json(path):
            return nwucla.read_array(path)[0]
        return kinetics.read_sample(path, max_persons=persons, labelled=False).data
    except SampleError as error:
        return error


def _is_nwucla_json(path):
    """Whether a .json clip is NW-UCLA's ({"skeletons": ...}) rather than Kinetics' ({"data": ...})."""
    with open(path, "rb") as f:
        head = f.read(4096)
    return b'"skeletons"' in head and b'"data"' not in head


def _raw_layout(spec):
    """The layout of a clip as read, before preprocessing (which may merge the persons)."""
    return preprocessing_of(spec).input_layout(spec["layout"])


def _trimmed(where, clip):
    """The clip as float32 without its trailing all-zero frames (preprocessed arrays are
    padded), or the SampleError of a clip whose values are not finite float32."""
    try:
        clip = finite_float32(where, clip)
    except SampleError as error:
        return error
    return clip[:, : arrays.valid_frames(clip)]


def prepare(where, data, spec):
    """`data` (C, T, V, M) checked against the spec's layout and preprocessed as the spec's
    training records were; a SampleError naming `where` when it does not fit."""
    if isinstance(data, SampleError):
        return data
    layout = _raw_layout(spec)
    channels, frames, joints, persons = data.shape
    try:
        if joints != layout["joints"]:
            raise SampleError(where, f"{joints} joints, but the model takes {layout['joints']}")
        if channels != layout["channels"]:
            raise SampleError(where, f"{channels} channels, but the model takes {layout['channels']}")
        if frames == 0:
            raise SampleError(where, "zero frames")
        check_finite(where, data)
    except SampleError as error:
        return error
    if persons < layout["persons"]:
        data = np.pad(data, [(0, 0)] * 3 + [(0, layout["persons"] - persons)])
    data = data[..., : layout["persons"]]
    prepared = np.ascontiguousarray(preprocessing_of(spec).apply(data), np.float32)
    return prepared if np.isfinite(prepared).all() else SampleError(where, PREPROCESSING_OVERFLOW)
