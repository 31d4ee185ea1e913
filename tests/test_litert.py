"""The LiteRT and ONNX exports against the SavedModel on the same clips, on the standalone
LiteRT interpreter (ai-edge-litert, which has builtin ops only: a model that needed Select
TF ops would not load) and ONNX Runtime; their metadata; the classifier that prepares raw
clips with NumPy; the streaming recognizer over any of them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from slnl_tf import export, litert, onnx_export, portable
from slnl_tf.data import clip_files, synthetic
from slnl_tf.data.sample import SampleError
from slnl_tf.model import build_losses, build_model
from tiny_config import TINY

ROOT = Path(__file__).resolve().parents[1]
NAMES = [f"move {i}" for i in range(TINY.num_classes)]
SPEC = clip_files.input_spec({"layout": {"channels": 3, "joints": 25, "persons": 2}, "class_names": NAMES,
                              "options": {"body_selection": "denoise"}})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny model trained for a few epochs on generated clips (confident, so that top-1
    agreement means something), exported as a SavedModel and in every LiteRT form."""
    root = tmp_path_factory.mktemp("litert")
    clips, labels = synthetic.make_clips(96, TINY.num_classes, TINY.frames, seed=2)
    model = build_model(TINY)
    model.compile("adam", loss=build_losses(TINY))
    model.fit(clips, {"position": labels, "velocity": labels, "concat": labels}, epochs=8, batch_size=16, verbose=0)
    export.export(model, TINY, str(root / "saved" / "1"), class_names=NAMES, input_spec=SPEC)
    representative = export.resample_batch(tf.constant(clips[:32]), TINY.frames, 0.95).numpy()
    litert.export(model, TINY, str(root / "litert"), SPEC, litert.QUANTIZATIONS, representative,
                  log=lambda _: None)
    onnx_export.export(model, TINY, str(root / "onnx"), SPEC, log=lambda _: None)
    return root / "saved" / "1", root / "litert"


def _test_clips():
    """Generated clips of other lengths than T, as a user's files are."""
    return [clip[:, :length] for clip, length in zip(synthetic.make_clips(40, TINY.num_classes, 30, seed=9)[0],
                                                      np.resize([30, 22, 17, 25], 40))]


def _saved_model_probabilities(saved, clips):
    serve = tf.saved_model.load(str(saved)).signatures["serving_default"]
    return np.stack([serve(clips=tf.constant(clip[None]))["probabilities"].numpy()[0] for clip in clips])


def test_resample_is_the_saved_models_resampling():
    rng = np.random.default_rng(0)
    for frames in (1, 5, 16, 37, 300):
        clip = rng.normal(size=(3, frames, 4, 2)).astype(np.float32)
        for ratio in (0.5, 0.95, 1.0):
            expected = export.resample_batch(tf.constant(clip[None]), 16, ratio).numpy()[0]
            np.testing.assert_allclose(portable.resample(clip, 16, ratio), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.xdist_group("litert")
def test_every_form_loads_on_the_standalone_interpreter_and_agrees_with_the_saved_model(exported):
    saved, directory = exported
    clips = _test_clips()
    reference = _saved_model_probabilities(saved, clips)
    agreement = {}
    for quantization in litert.QUANTIZATIONS:
        classifier = litert.LiteRTClassifier(str(directory), quantization)
        probabilities = np.stack([classifier.classify(clip) for clip in clips])
        if quantization == "float32":
            np.testing.assert_allclose(probabilities, reference, rtol=1e-4, atol=1e-5)
        agreement[quantization] = float(np.mean(probabilities.argmax(1) == reference.argmax(1)))
    # Seen: float16 and int8 weights 1.0, all-integer 0.875 (40 clips of a model trained for
    # seconds, calibrated on 32 clips); the floors sit below.
    assert agreement["float32"] == agreement["float16"] == 1.0, agreement
    assert agreement["int8"] >= 0.95 and agreement["int8_full"] >= 0.75, agreement
    sizes = {q: (directory / litert.model_file(q)).stat().st_size for q in litert.QUANTIZATIONS}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"], sizes


@pytest.mark.xdist_group("litert")
def test_onnx_gives_the_saved_models_scores_at_any_batch(exported):
    saved, directory = exported
    clips = _test_clips()
    reference = _saved_model_probabilities(saved, clips)
    classifier = onnx_export.OnnxClassifier(str(directory.parent / "onnx"))
    probabilities = np.stack([classifier.classify(clip) for clip in clips])
    np.testing.assert_allclose(probabilities, reference, rtol=1e-4, atol=1e-5)
    batch = np.stack([classifier.prepared(clip) for clip in clips[:5]])
    np.testing.assert_allclose(classifier.all_slots(batch), reference[:5], rtol=1e-4, atol=1e-5)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(directory.parent / "onnx" / onnx_export.MODEL_FILE))
    logits = session.run(None, {session.get_inputs()[0].name: batch})[1]  # the concat head's, second
    assert logits.shape == (5, TINY.num_classes)
    assert classifier.metadata["input"]["shape"][0] == "batch"


