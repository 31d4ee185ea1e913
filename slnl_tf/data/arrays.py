"""Preprocessed arrays: ST-GCN / 2s-AGCN `.npy` + `.pkl`, and PYSKL / MMAction2 `.pkl`."""
import pickle
import tokenize

import numpy as np

from slnl_tf.data import preprocess
from slnl_tf.data.sample import Sample, SampleError, finite_float32


def valid_frames(data):
    """Frames up to the last one with any non-zero value ((C, T, V, M) zero-padded at the end)."""
    nonzero = np.flatnonzero(np.abs(data).reshape(data.shape[0], data.shape[1], -1).max(axis=(0, 2)))
    return int(nonzero[-1]) + 1 if nonzero.size else 0


# What the ST-GCN / 2s-AGCN label files and PYSKL annotations hold besides lists, dicts,
# strings and numbers (which pickle stores without naming a class): numpy arrays and scalars.
PICKLE_CLASSES = {
    (module, name) for package in ("numpy.core", "numpy._core")
    for module, name in ((f"{package}.multiarray", "_reconstruct"), (f"{package}.multiarray", "scalar"),
                         (f"{package}.numeric", "_frombuffer"))
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _DataUnpickler(pickle.Unpickler):
    """Loads only data: a class outside PICKLE_CLASSES (os.system, eval, ...) is refused, so a
    crafted file cannot run code while it is read."""

    def find_class(self, module, name):
        if (module, name) in PICKLE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only lists, dicts, strings, numbers and "
                                     "numpy arrays are read from a .pkl")


def load_pickle(path):
    """The data in a .pkl file, through the restricted unpickler; SampleError naming the file
    when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return _DataUnpickler(f).load()
    except OSError as error:
        raise SampleError(path, f"cannot read: {error.strerror}")
    except Exception as error:  # a damaged pickle can raise any exception (the pickle module's docs)
        raise SampleError(path, f"not a readable pickle: {error!r}")


def read_name_label_pkl(path):
    """The 2s-AGCN / ST-GCN label file: a pickled (sample_names, labels) pair."""
    content = load_pickle(path)
    try:
        names, labels = content[:2]
        return [str(n).split(".")[0] for n in names], [int(label) for label in labels]
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise SampleError(path, f"not a pickled (names, integer labels) pair: {error!r}")


def load_array(path):
    """A `.npy` file's numeric array, memory-mapped (a header that claims more data than the
    file holds fails here, not in an allocation); SampleError naming the file otherwise."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    # numpy parses the header with tokenize and ast: a damaged one raises their errors too.
    except (OSError, ValueError, EOFError, OverflowError, SyntaxError, tokenize.TokenError) as error:
        raise SampleError(path, f"cannot load as .npy: {error}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise SampleError(path, f"holds {array.dtype} values, not numbers")
    return array


def load_npy(npy_path):
    """The (N, C, T, V, M) array, memory-mapped; SampleError if it is not one."""
    array = load_array(npy_path)
    if array.ndim != 5:
        raise SampleError(npy_path, f"expected (N, C, T, V, M), got shape {array.shape}")
    return array


def npy_clip(array, index, name, label, num_classes=None, where=None):
    """Clip `index` of a loaded array as a Sample, trailing zero frames cut off."""
    where = where or f"[{index}] ({name})"
    data = finite_float32(where, np.array(array[index]))
    frames = valid_frames(data)
    if frames == 0:
        raise SampleError(where, "zero frames (all values are 0)")
    if label < 0 or (num_classes is not None and label >= num_classes):
        raise SampleError(where, f"label {label} out of range [0, {num_classes})")
    return Sample(data[:, :frames], label, name, {"source_index": index})


def read_npy(npy_path, names, labels, num_classes=None):
    """Yields a Sample (or a SampleError, to be counted and reported) per clip."""
    array = load_npy(npy_path)
    if not len(names) == len(labels) == len(array):
        raise SampleError(npy_path, f"{len(array)} clips but {len(names)} names and {len(labels)} labels")
    for index, (name, label) in enumerate(zip(names, labels)):
        try:
            yield npy_clip(array, index, name, label, num_classes, where=f"{npy_path}[{index}] ({name})")
        except SampleError as error:
            yield error


def read_pyskl(path, num_classes=None):
    """Yields (name, Sample or SampleError, split names) per annotation of a PYSKL / MMAction2
    skeleton pickle: `{"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir",
    "label", "keypoint" (M, T, V, C), optional "keypoint_score" (M, T, V)}]}`. With scores,
    the channels are (x, y, score)."""
    content = load_pickle(path)
    annotations = content.get("annotations") if isinstance(content, dict) else None
    split_lists = content.get("split", {}) if isinstance(content, dict) else None
    if not isinstance(annotations, list) or not isinstance(split_lists, dict) or not all(
            isinstance(names, list) for names in split_lists.values()):
        raise SampleError(path, "not a PYSKL annotation pickle: a dict with an 'annotations' list and a 'split' "
                                "dict of name lists")
    splits_of = {}
    for split, names in split_lists.items():
        for name in names:
            splits_of.setdefault(str(name), []).append(str(split))
    for index, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            yield str(index), SampleError(f"{path}[{index}]", "an annotation must be a dict"), []
            continue
        name = str(annotation.get("frame_dir", index))
        where = f"{path}[{index}] ({name})"
        try:
            keypoint = finite_float32(where, np.asarray(annotation["keypoint"], np.float64))
            if keypoint.ndim != 4:
                raise SampleError(where, f"keypoint must be (M, T, V, C), got shape {keypoint.shape}")
            scored = "keypoint_score" in annotation
            if scored:
                score = finite_float32(where, np.asarray(annotation["keypoint_score"], np.float64))
                if score.shape != keypoint.shape[:3]:
                    raise SampleError(where, f"keypoint_score shape {score.shape} is not keypoint's (M, T, V) "
                                             f"{keypoint.shape[:3]}")
                keypoint = np.concatenate([keypoint[..., :2], score[..., None]], axis=-1)
            data = np.ascontiguousarray(keypoint.transpose(3, 1, 2, 0))
            if data.shape[1] == 0:
                raise SampleError(where, "zero frames")
            label = int(annotation["label"])
            if label < 0 or (num_classes is not None and label >= num_classes):
                raise SampleError(where, f"label {label} out of range [0, {num_classes})")
            channel_names = preprocess.default_channel_names(data.shape[0], score=scored)
            yield name, Sample(data, label, name, {"channel_names": channel_names}), splits_of.get(name, [])
        except SampleError as error:
            yield name, error, splits_of.get(name, [])
        except KeyError as error:
            yield name, SampleError(where, f"missing key {error}"), splits_of.get(name, [])
        except (TypeError, ValueError, OverflowError) as error:
            yield name, SampleError(where, f"keypoint, keypoint_score and label must be numeric: {error}"), \
                splits_of.get(name, [])
