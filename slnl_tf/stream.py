"""Recognising actions in a live skeleton stream, frame by frame.

    slnl-stream --export_dir=exports/litert S001C001P001R001A001.skeleton --fps=30
    pose_estimator | slnl-stream --export_dir=exports/slnl_rfa/1 --json -

Frames arrive one at a time (`StreamingRecognizer.push` in Python; the command replays a
raw clip file at `--fps`, or reads JSON lines from stdin, `-`). The recognizer keeps the
last `window` frames, classifies them every `stride` frames with an export (a SavedModel
directory, or a LiteRT or ONNX export directory holding model.json), smooths the scores over time (an
exponential moving average) and emits an event: (time, frame, top classes and scores,
latency of that decision). One frame on stdin is one JSON object:

    {"time": 12.033, "persons": [{"id": 7, "joints": [[x, y, z], ...]}, ...]}

`time` is optional (default: frame count / --fps); each person has an `id` that stays the
same while a pose tracker follows them, and as many joints of as many values as the
export's layout (e.g. 25 x 3 for NTU). A person who appears takes a free slot of the
model's M, keeps it while present and frees it on leaving; beyond M persons the newcomers
wait. A frame that does not fit (wrong joint or value count, NaN) is reported and skipped.
"""
import collections
import dataclasses
import json
import os
import sys
import time

import numpy as np

from slnl_tf.data import clip_files
from slnl_tf.data.sample import SampleError


@dataclasses.dataclass
class Event:
    time: float  # seconds, of the frame that completed the window
    frame: int  # frames pushed so far
    top: list  # [(class name, smoothed score)], best first
    latency_ms: float  # time the decision took

    def as_dict(self):
        return {"time": round(self.time, 4), "frame": self.frame, "latency_ms": round(self.latency_ms, 2),
                "top": [{"name": name, "score": round(score, 4)} for name, score in self.top]}


def load_classifier(export_dir, quantization="float32", threads=None):
    """(classify(raw clip (C, T, V, M)) -> probabilities, class names, raw layout) of a
    SavedModel export, a LiteRT or an ONNX export directory (model.json)."""
    from slnl_tf import portable

    if os.path.exists(os.path.join(export_dir, portable.METADATA_FILE)):
        from slnl_tf import onnx_export

        if os.path.exists(os.path.join(export_dir, onnx_export.MODEL_FILE)):
            classifier = onnx_export.OnnxClassifier(export_dir, threads)
        else:
            from slnl_tf.litert import LiteRTClassifier

            classifier = LiteRTClassifier(export_dir, quantization, threads)
        spec = classifier.metadata["input_spec"]
        classify = classifier.classify
    else:
        from slnl_tf.predict import Predictor

        predictor = Predictor(export_dir)
        spec = predictor.spec

        def classify(clip):
            return predictor.probabilities(clip_files.prepared_or_raise("the window", clip, spec))
    layout = clip_files.preprocessing_of(spec).input_layout(spec["layout"])
    return classify, spec.get("class_names"), layout


class StreamingRecognizer:
    """Keeps the last `window` frames of up to `persons` tracked persons and classifies them
    every `stride` frames once `min_frames` have arrived; `push` returns an Event then, else
    None. `smoothing` in [0, 1): the weight of the previous smoothed scores."""

    def __init__(self, classify, joints, channels, persons, class_names=None, window=64, stride=8,
                 min_frames=None, smoothing=0.5, top_k=3, clock=time.perf_counter):
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.classify, self.class_names = classify, class_names
        self.joints, self.channels, self.persons = joints, channels, persons
        self.window, self.stride, self.smoothing, self.top_k, self.clock = window, stride, smoothing, top_k, clock
        self.min_frames = min(window, min_frames or window)
        self.frames = collections.deque(maxlen=window)
        self.slots = {}  # person id -> slot
        self.pushed = 0
        self.smoothed = None

    def _frame_array(self, persons):
        """(C, V, M) of one frame from {person id: joints (V, C)}; slots follow the ids."""
        frame = np.zeros((self.channels, self.joints, self.persons), np.float32)
        for person_id in [p for p in self.slots if p not in persons]:
            del self.slots[person_id]  # left: the slot is free again
        for person_id, joints in persons.items():
            joints = np.asarray(joints, np.float32)
            if joints.shape != (self.joints, self.channels):
                raise ValueError(f"person {person_id}: {joints.shape[0] if joints.ndim else 0} joints of "
                                 f"{joints.shape[1] if joints.ndim == 2 else 0} values, but the model takes "
                                 f"{self.joints} of {self.channels}")
            if not np.isfinite(joints).all():
                raise ValueError(f"person {person_id}: a joint value is not finite (NaN or inf)")
        for person_id, joints in persons.items():
            if person_id not in self.slots:
                free = sorted(set(range(self.persons)) - set(self.slots.values()))
                if not free:
                    continue  # more persons than the model takes: this one waits for a slot
                self.slots[person_id] = free[0]
            frame[:, :, self.slots[person_id]] = np.asarray(joints, np.float32).T
        return frame

    def push(self, persons, timestamp=None):
        """Adds one frame: `persons` maps a person id to its joints `(V, C)` (a bare array is
        one person with id 0). Raises ValueError for a frame that does not fit (the stream
        is unchanged); returns an Event when this frame completes a decision."""
        if not isinstance(persons, dict):
            persons = {0: persons}
        frame = self._frame_array(persons)
        self.frames.append(frame)
        self.pushed += 1
        if len(self.frames) < self.min_frames or (self.pushed - self.min_frames) % self.stride:
            return None
        start = self.clock()
        clip = np.stack(self.frames, axis=1)  # (C, T, V, M)
        probabilities = np.asarray(self.classify(clip), np.float64)
        self.smoothed = probabilities if self.smoothed is None else (
            self.smoothing * self.smoothed + (1 - self.smoothing) * probabilities)
        latency = 1000 * (self.clock() - start)
        order = np.argsort(-self.smoothed, kind="stable")[: self.top_k]
        top = [(self.class_names[i] if self.class_names else f"class {i}", float(self.smoothed[i])) for i in order]
        return Event(timestamp if timestamp is not None else float(self.pushed), self.pushed, top, latency)