@pytest.mark.xdist_group("litert")
def test_one_person_models_give_the_all_slot_models_scores(exported):
    """The one-person model (absent persons' features as constants) scores a clip with one
    person as the model of every slot does, whichever slot holds the person; a clip with
    two persons goes to the model of every slot."""
    _, directory = exported
    clips = np.stack([portable.resample(clip, TINY.frames, 0.95) for clip in _test_clips()])
    one_person = clips[np.all(clips[..., 1] == 0, axis=(1, 2, 3))]
    assert len(one_person) >= 10 and len(one_person) < len(clips)
    in_second_slot = one_person[..., ::-1].copy()
    for classifier in (litert.LiteRTClassifier(str(directory)),
                       onnx_export.OnnxClassifier(str(directory.parent / "onnx"))):
        assert classifier.one_person is not None
        expected = np.stack([classifier.all_slots(clip[None])[0] for clip in one_person])
        np.testing.assert_allclose(np.stack([classifier.one_person(clip[None, ..., :1])[0] for clip in one_person]),
                                   expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.stack([classifier.probabilities(clip) for clip in in_second_slot]), expected,
                                   rtol=1e-4, atol=1e-5)
    assert [portable.only_person_slot(clip) for clip in (one_person[0], in_second_slot[0], np.zeros_like(clips[0]))] \
        == [0, 1, 0]
    assert portable.only_person_slot(clips[np.any(clips[..., 1] != 0, axis=(1, 2, 3))][0]) is None


@pytest.mark.xdist_group("litert")
def test_metadata_and_bad_clips(exported):
    _, directory = exported
    metadata = json.loads((directory / portable.METADATA_FILE).read_text())
    assert metadata["input"]["shape"] == [1, 3, TINY.frames, 25, 2] and metadata["class_names"] == NAMES
    assert metadata["input_spec"] == SPEC and set(metadata["models"]) == set(litert.QUANTIZATIONS)
    assert all((directory / metadata["one_person_models"][q]).is_file() for q in litert.QUANTIZATIONS)
    classifier = litert.LiteRTClassifier(str(directory))
    with pytest.raises(SampleError, match="18 joints, but the model takes 25"):
        classifier.classify(np.ones((3, 10, 18, 2), np.float32), "wrong.npy")
    nan = np.ones((3, 10, 25, 2), np.float32)
    nan[0, 3, 4, 0] = np.nan
    with pytest.raises(SampleError, match="non-finite"):
        classifier.classify(nan, "nan.npy")


