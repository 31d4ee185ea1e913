"""What the LiteRT and ONNX exports share: the network in a convertible form (the frequency
attention's DFT as matrix products, a fixed number of person slots, each computed), the
metadata beside the model files, and a classifier that prepares raw clips with NumPy, as
the SavedModel does in its graph, so that an exported file runs without TensorFlow.

A converted graph cannot skip the absent persons as the SavedModel does, so beside the
model of all M slots each export writes a one-person model (the absent persons' features as
constants, slnl_tf/present_persons.py) that the classifiers run when a clip holds at most
one person: most clips, at about half the cost."""
import functools
import json
import os

import numpy as np

from slnl_tf.data import clip_files

METADATA_FILE = "model.json"


def matmul_model(model, config):
    """`model`'s network with the frequency attention's DFT as matrix products and its
    weights, every person slot computed (a fixed graph)."""
    from slnl_tf.model import build_model

    converted = build_model(config, frequency_transform="matmul")
    for layer in converted.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return converted


def classify_function(network, config, batch=1, persons=None):
    """A tf.function of `network` (a model of `matmul_model`) on prepared clips
    `(batch, C, T, V, persons)` (batch None: any batch; persons: config.persons by default,
    fewer for a model of clips with fewer persons, the missing slots taken as absent)
    returning `probabilities` (the fused score: the mean of the three heads' softmaxes)
    and `logits` (the concatenated head's), float32 `(batch, classes)`, in that order."""
    import tensorflow as tf

    from slnl_tf.model import OUTPUTS as HEADS
    from slnl_tf.present_persons import PresentPersonsModel

    persons = persons or config.persons
    logits_of = (PresentPersonsModel(network).call_on_fewer_slots if persons < config.persons else
                 functools.partial(network, training=False))
    spec = tf.TensorSpec((batch, config.channels, config.frames, config.joints, persons), tf.float32, name="clips")

    @tf.function(input_signature=[spec])
    def classify(clips):
        logits = logits_of(clips)
        probabilities = tf.add_n([tf.nn.softmax(tf.cast(logits[h], tf.float32)) for h in HEADS]) / len(HEADS)
        return probabilities, tf.cast(logits["concat"], tf.float32)

    return classify


def one_person_file(model_file):
    """The file name of the one-person model beside `model_file` (`x.tflite` -> `x_one_person.tflite`)."""
    stem, extension = os.path.splitext(model_file)
    return f"{stem}_one_person{extension}"


def model_forms(model_file, config):
    """The (file name, person slots) of each model an export writes for `model_file`: the
    model of every slot, and its one-person model when the config has more than one slot."""
    return [(model_file, config.persons)] + ([(one_person_file(model_file), 1)] if config.persons > 1 else [])


def write_metadata(export_dir, config, input_spec, models, eval_crop_ratio, batch=1):
    """`model.json`: the input, the outputs, the model files (and their one-person models
    when the config has more than one person slot), the class names and how a raw clip is
    prepared (slnl_tf/data/clip_files.py)."""
    metadata = {
        "input": {"name": "clips", "shape": [batch, config.channels, config.frames, config.joints, config.persons],
                  "dtype": "float32", "layout": "(batch, C, T, V, M), prepared and resampled to T frames"},
        "outputs": {"probabilities": "fused score (mean of the three heads' softmaxes)",
                    "logits": "the concatenated head's logits"},
        "models": models,
        "frames": config.frames,
        "eval_crop_ratio": eval_crop_ratio,
        "class_names": (input_spec.get("class_names") or [])[: config.num_classes],
        "input_spec": input_spec,
    }
    if config.persons > 1:
        metadata["one_person_models"] = {key: one_person_file(name) for key, name in models.items()}
        metadata["one_person_input"] = ("as input, with M = 1: the one person of a clip with at most one person "
                                        "present (the other slots all zeros); same outputs")
    with open(os.path.join(export_dir, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=1)
    return metadata


def read_metadata(export_dir):
    with open(os.path.join(export_dir, METADATA_FILE)) as f:
        return json.load(f)


def resample(clip, frames_out, ratio):
    """(C, T, V, M) -> (C, frames_out, V, M): the central `ratio` of the frames, linearly
    resized with half-pixel centres; NumPy's version of export.resample_batch."""
    frames = clip.shape[1]
    length = int(np.clip(np.round(ratio * frames), 1, frames))
    start = int(np.round(0.5 * (frames - length)))
    position = np.clip((np.arange(frames_out, dtype=np.float32) + 0.5) * (length / frames_out) - 0.5, 0.0,
                       length - 1)
    lower = np.floor(position).astype(np.int64)
    weight = (position - lower).astype(np.float32)[None, :, None, None]
    before = clip[:, start + lower]
    after = clip[:, start + np.minimum(lower + 1, length - 1)]
    return (before + (after - before) * weight).astype(np.float32)


def only_person_slot(prepared_clip):
    """The slot of the one person a prepared clip `(C, T, V, M)` holds (0 when it holds
    none), or None when it holds more than one."""
    present = np.flatnonzero(np.any(prepared_clip != 0, axis=(0, 1, 2)))
    return None if len(present) > 1 else int(present[0]) if len(present) else 0


class PreparingClassifier:
    """An export directory with model.json: `classify(clip)` takes a raw clip `(C, T, V, M)`
    as a reader gives it, prepares it as the training records were, resamples it to T
    frames and returns the fused probabilities from the export's model of `model_key`, or
    from its one-person model when the clip holds at most one person. Each format
    implements `load(path)`: a function of prepared clips `(batch, C, T, V, slots)` giving
    probabilities `(batch, classes)`."""

    def __init__(self, export_dir, model_key):
        self.metadata = read_metadata(export_dir)
        self.class_names = self.metadata["class_names"]
        if model_key not in self.metadata["models"]:
            raise ValueError(f"{export_dir} has models {sorted(self.metadata['models'])}, not {model_key!r}")
        self.all_slots = self.load(os.path.join(export_dir, self.metadata["models"][model_key]))
        one_person = self.metadata.get("one_person_models", {}).get(model_key)
        self.one_person = self.load(os.path.join(export_dir, one_person)) if one_person else None

    def load(self, path):
        raise NotImplementedError

    def prepared(self, clip, where="clip"):
        """The model's input for a raw clip; raises SampleError naming `where`."""
        ready = clip_files.prepared_or_raise(where, np.asarray(clip, np.float32), self.metadata["input_spec"])
        return resample(ready, self.metadata["frames"], self.metadata["eval_crop_ratio"])

    def probabilities(self, prepared_clip):
        """The fused probabilities `(classes,)` of one prepared clip `(C, T, V, M)`."""
        slot = only_person_slot(prepared_clip) if self.one_person else None
        if slot is None:
            return self.all_slots(prepared_clip[None])[0]
        return self.one_person(prepared_clip[None, ..., slot:slot + 1])[0]

    def classify(self, clip, where="clip"):
        return self.probabilities(self.prepared(clip, where))
