"""A skeleton clip drawn as bones and animated to a GIF, with what a model predicts over time.

    slnl-visualize CLIP [--out=clip.gif] [--export_dir=exports/slnl_rfa/1]
    python -m slnl_tf.visualize S001C001P001R001A001.skeleton --export_dir=exports/slnl_rfa/1

CLIP is a raw NTU-format `.skeleton` file, a Kinetics-skeleton or NW-UCLA `.json`, an SBU
`skeleton_pos.txt`, a `.npy` array `(C, T, V, M)` (or `(N, C, T, V, M)`: `--index`), or a
`.tfrecord` shard of a built dataset (`--sample=NAME`, default its first record). Each
person is drawn in its own colour, with the bones of its layout (slnl_tf/data/bones.py;
a custom dataset's `layout.json` may list `"bones"`: `--layout`, or kept in its records).
With `--export_dir` (a SavedModel, LiteRT or ONNX export) the clip is also classified in
sliding windows of `--window` frames every `--stride` frames, prepared as the export's
training data was, and each frame shows the top classes of the latest window as bars.
"""
import json
import logging
import os

import numpy as np

from slnl_tf.data import bones as bone_layouts, clip_files
from slnl_tf.data.sample import SampleError

PERSON_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple")


def read_clip(path, index=0, sample=None):
    """(float32 `(C, T, V, M)` as stored or read, its name, a layout dict or None): the clip
    of a raw file before any preprocessing, of a `.npy`, or of a built dataset's record."""
    path = str(path)
    if path.endswith(".tfrecord"):
        return _read_record(path, sample)
    spec = clip_files.default_spec(channels=3, joints=0, persons=2)
    clip = clip_files.read_unprepared(path, spec, index)
    name = f"{os.path.basename(path)}[{index}]" if path.endswith(".npy") else os.path.basename(path)
    return clip, name, None


def _read_record(path, sample):
    import tensorflow as tf

    from slnl_tf.data import records

    manifest_path = os.path.join(os.path.dirname(path), "manifest.json")
    manifest = json.load(open(manifest_path)) if os.path.exists(manifest_path) else {}
    for serialized in tf.data.TFRecordDataset(path):
        record = records.parse(serialized, manifest.get("storage_dtype", "float16"))
        name = record["name"].numpy().decode()
        if sample in (None, name):
            clip = record["skeleton"].numpy()[:, : int(record["frames"])]
            return clip, name, manifest.get("layout")
    raise SampleError(path, f"no record named {sample!r}")


def sliding_predictions(export_dir, clip, window, stride, top=5):
    """[(last frame of the window, [(class name, score)] best first)] of `clip` classified by
    an export (SavedModel, LiteRT or ONNX) in windows of `window` frames every `stride`
    frames (one window when the clip is shorter), each prepared as the export's training
    data was."""
    from slnl_tf.stream import load_classifier

    classify, names, _ = load_classifier(export_dir)
    frames = clip.shape[1]
    ends = list(range(min(window, frames), frames + 1, stride)) or [frames]
    if ends[-1] != frames:
        ends.append(frames)
    predictions = []
    for end in ends:
        probabilities = classify(clip[:, max(0, end - window): end])
        order = np.argsort(-probabilities, kind="stable")[:top]
        predictions.append((end, [(names[c] if names else f"class {c}", float(probabilities[c])) for c in order]))
    return predictions


def _prediction_at(predictions, frame):
    """The prediction of the latest window that ends at or before `frame` (1-based), or None."""
    done = [top for end, top in predictions if end <= frame]
    return done[-1] if done else None


