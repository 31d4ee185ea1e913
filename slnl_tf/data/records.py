"""The project's record format: one `tf.train.Example` per clip.

features:
  skeleton  bytes   the (C, T, V, M) array, C order, little-endian float16 or float32
                    (the dataset's `storage_dtype`, in its manifest)
  shape     int64[4] C, T, V, M (T = valid frames)
  label     int64   0-based class
  name      bytes   sample name, unique in the dataset
  metadata  bytes   JSON of reader facts (setup, camera, ... for NTU)
"""
import json

import numpy as np
import tensorflow as tf

STORAGE_DTYPES = ("float16", "float32")


def serialize(sample, storage_dtype="float16"):
    """A Sample as a serialized tf.train.Example."""
    if storage_dtype == "float16" and np.abs(sample.data).max(initial=0) > np.finfo(np.float16).max:
        raise ValueError(f"{sample.name}: values beyond float16 range; use storage_dtype=float32")
    data = np.ascontiguousarray(sample.data, dtype=np.dtype(storage_dtype).newbyteorder("<"))
    feature = {
        "skeleton": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data.tobytes()])),
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(data.shape))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(sample.label)])),
        "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[sample.name.encode()])),
        "metadata": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[json.dumps(sample.metadata, sort_keys=True).encode()])),
    }
    # deterministic: map order otherwise varies by process, and rebuilt shards should be identical.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


FEATURE_SPEC = {
    "skeleton": tf.io.FixedLenFeature([], tf.string),
    "shape": tf.io.FixedLenFeature([4], tf.int64),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "name": tf.io.FixedLenFeature([], tf.string),
    "metadata": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def parse(serialized, storage_dtype="float16"):
    """Serialized Example -> {"skeleton": float32 (C, T, V, M), "frames", "label", "name"}.
    Graph-safe: usable in tf.data.map and inside an exported signature."""
    features = tf.io.parse_single_example(serialized, FEATURE_SPEC)
    raw = tf.io.decode_raw(features["skeleton"], tf.dtypes.as_dtype(storage_dtype), little_endian=True)
    skeleton = tf.cast(tf.reshape(raw, tf.cast(features["shape"], tf.int32)), tf.float32)
    return {
        "skeleton": skeleton,
        "frames": tf.cast(features["shape"][1], tf.int32),
        "label": tf.cast(features["label"], tf.int32),
        "name": features["name"],
    }