def frames_of_file(path, layout):
    """[{slot: joints (V, C)}] per frame of a raw clip file or a `.npy` (its first clip), as a
    tracker would give them; raises SampleError naming the file."""
    spec = clip_files.default_spec(layout["channels"], layout["joints"], layout["persons"])
    clip = clip_files.read_unprepared(path, spec)
    return [{m: clip[:, t, :, m].T for m in range(clip.shape[3]) if np.any(clip[:, t, :, m])}
            for t in range(clip.shape[1])]


def frames_of_json_lines(lines):
    """Yields (line number, time or None, {id: joints}) per JSON line; a line that is not a
    frame yields its ValueError instead of the dict."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            frame = json.loads(line)
            persons = {person["id"]: person["joints"] for person in frame.get("persons", [])}
            yield number, frame.get("time"), persons
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            yield number, None, ValueError(f"not a frame ({type(error).__name__}: {error})")


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) != 2:
        raise app.UsageError("give one raw clip file to replay, or - to read JSON lines of frames from stdin")
    if not FLAGS.export_dir:
        raise app.UsageError("--export_dir is required: a SavedModel, LiteRT or ONNX export")
    try:
        classify, class_names, layout = load_classifier(FLAGS.export_dir, FLAGS.quantization, FLAGS.threads)
    except (FileNotFoundError, OSError) as error:
        raise app.UsageError(str(error))
    recognizer = StreamingRecognizer(classify, layout["joints"], layout["channels"], layout["persons"], class_names,
                                     FLAGS.window, FLAGS.stride, FLAGS.min_frames, FLAGS.smoothing, FLAGS.top_k)
    if argv[1] == "-":
        frames = frames_of_json_lines(sys.stdin)
    else:
        try:
            frames = [(t + 1, None, persons) for t, persons in enumerate(frames_of_file(argv[1], layout))]
        except (OSError, SampleError) as error:
            raise app.UsageError(str(error))
    bad, started = 0, time.perf_counter()
    for number, timestamp, persons in frames:
        if FLAGS.fps and argv[1] != "-":  # a replayed file at its frame rate, as a camera would give it
            time.sleep(max(0.0, started + (number - 1) / FLAGS.fps - time.perf_counter()))
        try:
            if isinstance(persons, Exception):
                raise persons
            event = recognizer.push(persons, timestamp if timestamp is not None else
                                    recognizer.pushed / (FLAGS.fps or 30))
        except ValueError as error:
            bad += 1
            print(f"{'line' if argv[1] == '-' else 'frame'} {number}: skipped, {error}", file=sys.stderr)
            continue
        if event:
            print(json.dumps(event.as_dict()) if FLAGS.json else
                  f"{event.time:8.2f} s  frame {event.frame:5d}  " +
                  ", ".join(f"{name} {score:.2f}" for name, score in event.top) + f"  ({event.latency_ms:.1f} ms)",
                  flush=True)
    if bad:
        print(f"{bad} frames skipped", file=sys.stderr)


def cli():
    """The command line (console script and `python -m`)."""
    from absl import flags

    from slnl_tf import flags as project_flags

    flags.DEFINE_string("export_dir", None, "a SavedModel version directory, or a LiteRT or ONNX export (model.json)")
    flags.DEFINE_enum("quantization", "float32", ["float32", "float16", "int8", "int8_full"], "LiteRT: which model")
    flags.DEFINE_integer("threads", None, "LiteRT: interpreter threads (default: its own)", lower_bound=1)
    flags.DEFINE_integer("window", 64, "frames each decision sees", lower_bound=2)
    flags.DEFINE_integer("stride", 8, "frames between decisions", lower_bound=1)
    flags.DEFINE_integer("min_frames", None, "frames before the first decision (default: --window)", lower_bound=2)
    flags.DEFINE_float("smoothing", 0.5, "weight of the earlier scores in the moving average, in [0, 1)")
    flags.DEFINE_integer("top_k", 3, "classes per event", lower_bound=1)
    flags.DEFINE_float("fps", 30.0, "frames per second: a replayed file's pace, and the time of stdin frames "
                                    "without one (0: as fast as possible)", lower_bound=0.0)
    flags.DEFINE_bool("json", False, "one JSON object per event")
    project_flags.run(main)


if __name__ == "__main__":
    cli()