def animate(clip, out, name, layout=None, predictions=None, fps=30, every=1, top=3):
    """Writes the clip as a GIF (x to the right, y up; image coordinates such as OpenPose's,
    whose third channel is a score, y down) with one frame per `every` clip frames; returns
    the number of frames written."""
    from matplotlib import animation
    from matplotlib.figure import Figure

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no "Animation.save using ..." line

    channels, frames, joints, persons = clip.shape
    present = [m for m in range(persons) if np.any(clip[..., m])]
    if not present:
        raise SampleError(name, "no person in the clip (every joint is zero)")
    bones = bone_layouts.bones_for(joints, layout)
    # OpenPose's (Kinetics') x, y are image coordinates, y down: drawn flipped.
    image_coordinates = joints == 18 or (layout or {}).get("channel_names", ["x"])[-1] == "score"
    points = clip[:2] * np.array([1.0, -1.0 if image_coordinates else 1.0], np.float32)[:, None, None, None]
    visible = np.any(clip != 0, axis=0)  # (T, V, M): a joint at exactly 0 is missing
    xs, ys = points[0][visible], points[1][visible]
    margin = 0.1 * max(np.ptp(xs), np.ptp(ys), 1e-3)
    figure = Figure(figsize=(7.5 if predictions else 4.5, 4.5), layout="constrained")
    axes = figure.add_subplot(1, 2 if predictions else 1, 1)
    axes.set_xlim(xs.min() - margin, xs.max() + margin)
    axes.set_ylim(ys.min() - margin, ys.max() + margin)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    bars = figure.add_subplot(1, 2, 2) if predictions else None
    lines = {m: [axes.plot([], [], color=PERSON_COLOURS[i % len(PERSON_COLOURS)], lw=2)[0] for _ in bones]
             for i, m in enumerate(present)}
    dots = {m: axes.plot([], [], "o", ms=3, color=PERSON_COLOURS[i % len(PERSON_COLOURS)])[0]
            for i, m in enumerate(present)}
    shown_frames = list(range(0, frames, every))

    def draw(t):
        for m in present:
            seen = visible[t, :, m]
            dots[m].set_data(points[0, t, seen, m], points[1, t, seen, m])
            for line, (a, b) in zip(lines[m], bones):
                both = seen[a] and seen[b]
                line.set_data(points[0, t, [a, b], m] if both else [], points[1, t, [a, b], m] if both else [])
        axes.set_title(f"{name}\nframe {t + 1} of {frames}", fontsize=9)
        if bars is not None:
            bars.clear()
            current = _prediction_at(predictions, t + 1)
            if current:
                labels = [label for label, _ in current[:top]][::-1]
                bars.barh(range(len(labels)), [score for _, score in current[:top]][::-1], color="tab:green")
                bars.set_yticks(range(len(labels)), labels, fontsize=8)
            bars.set_xlim(0, 1)
            bars.set_xlabel("score")
            bars.set_title("top classes, latest window" if current else "waiting for a full window", fontsize=9)
        return [*dots.values(), *(line for group in lines.values() for line in group)]

    movie = animation.FuncAnimation(figure, draw, frames=shown_frames, blit=False)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    movie.save(out, writer=animation.PillowWriter(fps=max(1, fps // every)))
    return len(shown_frames)


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) != 2:
        raise app.UsageError("give one clip file (--help lists the kinds)")
    path = argv[1]
    try:
        clip, name, layout = read_clip(path, FLAGS.index, FLAGS.sample)
        if FLAGS.layout:
            with open(FLAGS.layout) as f:
                layout = json.load(f)
        predictions = (sliding_predictions(FLAGS.export_dir, clip, FLAGS.window, FLAGS.stride)
                       if FLAGS.export_dir else None)
        out = FLAGS.out or os.path.splitext(os.path.basename(path))[0] + ".gif"
        written = animate(clip, out, name, layout, predictions, FLAGS.fps, FLAGS.every)
    except (OSError, ValueError, SampleError) as error:
        raise app.UsageError(str(error))
    if predictions:
        for end, top in predictions:
            print(f"frames to {end}: " + ", ".join(f"{label} {score:.2f}" for label, score in top[:3]))
    print(f"wrote {out} ({written} frames, {clip.shape[3]} person slots, {clip.shape[2]} joints)")


def cli():
    """The command line (console script and `python -m`)."""
    from absl import flags

    from slnl_tf import flags as project_flags

    flags.DEFINE_string("out", None, "the GIF to write (default: the clip's name with .gif, here)")
    flags.DEFINE_string("export_dir", None, "an export (SavedModel, LiteRT or ONNX): classify in sliding windows")
    flags.DEFINE_integer("window", 64, "frames per classified window", lower_bound=1)
    flags.DEFINE_integer("stride", 16, "frames between windows", lower_bound=1)
    flags.DEFINE_integer("fps", 30, "the clip's frame rate (NTU, NW-UCLA: 30)", lower_bound=1)
    flags.DEFINE_integer("every", 1, "draw every N-th frame (a shorter GIF)", lower_bound=1)
    flags.DEFINE_integer("index", 0, "the clip of an (N, C, T, V, M) .npy", lower_bound=0)
    flags.DEFINE_string("sample", None, "the record of a .tfrecord shard, by name (default: its first)")
    flags.DEFINE_string("layout", None, "a custom dataset's layout.json, for its \"bones\" (pairs of 0-based joints)")
    project_flags.run(main)


if __name__ == "__main__":
    cli()
