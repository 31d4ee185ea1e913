import json

import numpy as np
import pytest

from slnl_tf.data import kinetics
from slnl_tf.data.sample import SampleError
from shared_data import SHARED_DATA, real_files

JSON_FILES = real_files("kinetics/json/*.json")
LABEL_NAMES = kinetics.read_label_names(SHARED_DATA / "kinetics" / "label_name.txt")


def test_label_names_file():
    assert len(LABEL_NAMES) == 400 and LABEL_NAMES[0] == "abseiling"


@pytest.mark.skipif(not JSON_FILES, reason="no real Kinetics-skeleton clips in shared/data")
@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
def test_every_real_clip_is_read_and_its_label_name_agrees_with_its_index(path):
    clip = json.loads(path.read_text())
    sample = kinetics.read_sample(path, LABEL_NAMES)
    assert sample.label == clip["label_index"] and LABEL_NAMES[sample.label] == clip["label"]
    assert kinetics.read_sample(path).label == clip["label_index"]
    assert sample.data.shape == (3, max(f["frame_index"] for f in clip["data"]), 18, 2)
    xy, score = sample.data[:2], sample.data[2]
    # OpenPose places joints slightly outside the frame (|x| up to 0.52 after centring)
    # and its scores exceed 1 at times (1.18 seen in these clips).
    assert np.all(np.abs(xy) < 1.0) and np.all(score >= 0)
    assert np.all(xy[:, score == 0] == 0)
    # Per frame, person 0 has the highest summed score.
    sums = score.sum(axis=1)
    assert np.all(sums[:, 0] >= sums[:, 1])


def _clip(frames):
    return {"data": frames, "label": "applauding", "label_index": 3}


def _person(rng, score=0.9):
    return {"pose": rng.uniform(0, 1, 36).round(3).tolist(), "score": [score] * 18}


def test_values_ranking_and_empty_frames(tmp_path):
    rng = np.random.default_rng(0)
    weak, strong, third = _person(rng, 0.2), _person(rng, 0.9), _person(rng, 0.5)
    frames = [{"frame_index": 1, "skeleton": [weak, strong, third]}, {"frame_index": 3, "skeleton": []}]
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(_clip(frames)))
    sample = kinetics.read_sample(path, LABEL_NAMES)
    assert sample.label == 3 and sample.name == "clip" and sample.data.shape == (3, 3, 18, 2)
    pose = np.array(strong["pose"], np.float32)
    np.testing.assert_allclose(sample.data[0, 0, :, 0], pose[0::2] - 0.5, atol=1e-6)
    np.testing.assert_allclose(sample.data[1, 0, :, 0], pose[1::2] - 0.5, atol=1e-6)
    np.testing.assert_allclose(sample.data[2, 0, :, 1], 0.5)
    assert not sample.data[:, 1:].any()


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{not json", "unreadable JSON"),
        (json.dumps({"label_index": 1}), "no 'data' list"),
        (json.dumps(_clip([])), "zero frames"),
        (json.dumps(_clip([{"frame_index": 1, "skeleton": []}])), "no skeleton in any frame"),
        (json.dumps(_clip([{"frame_index": 1, "skeleton": [{"pose": [0.1] * 30, "score": [1] * 15}]}])),
         "wrong joint count"),
        (json.dumps(_clip([{"frame_index": 1, "skeleton": [{"pose": ["a"] * 36, "score": [1] * 18}]}])),
         "without numeric"),
        (json.dumps(_clip([{"frame_index": 1, "skeleton": [{"pose": [float("nan")] * 36, "score": [1] * 18}]}])),
         "non-finite"),
        (json.dumps(_clip([{"frame_index": 0, "skeleton": []}])), "1-based"),
        (json.dumps({"data": [], "label": "not a class"}), "not in the label names"),
        (json.dumps({"data": [], "label_index": 400}), "out of range"),
        (json.dumps(_clip([{"frame_index": 3000000, "skeleton": []}])), "beyond 10000"),
        (json.dumps(_clip([{"frame_index": 1, "skeleton": None}])), "no skeleton in any frame"),
        (json.dumps(_clip([{"frame_index": 1, "skeleton": "a"}])), "must be a list of persons"),
        (json.dumps(_clip(["a frame"])), "list of frame objects"),
        (json.dumps({"data": {"frame_index": 1}, "label_index": 1}), "list of frame objects"),
    ],
)
def test_bad_clips_name_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    names = LABEL_NAMES if "label_index\": 400" in content or "not a class" in content else None
    with pytest.raises(SampleError, match=problem) as error:
        kinetics.read_sample(path, names)
    assert str(path) in str(error.value)


def test_a_null_skeleton_is_a_frame_without_persons(tmp_path):
    person = {"pose": [0.6] * 36, "score": [1.0] * 18}
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(_clip([{"frame_index": 1, "skeleton": None}, {"frame_index": 2, "skeleton": [person]}])))
    sample = kinetics.read_sample(path)
    assert sample.data.shape[1] == 2 and not sample.data[:, 0].any()
    np.testing.assert_allclose(sample.data[0, 1, :, 0], 0.1, rtol=1e-5)


@pytest.mark.parametrize("label_file,problem", [
    ("{broken", "unreadable JSON"),
    ("[1, 2]", "this holds a list"),
])
def test_a_malformed_label_file_stops_the_build_naming_it(tmp_path, label_file, problem):
    from slnl_tf.data import sources

    (tmp_path / "kinetics_val").mkdir()
    (tmp_path / "kinetics_val" / "a.json").write_text(json.dumps(_clip([])))
    (tmp_path / "kinetics_val_label.json").write_text(label_file)
    with pytest.raises(SampleError, match=problem) as error:
        sources.KineticsSource(str(tmp_path)).items()
    assert "kinetics_val_label.json" in str(error.value)


def test_a_label_file_entry_without_an_integer_index_skips_that_clip(tmp_path):
    from slnl_tf.data import sources

    (tmp_path / "kinetics_val").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "kinetics_val" / f"{name}.json").write_text(json.dumps(_clip([])))
    (tmp_path / "kinetics_val_label.json").write_text(json.dumps(
        {"a": {"label_index": "3"}, "b": [1], "c": {"label_index": 2, "has_skeleton": True}}))
    items, skips = sources.KineticsSource(str(tmp_path)).items()
    assert [item.name for item in items] == ["c"] and items[0].label == 2
    assert [why for _, why in skips] == [
        f"entry {{'label_index': '3'}} in {tmp_path}/kinetics_val_label.json has no integer label_index",
        f"entry [1] in {tmp_path}/kinetics_val_label.json has no integer label_index"]