def test_export_cli_writes_litert_files(tmp_path):
    clips, labels = synthetic.make_clips(8, TINY.num_classes, TINY.frames, seed=1)
    model = build_model(TINY)
    model.save(tmp_path / "model.keras")
    fields = [f"--{name}={value}" for name, value in (
        ("num_classes", TINY.num_classes), ("frames", TINY.frames), ("coordinate_systems", TINY.coordinate_systems),
        ("skeleton_joints", TINY.skeleton_joints), ("stage_filters", ",".join(map(str, TINY.stage_filters))),
        ("fc_units", TINY.fc_units))]
    result = subprocess.run([sys.executable, "-m", "slnl_tf.export", f"--checkpoint={tmp_path / 'model.keras'}",
                             "--format=litert", "--quantizations=int8", f"--export_dir={tmp_path / 'lite'}",
                             *fields], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "lite").iterdir()) == ["model.json", "model_int8.tflite",
                                                                        "model_int8_one_person.tflite"]
    refused = subprocess.run([sys.executable, "-m", "slnl_tf.export", f"--checkpoint={tmp_path / 'model.keras'}",
                              "--format=litert", "--quantizations=int4", f"--export_dir={tmp_path / 'x'}", *fields],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "--quantizations: unknown ['int4']" in refused.stderr


def _fake(clip):
    """A classifier that says how many frames and persons it saw: class = persons present."""
    probabilities = np.zeros(3)
    probabilities[int(np.any(clip != 0, axis=(0, 1, 2)).sum())] = 1.0
    return probabilities


def test_streaming_windows_strides_smoothing_and_persons_coming_and_going():
    from slnl_tf import stream

    seen = []
    recognizer = stream.StreamingRecognizer(lambda clip: (seen.append(clip.shape), _fake(clip))[1], joints=4,
                                            channels=3, persons=2, class_names=["nobody", "one", "two"], window=6,
                                            stride=3, min_frames=4, smoothing=0.5, top_k=2)
    one = np.ones((4, 3), np.float32)
    events = {}
    for frame in range(1, 14):
        persons = {"a": one} if frame <= 5 else {"a": one, "b": 2 * one} if frame <= 10 else {"b": 2 * one}
        event = recognizer.push(persons)
        if event:
            events[frame] = event
    # The first decision after min_frames, then every stride; windows grow up to `window`.
    assert list(events) == [4, 7, 10, 13] and seen == [(3, 4, 4, 2), (3, 6, 4, 2), (3, 6, 4, 2), (3, 6, 4, 2)]
    assert events[4].top == [("one", 1.0), ("nobody", 0.0)]
    assert events[7].top[0] == ("one", 0.5) and events[7].top[1] == ("two", 0.5)  # smoothed: 0.5 old + 0.5 new
    assert events[10].top[0] == ("two", 0.75)
    # "b" keeps its slot after "a" leaves, and a newcomer takes the free one.
    assert recognizer.slots == {"b": 1}
    recognizer.push({"b": one, "c": one})
    assert recognizer.slots == {"b": 1, "c": 0}
    recognizer.push({"b": one, "c": one, "d": one})  # a third person waits: the model takes two
    assert set(recognizer.slots) == {"b", "c"}
    assert all(e.latency_ms >= 0 for e in events.values()) and events[13].as_dict()["frame"] == 13


def test_streaming_refuses_a_bad_frame_and_keeps_going():
    from slnl_tf import stream

    recognizer = stream.StreamingRecognizer(_fake, joints=4, channels=3, persons=2, window=2, stride=1)
    with pytest.raises(ValueError, match=r"person 0: 5 joints of 3 values, but the model takes 4 of 3"):
        recognizer.push(np.ones((5, 3)))
    nan = np.ones((4, 3))
    nan[1, 2] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        recognizer.push({7: nan})
    assert recognizer.pushed == 0 and recognizer.push(np.ones((4, 3))) is None
    assert recognizer.push(np.ones((4, 3))).top[0][0] == "class 1"
    with pytest.raises(ValueError, match="smoothing"):
        stream.StreamingRecognizer(_fake, 4, 3, 2, smoothing=1.0)


@pytest.mark.xdist_group("litert")
def test_stream_reads_json_lines_and_replayed_files_with_each_export(exported, tmp_path):
    from slnl_tf import stream

    saved, directory = exported
    clip = _test_clips()[0]  # (3, 30, 25, 2), one person
    lines = [json.dumps({"time": t / 30, "persons": [{"id": 5, "joints": clip[:, t, :, 0].T.tolist()}]})
             for t in range(30)]
    lines.insert(10, json.dumps({"persons": [{"id": 5, "joints": [[0, 0, 0]] * 18}]}))
    lines.insert(20, "not json")
    # The command on the LiteRT export; the SavedModel and ONNX ones through the same loader in this process.
    result = subprocess.run([sys.executable, "-m", "slnl_tf.stream", f"--export_dir={directory}", "--window=16",
                             "--stride=4", "--json", "-"], input="\n".join(lines), cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["frame"] for e in events] == [16, 20, 24, 28] and events[0]["time"] == pytest.approx(15 / 30)
    assert {top["name"] for e in events for top in e["top"]} <= set(NAMES)
    assert "line 11: skipped, person 5: 18 joints of 3 values, but the model takes 25 of 3" in result.stderr
    assert "line 21: skipped, not a frame (JSONDecodeError" in result.stderr and "2 frames skipped" in result.stderr
    for export_dir in (saved, directory.parent / "onnx"):
        classify, names, layout = stream.load_classifier(str(export_dir))
        assert names == NAMES and (layout["joints"], layout["channels"], layout["persons"]) == (25, 3, 2)
        recognizer = stream.StreamingRecognizer(classify, 25, 3, 2, names, window=16, stride=4, top_k=5)
        decisions = [recognizer.push(persons, time) for _, time, persons in stream.frames_of_json_lines(lines)
                     if not isinstance(persons, Exception) and len(persons[5]) == 25]
        tops = [decision.top for decision in decisions if decision]
        assert len(tops) == 4
        # The same decisions as the LiteRT export's, to the scores' printed precision.
        assert [[t["name"] for t in e["top"][:1]] for e in events] == [[top[0][0]] for top in tops]
    np.save(tmp_path / "clip.npy", clip)
    frames = stream.frames_of_file(tmp_path / "clip.npy", {"channels": 3, "joints": 25, "persons": 2})
    assert len(frames) == 30 and set(frames[0]) == {0}
    np.testing.assert_array_equal(frames[3][0], clip[:, 3, :, 0].T)
